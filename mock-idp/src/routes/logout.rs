//! `GET|POST {base}/v1/logout`: ends the browser session named by the
//! `id_token_hint`, then redirects to a registered `post_logout_redirect_uri`
//! with `state` (docs/okta-behaviour.md §8).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Server;
use super::authorize::{SESSION_COOKIE, cookie, is_form, parse_params, set_session_cookie};
use crate::html;
use crate::state::{AppState, AuthServer};
use crate::tokens::verify_own_jwt;

pub async fn logout_get(
    State(state): State<AppState>,
    Server(server): Server,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_params(query.as_deref().unwrap_or_default().as_bytes());
    logout(&state, &server, &headers, &params)
}

pub async fn logout_post(
    State(state): State<AppState>,
    Server(server): Server,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request must use Content-Type 'application/x-www-form-urlencoded'.",
        );
    }
    logout(&state, &server, &headers, &parse_params(&body))
}

fn logout(
    state: &AppState,
    server: &AuthServer,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Response {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let Some(hint) = get("id_token_hint") else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'id_token_hint' parameter is required.",
        );
    };
    // An expired but otherwise valid hint is accepted (as on Okta).
    let claims = verify_own_jwt(server, hint, i64::MIN, |_| false).ok();
    let subject_and_client = claims.as_ref().and_then(|c| {
        let sub = c.get("sub").and_then(Value::as_str)?;
        let aud = c.get("aud").and_then(Value::as_str)?;
        c.get("jti")
            .and_then(Value::as_str)
            .filter(|j| j.starts_with("ID."))?;
        Some((sub.to_owned(), aud.to_owned()))
    });
    let Some((subject, client_id)) = subject_and_client else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'id_token_hint' parameter is not a valid ID token issued by this authorization server.",
        );
    };
    let Some(client) = state.client(&client_id) else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Invalid value for 'client_id' parameter.",
        );
    };
    let target = get("post_logout_redirect_uri");
    if let Some(uri) = target
        && !client.post_logout_redirect_uris.iter().any(|r| r == uri)
    {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings.",
        );
    }
    let now = state.clock.now();
    let mut ended = false;
    if let Some(sid) = cookie(headers, SESSION_COOKIE)
        && state
            .store
            .session(sid, now)
            .is_some_and(|s| s.user_id == subject)
    {
        state.store.end_session(sid);
        ended = true;
    }
    let mut response = match target {
        Some(uri) => {
            let mut url = url::Url::parse(uri)
                .unwrap_or_else(|_| unreachable!("registered URIs are absolute"));
            if let Some(state_param) = get("state") {
                url.query_pairs_mut().append_pair("state", state_param);
            }
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(value) = HeaderValue::from_str(url.as_str()) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        None => html::error_page(
            StatusCode::OK,
            "signed_out",
            "You have been signed out. You can close this window.",
        ),
    };
    if ended {
        set_session_cookie(state, &mut response, "");
    }
    response
}
