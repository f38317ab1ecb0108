//! Encrypted ID tokens (JWE, RFC 7516) for clients that ask for them with
//! `id_token_encrypted_response_alg`: the signed ID token becomes the payload
//! of a compact JWE with `cty: JWT` (a nested JWT, OIDC Core §10.2).

use josekit::jwe::JweHeader;
use serde_json::Value;

/// Key-management algorithms offered (Okta's list).
pub const ALGORITHMS: &[&str] = &["RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"];
/// Content encryption offered (Okta's list).
pub const CONTENT_ENCRYPTIONS: &[&str] = &["A256GCM"];

/// The client's RSA encryption key from its JWK set (`use: enc`, or no `use`).
pub fn encryption_key(jwks: Option<&toml::Value>) -> Option<Value> {
    let jwks = serde_json::to_value(jwks?).ok()?;
    jwks.get("keys")?
        .as_array()?
        .iter()
        .find(|key| {
            key.get("kty").and_then(Value::as_str) == Some("RSA")
                && key
                    .get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "enc")
        })
        .cloned()
}

/// What a client asked for: algorithm, content encryption and its key.
#[derive(Debug, Clone)]
pub struct IdTokenEncryption {
    pub alg: String,
    pub enc: String,
    pub key: Value,
}

impl IdTokenEncryption {
    pub fn for_client(
        alg: Option<&str>,
        enc: Option<&str>,
        jwks: Option<&toml::Value>,
    ) -> Option<Self> {
        Some(Self {
            alg: alg?.to_owned(),
            enc: enc.unwrap_or("A256GCM").to_owned(),
            key: encryption_key(jwks)?,
        })
    }

    /// Encrypts a signed ID token to the client's key.
    pub fn encrypt(&self, signed_id_token: &str) -> Result<String, String> {
        let jwk = josekit::jwk::Jwk::from_bytes(self.key.to_string()).map_err(|e| e.to_string())?;
        let algorithm = match self.alg.as_str() {
            "RSA-OAEP-256" => josekit::jwe::RSA_OAEP_256,
            "RSA-OAEP-384" => josekit::jwe::RSA_OAEP_384,
            "RSA-OAEP-512" => josekit::jwe::RSA_OAEP_512,
            other => return Err(format!("unsupported algorithm {other}")),
        };
        let encrypter = algorithm
            .encrypter_from_jwk(&jwk)
            .map_err(|e| e.to_string())?;
        let mut header = JweHeader::new();
        header.set_content_encryption(&self.enc);
        header.set_content_type("JWT");
        if let Some(kid) = self.key.get("kid").and_then(Value::as_str) {
            header.set_key_id(kid);
        }
        josekit::jwe::serialize_compact(signed_id_token.as_bytes(), &header, &encrypter)
            .map_err(|e| e.to_string())
    }
}
