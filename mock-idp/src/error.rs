//! The errors the mock returns, in Okta's two shapes, and their one mapping to HTTP:
//! OAuth errors (`error` / `error_description`, RFC 6749 §5.2) and Okta
//! management errors (`errorCode` / `errorSummary`, E0000xxx).

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// OAuth 2.0 / OpenID Connect error codes, serialised as the RFC strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    AccessDenied,
    InvalidToken,
    InsufficientScope,
    ServerError,
    UnsupportedResponseType,
    UnsupportedResponseMode,
    LoginRequired,
    InvalidClientMetadata,
    InvalidRedirectUri,
    RequestNotSupported,
    RequestUriNotSupported,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidTarget,
    UnmetAuthenticationRequirements,
    InvalidDpopProof,
    UseDpopNonce,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::AccessDenied => "access_denied",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::ServerError => "server_error",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::UnsupportedResponseMode => "unsupported_response_mode",
            Self::LoginRequired => "login_required",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidTarget => "invalid_target",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// An OAuth error response. The description uses Okta's wording
/// (docs/okta-behaviour.md §5) and never contains secrets or tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: Cow<'static, str>,
    pub status: StatusCode,
    /// `WWW-Authenticate` scheme for a failed client authentication (RFC 6749 §5.2).
    pub challenge: Option<&'static str>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        let status = match code {
            OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            OAuthErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let challenge = (code == OAuthErrorCode::InvalidClient).then_some("Basic");
        Self {
            code,
            description: description.into(),
            status,
            challenge,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    /// `server_error` with Okta's wording.
    pub fn server_error() -> Self {
        Self::new(
            OAuthErrorCode::ServerError,
            "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.",
        )
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The client authenticated in the body or by assertion: a 401 without a
    /// Basic challenge would still be correct, but keep the scheme honest.
    pub fn with_challenge(mut self, scheme: Option<&'static str>) -> Self {
        self.challenge = scheme;
        self
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED
            && let Some(scheme) = self.challenge
        {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(match scheme {
                    "Basic" => "Basic realm=\"Okta\"",
                    _ => "Bearer realm=\"Okta\"",
                }),
            );
        }
        response
    }
}

/// Okta management-API errors (`E0000xxx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OktaApiError {
    pub code: &'static str,
    pub summary: Cow<'static, str>,
    pub status: StatusCode,
    pub causes: Vec<String>,
}

impl OktaApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        summary: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            code,
            summary: summary.into(),
            status,
            causes: Vec::new(),
        }
    }

    /// E0000007: unknown resource.
    pub fn not_found(resource: &str, kind: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {resource} ({kind})"),
        )
    }

    /// E0000001: a validation error; `cause` names the field (`"field: what is wrong"`).
    pub fn validation(what: &str, cause: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "E0000001",
            format!("Api validation failed: {what}"),
        );
        error.causes.push(cause.into());
        error
    }

    /// E0000006: the caller may not do this.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        )
    }

    /// E0000031: a `filter` or `search` expression that does not parse.
    pub fn invalid_search() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000031",
            "Invalid search criteria.",
        )
    }

    /// E0000022: method not allowed.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }
}

impl IntoResponse for OktaApiError {
    fn into_response(self) -> Response {
        let causes: Vec<_> = self
            .causes
            .iter()
            .map(|c| serde_json::json!({ "errorSummary": c }))
            .collect();
        let body = serde_json::json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id(),
            "errorCauses": causes,
        });
        (self.status, Json(body)).into_response()
    }
}

/// A per-response id in Okta's style (`oae` + 22 characters).
pub fn error_id() -> String {
    format!("oae{}", crate::ids::random_alphanumeric(22))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_a_401_with_a_basic_challenge() {
        let response = OAuthError::invalid_client("No client credentials found.").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
