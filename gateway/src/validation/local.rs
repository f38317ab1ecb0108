//! Local validation of a JWT against an authorization server's keys: the algorithm comes from
//! the key (never from the token alone), and `iss`, `aud`, `exp` and `iat` are always checked.

use std::sync::Arc;

use super::ValidationError;
use super::jwt::Jwt;
use super::key_cache::{KeyCache, VerifyKey};

/// Where an authorization server's keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// The JWKS, cached.
    Jwks(Arc<KeyCache>),
    /// A pinned PEM key.
    Static(Arc<VerifyKey>),
}

/// What a token must be to pass local validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audiences<'a> {
    /// An access token: `aud` is one of the configured accepted audiences.
    Access,
    /// An ID token: `aud` is one of these client ids.
    Clients(&'a [String]),
}

/// Validates JWTs issued by one authorization server.
#[derive(Debug)]
pub struct LocalValidator {
    /// The exact `iss`.
    pub issuer: String,
    /// Accepted access-token audiences.
    pub audiences: Vec<String>,
    /// Seconds of clock skew tolerated.
    pub clock_skew: u64,
    /// The keys.
    pub keys: KeySource,
}

impl LocalValidator {
    /// Verifies the signature with the AS's key for the token's `kid` and algorithm. The key is
    /// looked up every time (a key dropped from the key set stops verifying at once); the
    /// public-key operation is done once per token and key ([`VerifyKey::verify_cached`]).
    pub async fn verify(&self, jwt: &Jwt<'_>, now: u64) -> Result<(), ValidationError> {
        if super::jwt::is_hmac(jwt.alg) {
            return Err(ValidationError::Invalid(
                "the token's algorithm is not accepted for this key",
            ));
        }
        let key = match &self.keys {
            KeySource::Jwks(cache) => cache.key(jwt.header.kid.as_deref(), jwt.alg).await?,
            KeySource::Static(k) => {
                if !k.algorithms.contains(&jwt.alg) {
                    return Err(ValidationError::Invalid(
                        "the token's algorithm is not accepted for this key",
                    ));
                }
                k.clone()
            }
        };
        key.verify_cached(jwt, jwt.alg, self.clock_skew, now)
            .map_err(ValidationError::Invalid)
    }

    /// Checks `iss`, `aud` and the times.
    pub fn check_claims(
        &self,
        jwt: &Jwt<'_>,
        audiences: Audiences<'_>,
        now: u64,
    ) -> Result<(), ValidationError> {
        check_claims(
            &jwt.claims,
            &self.issuer,
            audiences,
            &self.audiences,
            self.clock_skew,
            now,
        )
    }
}

/// Checks `iss`, `aud` (against `accepted` for access tokens) and the times.
pub fn check_claims(
    claims: &super::jwt::Claims,
    issuer: &str,
    audiences: Audiences<'_>,
    accepted: &[String],
    skew: u64,
    now: u64,
) -> Result<(), ValidationError> {
    if claims.iss.as_deref() != Some(issuer) {
        return Err(ValidationError::Invalid(
            "the token's issuer is not accepted",
        ));
    }
    let aud = claims
        .aud
        .as_ref()
        .ok_or(ValidationError::Invalid("the token has no audience"))?;
    let ok = match audiences {
        Audiences::Access => aud.any(|a| accepted.iter().any(|x| x == a)),
        // OIDC Core §3.1.3.7: every audience of an ID token must be a client this gateway
        // trusts, not just one of them.
        Audiences::Clients(ids) => aud.any(|_| true) && !aud.any(|a| !ids.iter().any(|x| x == a)),
    };
    if !ok {
        return Err(ValidationError::Invalid(
            "the token's audience is not accepted",
        ));
    }
    claims
        .check_times(now, skew)
        .map_err(ValidationError::Invalid)
}
