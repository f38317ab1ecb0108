//! `POST /api/v1/authn` (Okta Classic's Authentication API, at the root as
//! okta-auth-js expects): username + password in, a `SUCCESS` transaction
//! with a single-use, five-minute `sessionToken` out (docs/okta-behaviour.md §11).
//! Callers may be anonymous; one sending `SSWS` must send a valid token.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde_json::{Map, Value, json};

use crate::error::OktaApiError;
use crate::management::ApiToken;
use crate::state::AppState;

/// sessionTokens live five minutes.
const SESSION_TOKEN_LIFETIME: i64 = 300;

pub async fn authn(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let request = match read_request(&state, &headers, body).await {
        Ok(request) => request,
        Err(error) => return error.into_response(),
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
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/v1/authn/cancel` with `{"stateToken": …}`. Transactions here
/// succeed at once and never hand out a stateToken, so any one presented is
/// unknown: Okta's answer for an expired one.
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if let Err(error) = read_request(&state, &headers, body).await {
        return error.into_response();
    }
    OktaApiError::new(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
    )
    .into_response()
}

/// The JSON object of an authn request from an anonymous caller or one with a
/// valid SSWS token, read within `server.max_body_bytes`.
async fn read_request(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, OktaApiError> {
    ApiToken::check_if_sent(state, headers)?;
    let limit = state.settings().max_body_bytes;
    let not_well_formed =
        |status| OktaApiError::new(status, "E0000003", "The request body was not well-formed.");
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            let mut error = not_well_formed(StatusCode::PAYLOAD_TOO_LARGE);
            error
                .causes
                .push(format!("The request body is larger than {limit} bytes."));
            return Err(error);
        }
        Err(_) => return Err(not_well_formed(StatusCode::BAD_REQUEST)),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(request)) => Ok(request),
        _ => Err(not_well_formed(StatusCode::BAD_REQUEST)),
    }
}

/// `2015-11-03T10:15:57.000Z`, Okta's date format.
pub(crate) fn iso_millis(unix_seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}
