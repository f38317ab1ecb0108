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
        Err(error) => error.into_response(),
    }
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
    let client = authenticate(state, form, &server.endpoint("token"))?;
    let body = match grant_type {
        "client_credentials" => grants::client_credentials::grant(state, server, &client, form)?,
        "authorization_code" => grants::authorization_code::grant(state, server, &client, form)?,
        "refresh_token" => grants::refresh_token::grant(state, server, &client, form)?,
        "password" => grants::password::grant(state, server, &client, form)?,
        crate::device::GRANT_TYPE => grants::device_code::grant(state, server, &client, form)?,
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
