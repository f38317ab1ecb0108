//! Token validation: local (JWT against the JWKS or a static key), HMAC ID tokens, and remote
//! introspection. Nothing here knows about HTTP requests; the pipeline's `validate` step calls in.

pub mod dpop;
pub mod hmac;
pub mod introspection;
pub mod jwt;
pub mod key_cache;
pub mod local;
mod token_memo;

use crate::config::IdentificationType;

/// Who a valid token speaks for. Only the validators construct it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Index of the authorization server that vouched for the token.
    pub(crate) authorization_server: usize,
    /// Which identification type accepted it.
    pub(crate) kind: IdentificationType,
    /// The client the token was issued to (`cid`/`client_id`, or the ID token's `azp`/`aud`).
    pub(crate) client_id: Option<String>,
    /// `sub`.
    pub(crate) subject: Option<String>,
    /// The AS scopes the token carries.
    pub(crate) scopes: Vec<String>,
    /// `jti`, for logs.
    pub(crate) jti: Option<String>,
    /// Every claim of the validated token, or of the introspection answer (claims rules read
    /// them; shared with the token memo or the introspection cache, so no copy per request).
    pub(crate) claims: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
    /// `cnf`: the key or certificate the token is bound to (DPoP, RFC 8705).
    pub(crate) cnf: Option<dpop::Confirmation>,
}

impl Identity {
    /// Index of the authorization server that vouched for the token.
    pub fn authorization_server(&self) -> usize {
        self.authorization_server
    }

    /// Which identification type accepted it.
    pub fn kind(&self) -> IdentificationType {
        self.kind
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The AS scopes the token carries.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// `jti`, for logs.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// Every claim of the token (or the introspection answer).
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.claims
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The token is not acceptable; the text is static and safe to show.
    #[error("{0}")]
    Invalid(&'static str),
    /// The token is not a JWT: an identification type that needs one did not apply (the least
    /// telling refusal when another type also refused).
    #[error("the token is not a JWT")]
    NotJwt,
    /// The token names a key its server does not publish (also after a refresh, or while
    /// refreshes are rate-limited): the authorization server may still vouch for it.
    #[error("the token's key is unknown")]
    KeyUnknown,
    /// The authorization server (JWKS or introspection) could not be reached: fail closed.
    #[error("authorization server unavailable")]
    Unavailable,
}

impl From<ValidationError> for crate::error::GatewayError {
    fn from(e: ValidationError) -> Self {
        match e {
            ValidationError::Invalid(d) => Self::InvalidToken(d),
            ValidationError::NotJwt => Self::InvalidToken("the token is not a JWT"),
            ValidationError::KeyUnknown => Self::InvalidToken("the token's key is unknown"),
            ValidationError::Unavailable => Self::AuthServerUnavailable,
        }
    }
}
