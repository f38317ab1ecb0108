//! CORS, one rule for every endpoint a browser application calls
//! (docs/okta-behaviour.md §2, §5, §11).
//!
//! Discovery and the key set are public documents: `Access-Control-Allow-Origin: *`.
//! Everything else (token, introspect, revoke, userinfo, `/api/v1/authn`) lets a
//! browser read the answer only from a trusted origin: the origin of a registered
//! redirect or logout URI, the mock's stand-in for Okta's Trusted Origins. The
//! preflight itself answers any origin; the actual response is what a browser
//! withholds from an untrusted one.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Server;
use crate::state::AppState;

/// What okta-auth-js sends: `Accept`, `Content-Type` and `X-Okta-User-Agent-Extended`
/// on every request, `Authorization` for userinfo, the rest when configured.
const ALLOWED_HEADERS: &str = "Accept, Authorization, Content-Type, X-Okta-User-Agent-Extended, X-Requested-With, X-Device-Fingerprint";

/// True for a browser's preflight (not for a plain `OPTIONS`).
pub fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Lets a trusted origin read every response of the route it wraps, errors
/// included (okta-auth-js reads Okta's error bodies).
pub async fn trusted(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = (request.method() != Method::OPTIONS)
        .then(|| request.headers().get(header::ORIGIN).cloned())
        .flatten();
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        allow_browser_origin(&state, &origin, &mut response);
    }
    response
}

fn allow_browser_origin(state: &AppState, origin: &HeaderValue, response: &mut Response) {
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if is_trusted(state, origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        // okta-auth-js sends authn requests `withCredentials`.
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate"),
        );
    }
}

fn is_trusted(state: &AppState, origin: &HeaderValue) -> bool {
    origin
        .to_str()
        .is_ok_and(|origin| is_trusted_origin(state, origin))
}

/// Whether `origin` (`scheme://host[:port]`) is a trusted origin: that of a
/// registered redirect or post-logout redirect URI.
pub fn is_trusted_origin(state: &AppState, origin: &str) -> bool {
    let clients = state
        .clients
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    clients.values().any(|client| {
        client
            .redirect_uris
            .iter()
            .chain(&client.post_logout_redirect_uris)
            .filter_map(|uri| url::Url::parse(uri).ok())
            .any(|uri| uri.origin().ascii_serialization() == origin)
    })
}

/// Preflight of a POST endpoint of a server (token, introspect, revoke). The
/// `Server` extractor answers 404 for an unknown server first.
pub async fn post_preflight(_server: Server, headers: HeaderMap) -> Response {
    preflight(&headers, "POST, OPTIONS", true)
}

/// Preflight of userinfo (okta-auth-js sends GET with a Bearer header).
pub async fn userinfo_preflight(_server: Server, headers: HeaderMap) -> Response {
    preflight(&headers, "GET, POST, OPTIONS", true)
}

/// Preflight of a public document (discovery, keys).
pub async fn document_preflight(_server: Server, headers: HeaderMap) -> Response {
    preflight(&headers, "GET, OPTIONS", false)
}

/// Preflight of `/api/v1/sessions/me` (okta-auth-js sends it with credentials).
pub async fn sessions_preflight(headers: HeaderMap) -> Response {
    preflight(&headers, "GET, DELETE, OPTIONS", true)
}

/// Preflight of `/api/v1/authn` and its sub-paths.
pub async fn authn_preflight(headers: HeaderMap) -> Response {
    preflight(&headers, "POST, OPTIONS", true)
}

fn preflight(request: &HeaderMap, methods: &'static str, by_origin: bool) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    if !by_origin {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        out.insert(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = request.get(header::ORIGIN) {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    out.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}
