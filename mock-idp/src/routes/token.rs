//! `POST {base}/v1/token`: authenticates the client, then hands the request
//! to its grant type.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let mut response = match dispatch(&state, &server, &form) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    allow_browser_origin(&state, &headers, &mut response);
    response
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

/// Lets a browser application read the response when its `Origin` is the
/// origin of a registered redirect or logout URI (Okta allows trusted
/// origins; the mock trusts the origins its clients registered).
pub fn allow_browser_origin(state: &AppState, request: &HeaderMap, response: &mut Response) {
    let Some(origin) = request.get(header::ORIGIN) else {
        return;
    };
    let Ok(origin_str) = origin.to_str() else {
        return;
    };
    let clients = state
        .clients
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let trusted = clients.values().any(|client| {
        client
            .redirect_uris
            .iter()
            .chain(&client.post_logout_redirect_uris)
            .filter_map(|uri| url::Url::parse(uri).ok())
            .any(|uri| uri.origin().ascii_serialization() == origin_str)
    });
    drop(clients);
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if trusted {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
    }
}

/// CORS preflight for browser clients (SPAs exchanging codes).
/// CORS preflight. The `Server` extractor answers 404 for an unknown server
/// before anything is allowed.
pub async fn preflight(_server: Server, headers: HeaderMap) -> Response {
    cors_preflight(headers)
}

/// The preflight answer itself (shared with userinfo).
pub fn cors_preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    if let Some(origin) = headers.get(header::ORIGIN) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    out.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Accept, Authorization, Content-Type, X-Okta-User-Agent-Extended"),
    );
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}
