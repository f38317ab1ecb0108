//! `POST {base}/v1/par`: pushed authorization requests (RFC 9126). The client
//! authenticates and sends the authorize parameters; they are checked as
//! `/v1/authorize` would check them, and kept behind a single-use, short-lived
//! `request_uri` (`urn:okta:…`) that `/v1/authorize?client_id=…&request_uri=…` takes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Server;
use super::authorize::{self, PUSHED_REQUEST_TTL, Rejected};
use crate::client_auth::authenticate;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::form::{CREDENTIAL_PARAMS, OAuthForm};
use crate::state::{AppState, AuthServer};
use crate::store::PushedRequest;

pub async fn par(
    State(state): State<AppState>,
    Server(server): Server,
    form: OAuthForm,
) -> Response {
    match push(&state, &server, &form) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn push(state: &AppState, server: &AuthServer, form: &OAuthForm) -> Result<Response, OAuthError> {
    let client = authenticate(state, form, &server.endpoint("par"))?;
    if form.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "The 'request_uri' parameter must not be sent to the pushed authorization request endpoint.",
        ));
    }
    if form.contains("request") {
        return Err(OAuthError::new(
            OAuthErrorCode::RequestNotSupported,
            "The 'request' parameter is not supported by this authorization server.",
        ));
    }
    let client_id = &client.client.client_id;
    let mut params: Vec<(String, String)> = form
        .params()
        .filter(|(name, _)| !CREDENTIAL_PARAMS.contains(name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    // With client_secret_basic the client_id is in the header only.
    if !params.iter().any(|(name, _)| name == "client_id") {
        params.push(("client_id".to_owned(), client_id.clone()));
    }
    match authorize::validate(server, state, &params, true, StatusCode::FOUND) {
        Ok(_) => {}
        Err(Rejected::Page(error) | Rejected::Redirect(_, error)) => return Err(error),
    }
    let now = state.clock.now();
    let request_uri = state.store.push_request(
        PushedRequest {
            issuer: server.issuer.clone(),
            client_id: client_id.clone(),
            params,
            expires_at: now + PUSHED_REQUEST_TTL,
        },
        now,
    );
    let body = json!({ "request_uri": request_uri, "expires_in": PUSHED_REQUEST_TTL });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
