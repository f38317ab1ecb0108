//! `POST /login/login.htm`: the login page's form. Checks the anti-CSRF
//! token (form field and cookie must both match the pending request), then
//! the user's password; on success starts a session and answers the
//! original authorize request with a 303.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::authorize::{self, Authenticated, CSRF_COOKIE, cookie, parse_params};
use crate::html;
use crate::state::{AppState, SignInRefused};

const BAD_CREDENTIALS: &str = "Unable to sign in: the username or password is incorrect.";
const LOCKED_OUT: &str =
    "Your account is locked. Contact your administrator to unlock it, or try again later.";
const PASSWORD_EXPIRED: &str =
    "Your password has expired. Enter your current password and choose a new one.";
const EXPIRED: &str = "This sign-in request has expired or was already used. Go back to the application and start again.";

pub async fn login_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorize::is_form(&headers) || body.len() > state.settings().max_body_bytes {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The sign-in form must be posted as application/x-www-form-urlencoded.",
        );
    }
    let form = parse_params(&body);
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let now = state.clock.now();
    let Some(transaction) = field("transaction") else {
        return html::error_page(StatusCode::BAD_REQUEST, "invalid_request", EXPIRED);
    };
    let Some(pending) = state.store.login(transaction, now) else {
        return html::error_page(StatusCode::BAD_REQUEST, "invalid_request", EXPIRED);
    };
    let same = |presented: Option<&str>| {
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(pending.csrf.as_bytes())))
    };
    if !(same(field("csrf")) && same(cookie(&headers, CSRF_COOKIE))) {
        return html::error_page(
            StatusCode::FORBIDDEN,
            "access_denied",
            "The sign-in form could not be verified (missing or wrong anti-forgery token). Reload the application and try again.",
        );
    }
    let server = match &pending.server {
        None => state.org().clone(),
        Some(id) => match state.custom_server(id) {
            Some(server) => server.clone(),
            None => return html::error_page(StatusCode::BAD_REQUEST, "invalid_request", EXPIRED),
        },
    };
    if field("action") == Some("cancel") {
        state.store.remove_login(transaction);
        if pending.activate.is_some() {
            return super::device::to_verification_page(&state, None);
        }
        return authorize::run(
            &state,
            &server,
            &headers,
            pending.params,
            pending.pushed,
            Authenticated::Cancelled,
        );
    }
    let username = field("username").unwrap_or_default().trim();
    let password = field("password").unwrap_or_default();
    // The page again, with a message; `change` adds the new-password field.
    let again = |message: &str, change: bool, status: StatusCode| {
        tracing::info!("login not finished: {message}");
        let client_name = pending
            .params
            .iter()
            .find(|(n, _)| n == "client_id")
            .and_then(|(_, id)| state.client(id))
            .map(|c| c.client_name.clone())
            .unwrap_or_default();
        let action = format!("{}/login/login.htm", state.base_url());
        html::login_page(
            &html::LoginPage {
                client_name: &client_name,
                action: &action,
                transaction,
                csrf: &pending.csrf,
                username,
                error: Some(message),
                change_password: change,
            },
            status,
        )
    };
    let user = match state.sign_in(username, password) {
        Ok(user) => user,
        Err(SignInRefused::PasswordExpired(user)) => {
            let new_password = field("new_password").unwrap_or_default();
            if new_password.is_empty() {
                return again(PASSWORD_EXPIRED, true, StatusCode::OK);
            }
            match state.change_own_password(&user.id, password, new_password) {
                Ok(user) => user,
                Err(_) => {
                    let message = format!(
                        "The new password was refused. {}",
                        crate::directory::PASSWORD_REQUIREMENTS
                    );
                    return again(&message, true, StatusCode::BAD_REQUEST);
                }
            }
        }
        Err(SignInRefused::LockedOut) if state.settings().show_lockout_failures => {
            return again(LOCKED_OUT, false, StatusCode::UNAUTHORIZED);
        }
        Err(_) => return again(BAD_CREDENTIALS, false, StatusCode::UNAUTHORIZED),
    };
    state.store.remove_login(transaction);
    let sid = authorize::new_session(&state, &user, now);
    let mut response = if let Some(user_code) = &pending.activate {
        // The verification page asked for the login: back to it, signed in.
        let mut response = super::device::to_verification_page(&state, Some(user_code));
        authorize::set_session_cookie(&state, &mut response, &sid);
        response
    } else {
        authorize::run(
            &state,
            &server,
            &headers,
            pending.params,
            pending.pushed,
            Authenticated::Fresh { user, sid },
        )
    };
    authorize::set_cookie(&state, &mut response, CSRF_COOKIE, "", "Strict", Some(0));
    response
}
