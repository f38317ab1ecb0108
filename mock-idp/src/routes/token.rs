//! `POST {base}/v1/token`: authenticates the client, then hands the request
//! to its grant type.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Server;
use crate::client_auth::authenticate;
use crate::config::KNOWN_GRANT_TYPES;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::form::OAuthForm;
use crate::grants;
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    Server(server): Server,
    form: OAuthForm,
) -> Response {
    if server.access_token_keys().ready().await.is_err() {
        return OAuthError::server_error().into_response();
    }
    match dispatch(&state, &server, &form) {
        Ok(response) => response,
        Err(error) => {
            let wants_nonce = error.code == OAuthErrorCode::UseDpopNonce;
            let mut response = error.into_response();
            if wants_nonce
                && let Ok(nonce) =
                    HeaderValue::from_str(&state.store.issue_dpop_nonce(state.clock.now()))
            {
                response.headers_mut().insert("dpop-nonce", nonce);
            }
            response
        }
    }
}

/// The DPoP key a token request binds its tokens to (RFC 9449 §5), after
/// checking the `DPoP` proof; none without a proof, unless the client requires one.
fn dpop_binding(
    state: &AppState,
    server: &crate::state::AuthServer,
    client: &crate::state::Client,
    form: &OAuthForm,
) -> Result<Option<String>, OAuthError> {
    let mut proofs = form.headers.get_all("dpop").iter();
    let proof = match (proofs.next(), proofs.next()) {
        (None, _) if !client.dpop_bound_access_tokens => return Ok(None),
        (None, _) => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidDpopProof,
                "The DPoP proof JWT header is missing.",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidDpopProof,
                "Only one DPoP proof may be sent.",
            ));
        }
        (Some(value), None) => value.to_str().unwrap_or_default(),
    };
    let now = state.clock.now();
    let url = server.endpoint("token");
    let expected = dpop::Expected {
        method: "POST",
        url: &url,
        now,
        // As Okta: every proof carries a nonce the server issued.
        nonce_required: true,
        access_token: None,
    };
    let proof =
        dpop::verify(proof, &expected, |n| state.store.is_dpop_nonce(n, now)).map_err(|error| {
            match error {
                dpop::ProofError::NonceRequired => OAuthError::new(
                    OAuthErrorCode::UseDpopNonce,
                    "Authorization server requires nonce in DPoP proof.",
                ),
                dpop::ProofError::Invalid(why) => {
                    OAuthError::new(OAuthErrorCode::InvalidDpopProof, why)
                }
            }
        })?;
    if !state.store.use_dpop_proof(&proof, now) {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidDpopProof,
            "The DPoP proof 'jti' was already used.",
        ));
    }
    Ok(Some(proof.jkt))
}

fn dispatch(
    state: &AppState,
    server: &crate::state::AuthServer,
    form: &OAuthForm,
) -> Result<Response, OAuthError> {
    let grant_type = form.get("grant_type").ok_or_else(|| {
        OAuthError::invalid_request(format!(
            "The token request must specify a 'grant_type'. Valid values: [{}]",
            KNOWN_GRANT_TYPES.join(", ")
        ))
    })?;
    let mut client = authenticate(state, form, &server.endpoint("token"))?;
    client.dpop_jkt = dpop_binding(state, server, &client.client, form)?;
    let body = match grant_type {
        "client_credentials" => grants::client_credentials::grant(state, server, &client, form)?,
        "authorization_code" => grants::authorization_code::grant(state, server, &client, form)?,
        "refresh_token" => grants::refresh_token::grant(state, server, &client, form)?,
        "password" => grants::password::grant(state, server, &client, form)?,
        crate::device::GRANT_TYPE => grants::device_code::grant(state, server, &client, form)?,
        grants::token_exchange::GRANT_TYPE => {
            grants::token_exchange::grant(state, server, &client, form)?
        }
        grants::jwt_bearer::GRANT_TYPE => grants::jwt_bearer::grant(state, server, &client, form)?,
        _ => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!(
                    "The authorization grant type is not supported by the authorization server. Configured grant types: [{}].",
                    client.client.grant_types.join(", ")
                ),
            ));
        }
    };
    Ok(token_response(body))
}

/// A successful token response: JSON, never cached (RFC 6749 §5.1).
pub fn token_response(body: Value) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
