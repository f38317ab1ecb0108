//! Client secrets at rest: AES-256-GCM with a random 96-bit nonce per value, under a 32-byte key
//! given base64-encoded in `GATEWAY_STORE_KEY`. Stored as `v1:BASE64(nonce || ciphertext || tag)`.
//! Without a key, secrets are stored as `plain:VALUE` (a warning is logged at start); a store
//! holding sealed values cannot be opened without its key.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::StoreError;

/// The environment variable holding the key.
pub const KEY_ENV: &str = "GATEWAY_STORE_KEY";

const AAD: &[u8] = b"gateway-store/client-secret/v1";

/// Seals and opens secrets.
pub struct Sealer(Option<LessSafeKey>);

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Sealer(aes-256-gcm)"
        } else {
            "Sealer(none)"
        })
    }
}

impl Sealer {
    /// No key: secrets are stored as they are.
    pub fn none() -> Self {
        Self(None)
    }

    /// A key from its base64 text (32 bytes once decoded).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::Seal(format!("{KEY_ENV} is not base64")))?;
        if bytes.len() != 32 {
            return Err(StoreError::Seal(format!(
                "{KEY_ENV} must decode to 32 bytes (AES-256)"
            )));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| StoreError::Seal("bad key".into()))?;
        Ok(Self(Some(LessSafeKey::new(key))))
    }

    /// From `GATEWAY_STORE_KEY` when set.
    pub fn from_env(lookup: &dyn crate::config::EnvLookup) -> Result<Self, StoreError> {
        match lookup.get(KEY_ENV) {
            Some(v) if !v.is_empty() => Self::from_base64(&v),
            _ => Ok(Self::none()),
        }
    }

    /// Whether a key is configured.
    pub fn has_key(&self) -> bool {
        self.0.is_some()
    }

    /// Seals a secret.
    pub fn seal(&self, plain: &str) -> Result<String, StoreError> {
        let Some(key) = &self.0 else {
            return Ok(format!("plain:{plain}"));
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| StoreError::Seal("no randomness".into()))?;
        let mut buf = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD),
            &mut buf,
        )
        .map_err(|_| StoreError::Seal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    /// Opens a sealed secret.
    pub fn open(&self, stored: &str) -> Result<String, StoreError> {
        if let Some(p) = stored.strip_prefix("plain:") {
            return Ok(p.to_owned());
        }
        let Some(b64) = stored.strip_prefix("v1:") else {
            return Err(StoreError::Seal("unknown secret format".into()));
        };
        let Some(key) = &self.0 else {
            return Err(StoreError::Seal(format!(
                "the store holds encrypted secrets: set {KEY_ENV}"
            )));
        };
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| StoreError::Seal("corrupt secret".into()))?;
        if bytes.len() < NONCE_LEN {
            return Err(StoreError::Seal("corrupt secret".into()));
        }
        let (n, ct) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n)
            .map_err(|_| StoreError::Seal("corrupt secret".into()))?;
        let mut buf = ct.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(AAD), &mut buf)
            .map_err(|_| StoreError::Seal(format!("cannot decrypt a secret: wrong {KEY_ENV}?")))?;
        String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Seal("corrupt secret".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn round_trip_and_no_plaintext() {
        let s = Sealer::from_base64(KEY).unwrap();
        let sealed = s.seal("hunter2-client-secret").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open(&sealed).unwrap(), "hunter2-client-secret");
        assert_ne!(
            sealed,
            s.seal("hunter2-client-secret").unwrap(),
            "fresh nonce"
        );
    }

    #[test]
    fn wrong_or_missing_key_fails() {
        let sealed = Sealer::from_base64(KEY).unwrap().seal("x").unwrap();
        let other = Sealer::from_base64("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=").unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(Sealer::none().open(&sealed).is_err());
        assert!(Sealer::from_base64("c2hvcnQ=").is_err());
    }
}
