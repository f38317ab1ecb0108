//! `POST {base}/v1/revoke` (RFC 7009): 200 with an empty body, also for
//! unknown or already-invalid tokens; a client may revoke only its own tokens.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Server;
use crate::client_auth::authenticate;
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::AppState;
use crate::tokens::verify_own_jwt;

pub async fn revoke(
    State(state): State<AppState>,
    Server(server): Server,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let caller = authenticate(&state, &form, &server.endpoint("revoke"))?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("The 'token' parameter is required."))?;
    let now = state.clock.now();
    // token_type_hint is only a hint (RFC 7009 §2.1): every kind is tried.
    // A refresh token takes its whole family with it, and the access and ID
    // tokens minted from it.
    if let Some(grant) = state.store.peek_refresh_token(token)
        && grant.issuer == server.issuer
    {
        if grant.client_id != caller.client.client_id {
            return Err(OAuthError::invalid_request(
                "The token was not issued to the client making the request.",
            ));
        }
        state.store.revoke_family(&grant.family, now);
    } else if let Ok(claims) =
        verify_own_jwt(&server, token, now, |claims| state.is_withdrawn(claims))
    {
        let owner = claims
            .get("cid")
            .or_else(|| claims.get("aud"))
            .and_then(Value::as_str);
        if owner != Some(caller.client.client_id.as_str()) {
            return Err(OAuthError::invalid_request(
                "The token was not issued to the client making the request.",
            ));
        }
        if let (Some(jti), Some(exp)) = (
            claims.get("jti").and_then(Value::as_str),
            claims.get("exp").and_then(Value::as_i64),
        ) {
            state.store.revoke(jti, exp, now);
        }
    }
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
