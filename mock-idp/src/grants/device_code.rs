//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4):
//! the device polls until the user approves or denies, faster than its
//! interval only to be told to slow down. No RSA work until tokens are issued.

use serde_json::Value;

use super::user_tokens::{
    RefreshChoice, UserGrant, check_client_grant, check_user_scopes, token_endpoint_response,
    wants_refresh,
};
use crate::client_auth::AuthenticatedClient;
use crate::device::{Decision, GRANT_TYPE, Poll};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};

const INVALID: &str = "The device code is invalid or has expired.";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    check_client_grant(client, GRANT_TYPE)?;
    let device_code = form.require("device_code")?;
    let now = state.clock.now();
    let approved =
        match state
            .store
            .devices
            .poll(device_code, &server.issuer, &client.client_id, now)
        {
            Poll::Invalid => return Err(OAuthError::invalid_grant(INVALID)),
            Poll::Expired => {
                return Err(OAuthError::new(
                    OAuthErrorCode::ExpiredToken,
                    "The device code has expired.",
                ));
            }
            Poll::SlowDown => {
                return Err(OAuthError::new(
                    OAuthErrorCode::SlowDown,
                    "Slow down the polling frequency. Please try again later.",
                ));
            }
            Poll::Pending => {
                return Err(OAuthError::new(
                    OAuthErrorCode::AuthorizationPending,
                    "The device authorization is pending. Please try again later.",
                ));
            }
            Poll::Denied => {
                return Err(OAuthError::new(
                    OAuthErrorCode::AccessDenied,
                    "The resource owner denied the request.",
                ));
            }
            Poll::Approved(grant) => grant,
        };
    let Decision::Approved { user_id, auth_time } = &approved.decision else {
        return Err(OAuthError::invalid_grant(INVALID));
    };
    let user = state
        .user_by_id(user_id)
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;
    let lifetime = check_user_scopes(server, client, GRANT_TYPE, &approved.scopes)?;
    let refresh = if wants_refresh(client, &approved.scopes) {
        RefreshChoice::New
    } else {
        RefreshChoice::None
    };
    let grant = UserGrant {
        server,
        client,
        user: &user,
        auth_time: *auth_time,
        scopes: &approved.scopes,
        nonce: None,
        lifetime,
        acr: None,
        dpop_jkt,
    };
    let (body, _) = token_endpoint_response(state, &grant, refresh, now)?;
    Ok(body)
}
