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
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    answer(&state, &server, &method, &headers)
}

fn answer(
    state: &AppState,
    server: &crate::state::AuthServer,
    method: &axum::http::Method,
    headers: &HeaderMap,
) -> Response {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop")
        })
        .map(|(scheme, token)| (scheme.eq_ignore_ascii_case("dpop"), token.trim()));
    let Some((dpop, token)) = credentials else {
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
    // A DPoP-bound token needs the DPoP scheme and a proof by its key (RFC 9449 §7).
    let bound_to = claims
        .get("cnf")
        .and_then(|cnf| cnf.get("jkt"))
        .and_then(Value::as_str);
    match (bound_to, dpop) {
        (None, false) => {}
        (Some(jkt), true) if proves(state, server, method, headers, token, jkt, now) => {}
        (None, true) | (Some(_), _) => {
            return challenge(
                StatusCode::UNAUTHORIZED,
                "DPoP error=\"invalid_token\", error_description=\"The access token is DPoP-bound (or not): present it with its scheme and a valid DPoP proof.\", algs=\"RS256 ES256\"",
            );
        }
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

/// The request's DPoP proof is fresh, for this request and token, by key `jkt`.
fn proves(
    state: &AppState,
    server: &crate::state::AuthServer,
    method: &axum::http::Method,
    headers: &HeaderMap,
    token: &str,
    jkt: &str,
    now: i64,
) -> bool {
    let mut proofs = headers.get_all("dpop").iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return false;
    };
    let url = server.endpoint("userinfo");
    let expected = dpop::Expected {
        method: method.as_str(),
        url: &url,
        now,
        nonce_required: false,
        access_token: Some(token),
    };
    let Ok(proof) = dpop::verify(proof.to_str().unwrap_or_default(), &expected, |_| true) else {
        return false;
    };
    proof.jkt == jkt && state.store.use_dpop_proof(&proof, now)
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
