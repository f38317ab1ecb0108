//! The signing keys of one authorization server: fetched from its JWKS, kept for the time its
//! `Cache-Control` allows (bounded), refreshed when a token names an unknown `kid` (one fetch at
//! a time, at most once per `min_refresh`). Past their lifetime they keep serving for up to
//! `max_stale` seconds while a background refresh runs (stale-while-revalidate), which also
//! covers an authorization server that cannot be reached. Or a static PEM key.
//!
//! Each key carries the algorithms it may verify; HMAC algorithms are never among them, so a
//! token cannot choose to be checked with a public key as an HMAC secret.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{ParsedPublicKey, RsaParameters};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use url::Url;

use super::ValidationError;
use super::token_memo::TokenMemo;
use crate::clock::SharedClock;
use crate::telemetry::{AsCall, Metrics};

/// A parsed public key and the algorithms it is bound to.
pub struct VerifyKey {
    /// The key.
    pub key: DecodingKey,
    /// The algorithms it may verify.
    pub algorithms: Vec<Algorithm>,
    /// RSA keys parsed once per algorithm, so a verification does not rebuild the key.
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
    /// Tokens whose signature this key has verified (see [`VerifyKey::verify_cached`]).
    verified: VerifiedTokens,
}

/// Entries beyond which expired ones are swept (and, if none expired, all are dropped).
const MAX_VERIFIED: usize = 50_000;
/// The longest a verified token is remembered, seconds (whatever its `exp`).
const MAX_VERIFIED_TTL: u64 = 300;

/// SHA-256 of a token (header, claims and signature) → until when its verified signature is
/// reused. A signature over exact bytes under one key stays valid, so the entry only spares the
/// public-key operation: the claims (`iss`, `aud`, times) are still checked on every request,
/// and the cache lives in the key, so a key dropped from the key set takes its entries with it.
/// Each proxy worker keeps its own (see `TokenMemo`).
struct VerifiedTokens(TokenMemo<()>);

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self(TokenMemo::new(MAX_VERIFIED))
    }
}

impl VerifiedTokens {
    fn contains(&self, digest: &[u8; 32], now: u64) -> bool {
        self.0.get(digest, now).is_some()
    }

    fn insert(&self, digest: [u8; 32], until: u64, now: u64) {
        self.0.insert(digest, (), until, now);
    }
}

fn rsa_params(alg: Algorithm) -> Option<&'static RsaParameters> {
    use aws_lc_rs::signature as s;
    Some(match alg {
        Algorithm::RS256 => &s::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &s::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &s::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &s::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn preparse(key: &DecodingKey, algorithms: &[Algorithm]) -> Vec<(Algorithm, ParsedPublicKey)> {
    if key.family() != AlgorithmFamily::Rsa {
        return Vec::new();
    }
    let der: Vec<u8> = match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let components = aws_lc_rs::rsa::PublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            };
            match AsDer::<PublicKeyX509Der<'static>>::as_der(&components) {
                Ok(d) => d.as_ref().to_vec(),
                Err(_) => return Vec::new(),
            }
        }
        DecodingKeyKind::SecretOrDer(d) => d.clone(),
    };
    algorithms
        .iter()
        .filter_map(|a| Some((*a, ParsedPublicKey::new(rsa_params(*a)?, &der).ok()?)))
        .collect()
}

impl VerifyKey {
    fn new(key: DecodingKey, algorithms: Vec<Algorithm>) -> Self {
        let parsed = preparse(&key, &algorithms);
        Self {
            key,
            algorithms,
            parsed,
            verified: VerifiedTokens::default(),
        }
    }

    /// [`VerifyKey::verify`], remembering a success for the same token (same bytes, so same
    /// header, claims and signature) until `min(exp + skew, now + 300 s)`; a failure is never
    /// remembered. The caller still checks the claims against `now` on every request.
    pub fn verify_cached(
        &self,
        jwt: &super::jwt::Jwt<'_>,
        alg: Algorithm,
        skew: u64,
        now: u64,
    ) -> Result<(), &'static str> {
        if !self.algorithms.contains(&alg) {
            return Err("the token's algorithm is not accepted for this key");
        }
        let Some(exp) = jwt.claims.exp else {
            return self.verify(jwt, alg);
        };
        let until = exp
            .saturating_add(skew)
            .min(now.saturating_add(MAX_VERIFIED_TTL));
        if until < now {
            return self.verify(jwt, alg);
        }
        let digest = jwt.digest;
        if self.verified.contains(&digest, now) {
            return Ok(());
        }
        self.verify(jwt, alg)?;
        self.verified.insert(digest, until, now);
        Ok(())
    }

    /// Verifies `jwt`'s signature under `alg`, which must be one of this key's algorithms.
    pub fn verify(&self, jwt: &super::jwt::Jwt<'_>, alg: Algorithm) -> Result<(), &'static str> {
        if !self.algorithms.contains(&alg) {
            return Err("the token's algorithm is not accepted for this key");
        }
        if let Some((_, parsed)) = self.parsed.iter().find(|(a, _)| *a == alg) {
            let mut buf = [0u8; 1024];
            let n = URL_SAFE_NO_PAD
                .decode_slice(jwt.signature, &mut buf)
                .map_err(|_| "the token signature is invalid")?;
            return parsed
                .verify_sig(jwt.message.as_bytes(), &buf[..n])
                .map_err(|_| "the token signature is invalid");
        }
        super::jwt::verify_signature(jwt, &self.key, alg)
    }
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

const RSA_ALGS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

impl VerifyKey {
    /// A key from one JWK, or `None` when it is not a usable signature-verification key.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return None;
        }
        let family: Vec<Algorithm> = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => RSA_ALGS.to_vec(),
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
            // Symmetric keys are never taken from a key set.
            _ => return None,
        };
        let algorithms = match jwk.common.key_algorithm {
            None => family,
            Some(ka) => {
                let alg = match ka {
                    KeyAlgorithm::RS256 => Algorithm::RS256,
                    KeyAlgorithm::RS384 => Algorithm::RS384,
                    KeyAlgorithm::RS512 => Algorithm::RS512,
                    KeyAlgorithm::PS256 => Algorithm::PS256,
                    KeyAlgorithm::PS384 => Algorithm::PS384,
                    KeyAlgorithm::PS512 => Algorithm::PS512,
                    KeyAlgorithm::ES256 => Algorithm::ES256,
                    KeyAlgorithm::ES384 => Algorithm::ES384,
                    KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                    _ => return None,
                };
                if !family.contains(&alg) {
                    return None;
                }
                vec![alg]
            }
        };
        let key = DecodingKey::from_jwk(jwk).ok()?;
        Some(Self::new(key, algorithms))
    }

    /// A key from a PEM public key or certificate (RSA, EC or Ed25519).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let bytes = pem.as_bytes();
        if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
            return Ok(Self::new(key, RSA_ALGS.to_vec()));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(bytes) {
            return Ok(Self::new(key, vec![Algorithm::ES256, Algorithm::ES384]));
        }
        if let Ok(key) = DecodingKey::from_ed_pem(bytes) {
            return Ok(Self::new(key, vec![Algorithm::EdDSA]));
        }
        Err("not an RSA, EC or Ed25519 public key or certificate in PEM form".into())
    }
}

/// Parses a JWKS document, skipping keys that are not usable (unknown types, encryption keys).
pub fn parse_jwks(bytes: &[u8]) -> Result<HashMap<String, Arc<VerifyKey>>, &'static str> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc =
        serde_json::from_slice(bytes).map_err(|_| "the key set is not a JWKS document")?;
    let mut out = HashMap::with_capacity(doc.keys.len());
    for v in doc.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(v) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if let Some(k) = VerifyKey::from_jwk(&jwk) {
            out.insert(kid, Arc::new(k));
        }
    }
    Ok(out)
}

/// Reads `max-age` from a `Cache-Control` value; `no-store`/`no-cache` mean 0.
pub fn max_age(cache_control: Option<&str>) -> Option<u64> {
    let v = cache_control?;
    let mut age = None;
    for d in v.split(',') {
        let d = d.trim();
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if let Some(n) = d
            .strip_prefix("max-age=")
            .or_else(|| d.strip_prefix("s-maxage="))
        {
            age = n.trim_matches('"').parse().ok().or(age);
        }
    }
    age
}

/// Bounds on the lifetime taken from `Cache-Control`.
const MIN_TTL: u64 = 30;
const MAX_TTL: u64 = 24 * 3600;
const DEFAULT_TTL: u64 = 300;

#[derive(Debug)]
struct KeySet {
    keys: HashMap<String, Arc<VerifyKey>>,
    generation: u64,
    expires_at: u64,
}

#[derive(Debug, Default)]
struct RefreshState {
    generation: u64,
    last_kid_refresh: Option<u64>,
    last_failure: Option<u64>,
}

/// The keys of one authorization server.
#[derive(Debug)]
pub struct KeyCache {
    as_idx: usize,
    jwks_uri: Url,
    client: reqwest::Client,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    min_refresh: u64,
    max_stale: u64,
    set: ArcSwapOption<KeySet>,
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    Expired,
    UnknownKid,
}

impl KeyCache {
    /// An empty cache for `jwks_uri`; call [`KeyCache::prefetch`] to fill it.
    pub fn new(
        as_idx: usize,
        jwks_uri: Url,
        client: reqwest::Client,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        min_refresh: u64,
        max_stale: u64,
    ) -> Self {
        Self {
            as_idx,
            jwks_uri,
            client,
            clock,
            metrics,
            min_refresh,
            max_stale,
            set: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        }
    }

    /// Fetches the keys once; a failure is logged, not fatal (the first token retries).
    pub async fn prefetch(&self) {
        if let Err(e) = self.refresh(0, Reason::Expired).await {
            tracing::warn!(jwks_uri = %self.jwks_uri, error = ?e, "initial key set fetch failed");
        }
    }

    /// The key for `kid` (or the only key when the token names none) that may verify `alg`.
    pub async fn key(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, ValidationError> {
        if let Some(kid) = kid
            && (kid.is_empty() || kid.len() > 256)
        {
            return Err(ValidationError::Invalid(
                "the token's key id is not acceptable",
            ));
        }
        let now = self.clock.now();
        let snapshot = self.set.load_full();
        let snapshot = match snapshot {
            Some(s) if now < s.expires_at => s,
            // Past its lifetime but within the staleness bound: serve it, revalidate behind.
            Some(s) if now <= s.expires_at.saturating_add(self.max_stale) => {
                self.revalidate(s.generation);
                s
            }
            stale => {
                let generation = stale.as_ref().map_or(0, |s| s.generation);
                self.refresh(generation, Reason::Expired)
                    .await
                    .map_err(|_| ValidationError::Unavailable)?
            }
        };
        if let Some(k) = lookup(&snapshot, kid, alg) {
            self.metrics.jwks_lookup(true);
            return Ok(k);
        }
        self.metrics.jwks_lookup(false);
        let Some(kid) = kid else {
            return Err(ValidationError::Invalid("the token names no key"));
        };
        tracing::info!(kid, "unknown key id; refreshing the key set");
        match self.refresh(snapshot.generation, Reason::UnknownKid).await {
            Ok(fresh) => lookup(&fresh, Some(kid), alg).ok_or(ValidationError::KeyUnknown),
            Err(RefreshError::RateLimited) => Err(ValidationError::KeyUnknown),
            Err(RefreshError::Failed) => Err(ValidationError::Unavailable),
        }
    }

    /// Refreshes in the background unless a refresh is already running.
    fn revalidate(self: &Arc<Self>, seen_generation: u64) {
        if self.refresh.try_lock().is_err() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _ = this.refresh(seen_generation, Reason::Expired).await;
        });
    }

    async fn refresh(
        &self,
        seen_generation: u64,
        reason: Reason,
    ) -> Result<Arc<KeySet>, RefreshError> {
        let mut state = self.refresh.lock().await;
        // Someone else refreshed while this task waited: use their result.
        if state.generation != seen_generation
            && let Some(s) = self.set.load_full()
        {
            return Ok(s);
        }
        let now = self.clock.now();
        if reason == Reason::UnknownKid {
            if state
                .last_kid_refresh
                .is_some_and(|t| now < t.saturating_add(self.min_refresh))
            {
                return Err(RefreshError::RateLimited);
            }
            state.last_kid_refresh = Some(now);
        }
        if state
            .last_failure
            .is_some_and(|t| now < t.saturating_add(self.min_refresh))
        {
            return Err(RefreshError::Failed);
        }
        match self.fetch().await {
            Ok((keys, ttl)) => {
                state.generation += 1;
                state.last_failure = None;
                tracing::info!(jwks_uri = %self.jwks_uri, keys = keys.len(), ttl, "key set refreshed");
                let set = Arc::new(KeySet {
                    keys,
                    generation: state.generation,
                    expires_at: now.saturating_add(ttl),
                });
                self.set.store(Some(set.clone()));
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(jwks_uri = %self.jwks_uri, error = %e, "key set fetch failed");
                state.last_failure = Some(now);
                Err(RefreshError::Failed)
            }
        }
    }

    async fn fetch(&self) -> Result<(HashMap<String, Arc<VerifyKey>>, u64), String> {
        let result = async {
            let resp = self
                .client
                .get(self.jwks_uri.clone())
                .header(http::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            let cc = resp
                .headers()
                .get(http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp
                .bytes()
                .await
                .map_err(|e| e.without_url().to_string())?;
            let keys = parse_jwks(&body).map_err(str::to_owned)?;
            let ttl = max_age(cc.as_deref())
                .unwrap_or(DEFAULT_TTL)
                .clamp(MIN_TTL, MAX_TTL);
            Ok((keys, ttl))
        }
        .await;
        self.metrics
            .as_call(self.as_idx, AsCall::Jwks, result.is_ok());
        result
    }
}

#[derive(Debug)]
enum RefreshError {
    RateLimited,
    Failed,
}

fn lookup(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyKey>> {
    let key = match kid {
        Some(kid) => set.keys.get(kid)?,
        None if set.keys.len() == 1 => set.keys.values().next()?,
        None => return None,
    };
    key.algorithms.contains(&alg).then(|| key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(
            max_age(Some("public, max-age=600, must-revalidate")),
            Some(600)
        );
        assert_eq!(max_age(Some("no-store")), Some(0));
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(None), None);
    }

    #[test]
    fn symmetric_and_encryption_keys_are_never_taken_from_a_key_set() {
        let doc = br#"{"keys":[
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"sXch","e":"AQAB"},
            {"kty":"weird","kid":"w"}
        ]}"#;
        let keys = parse_jwks(doc).unwrap();
        assert!(keys.is_empty(), "{:?}", keys.keys().collect::<Vec<_>>());
    }
}
