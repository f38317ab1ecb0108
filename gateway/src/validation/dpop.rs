//! Sender-constrained tokens at the resource server: DPoP (RFC 9449 §7) and certificate-bound
//! tokens (RFC 8705 §3). The proof rules are the `dpop` crate's (shared with the mock's token
//! endpoint); this file decides which apply to an API and keeps used `jti`s.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Deserialize;

use crate::error::GatewayError;

/// An API's `dpop` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpopMode {
    /// Today's behaviour: a `DPoP` scheme or header is refused (`invalid_request`).
    #[default]
    Disabled,
    /// `Authorization: DPoP` with a proof, or a plain (unbound) Bearer token.
    Allowed,
    /// Only DPoP-bound tokens with a proof.
    Required,
}

/// The `algs` of a DPoP challenge: what [`dpop::RESOURCE_ALGORITHMS`] accepts.
pub static ALGS: LazyLock<String> = LazyLock::new(|| {
    ::dpop::RESOURCE_ALGORITHMS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(" ")
});

/// The token's confirmation (`cnf`, RFC 7800): its binding to a key or certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Confirmation {
    /// RFC 9449: the proof key's JWK SHA-256 thumbprint.
    pub jkt: Option<String>,
    /// RFC 8705: the client certificate's SHA-256, base64url.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: Option<String>,
}

/// How the token came: `Authorization: Bearer` or `Authorization: DPoP` (with its proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'h> {
    /// RFC 6750.
    Bearer,
    /// RFC 9449: the one `DPoP` header's value.
    Dpop(&'h str),
}

/// Checks the token's binding for an API in `mode`: a DPoP-bound token needs the DPoP scheme
/// and a proof by its key (naming `method` and the external URL `url()`, built only for a
/// proof); a certificate-bound one the connection's verified certificate.
#[allow(clippy::too_many_arguments)]
pub fn check_binding(
    mode: DpopMode,
    presented: Presented<'_>,
    token: &str,
    cnf: Option<&Confirmation>,
    method: &str,
    url: impl FnOnce() -> String,
    client_certificate: Option<&[u8; 32]>,
    now: u64,
) -> Result<(), GatewayError> {
    if let Some(x5t) = cnf.and_then(|c| c.x5t_s256.as_deref()) {
        let matches = client_certificate.is_some_and(|c| B64.encode(c) == x5t);
        if !matches {
            return Err(GatewayError::InvalidToken(
                "the token is bound to a client certificate this connection did not present",
            ));
        }
    }
    let jkt = cnf.and_then(|c| c.jkt.as_deref());
    let proof = match presented {
        Presented::Bearer if jkt.is_some() => {
            return Err(GatewayError::InvalidToken(
                "a DPoP-bound token must be sent with the DPoP scheme and a proof",
            ));
        }
        Presented::Bearer if mode == DpopMode::Required => {
            return Err(GatewayError::DpopInvalidToken(
                "this API requires a DPoP-bound token",
            ));
        }
        Presented::Bearer => return Ok(()),
        Presented::Dpop(proof) => proof,
    };
    let Some(jkt) = jkt else {
        return Err(GatewayError::DpopInvalidToken(
            "the token is not DPoP-bound (no cnf.jkt)",
        ));
    };
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let url = url();
    let expected = ::dpop::Expected {
        method,
        url: &url,
        now,
        nonce_required: false,
        access_token: Some(token),
    };
    let proof = ::dpop::verify_with(proof, &expected, ::dpop::RESOURCE_ALGORITHMS, |_| true)
        .map_err(|e| match e {
            ::dpop::ProofError::Invalid(why) => GatewayError::InvalidDpopProof(why),
            ::dpop::ProofError::NonceRequired => {
                GatewayError::InvalidDpopProof("The DPoP proof has no valid nonce.")
            }
        })?;
    if proof.jkt != jkt {
        return Err(GatewayError::DpopInvalidToken(
            "the DPoP proof's key is not the one the token is bound to",
        ));
    }
    if !REPLAYS.first_use(&proof.jkt, &proof.jti, proof.iat, now) {
        return Err(GatewayError::InvalidDpopProof(
            "The DPoP proof was used before (jti).",
        ));
    }
    Ok(())
}

/// Used proofs: one cache for the whole process, so a proof replayed on another worker (or
/// after a reload rebuilt the pipeline) is still refused.
static REPLAYS: LazyLock<ReplayCache> = LazyLock::new(|| ReplayCache::new(REPLAY_CAPACITY));

/// Proofs remembered at most; a proof is only remembered after its signature and its token
/// checked out, so only holders of valid bound tokens fill it.
pub const REPLAY_CAPACITY: usize = 100_000;

/// Used (`jkt`, `jti`) pairs until their `iat` leaves the window (after that the proof is
/// refused as stale anyway), bounded by a capacity.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    used: Mutex<HashMap<[u8; 32], i64>>,
}

impl ReplayCache {
    /// A cache for at most `capacity` proofs.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Records the proof; false if it was seen (or, full of live proofs, cannot be recorded:
    /// failing closed rather than forgetting one).
    pub fn first_use(&self, jkt: &str, jti: &str, iat: i64, now: i64) -> bool {
        use sha2::Digest as _;
        let key: [u8; 32] = sha2::Sha256::new()
            .chain_update(jkt)
            .chain_update([0])
            .chain_update(jti)
            .finalize()
            .into();
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.get(&key).is_some_and(|&until| until >= now) {
            return false;
        }
        if used.len() >= self.capacity {
            used.retain(|_, until| *until >= now);
            if used.len() >= self.capacity {
                return false;
            }
        }
        used.insert(key, iat + ::dpop::IAT_WINDOW);
        true
    }
}

/// `htu` for a request: `origin` (the API's `dpop_origin`) when set, else the scheme the
/// listener speaks and the request's `Host` / `:authority`; then the path.
pub fn request_url(
    origin: Option<&str>,
    tls: bool,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> String {
    let path = uri.path();
    if let Some(origin) = origin {
        return format!("{}{path}", origin.trim_end_matches('/'));
    }
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or_default();
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_a_second_use_and_forgets_after_the_window() {
        let cache = ReplayCache::new(2);
        assert!(cache.first_use("k", "a", 0, 0));
        assert!(!cache.first_use("k", "a", 0, 10));
        assert!(cache.first_use("other", "a", 0, 10));
        // Full of live proofs: fail closed.
        assert!(!cache.first_use("k", "b", 0, 10));
        // Once their window passed they make room.
        assert!(cache.first_use("k", "b", 400, 400));
    }

    #[test]
    fn request_url_uses_the_configured_origin_or_the_host() {
        let uri = http::Uri::from_static("/beds/hospitals?x=1");
        let mut h = http::HeaderMap::new();
        h.insert(http::header::HOST, "gw.local:8080".parse().unwrap());
        assert_eq!(
            request_url(None, false, &uri, &h),
            "http://gw.local:8080/beds/hospitals"
        );
        assert_eq!(
            request_url(Some("https://api.example.com/"), false, &uri, &h),
            "https://api.example.com/beds/hospitals"
        );
    }
}
