//! Remote validation by RFC 7662 introspection, with a cache keyed by the token's SHA-256 (one
//! cache per authorization server, so an answer from one server never serves another).
//!
//! An answer is reused until `min(exp, now + cap)`; an inactive answer for a few seconds at most.
//! Concurrent misses for one token share one call. When the server cannot be reached the request
//! fails closed, and the failure is not cached.
//!
//! Unique junk tokens would otherwise be a 1:1 amplifier onto the authorization server's rate
//! limit, so a call is made only for a token that (1) has the shape the server issues (an opaque
//! token is 8–512 base64url characters, as Okta's are: 43 for its refresh tokens), (2) comes
//! from a client address that has not used up its `client_miss_budget` of not-active answers
//! this minute, and (3) fits the server's own quota: `X-Rate-Limit-Limit/Remaining/Reset` are
//! read from every answer; with a tenth or less remaining (or after a 429) until the reset,
//! clients that sent unknown tokens this minute get no more calls, so what is left serves valid
//! tokens (and a warning is logged once per window). Negative answers never evict positive ones
//! from the bounded cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::ValidationError;
use super::jwt::{Audience, ScopeClaim};
use crate::clock::SharedClock;
use crate::secret::Secret;
use crate::telemetry::{AsCall, IntrospectionSkip, Metrics};

/// How long an `active: false` answer is reused, at most.
const NEGATIVE_TTL: u64 = 5;
/// Entries beyond which expired ones are swept (then negative ones, then all).
const MAX_ENTRIES: usize = 100_000;
/// Client addresses tracked for the miss budget at once.
const MAX_CLIENTS: usize = 65_536;
/// The budget window.
const MISS_WINDOW_SECONDS: u64 = 60;

/// Whether an opaque (non-JWT) token has the shape an authorization server issues: 8 to 512
/// base64url characters (Okta's opaque tokens are 43).
pub fn opaque_shape(token: &str) -> bool {
    (8..=512).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

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
    cnf: Option<super::dpop::Confirmation>,
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
    /// The whole answer (Okta answers custom claims too), for claims rules.
    pub claims: Arc<serde_json::Map<String, serde_json::Value>>,
    /// `cnf`: the token's binding (DPoP, RFC 8705).
    pub cnf: Option<super::dpop::Confirmation>,
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
    client_miss_budget: u32,
    /// Client address → (window start, misses in it).
    misses: Mutex<HashMap<IpAddr, (u64, u32)>>,
    quota: Quota,
}

/// The authorization server's rate limit as its last answer stated it.
#[derive(Debug, Default)]
struct Quota {
    limit: AtomicU64,
    remaining: AtomicU64,
    /// Epoch seconds; 0: never told.
    reset: AtomicU64,
    /// The reset time of the window last warned about.
    warned: AtomicU64,
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
    /// Not-active answers per client address and minute before its unknown tokens are refused
    /// without a call.
    pub client_miss_budget: u32,
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
            client_miss_budget: config.client_miss_budget,
            misses: Mutex::new(HashMap::new()),
            quota: Quota::default(),
        }
    }

    /// Misses `client` has had in the current window.
    fn misses_of(&self, client: IpAddr, now: u64) -> u32 {
        let misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        match misses.get(&client) {
            Some((start, n)) if now < start + MISS_WINDOW_SECONDS => *n,
            _ => 0,
        }
    }

    fn record_miss(&self, client: IpAddr, now: u64) {
        let mut misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        if misses.len() >= MAX_CLIENTS && !misses.contains_key(&client) {
            misses.retain(|_, (start, _)| now < *start + MISS_WINDOW_SECONDS);
            if misses.len() >= MAX_CLIENTS {
                misses.clear();
            }
        }
        let entry = misses.entry(client).or_insert((now, 0));
        if now >= entry.0 + MISS_WINDOW_SECONDS {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Whether a call for a token not in the cache may be made for `client` now.
    fn may_call(&self, client: Option<IpAddr>, now: u64) -> Result<(), ValidationError> {
        let misses = client.map_or(0, |c| self.misses_of(c, now));
        if misses >= self.client_miss_budget {
            self.metrics
                .introspection_skipped(IntrospectionSkip::ClientBudget);
            return Err(ValidationError::Invalid(
                "too many unknown tokens from this client; try again later",
            ));
        }
        let q = &self.quota;
        let reset = q.reset.load(Relaxed);
        if reset > now {
            let (limit, remaining) = (q.limit.load(Relaxed), q.remaining.load(Relaxed));
            // What is left goes to clients that have sent no unknown token this minute (a
            // valid token's first call); none is shut out entirely, since the server alone
            // knows whether its limit applies to the next call.
            if remaining.saturating_mul(10) <= limit {
                if q.warned.swap(reset, Relaxed) != reset {
                    tracing::warn!(
                        endpoint = %self.endpoint,
                        remaining,
                        limit,
                        reset,
                        "introspection rate limit nearly used up; clients that sent unknown tokens get no more calls until it resets"
                    );
                }
                if misses > 0 {
                    self.metrics.introspection_skipped(IntrospectionSkip::Quota);
                    return Err(ValidationError::Invalid(
                        "too many unknown tokens from this client; try again later",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads `X-Rate-Limit-*` from an answer (a 429 says none remain).
    fn note_quota(&self, headers: &http::HeaderMap, too_many: bool) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (limit, remaining, reset) = (
            number("x-rate-limit-limit"),
            number("x-rate-limit-remaining"),
            number("x-rate-limit-reset"),
        );
        let q = &self.quota;
        match (limit, remaining, reset) {
            (Some(l), Some(r), Some(t)) => {
                q.limit.store(l, Relaxed);
                q.remaining.store(if too_many { 0 } else { r }, Relaxed);
                q.reset.store(t, Relaxed);
            }
            // A 429 without the headers: back off for a window.
            _ if too_many => {
                q.remaining.store(0, Relaxed);
                q.reset
                    .store(self.clock.now() + MISS_WINDOW_SECONDS, Relaxed);
            }
            _ => {}
        }
    }

    /// Introspects `token` for a request from `client` (or reuses a recent answer) and checks
    /// it is active and unexpired.
    pub async fn introspect(
        &self,
        token: &str,
        client: Option<IpAddr>,
    ) -> Result<Arc<Introspected>, ValidationError> {
        if !super::jwt::looks_like_jwt(token) && !opaque_shape(token) {
            self.metrics.introspection_skipped(IntrospectionSkip::Shape);
            return Err(ValidationError::Invalid(
                "the token has no shape the authorization server issues",
            ));
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.clock.now();
        let known = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.get(&key).filter(|s| usable(s, now)).cloned()
        };
        let (slot, hit) = match known {
            Some(s) => {
                let hit = s.cell.initialized();
                (s, hit)
            }
            None => {
                self.may_call(client, now)?;
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                match cache.get(&key) {
                    Some(s) if usable(s, now) => (s.clone(), s.cell.initialized()),
                    _ => {
                        if cache.len() >= MAX_ENTRIES {
                            cache.retain(|_, s| usable(s, now));
                        }
                        if cache.len() >= MAX_ENTRIES {
                            cache.retain(|_, s| matches!(s.cell.get(), Some(Ok(i)) if i.active));
                        }
                        if cache.len() >= MAX_ENTRIES {
                            cache.clear();
                        }
                        let s = Arc::new(Slot {
                            cell: tokio::sync::OnceCell::new(),
                        });
                        cache.insert(key, s.clone());
                        (s, false)
                    }
                }
            }
        };
        self.metrics.introspection_lookup(hit);
        let mut called = false;
        let result = slot
            .cell
            .get_or_init(|| {
                called = true;
                self.call(token)
            })
            .await
            .clone();
        if result.is_err() {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                cache.remove(&key);
            }
        }
        // A call whose answer was `active: false` spends the client's budget (an answer the
        // gateway could not use is the server's doing, not the client's).
        if called
            && let Some(c) = client
            && matches!(&result, Ok(f) if !f.active)
        {
            self.record_miss(c, now);
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
        if let Ok(r) = &resp {
            self.note_quota(
                r.headers(),
                r.status() == http::StatusCode::TOO_MANY_REQUESTS,
            );
        }
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
        let body = body?;
        let parsed: Response = serde_json::from_slice(&body).map_err(|_| {
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
                claims: Arc::default(),
                cnf: None,
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
                // Okta's DPoP-bound access tokens; their binding is checked with the proof.
                || t.eq_ignore_ascii_case("dpop")
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
            claims: Arc::new(serde_json::from_slice(&body).map_err(|_| {
                ValidationError::Invalid("the authorization server's answer was not usable")
            })?),
            cnf: parsed.cnf,
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
