//! Identifiers and opaque values in Okta's shapes, from the system CSPRNG.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system random source does not fail on Linux; if it ever did, a
    // predictable value would be worse than stopping.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        panic!("the system random number generator failed");
    }
    bytes
}

/// `len` random characters from `alphabet` (rejection sampling, no bias).
fn random_from(alphabet: &[u8], len: usize) -> String {
    // The largest multiple of the alphabet's size that fits a byte: reject the rest.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<32>() {
            if usize::from(byte) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    out
}

/// `len` random characters from `[A-Za-z0-9]`.
pub fn random_alphanumeric(len: usize) -> String {
    random_from(ALPHANUMERIC, len)
}

/// A device flow's `user_code`: 8 consonants, as Okta's (`RGTCFDTL`); no vowels,
/// so no words (RFC 8628 §6.1).
pub fn user_code() -> String {
    random_from(b"BCDFGHJKLMNPQRSTVWXZ", 8)
}

/// A random UUID (version 4), the shape of Okta's `device_code`.
pub fn uuid_v4() -> String {
    let mut bytes = random_bytes::<16>();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// 32 random bytes as 43 base64url characters: refresh tokens, codes, jti suffixes.
pub fn random_token() -> String {
    B64.encode(random_bytes::<32>())
}

/// A uniform random number in [0, 1), for probabilistic faults.
pub fn random_unit() -> f64 {
    let bytes = random_bytes::<8>();
    // 53 random bits: the precision of an f64 mantissa.
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// A client secret: 40 base64url characters (30 random bytes), Okta's length.
pub fn client_secret() -> String {
    B64.encode(random_bytes::<30>())
}

/// An access-token `jti`: `AT.` + 43 base64url characters.
pub fn access_token_jti() -> String {
    format!("AT.{}", random_token())
}

/// An ID-token `jti`: `ID.` + 43 base64url characters.
pub fn id_token_jti() -> String {
    format!("ID.{}", random_token())
}

/// An `X-Okta-Request-Id` (27 alphanumerics): a correlation id, not a secret,
/// so it does not come from aws-lc. aws-lc seeds its random source at first
/// use in a process with tens of milliseconds of CPU-jitter sampling, and a
/// fresh mock answers discovery (which needs nothing else random) before that
/// is done. SipHash of a counter under std's per-process random keys instead.
pub fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(std::hash::RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(30);
    for part in 0..3u8 {
        let mut hasher = keys.build_hasher();
        hasher.write_u64(n);
        hasher.write_u8(part);
        // 10 base-62 digits fit in 64 bits (the slight bias is harmless here).
        let mut value = hasher.finish();
        for _ in 0..10 {
            out.push(char::from(ALPHANUMERIC[(value % 62) as usize]));
            value /= 62;
        }
    }
    out.truncate(27);
    out
}

/// An Okta-style object id: a three-character prefix and 17 alphanumerics (20 in all).
pub fn okta_id(prefix: &str) -> String {
    format!("{prefix}{}", random_alphanumeric(17))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_okta_shapes() {
        assert_eq!(okta_id("0oa").len(), 20);
        let jti = access_token_jti();
        assert!(jti.starts_with("AT.") && jti.len() == 46, "{jti}");
        assert_ne!(random_token(), random_token());
        assert!(
            random_alphanumeric(40)
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        let id = request_id();
        assert!(
            id.len() == 27 && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id}"
        );
        assert_ne!(request_id(), request_id());
    }
}
