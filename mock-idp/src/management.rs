//! Okta's management-API conventions: `Authorization: SSWS <token>`, and the
//! `X-Rate-Limit-*` headers every response carries (with Okta's 429 when a
//! configured limit is exceeded).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::OktaApiError;
use crate::state::AppState;

/// Proof that the request carried a valid SSWS API token.
#[derive(Debug, Clone, Copy)]
pub struct ApiToken;

impl FromRequestParts<AppState> for ApiToken {
    type Rejection = OktaApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match ssws_token(&parts.headers) {
            None => Err(OktaApiError::new(
                StatusCode::FORBIDDEN,
                "E0000005",
                "Invalid session",
            )),
            Some(token) => ApiToken::check(state, token),
        }
    }
}

impl ApiToken {
    /// For APIs open to anonymous callers (`/api/v1/authn`): no SSWS header is
    /// fine, a wrong one is not (docs/okta-behaviour.md §10, §11).
    pub fn check_if_sent(state: &AppState, headers: &HeaderMap) -> Result<(), OktaApiError> {
        ssws_token(headers).map_or(Ok(()), |token| Self::check(state, token).map(drop))
    }

    fn check(state: &AppState, token: &str) -> Result<Self, OktaApiError> {
        if state.is_api_token(token) {
            Ok(Self)
        } else {
            Err(OktaApiError::new(
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
            ))
        }
    }
}

/// The token of an `Authorization: SSWS …` header (empty when only the scheme is there).
fn ssws_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("SSWS").then_some(token.trim())
}

/// The ceiling reported when no limit is configured (nothing is refused then).
const NOMINAL_LIMIT: u64 = 10_000;

/// Requests counted per endpoint bucket and one-minute window.
#[derive(Debug, Default)]
pub struct RateLimits {
    windows: Mutex<HashMap<String, (i64, u64)>>,
}

impl RateLimits {
    /// Counts one request; returns (count in this window, window reset time).
    fn hit(&self, bucket: &str, now: i64) -> (u64, i64) {
        let window = now - now.rem_euclid(60);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The bucket's key is allocated once, on its first request.
        if !windows.contains_key(bucket) {
            windows.insert(bucket.to_owned(), (window, 0));
        }
        let Some(entry) = windows.get_mut(bucket) else {
            return (1, window + 60);
        };
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        (entry.1, window + 60)
    }
}

/// Adds `X-Rate-Limit-Limit/Remaining/Reset`; answers Okta's 429 (`E0000047`)
/// past a configured per-minute limit.
pub async fn rate_limit_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let bucket = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", MatchedPath::as_str);
    let (count, reset) = state.limits.hit(bucket, state.clock.now());
    let configured = state.settings().rate_limit_per_minute;
    let limit = configured.unwrap_or(NOMINAL_LIMIT);
    let mut response = if configured.is_some_and(|limit| count > limit) {
        OktaApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
        .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", limit),
        ("x-rate-limit-remaining", limit.saturating_sub(count)),
        ("x-rate-limit-reset", u64::try_from(reset).unwrap_or(0)),
    ] {
        // An injected 429 has already said `Remaining: 0`.
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from(value));
    }
    response
}
