//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) as
//! Okta's on-behalf-of exchange on custom servers: a service client trades a
//! user's access token from this server for one of its own, for the user
//! (`sub`, `uid`) and the exchanging client (`cid`), with the scopes its policy allows.

use serde_json::{Value, json};

use super::user_tokens::{UserGrant, check_client_grant, check_user_scopes, mint_user_tokens};
use crate::client_auth::AuthenticatedClient;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::tokens::{split_scopes, verify_own_jwt};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const INVALID_SUBJECT: &str =
    "The 'subject_token' is invalid, expired or not an access token of this authorization server.";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    if server.is_org() {
        return Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "'urn:ietf:params:oauth:grant-type:token-exchange' grant type can only be used with a custom authorization server.",
        ));
    }
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    check_client_grant(client, GRANT_TYPE)?;
    let subject_token = form.require("subject_token")?;
    if form.require("subject_token_type")? != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(
            "The 'subject_token_type' must be 'urn:ietf:params:oauth:token-type:access_token'.",
        ));
    }
    if form.contains("actor_token") || form.contains("actor_token_type") {
        return Err(OAuthError::invalid_request(
            "The 'actor_token' parameter is not supported.",
        ));
    }
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::invalid_request(
            "The 'requested_token_type' must be 'urn:ietf:params:oauth:token-type:access_token'.",
        ));
    }
    if form.require("audience")? != server.audience {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "The 'audience' must be the audience of this authorization server.",
        ));
    }
    let now = state.clock.now();
    // Trusted subject tokens: this server's unexpired, unrevoked user access tokens.
    let claims = verify_own_jwt(server, subject_token, now, |claims| {
        state.is_withdrawn(claims)
    })
    .map_err(|_| OAuthError::invalid_grant(INVALID_SUBJECT))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("aud") != Some(server.audience.as_str()) || text("cid").is_none() {
        return Err(OAuthError::invalid_grant(INVALID_SUBJECT));
    }
    let user = text("uid")
        .and_then(|uid| state.user_by_id(uid))
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_SUBJECT))?;
    let scopes = split_scopes(form.get("scope").unwrap_or_default());
    let lifetime = check_user_scopes(server, client, GRANT_TYPE, &scopes)?;
    let auth_time = claims
        .get("auth_time")
        .and_then(Value::as_i64)
        .unwrap_or(now);
    let grant = UserGrant {
        server,
        client,
        user: &user,
        auth_time,
        scopes: &scopes,
        nonce: None,
        lifetime,
        acr: None,
        dpop_jkt,
    };
    let (access, _) = mint_user_tokens(state, &grant, true, false, None, now)?;
    let access = access.ok_or_else(OAuthError::server_error)?;
    Ok(json!({
        "access_token": access.token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scopes.join(" "),
    }))
}
