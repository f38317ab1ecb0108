//! `POST /api/v1/authn` (Okta Classic's Authentication API, at the root as
//! okta-auth-js expects): username + password in, a `SUCCESS` transaction
//! with a single-use, five-minute `sessionToken` out (docs/okta-behaviour.md §11);
//! a locked-out user is `E0000004`, or `LOCKED_OUT` when the policy says so.
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
use crate::state::{AppState, SignInRefused, User};
use crate::store::{AuthnStatus, AuthnTransaction};

/// sessionTokens live five minutes.
const SESSION_TOKEN_LIFETIME: i64 = 300;
/// So do transactions waiting for the user's next step (the mock's choice).
const STATE_TOKEN_LIFETIME: i64 = 300;

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
    let warn = request
        .get("options")
        .and_then(|o| o.get("warnBeforePasswordExpired"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match state.sign_in(text("username").trim(), text("password")) {
        Ok(user) if warn && user.password_expires_at.is_some() => {
            waiting(&state, &user, AuthnStatus::PasswordWarn)
        }
        Ok(user) => success(&state, &user),
        Err(SignInRefused::PasswordExpired(user)) => {
            waiting(&state, &user, AuthnStatus::PasswordExpired)
        }
        Err(SignInRefused::LockedOut) if state.settings().show_lockout_failures => {
            locked_out(&state)
        }
        Err(_) => OktaApiError::new(
            StatusCode::UNAUTHORIZED,
            "E0000004",
            "Authentication failed",
        )
        .into_response(),
    }
}

/// `SUCCESS`: a sessionToken for the user.
fn success(state: &AppState, user: &User) -> Response {
    let now = state.clock.now();
    let expires_at = now + SESSION_TOKEN_LIFETIME;
    let session_token = state.store.issue_session_token(&user.id, expires_at, now);
    no_store(json!({
        "expiresAt": iso_millis(expires_at),
        "status": "SUCCESS",
        "sessionToken": session_token,
        "_embedded": {"user": embedded_user(user, now)},
    }))
}

/// A transaction waiting for the user (`PASSWORD_EXPIRED`: change the
/// password; `PASSWORD_WARN`: change it or skip), with its stateToken.
fn waiting(state: &AppState, user: &User, status: AuthnStatus) -> Response {
    let now = state.clock.now();
    let expires_at = now + STATE_TOKEN_LIFETIME;
    let state_token = state.store.start_authn(
        AuthnTransaction {
            user_id: user.id.clone(),
            status,
            expires_at,
        },
        now,
    );
    let base = state.base_url();
    let link = |name: &str, path: &str| json!({"name": name, "href": format!("{base}/api/v1/authn{path}"), "hints": {"allow": ["POST"]}});
    let mut policy = json!({
        "complexity": {
            "minLength": 8, "minLowerCase": 1, "minUpperCase": 1, "minNumber": 1,
            "minSymbol": 0, "excludeUsername": true,
        },
        "age": {"minAgeMinutes": 0, "historyCount": 0},
    });
    let mut links = json!({
        "next": link("changePassword", "/credentials/change_password"),
        "cancel": {"href": format!("{base}/api/v1/authn/cancel"), "hints": {"allow": ["POST"]}},
    });
    if status == AuthnStatus::PasswordWarn {
        let left = user.password_expires_at.unwrap_or(now).saturating_sub(now);
        policy["expiration"] = json!({"passwordExpireDays": (left + 86_399) / 86_400});
        links["skip"] = link("skip", "/skip");
    }
    no_store(json!({
        "stateToken": state_token,
        "expiresAt": iso_millis(expires_at),
        "status": status.as_str(),
        "_embedded": {"user": embedded_user(user, now), "policy": policy},
        "_links": links,
    }))
}

/// The `_embedded.user` of a transaction.
fn embedded_user(user: &User, now: i64) -> Value {
    let mut profile = serde_json::Map::new();
    profile.insert("login".into(), Value::from(user.login.as_str()));
    for name in ["firstName", "lastName", "locale", "timeZone"] {
        if let Some(value) = user.profile_str(name) {
            profile.insert(name.into(), Value::from(value));
        }
    }
    json!({
        "id": user.id,
        "passwordChanged": iso_millis(now - 86_400),
        "profile": profile,
    })
}

fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The live transaction a request's `stateToken` names: an unknown or expired
/// one is Okta's 401 `E0000011`.
fn transaction(
    state: &AppState,
    request: &Map<String, Value>,
) -> Result<(String, AuthnTransaction), OktaApiError> {
    let token = request
        .get("stateToken")
        .and_then(Value::as_str)
        .unwrap_or_default();
    state
        .store
        .authn_transaction(token, state.clock.now())
        .map(|t| (token.to_owned(), t))
        .ok_or_else(|| {
            OktaApiError::new(
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
            )
        })
}

fn wrong_state() -> OktaApiError {
    OktaApiError::new(
        StatusCode::FORBIDDEN,
        "E0000079",
        "This operation is not allowed in the current authentication state.",
    )
}

/// `POST /api/v1/authn/credentials/change_password` with `stateToken`,
/// `oldPassword`, `newPassword`: from `PASSWORD_EXPIRED` or `PASSWORD_WARN` to
/// `SUCCESS`.
pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let request = read_request(&state, &headers, body).await?;
        let (token, transaction) = transaction(&state, &request)?;
        if !matches!(
            transaction.status,
            AuthnStatus::PasswordExpired | AuthnStatus::PasswordWarn
        ) {
            return Err(wrong_state());
        }
        let text = |name: &str| {
            request
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let user = state.change_own_password(
            &transaction.user_id,
            text("oldPassword"),
            text("newPassword"),
        )?;
        state.store.end_authn(&token, state.clock.now());
        Ok(success(&state, &user))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /api/v1/authn/skip`: `PASSWORD_WARN` → `SUCCESS` without a change.
pub async fn skip(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let request = read_request(&state, &headers, body).await?;
        let (token, transaction) = transaction(&state, &request)?;
        if transaction.status != AuthnStatus::PasswordWarn {
            return Err(wrong_state());
        }
        let user = state
            .user_by_id(&transaction.user_id)
            .filter(|u| u.can_sign_in())
            .ok_or_else(wrong_state)?;
        state.store.end_authn(&token, state.clock.now());
        Ok(success(&state, &user))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// Okta's answer for a locked-out user when the policy shows lockout failures:
/// a `LOCKED_OUT` transaction (200) whose `next` is self-service unlock.
fn locked_out(state: &AppState) -> Response {
    no_store(json!({
        "status": "LOCKED_OUT",
        "_links": {
            "next": {
                "name": "unlock",
                "href": format!("{}/api/v1/authn/recovery/unlock", state.base_url()),
                "hints": {"allow": ["POST"]},
            }
        },
    }))
}

/// `POST /api/v1/authn/cancel` with `{"stateToken": …}`: ends a live
/// transaction (200); an unknown or expired one is `E0000011`.
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let request = read_request(&state, &headers, body).await?;
        let (token, _) = transaction(&state, &request)?;
        state.store.end_authn(&token, state.clock.now());
        Ok::<_, OktaApiError>(no_store(json!({})))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
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
