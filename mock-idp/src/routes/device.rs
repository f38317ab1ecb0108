//! Device authorization (RFC 8628): `POST {base}/v1/device/authorize` starts
//! a grant for an authenticated client; `/activate` is the verification page
//! where the user enters the code, signs in with the login page and allows or
//! denies. The device polls the token endpoint (`grants::device_code`).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::Server;
use super::authorize::{self, CSRF_COOKIE, SESSION_COOKIE, Waiting, cookie, parse_params};
use crate::client_auth::authenticate;
use crate::device::{Decision, GRANT_TYPE, INTERVAL, LIFETIME};
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::grants::user_tokens::{check_client_grant, check_user_scopes};
use crate::html::{self, ActivateStep};
use crate::state::AppState;
use crate::tokens::split_scopes;

const UNKNOWN_CODE: &str =
    "That code is invalid or has expired. Check the code on your device and try again.";

/// `POST {base}/v1/device/authorize`.
pub async fn device_authorize(
    State(state): State<AppState>,
    Server(server): Server,
    form: OAuthForm,
) -> Response {
    let started = (|| {
        let client = authenticate(&state, &form, &server.endpoint("device/authorize"))?;
        let client = &client.client;
        check_client_grant(client, GRANT_TYPE)?;
        let scopes = split_scopes(form.get("scope").unwrap_or_default());
        check_user_scopes(&server, client, GRANT_TYPE, &scopes)?;
        let now = state.clock.now();
        Ok::<_, OAuthError>(state.store.devices.start(
            &server.issuer,
            &client.client_id,
            scopes,
            now,
        ))
    })();
    let (device_code, user_code) = match started {
        Ok(codes) => codes,
        Err(error) => return error.into_response(),
    };
    let verification_uri = verification_uri(&state);
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "expires_in": LIFETIME,
        "interval": INTERVAL,
    });
    super::token::token_response(body)
}

fn verification_uri(state: &AppState) -> String {
    format!("{}/activate", state.base_url())
}

/// A 303 to the verification page, with the code when there is one.
pub fn to_verification_page(state: &AppState, user_code: Option<&str>) -> Response {
    let mut target = verification_uri(state);
    if let Some(code) = user_code {
        target.push_str("?user_code=");
        target.extend(url::form_urlencoded::byte_serialize(code.as_bytes()));
    }
    Redirect::to(&target).into_response()
}

/// The signed-in user of the browser, from the session cookie.
fn session_user(state: &AppState, headers: &HeaderMap, now: i64) -> Option<(String, i64)> {
    let sid = cookie(headers, SESSION_COOKIE)?;
    let session = state.store.session(sid, now)?;
    Some((session.user_id, session.auth_time))
}

fn page(state: &AppState, step: &ActivateStep<'_>, status: StatusCode) -> Response {
    html::activate_page(&verification_uri(state), step, status)
}

/// `GET /activate[?user_code=…]`: enter the code; then sign in; then allow or deny.
pub async fn activate_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let typed = query
        .iter()
        .find(|(name, _)| name == "user_code")
        .map(|(_, value)| value.as_str());
    let Some(typed) = typed.filter(|code| !code.trim().is_empty()) else {
        let step = ActivateStep::Enter {
            user_code: "",
            message: None,
        };
        return page(&state, &step, StatusCode::OK);
    };
    let now = state.clock.now();
    let Some(grant) = state.store.devices.pending_by_user_code(typed, now) else {
        let step = ActivateStep::Enter {
            user_code: typed,
            message: Some(UNKNOWN_CODE),
        };
        return page(&state, &step, StatusCode::BAD_REQUEST);
    };
    let client_name = state
        .client(&grant.client_id)
        .map(|c| c.client_name.clone())
        .unwrap_or_default();
    let Some(user) = session_user(&state, &headers, now).and_then(|(id, _)| state.user_by_id(&id))
    else {
        let waiting = Waiting {
            server: None,
            params: vec![("client_id".to_owned(), grant.client_id.clone())],
            pushed: false,
            activate: Some(grant.user_code.clone()),
        };
        return authorize::show_login(&state, waiting, &client_name, "", now);
    };
    let csrf = crate::ids::random_token();
    let step = ActivateStep::Confirm {
        user_code: &grant.user_code,
        client_name: &client_name,
        login: &user.login,
        csrf: &csrf,
    };
    let mut response = page(&state, &step, StatusCode::OK);
    authorize::set_cookie(
        &state,
        &mut response,
        CSRF_COOKIE,
        &csrf,
        "Strict",
        Some(600),
    );
    response
}

/// `POST /activate`: the user's decision (session and anti-CSRF token checked).
pub async fn activate_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorize::is_form(&headers) || body.len() > state.settings().max_body_bytes {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The activation form must be posted as application/x-www-form-urlencoded.",
        );
    }
    let form = parse_params(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let csrf_ok = match (field("csrf"), cookie(&headers, CSRF_COOKIE)) {
        (Some(sent), Some(set)) if !set.is_empty() => {
            bool::from(sent.as_bytes().ct_eq(set.as_bytes()))
        }
        _ => false,
    };
    if !csrf_ok {
        return html::error_page(
            StatusCode::FORBIDDEN,
            "access_denied",
            "The activation form could not be verified (missing or wrong anti-forgery token). Enter the code again.",
        );
    }
    let now = state.clock.now();
    let user_code = field("user_code").unwrap_or_default();
    let Some((user_id, auth_time)) = session_user(&state, &headers, now) else {
        return to_verification_page(&state, Some(user_code));
    };
    let (decision, title, message) = match field("action") {
        Some("approve") => (
            Decision::Approved { user_id, auth_time },
            "Device activated",
            "You can return to your device now.",
        ),
        Some("deny") => (
            Decision::Denied,
            "Access denied",
            "The device was not allowed to sign in. You can close this window.",
        ),
        _ => {
            return html::error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Choose Allow or Deny.",
            );
        }
    };
    if !state.store.devices.decide(user_code, decision, now) {
        let step = ActivateStep::Enter {
            user_code,
            message: Some(UNKNOWN_CODE),
        };
        return page(&state, &step, StatusCode::BAD_REQUEST);
    }
    let mut response = page(
        &state,
        &ActivateStep::Done { title, message },
        StatusCode::OK,
    );
    authorize::set_cookie(&state, &mut response, CSRF_COOKIE, "", "Strict", Some(0));
    response
}
