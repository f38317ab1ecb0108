//! `grant_type=refresh_token`: bound to the client; scope may only narrow;
//! rotation per client with Okta's leeway; a rotated-out token replayed
//! after the leeway revokes its whole family.

use serde_json::Value;

use super::user_tokens::{
    EXCEEDS_SCOPE, RefreshChoice, UserGrant, check_client_grant, check_user_scopes,
    token_endpoint_response,
};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::store::{RefreshPolicy, RefreshProblem};
use crate::tokens::split_scopes;

const GRANT: &str = "refresh_token";
const INVALID: &str = "The refresh token is invalid or expired.";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    check_client_grant(client, GRANT)?;
    let presented = form.require("refresh_token")?;
    let now = state.clock.now();
    let policy = RefreshPolicy {
        rotate: client.rotate_refresh_tokens,
        leeway: i64::try_from(client.refresh_token_leeway).unwrap_or(0),
        window: i64::try_from(state.settings().refresh_token_window).unwrap_or(i64::MAX / 4),
    };
    // Validate the requested scope before using (and maybe rotating) the token.
    let requested = form.get("scope").map(split_scopes);
    if let (Some(requested), Some(grant)) = (&requested, state.store.peek_refresh_token(presented))
        && grant.client_id == client.client_id
        && (requested.is_empty() || requested.iter().any(|s| !grant.scopes.contains(s)))
    {
        return Err(OAuthError::invalid_scope(EXCEEDS_SCOPE));
    }
    let used = state
        .store
        .use_refresh_token(presented, &server.issuer, &client.client_id, policy, now)
        .map_err(|problem| match problem {
            RefreshProblem::Invalid | RefreshProblem::Reused => OAuthError::invalid_grant(INVALID),
            RefreshProblem::OtherClient => OAuthError::invalid_grant(
                "The grant was issued to another client. Please make sure the 'client_id' matches the one used at the authorize request.",
            ),
        })?;
    let scopes = match requested {
        Some(requested) => {
            if requested.is_empty() || requested.iter().any(|s| !used.grant.scopes.contains(s)) {
                return Err(OAuthError::invalid_scope(EXCEEDS_SCOPE));
            }
            requested
        }
        None => used.grant.scopes.clone(),
    };
    let user = state
        .user_by_id(&used.grant.user_id)
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;
    let lifetime = check_user_scopes(server, client, GRANT, &scopes)?;
    let grant = UserGrant {
        server,
        client,
        user: &user,
        auth_time: used.grant.auth_time,
        scopes: &scopes,
        nonce: None,
        lifetime,
        acr: used.grant.acr.as_deref(),
        dpop_jkt,
    };
    let refresh = RefreshChoice::Existing {
        token: used.refresh_token,
        family: used.grant.family.clone(),
    };
    let (body, _) = token_endpoint_response(state, &grant, refresh, now)?;
    Ok(body)
}
