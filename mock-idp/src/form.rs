//! Reading OAuth form posts strictly: the right content type, a size limit,
//! no duplicated parameters, and no credentials in the query string.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt as _;

use crate::error::OAuthError;
use crate::state::AppState;

/// The parameters of an `application/x-www-form-urlencoded` POST.
///
/// Empty values count as absent (RFC 6749 §3.1); a parameter sent twice is
/// refused (RFC 6749 §3.1, Okta's wording).
#[derive(Default)]
pub struct OAuthForm {
    params: HashMap<String, String>,
    pub headers: HeaderMap,
}

impl std::fmt::Debug for OAuthForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parameter values include secrets and tokens: list the names only.
        let mut names: Vec<_> = self.params.keys().collect();
        names.sort();
        f.debug_struct("OAuthForm").field("params", &names).finish()
    }
}

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("The required parameter '{name}' is missing."))
        })
    }

    /// Every parameter (names unique: duplicates were refused when parsing).
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// Parses a form body.
    pub fn parse(body: &[u8], headers: HeaderMap) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if params
                .insert(name.into_owned(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(
                    "The request contained multiple parameters with the same name.",
                ));
            }
        }
        Ok(Self { params, headers })
    }
}

impl OAuthForm {
    /// Refuses client credentials in the query string (they would end up in access logs).
    pub fn check_query(query: &str) -> Result<(), OAuthError> {
        if url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, _)| CREDENTIAL_PARAMS.contains(&name.as_ref()))
        {
            return Err(OAuthError::invalid_request(
                "Client credentials cannot be supplied via query parameters.",
            ));
        }
        Ok(())
    }
}

pub const CREDENTIAL_PARAMS: &[&str] =
    &["client_secret", "client_assertion", "client_assertion_type"];

impl FromRequest<AppState> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(query) = request.uri().query() {
            Self::check_query(query)?;
        }
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "The request must use Content-Type 'application/x-www-form-urlencoded'.",
            ));
        }
        let (parts, body) = request.into_parts();
        let limit = state.settings().max_body_bytes;
        let body = http_body_util::Limited::new(body, limit)
            .collect()
            .await
            .map_err(|_| {
                OAuthError::invalid_request(format!(
                    "The request body is larger than {limit} bytes or could not be read."
                ))
                .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
            })?
            .to_bytes();
        Self::parse(&body, parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicated_parameters_are_refused_and_empty_ones_ignored() {
        let error = OAuthForm::parse(b"scope=a&scope=b", HeaderMap::new()).unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_request");
        let form =
            OAuthForm::parse(b"scope=&grant_type=client_credentials", HeaderMap::new()).unwrap();
        assert_eq!(form.get("scope"), None);
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
    }

    #[test]
    fn debug_lists_names_without_values() {
        let form = OAuthForm::parse(b"client_secret=s3cr3t-value", HeaderMap::new()).unwrap();
        let printed = format!("{form:?}");
        assert!(printed.contains("client_secret") && !printed.contains("s3cr3t"));
    }
}
