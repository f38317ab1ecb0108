//! HS256/384/512 ID tokens, accepted only for a strategy with `hmac` on and verified with that
//! strategy's client secret. The key is chosen by the token's audience among HMAC strategies;
//! the asymmetric keys of the key set are never an HMAC key.

use jsonwebtoken::DecodingKey;

use super::ValidationError;
use super::jwt::{Jwt, is_hmac, verify_signature};

/// One HMAC-enabled client of an authorization server.
pub struct HmacClient {
    /// The client id (the ID token's `aud`).
    pub client_id: String,
    key: DecodingKey,
}

impl std::fmt::Debug for HmacClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl HmacClient {
    /// A client whose secret is the HMAC key.
    pub fn new(client_id: String, secret: &crate::secret::Secret) -> Self {
        Self {
            client_id,
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
        }
    }
}

/// Verifies an HS* token's signature with the secret of the HMAC client it is addressed to.
/// Returns the client id whose secret verified it.
pub fn verify<'c>(jwt: &Jwt<'_>, clients: &'c [HmacClient]) -> Result<&'c str, ValidationError> {
    if !is_hmac(jwt.alg) {
        return Err(ValidationError::Invalid(
            "the token's algorithm is not accepted",
        ));
    }
    let aud = jwt
        .claims
        .aud
        .as_ref()
        .ok_or(ValidationError::Invalid("the token has no audience"))?;
    // The authorized party, when present, must be the client; else the single audience.
    let client_id = match (&jwt.claims.azp, aud.single()) {
        (Some(azp), _) if aud.any(|a| a == azp) => azp.as_str(),
        (None, Some(a)) => a,
        _ => {
            return Err(ValidationError::Invalid(
                "the token's audience is not accepted",
            ));
        }
    };
    let client =
        clients
            .iter()
            .find(|c| c.client_id == client_id)
            .ok_or(ValidationError::Invalid(
                "HMAC-signed tokens are not accepted for this client",
            ))?;
    verify_signature(jwt, &client.key, jwt.alg).map_err(ValidationError::Invalid)?;
    Ok(&client.client_id)
}
