//! `GET {base}/v1/keys`: the published key set, pre-rendered.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::Server;
use crate::state::AppState;

pub async fn keys(State(state): State<AppState>, Server(server): Server) -> Response {
    let max_age = state.settings().jwks_max_age;
    let expires = crate::http_date::format(state.clock.now().saturating_add_unsigned(max_age));
    let mut response = server.jwks().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={max_age}, must-revalidate")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Ok(value) = HeaderValue::from_str(&expires) {
        headers.insert(header::EXPIRES, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
