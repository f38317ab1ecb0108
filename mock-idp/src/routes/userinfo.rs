//! `GET|POST {base}/v1/userinfo` with `Authorization: Bearer`: the user's
//! claims for the granted OpenID Connect scopes; `sub` is the user id, as in
//! the ID token (docs/okta-behaviour.md §8).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Server;
use crate::state::AppState;
use crate::tokens::{user_claims, verify_own_jwt};

pub async fn userinfo(
    State(state): State<AppState>,
    Server(server): Server,
    headers: HeaderMap,
) -> Response {
    answer(&state, &server, &headers)
}

fn answer(state: &AppState, server: &crate::state::AuthServer, headers: &HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = bearer else {
        // RFC 6750 §3.1: no credentials, no error attribute.
        return challenge(StatusCode::UNAUTHORIZED, "Bearer realm=\"Okta\"");
    };
    let invalid = || {
        challenge(
            StatusCode::UNAUTHORIZED,
            "Bearer error=\"invalid_token\", error_description=\"The access token is invalid.\"",
        )
    };
    let now = state.clock.now();
    let Ok(claims) = verify_own_jwt(server, token, now, |claims| state.is_withdrawn(claims)) else {
        return invalid();
    };
    // Access tokens only (an ID token is not a bearer credential).
    if !claims
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|j| j.starts_with("AT."))
    {
        return invalid();
    }
    let scopes: Vec<String> = claims
        .get("scp")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let has = |s: &str| scopes.iter().any(|g| g == s);
    let user = claims
        .get("uid")
        .and_then(Value::as_str)
        .and_then(|uid| state.user_by_id(uid));
    let Some(user) = user else {
        // A client's own token (client_credentials) has no user behind it.
        return insufficient_scope();
    };
    if !has("openid")
        || !["profile", "email", "address", "phone"]
            .iter()
            .any(|s| has(s))
    {
        return insufficient_scope();
    }
    let mut response = Json(Value::Object(user_claims(&user, &scopes, true))).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn insufficient_scope() -> Response {
    let mut response = challenge(
        StatusCode::FORBIDDEN,
        "Bearer error=\"insufficient_scope\", error_description=\"The access token must provide access to at least one of these scopes - profile, email, address or phone\"",
    );
    response
        .headers_mut()
        .insert(header::EXPIRES, HeaderValue::from_static("0"));
    response
}

fn challenge(status: StatusCode, value: &'static str) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
