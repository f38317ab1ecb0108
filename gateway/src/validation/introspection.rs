//! Remote validation by RFC 7662 introspection, with a cache keyed by the token's SHA-256 (one
//! cache per authorization server, so an answer from one server never serves another).
//!
//! An answer is reused until `min(exp, now + cap)`; an inactive answer for a few seconds at most.
//! Concurrent misses for one token share one call. When the server cannot be reached the request
//! fails closed, and the failure is not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::ValidationError;
use super::jwt::{Audience, ScopeClaim};
use crate::clock::SharedClock;
use crate::secret::Secret;
use crate::telemetry::{AsCall, Metrics};

/// How long an `active: false` answer is reused, at most.
const NEGATIVE_TTL: u64 = 5;
/// Entries beyond which expired ones are swept.
const MAX_ENTRIES: usize = 100_000;

/// An RFC 7662 answer, strictly typed: `active` must be a JSON boolean.
#[derive(Debug, Clone, Deserialize)]
struct Response {
    active: bool,
    scope: Option<ScopeClaim>,
    client_id: Option<String>,
    sub: Option<String>,
    exp: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
    iat: Option<u64>,
    nbf: Option<u64>,
    token_type: Option<String>,
    jti: Option<String>,
}

/// The cached, checked result of introspecting a token.
#[derive(Debug, Clone)]
pub struct Introspected {
    /// Whether the AS said the token is active.
    pub active: bool,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// `sub`.
    pub subject: Option<String>,
    /// The scopes.
    pub scopes: Vec<String>,
    /// `jti`.
    pub jti: Option<String>,
    exp: u64,
    cache_until: u64,
}

#[derive(Debug)]
struct Slot {
    cell: tokio::sync::OnceCell<Result<Arc<Introspected>, ValidationError>>,
}

/// Introspects tokens at one authorization server.
pub struct Introspector {
    as_idx: usize,
    endpoint: Url,
    client_id: String,
    client_secret: Secret,
    cache_ttl_cap: u64,
    issuer: String,
    audiences: Vec<String>,
    clock_skew: u64,
    client: reqwest::Client,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    cache: Mutex<HashMap<[u8; 32], Arc<Slot>>>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("endpoint", &self.endpoint.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

/// What the introspector needs.
#[derive(Debug)]
pub struct IntrospectorConfig {
    /// Index of the authorization server (metrics).
    pub as_idx: usize,
    /// RFC 7662 endpoint.
    pub endpoint: Url,
    /// The gateway's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// Cap on reuse, seconds; 0 disables the cache.
    pub cache_ttl_cap: u64,
    /// Expected `iss` when the answer carries one.
    pub issuer: String,
    /// Accepted audiences (the server's local `audiences`); when non-empty, an answer's `aud`
    /// must name one of them.
    pub audiences: Vec<String>,
    /// Clock skew for `iat`/`nbf` in answers.
    pub clock_skew: u64,
}

impl Introspector {
    /// An introspector with an empty cache.
    pub fn new(
        config: IntrospectorConfig,
        client: reqwest::Client,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            as_idx: config.as_idx,
            endpoint: config.endpoint,
            client_id: config.client_id,
            client_secret: config.client_secret,
            cache_ttl_cap: config.cache_ttl_cap,
            issuer: config.issuer,
            audiences: config.audiences,
            clock_skew: config.clock_skew,
            client,
            clock,
            metrics,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Introspects `token` (or reuses a recent answer) and checks it is active and unexpired.
    pub async fn introspect(&self, token: &str) -> Result<Arc<Introspected>, ValidationError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.clock.now();
        let (slot, hit) = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get(&key) {
                Some(s) if usable(s, now) => (s.clone(), s.cell.initialized()),
                _ => {
                    if cache.len() >= MAX_ENTRIES {
                        cache.retain(|_, s| usable(s, now));
                        if cache.len() >= MAX_ENTRIES {
                            cache.clear();
                        }
                    }
                    let s = Arc::new(Slot {
                        cell: tokio::sync::OnceCell::new(),
                    });
                    cache.insert(key, s.clone());
                    (s, false)
                }
            }
        };
        self.metrics.introspection_lookup(hit);
        let result = slot.cell.get_or_init(|| self.call(token)).await.clone();
        if result.is_err() {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                cache.remove(&key);
            }
        }
        let found = result?;
        // Re-checked on every use, cached or not.
        if !found.active {
            return Err(ValidationError::Invalid("the token is not active"));
        }
        if found.exp <= now {
            return Err(ValidationError::Invalid("the token has expired"));
        }
        Ok(found)
    }

    async fn call(&self, token: &str) -> Result<Arc<Introspected>, ValidationError> {
        let resp = self
            .client
            .post(self.endpoint.clone())
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .header(http::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await;
        let resp = match resp {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::warn!(status = %r.status(), endpoint = %self.endpoint, "introspection refused");
                self.metrics
                    .as_call(self.as_idx, AsCall::Introspection, false);
                return Err(ValidationError::Unavailable);
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), endpoint = %self.endpoint, "introspection failed");
                self.metrics
                    .as_call(self.as_idx, AsCall::Introspection, false);
                return Err(ValidationError::Unavailable);
            }
        };
        let body = resp.bytes().await.map_err(|_| ValidationError::Unavailable);
        self.metrics
            .as_call(self.as_idx, AsCall::Introspection, body.is_ok());
        let parsed: Response = serde_json::from_slice(&body?).map_err(|_| {
            ValidationError::Invalid("the authorization server's answer was not usable")
        })?;
        let now = self.clock.now();
        if !parsed.active {
            return Ok(Arc::new(Introspected {
                active: false,
                client_id: None,
                subject: None,
                scopes: Vec::new(),
                jti: None,
                exp: 0,
                cache_until: now + NEGATIVE_TTL.min(self.cache_ttl_cap),
            }));
        }
        if parsed.iss.as_deref().is_some_and(|i| i != self.issuer) {
            return Err(ValidationError::Invalid(
                "the token's issuer is not accepted",
            ));
        }
        // Only an access token is a bearer token: not an ID token, not a refresh token.
        if !parsed.token_type.as_deref().is_none_or(|t| {
            t.eq_ignore_ascii_case("bearer")
                || t == "access_token"
                || t == "urn:ietf:params:oauth:token-type:access_token"
        }) {
            return Err(ValidationError::Invalid(
                "only an access token is accepted as a bearer token",
            ));
        }
        // Okta calls a refresh token "Bearer" too; it has no audience, and an ID token's is a
        // client id: with audiences configured, the API's own must be there.
        if !self.audiences.is_empty()
            && !parsed
                .aud
                .as_ref()
                .is_some_and(|a| a.any(|a| self.audiences.iter().any(|x| x == a)))
        {
            return Err(ValidationError::Invalid(
                "the token's audience is not accepted",
            ));
        }
        let exp = parsed
            .exp
            .ok_or(ValidationError::Invalid("the token has no expiry"))?;
        let future = now.saturating_add(self.clock_skew);
        if parsed.iat.is_some_and(|t| t > future) {
            return Err(ValidationError::Invalid(
                "the token was issued in the future",
            ));
        }
        if parsed.nbf.is_some_and(|t| t > future) {
            return Err(ValidationError::Invalid("the token is not valid yet"));
        }
        Ok(Arc::new(Introspected {
            active: true,
            client_id: parsed.client_id,
            subject: parsed.sub,
            scopes: parsed.scope.map(|s| s.to_vec()).unwrap_or_default(),
            jti: parsed.jti,
            exp,
            cache_until: exp.min(now.saturating_add(self.cache_ttl_cap)),
        }))
    }
}

fn usable(slot: &Slot, now: u64) -> bool {
    match slot.cell.get() {
        None => true,
        Some(Ok(i)) => now < i.cache_until,
        Some(Err(_)) => false,
    }
}
