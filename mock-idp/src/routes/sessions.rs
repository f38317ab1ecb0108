//! `/api/v1/sessions/me`: the browser's own Okta session, as okta-auth-js's
//! `session.exists()`, `session.get()`, `session.refresh()` and `closeSession()`
//! call it, with the `sid` cookie a login (or a `sessionToken` at /authorize)
//! set. Without a live session every call is 404 E0000007, which okta-auth-js
//! reads as "no session" (docs/okta-behaviour.md §4; Identity Engine shape: no `idp`).
//!
//! The session's `id` is a digest of the cookie, never the cookie itself: a
//! page that reads the answer learns nothing it could present as the session.
//!
//! `GET /login/sessionCookieRedirect?token=…&redirectUrl=…` turns an authn
//! `sessionToken` into that session in the browser (okta-auth-js's
//! `session.setCookieAndRedirect`): the cookie is set and the browser sent on
//! to `redirectUrl`, which must be a trusted origin (no open redirect).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::authn::iso_millis;
use super::authorize::{SESSION_COOKIE, cookie, new_session, set_session_cookie};
use super::cors::is_trusted_origin;
use crate::error::OktaApiError;
use crate::html;
use crate::state::AppState;
use crate::store::Session;

/// `GET /api/v1/sessions/me`.
pub async fn get_me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = state.clock.now();
    match live_session(&state, &headers, now) {
        Some((sid, session)) => Json(session_json(&state, sid, &session)).into_response(),
        None => no_session(),
    }
}

/// `POST /api/v1/sessions/me/lifecycle/refresh`: the session lives another
/// full session lifetime from now.
pub async fn refresh_me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = state.clock.now();
    let Some((sid, _)) = live_session(&state, &headers, now) else {
        return no_session();
    };
    let lifetime = i64::try_from(state.settings().session_lifetime).unwrap_or(7200);
    match state.store.refresh_session(sid, now + lifetime, now) {
        Some(session) => Json(session_json(&state, sid, &session)).into_response(),
        None => no_session(),
    }
}

/// `DELETE /api/v1/sessions/me`: ends the session (204) and clears the cookie.
pub async fn close_me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = state.clock.now();
    let Some((sid, _)) = live_session(&state, &headers, now) else {
        return no_session();
    };
    state.store.end_session(sid);
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_session_cookie(&state, &mut response, "");
    response
}

/// `GET /login/sessionCookieRedirect`.
pub async fn cookie_redirect(
    State(state): State<AppState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let redirect = query
        .get("redirectUrl")
        .and_then(|url| url::Url::parse(url).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .filter(|url| is_trusted_origin(&state, &url.origin().ascii_serialization()))
        .and_then(|url| HeaderValue::from_str(url.as_str()).ok());
    let Some(location) = redirect else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirectUrl is missing or not a trusted origin.",
        );
    };
    let now = state.clock.now();
    let user = query
        .get("token")
        .and_then(|token| state.store.take_session_token(token, now))
        .and_then(|user_id| state.user_by_id(&user_id));
    let Some(user) = user else {
        return html::error_page(
            StatusCode::FORBIDDEN,
            "access_denied",
            "The session token is invalid, used or expired.",
        );
    };
    let sid = new_session(&state, &user, now);
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    set_session_cookie(&state, &mut response, &sid);
    response
}

fn live_session<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
    now: i64,
) -> Option<(&'a str, Session)> {
    let sid = cookie(headers, SESSION_COOKIE).filter(|sid| !sid.is_empty())?;
    let session = state.store.session(sid, now)?;
    Some((sid, session))
}

fn no_session() -> Response {
    OktaApiError::not_found("me", "Session").into_response()
}

fn session_json(state: &AppState, sid: &str, session: &Session) -> Value {
    let base = state.base_url().trim_end_matches('/');
    let login = state
        .user_by_id(&session.user_id)
        .map(|user| user.login.clone());
    let digest = B64.encode(Sha256::digest(sid.as_bytes()));
    json!({
        "id": format!("102{}", &digest[..22]),
        "login": login,
        "userId": session.user_id,
        "expiresAt": iso_millis(session.expires_at),
        "status": "ACTIVE",
        "lastPasswordVerification": iso_millis(session.auth_time),
        "lastFactorVerification": null,
        "amr": ["pwd"],
        "mfaActive": false,
        "_links": {
            "self": {
                "href": format!("{base}/api/v1/sessions/me"),
                "hints": { "allow": ["GET", "DELETE"] }
            },
            "refresh": {
                "href": format!("{base}/api/v1/sessions/me/lifecycle/refresh"),
                "hints": { "allow": ["POST"] }
            },
            "user": {
                "name": login,
                "href": format!("{base}/api/v1/users/me"),
                "hints": { "allow": ["GET"] }
            }
        }
    })
}
