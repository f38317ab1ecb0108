//! Okta's management-API conventions: `Authorization: SSWS <token>` (checked
//! before anything else under `/api/v1/`), JSON bodies, `limit`/`after` paging
//! with `Link` headers, and the `X-Rate-Limit-*` headers every response carries
//! (with Okta's 429 when a configured limit is exceeded).

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
        Self::required(state, &parts.headers)
    }
}

impl ApiToken {
    /// A valid SSWS token: 403 E0000005 without one, 401 E0000011 for a wrong one.
    pub fn required(state: &AppState, headers: &HeaderMap) -> Result<Self, OktaApiError> {
        match ssws_token(headers) {
            None => Err(OktaApiError::new(
                StatusCode::FORBIDDEN,
                "E0000005",
                "Invalid session",
            )),
            Some(token) => Self::check(state, token),
        }
    }

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

/// Under `/api/v1/` the SSWS token is checked before the path is resolved, as
/// Okta does: a wrong token is 401 E0000011 even for a path that does not exist.
/// The authn API and the browser session (`/api/v1/sessions/me`) take anonymous
/// callers, but a wrong token sent there is refused too.
pub async fn ssws_first(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(rest) = request.uri().path().strip_prefix("/api/v1/") {
        let anonymous = ["authn", "sessions/me"]
            .iter()
            .any(|open| rest == *open || rest.starts_with(&format!("{open}/")));
        let checked = if anonymous {
            ApiToken::check_if_sent(&state, request.headers())
        } else {
            ApiToken::required(&state, request.headers()).map(drop)
        };
        if let Err(error) = checked {
            return error.into_response();
        }
    }
    next.run(request).await
}

/// Reads a JSON body, with Okta's errors for a bad one.
pub fn json_body(
    body: Result<axum::Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<serde_json::Value, OktaApiError> {
    use axum::extract::rejection::JsonRejection;
    match body {
        Ok(axum::Json(value)) => Ok(value),
        Err(JsonRejection::MissingJsonContentType(_)) => Err(OktaApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000021",
            "Bad request.  Accept and/or Content-Type headers likely do not match supported values.",
        )),
        Err(_) => Err(OktaApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
        )),
    }
}

/// A boolean query parameter (`activate`, `sendEmail`): `true`/`false`, else the default.
pub fn query_flag(query: &HashMap<String, String>, name: &str, default: bool) -> bool {
    match query.get(name).map(|v| v.to_ascii_lowercase()) {
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        _ => default,
    }
}

/// A list request's `limit` (1..=200) and `after` cursor.
#[derive(Debug, Clone)]
pub struct Paging {
    pub limit: usize,
    pub after: Option<String>,
}

impl Paging {
    pub fn from_query(
        query: &HashMap<String, String>,
        default_limit: usize,
    ) -> Result<Self, OktaApiError> {
        let limit = match query.get("limit") {
            None => default_limit,
            Some(raw) => match raw.parse::<usize>() {
                Ok(limit) if (1..=200).contains(&limit) => limit,
                _ => {
                    return Err(OktaApiError::validation(
                        "limit",
                        "limit: The value must be between 1 and 200.",
                    ));
                }
            },
        };
        Ok(Self {
            limit,
            after: query.get("after").cloned(),
        })
    }

    /// The first `limit` items, and whether more follow.
    pub fn take<T>(&self, mut items: impl Iterator<Item = T>) -> (Vec<T>, bool) {
        let page: Vec<T> = items.by_ref().take(self.limit).collect();
        let more = items.next().is_some();
        (page, more)
    }

    /// A list answer: the first `limit` of `items`, rendered, with the `Link`
    /// header whose `next` starts after the last one's id.
    pub fn list<T>(
        &self,
        base: &str,
        query: &HashMap<String, String>,
        items: impl Iterator<Item = T>,
        id: impl Fn(&T) -> &str,
        render: impl Fn(&T) -> serde_json::Value,
    ) -> Response {
        let (page, more) = self.take(items);
        let next = more.then(|| page.last().map(&id)).flatten();
        let body = page.iter().map(render).collect();
        self.respond(base, query, body, next)
    }

    /// A JSON page with Okta's `Link` header: `self` (the query as sent) and,
    /// when more follow, `next` (the same query with `after` = `next_cursor`).
    pub fn respond(
        &self,
        base: &str,
        query: &HashMap<String, String>,
        page: Vec<serde_json::Value>,
        next_cursor: Option<&str>,
    ) -> Response {
        let render = |after: Option<&str>| {
            let mut keys: Vec<_> = query.keys().filter(|k| *k != "after").collect();
            keys.sort();
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for key in keys {
                form.append_pair(key, &query[key]);
            }
            if !query.contains_key("limit") {
                form.append_pair("limit", &self.limit.to_string());
            }
            if let Some(after) = after {
                form.append_pair("after", after);
            }
            format!("<{base}?{}>", form.finish())
        };
        let mut links = vec![format!("{}; rel=\"self\"", render(self.after.as_deref()))];
        if let Some(cursor) = next_cursor {
            links.push(format!("{}; rel=\"next\"", render(Some(cursor))));
        }
        let mut response = axum::Json(page).into_response();
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert(header::LINK, value);
        }
        response
    }
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
