//! `POST /api/v1/authn` (Okta Classic's Authentication API, at the root as
//! okta-auth-js expects): username + password in, a `SUCCESS` transaction
//! with a single-use, five-minute `sessionToken` out (okta-fidelity.md §11).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::OktaApiError;
use crate::state::AppState;

/// sessionTokens live five minutes.
const SESSION_TOKEN_LIFETIME: i64 = 300;

pub async fn authn(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return OktaApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
        )
        .into_response();
    };
    let text = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let Some(user) = state.verify_password(text("username").trim(), text("password")) else {
        return OktaApiError::new(
            StatusCode::UNAUTHORIZED,
            "E0000004",
            "Authentication failed",
        )
        .into_response();
    };
    let now = state.clock.now();
    let expires_at = now + SESSION_TOKEN_LIFETIME;
    let session_token = state.store.issue_session_token(&user.id, expires_at, now);
    let mut profile = serde_json::Map::new();
    profile.insert("login".into(), Value::from(user.login.as_str()));
    for name in ["firstName", "lastName", "locale", "timeZone"] {
        if let Some(value) = user.profile_str(name) {
            profile.insert(name.into(), Value::from(value));
        }
    }
    let body = json!({
        "expiresAt": iso_millis(expires_at),
        "status": "SUCCESS",
        "sessionToken": session_token,
        "_embedded": {
            "user": {
                "id": user.id,
                "passwordChanged": iso_millis(now - 86_400),
                "profile": profile,
            }
        },
        "_links": {
            "cancel": {
                "href": format!("{}/api/v1/authn/cancel", state.base_url()),
                "hints": { "allow": ["POST"] }
            }
        }
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `2015-11-03T10:15:57.000Z`, Okta's date format.
fn iso_millis(unix_seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}
