//! The gateway's one error type and its one mapping to HTTP (RFC 6750 for token problems; for
//! gRPC requests, a gRPC status, as gRPC clients expect one instead of an HTTP error).
//!
//! Descriptions are static strings chosen here: nothing from the token, the key material or a
//! remote error ever reaches a response body.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Why a request did not reach (or come back from) the upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// No bearer token on a protected API (RFC 6750 §3.1: no error code).
    #[error("no bearer token")]
    MissingToken,
    /// Malformed request: bad Authorization header, several tokens, suspicious path.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The token is not acceptable (signature, claims, expiry, unknown client...).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// RFC 9449 §7.1: the DPoP proof is missing, malformed or does not match the request.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),
    /// RFC 9449 §7.1: `invalid_token` with a DPoP challenge (an API that takes DPoP: no bound
    /// token, or a proof by another key).
    #[error("invalid DPoP token: {0}")]
    DpopInvalidToken(&'static str),
    /// The token lacks a scope that opens this resource and method.
    #[error("insufficient scope")]
    InsufficientScope {
        /// Space-separated authorization-server scopes any one of which would open the resource.
        scope: String,
    },
    /// The token's claims do not satisfy a claims rule (`policy::claims`); the rule is named,
    /// a claim value never.
    #[error("claims rule not satisfied")]
    ClaimsRule {
        /// The rule's name (`[A-Za-z0-9._-]`, so safe in a quoted string).
        rule: std::sync::Arc<str>,
    },
    /// A claims rule would pass with a stronger or more recent login (RFC 9470).
    #[error("stronger authentication required")]
    StepUp {
        /// `acr` values, space-separated (empty: none named).
        acr_values: String,
        /// `max_age`, seconds.
        max_age: Option<u64>,
    },
    /// The application identified by the token is not allowed to call this API.
    #[error("application not subscribed to this API")]
    NotSubscribed,
    /// No API or resource matches the path.
    #[error("not found")]
    NotFound,
    /// The resource exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The authorization server could not be reached; the gateway fails closed.
    #[error("authorization server unavailable")]
    AuthServerUnavailable,
    /// The upstream refused the connection or broke it.
    #[error("upstream unavailable")]
    UpstreamUnavailable,
    /// The upstream did not answer in time.
    #[error("upstream timeout")]
    UpstreamTimeout,
    /// The client did not send its request body in time (the upstream was waiting for it).
    #[error("request timeout")]
    RequestTimeout,
}

impl GatewayError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::StepUp { .. }
            | Self::InvalidDpopProof(_)
            | Self::DpopInvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::InsufficientScope { .. } | Self::NotSubscribed | Self::ClaimsRule { .. } => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AuthServerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Why a token was refused, for `gateway_tokens_refused_total` (a static description, so the
    /// label set stays small).
    pub fn refusal_reason(&self) -> &'static str {
        match self {
            Self::InvalidToken(d)
            | Self::InvalidRequest(d)
            | Self::InvalidDpopProof(d)
            | Self::DpopInvalidToken(d) => d,
            Self::AuthServerUnavailable => "authorization server unavailable",
            _ => "other",
        }
    }

    /// The outcome label used in metrics.
    pub fn outcome(&self) -> crate::telemetry::Outcome {
        use crate::telemetry::Outcome;
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::StepUp { .. }
            | Self::InvalidDpopProof(_)
            | Self::DpopInvalidToken(_) => Outcome::Unauthorized,
            Self::InvalidRequest(_) | Self::RequestTimeout => Outcome::BadRequest,
            Self::InsufficientScope { .. } | Self::NotSubscribed | Self::ClaimsRule { .. } => {
                Outcome::Forbidden
            }
            Self::NotFound | Self::MethodNotAllowed => Outcome::NotFound,
            Self::AuthServerUnavailable => Outcome::AuthServerUnavailable,
            Self::UpstreamUnavailable | Self::UpstreamTimeout => Outcome::UpstreamError,
        }
    }

    fn code_and_description(&self) -> (&'static str, &'static str) {
        match self {
            Self::MissingToken => ("invalid_token", "a bearer token is required"),
            Self::InvalidRequest(d) => ("invalid_request", d),
            Self::InvalidToken(d) | Self::DpopInvalidToken(d) => ("invalid_token", d),
            Self::InvalidDpopProof(d) => ("invalid_dpop_proof", d),
            Self::InsufficientScope { .. } => (
                "insufficient_scope",
                "the token's scopes do not open this resource and method",
            ),
            Self::NotSubscribed => (
                "insufficient_scope",
                "the application is not allowed to call this API",
            ),
            Self::ClaimsRule { .. } => (
                "insufficient_scope",
                "claims_rule_failed: the token's claims do not satisfy a claims rule",
            ),
            Self::StepUp { .. } => (
                "insufficient_user_authentication",
                "a stronger or more recent authentication is required",
            ),
            Self::NotFound => ("not_found", "no API resource matches this path"),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                "the resource does not accept this method",
            ),
            Self::AuthServerUnavailable => (
                "temporarily_unavailable",
                "the authorization server could not be reached; the request was not allowed",
            ),
            Self::UpstreamUnavailable => ("bad_gateway", "the upstream service is unavailable"),
            Self::UpstreamTimeout => (
                "gateway_timeout",
                "the upstream service did not answer in time",
            ),
            Self::RequestTimeout => ("request_timeout", "the request body did not arrive in time"),
        }
    }

    /// Renders the response, with `realm` in any `WWW-Authenticate` challenge.
    pub fn into_response_with_realm(self, realm: &str) -> Response {
        let status = self.status();
        let (code, description) = self.code_and_description();
        // The one description that names something: the rule (never a claim value).
        let description: std::borrow::Cow<'static, str> = match &self {
            Self::ClaimsRule { rule } => format!(
                "claims_rule_failed: the token's claims do not satisfy claims rule `{rule}`"
            )
            .into(),
            _ => description.into(),
        };
        let challenge = match &self {
            Self::ClaimsRule { .. } => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{description}\""
            )),
            Self::StepUp {
                acr_values,
                max_age,
            } => {
                let mut c = format!(
                    "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\""
                );
                if !acr_values.is_empty() {
                    c.push_str(&format!(", acr_values=\"{acr_values}\""));
                }
                if let Some(m) = max_age {
                    c.push_str(&format!(", max_age={m}"));
                }
                Some(c)
            }
            Self::MissingToken => Some(format!("Bearer realm=\"{realm}\"")),
            Self::InvalidRequest(_) | Self::InvalidToken(_) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\""
            )),
            Self::InvalidDpopProof(_) | Self::DpopInvalidToken(_) => Some(format!(
                "DPoP realm=\"{realm}\", error=\"{code}\", error_description=\"{description}\", algs=\"{}\"",
                *crate::validation::dpop::ALGS
            )),
            Self::InsufficientScope { scope } if !scope.is_empty() => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{description}\", scope=\"{scope}\""
            )),
            Self::InsufficientScope { .. } | Self::NotSubscribed => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{description}\""
            )),
            _ => None,
        };
        let mut body = serde_json::json!({ "error": code, "error_description": description });
        if let Self::StepUp {
            acr_values,
            max_age,
        } = &self
        {
            if !acr_values.is_empty() {
                body["acr_values"] = serde_json::Value::String(acr_values.clone());
            }
            if let Some(m) = max_age {
                body["max_age"] = serde_json::Value::from(*m);
            }
        }
        // Like the challenge, the body names the scopes needed only when there are some.
        if let Self::InsufficientScope { scope } = &self
            && !scope.is_empty()
        {
            body["scope"] = serde_json::Value::String(scope.clone());
        }
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}

/// Whether a request is gRPC (`content-type: application/grpc`, `application/grpc+proto`, …),
/// whose refusals are answered as gRPC does ([`GatewayError::into_grpc_response`]).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= GRPC.len()
            && v[..GRPC.len()].eq_ignore_ascii_case(GRPC)
            && matches!(v.get(GRPC.len()), None | Some(b'+' | b';'))
    })
}

impl GatewayError {
    /// The gRPC status code (gRPC's `statuscodes.md`) a gRPC client is given for this error.
    pub fn grpc_status(&self) -> u8 {
        match self {
            Self::InvalidRequest(_) => 3,                      // INVALID_ARGUMENT
            Self::UpstreamTimeout | Self::RequestTimeout => 4, // DEADLINE_EXCEEDED
            Self::InsufficientScope { .. } | Self::NotSubscribed | Self::ClaimsRule { .. } => 7, // PERMISSION_DENIED
            Self::NotFound | Self::MethodNotAllowed => 12, // UNIMPLEMENTED
            Self::AuthServerUnavailable | Self::UpstreamUnavailable => 14, // UNAVAILABLE
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::StepUp { .. }
            | Self::InvalidDpopProof(_)
            | Self::DpopInvalidToken(_) => 16, // UNAUTHENTICATED
        }
    }

    /// Renders the refusal as a gRPC server does: HTTP 200 with no body ("trailers-only"),
    /// `grpc-status` and `grpc-message` (the same static description as the JSON error).
    pub fn into_grpc_response(self) -> Response {
        let (_, description) = self.code_and_description();
        let mut response = Response::new(axum::body::Body::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(self.grpc_status())),
        );
        // gRPC's percent-encoding: printable ASCII except `%` goes as is.
        let mut message = String::with_capacity(description.len());
        for b in description.bytes() {
            if (0x20..=0x7e).contains(&b) && b != b'%' {
                message.push(char::from(b));
            } else {
                message.push_str(&format!("%{b:02X}"));
            }
        }
        if let Ok(v) = HeaderValue::from_str(&message) {
            headers.insert("grpc-message", v);
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        self.into_response_with_realm("gateway")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(e: GatewayError) -> (StatusCode, String) {
        let r = e.into_response();
        let c = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), c)
    }

    #[test]
    fn missing_token_has_no_error_code() {
        let (s, c) = challenge(GatewayError::MissingToken);
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(c, "Bearer realm=\"gateway\"");
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let (s, c) = challenge(GatewayError::InsufficientScope {
            scope: "beds.write".into(),
        });
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(c.contains("error=\"insufficient_scope\""), "{c}");
        assert!(c.contains("scope=\"beds.write\""), "{c}");
    }

    #[tokio::test]
    async fn insufficient_scope_without_any_opening_scope_names_none() {
        // No scope of the token's server opens the resource: no empty `scope` anywhere.
        let r = GatewayError::InsufficientScope {
            scope: String::new(),
        }
        .into_response();
        let c = r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!c.contains("scope="), "{c}");
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        assert!(body.get("scope").is_none(), "{body}");
    }

    #[test]
    fn dpop_errors_answer_with_a_dpop_challenge_naming_the_algorithms() {
        let (s, c) = challenge(GatewayError::InvalidDpopProof("bad proof"));
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(
            c.starts_with("DPoP realm=\"gateway\", error=\"invalid_dpop_proof\""),
            "{c}"
        );
        assert!(c.contains("algs=\"ES256 ES384 RS256 PS256 EdDSA\""), "{c}");
        let (_, c) = challenge(GatewayError::DpopInvalidToken("unbound"));
        assert!(
            c.starts_with("DPoP realm=\"gateway\", error=\"invalid_token\""),
            "{c}"
        );
    }

    #[test]
    fn grpc_requests_are_refused_with_a_grpc_status_and_others_are_not() {
        let mut headers = HeaderMap::new();
        for (ct, grpc) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("Application/GRPC; charset=x", true),
            ("application/grpc-web", false),
            ("application/json", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_grpc(&headers), grpc, "{ct}");
        }
        let r = GatewayError::InsufficientScope {
            scope: "beds.read".into(),
        }
        .into_grpc_response();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["grpc-status"], "7");
        assert_eq!(
            r.headers()["grpc-message"],
            "the token's scopes do not open this resource and method"
        );
        for (e, code) in [
            (GatewayError::MissingToken, "16"),
            (GatewayError::InvalidToken("expired"), "16"),
            (GatewayError::UpstreamUnavailable, "14"),
            (GatewayError::UpstreamTimeout, "4"),
        ] {
            assert_eq!(e.into_grpc_response().headers()["grpc-status"], code);
        }
    }

    #[test]
    fn upstream_errors_are_5xx_without_challenge() {
        assert_eq!(
            challenge(GatewayError::UpstreamUnavailable),
            (StatusCode::BAD_GATEWAY, String::new())
        );
        assert_eq!(
            challenge(GatewayError::UpstreamTimeout),
            (StatusCode::GATEWAY_TIMEOUT, String::new())
        );
    }
}
