//! The layer that applies injected faults (control API) and records each
//! request for inspection, secrets left out.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

use crate::control::{Endpoint, FaultKind, RequestRecord};
use crate::error::OktaApiError;
use crate::state::AppState;

/// Records each request and the status it got.
pub async fn record_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query_names = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let client_id = basic_client_id(&request).or_else(|| {
        request.uri().query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| v.into_owned())
        })
    });
    let response = next.run(request).await;
    state.control.record(RequestRecord {
        at: state.clock.now(),
        method,
        path,
        query_names,
        status: response.status().as_u16(),
        client_id,
    });
    response
}

/// Answers with the endpoint's injected fault, if one fires. A browser's
/// preflight is left alone: faults are for the requests the client makes.
pub async fn apply_faults(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if crate::routes::cors::is_preflight(&request) {
        return next.run(request).await;
    }
    let fault = Endpoint::of_path(request.uri().path())
        .and_then(|endpoint| state.control.take_fault(endpoint, crate::ids::random_unit));
    match fault {
        None => next.run(request).await,
        Some(fault) => faulted(fault, request, next).await,
    }
}

async fn faulted(fault: FaultKind, request: Request, next: Next) -> Response {
    match fault {
        FaultKind::Status { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match body {
                Some(Value::String(text)) => (status, text).into_response(),
                Some(body) => (status, axum::Json(body)).into_response(),
                None => (
                    status,
                    axum::Json(json!({
                        "errorCode": "E0000009",
                        "errorSummary": "Internal Server Error",
                        "errorLink": "E0000009",
                        "errorId": crate::error::error_id(),
                        "errorCauses": [],
                    })),
                )
                    .into_response(),
            }
        }
        FaultKind::Latency { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        FaultKind::Drop => {
            // A body that fails at once: hyper aborts the connection mid-response.
            let failing = futures_failing_body();
            let mut response = Response::new(failing);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
            response
        }
        FaultKind::StaleJwks => {
            let response = next.run(request).await;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let stale = match serde_json::from_slice::<Value>(&bytes) {
                Ok(mut jwks) => {
                    // The first key is the one signing now; leave it out.
                    if let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut)
                        && !keys.is_empty()
                    {
                        keys.remove(0);
                    }
                    jwks.to_string()
                }
                Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
            };
            let mut response = Response::from_parts(parts, Body::from(stale));
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
        }
        FaultKind::BrokenJwks => {
            let mut response = (StatusCode::OK, r#"{"keys":[{"kty":"RSA","kid":"#).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        FaultKind::RateLimit => {
            let mut response = OktaApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            )
            .into_response();
            // The rate-limit layer outside keeps this and adds the limit and reset.
            response
                .headers_mut()
                .insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
            response
        }
    }
}

fn futures_failing_body() -> Body {
    let failure = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected fault: drop");
    Body::from_stream(futures_util::stream::once(async move {
        Err::<bytes::Bytes, std::io::Error>(failure)
    }))
}

/// The client id from a Basic header (never the secret).
fn basic_client_id(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    Some(decoded.split(':').next().unwrap_or_default().to_owned())
}
