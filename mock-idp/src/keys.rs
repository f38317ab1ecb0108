//! Signing keys, the published key set and rotation.
//!
//! Keys are parsed once: signing uses the pre-parsed aws-lc key pair (about
//! three times faster than re-parsing per token, see docs/dependencies.md), and the
//! published JWKS is rendered to bytes whenever the set changes.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, RwLock};

use arc_swap::ArcSwap;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::spare_keys::{DISK_SPARES, SpareKeys};

/// Errors while creating or loading a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} is not an RSA private key in PEM (PKCS#8 or PKCS#1): {reason}")]
    Parse { path: String, reason: String },
    #[error("RSA key generation failed")]
    Generate,
}

/// One RSA signing key with its published (public) half.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    /// base64url of the JWS header `{"kid":…,"alg":"RS256"}`, computed once.
    header_b64: String,
    n: String,
    e: String,
    pkcs8_der: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    /// A fresh RSA-2048 key (tens of milliseconds: call off the async runtime).
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let der = pair.as_der().map_err(|_| KeyError::Generate)?;
        Self::from_pair(pair, der.as_ref().to_vec())
    }

    /// A fresh key that no one has used: from the process-wide pool of keys
    /// generated ahead of time on a background thread, else from the spare
    /// keys an earlier process left on disk (`spare_keys`), else generated
    /// here. Starting a mock, or rotating a key, then costs microseconds
    /// (a millisecond from disk) instead of an RSA key generation.
    pub fn fresh() -> Result<Self, KeyError> {
        let pool = KeyPool::global();
        let spare = pool.lock().pop();
        pool.wanted.notify_one();
        if let Some(key) = spare {
            return Ok(key);
        }
        match pool.disk.as_ref().and_then(SpareKeys::take) {
            Some(key) => Ok(key),
            None => Self::generate(),
        }
    }

    /// Loads a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    pub fn from_pem_file(path: &Path) -> Result<Self, KeyError> {
        let display = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| KeyError::Read {
            path: display.clone(),
            source,
        })?;
        Self::from_pem(&text).map_err(|reason| KeyError::Parse {
            path: display,
            reason,
        })
    }

    /// Parses a PEM private key.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let block = pem::parse(text).map_err(|e| e.to_string())?;
        let pair = match block.tag() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => KeyPair::from_der(block.contents()),
            other => return Err(format!("unexpected PEM block {other:?}")),
        }
        .map_err(|e| e.to_string())?;
        let der = pair.as_der().map_err(|e| e.to_string())?;
        Self::from_pair(pair, der.as_ref().to_vec()).map_err(|e| e.to_string())
    }

    fn from_pair(pair: KeyPair, pkcs8_der: Vec<u8>) -> Result<Self, KeyError> {
        let public = pair.public_key();
        let n = B64.encode(trim_leading_zeros(
            public.modulus().big_endian_without_leading_zero(),
        ));
        let e = B64.encode(trim_leading_zeros(
            public.exponent().big_endian_without_leading_zero(),
        ));
        let kid = safe_kid(&n, &e);
        let header = format!(r#"{{"kid":"{kid}","alg":"RS256"}}"#);
        Ok(Self {
            header_b64: B64.encode(header),
            kid,
            pair,
            n,
            e,
            pkcs8_der,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK with Okta's members.
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "alg": "RS256",
            "kid": self.kid,
            "use": "sig",
            "e": self.e,
            "n": self.n,
        })
    }

    /// Modulus and exponent, base64url.
    pub fn public_components(&self) -> (&str, &str) {
        (&self.n, &self.e)
    }

    /// The private key as PKCS#8 PEM, for tests that need to forge tokens
    /// with a key the server trusts (or for `--print` style exports).
    pub fn private_key_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PRIVATE KEY", self.pkcs8_der.clone()))
    }

    /// The public key as SPKI PEM (`PUBLIC KEY`).
    pub fn public_key_pem(&self) -> String {
        match self.pair.public_key().as_der() {
            Ok(der) => pem::encode(&pem::Pem::new("PUBLIC KEY", der.as_ref().to_vec())),
            Err(_) => String::new(),
        }
    }

    /// Signs `claims` as a compact JWS with header `{"kid","alg":"RS256"}`.
    pub fn sign_jwt(&self, claims: &impl serde::Serialize) -> Result<String, serde_json::Error> {
        let payload = serde_json::to_vec(claims)?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 350);
        token.push_str(&self.header_b64);
        token.push('.');
        B64.encode_string(&payload, &mut token);
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        // RSA PKCS#1 v1.5 signing cannot fail for a valid key and a buffer of the modulus size.
        if self
            .pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .is_err()
        {
            return Err(serde::ser::Error::custom("RSA signing failed"));
        }
        token.push('.');
        B64.encode_string(&signature, &mut token);
        Ok(token)
    }

    /// Checks an RS256 signature over `message` with this key's public half.
    pub fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_components(&self.n, &self.e) else {
            return false;
        };
        jsonwebtoken::crypto::verify(signature_b64, message, &key, jsonwebtoken::Algorithm::RS256)
            .unwrap_or(false)
    }
}

/// Keys generated ahead of time. A single background thread keeps a few
/// spares: on disk, where this process and the next ones find them, or in
/// memory when there is no usable directory. Each key is handed out once,
/// so no two servers share a key.
struct KeyPool {
    spares: std::sync::Mutex<Vec<SigningKey>>,
    wanted: std::sync::Condvar,
    disk: Option<SpareKeys>,
}

/// Spares kept ready: the org key and one custom server's key of the next mock.
const POOL_SPARES: usize = 2;

impl KeyPool {
    fn global() -> &'static KeyPool {
        static POOL: std::sync::OnceLock<&'static KeyPool> = std::sync::OnceLock::new();
        POOL.get_or_init(|| {
            let pool: &'static KeyPool = Box::leak(Box::new(KeyPool {
                spares: std::sync::Mutex::new(Vec::new()),
                wanted: std::sync::Condvar::new(),
                disk: SpareKeys::from_env(),
            }));
            let spawned = std::thread::Builder::new()
                .name("mock-idp-keygen".into())
                .spawn(move || pool.refill_forever());
            if spawned.is_err() {
                tracing::warn!("no background key generation; keys are generated on demand");
            }
            pool
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SigningKey>> {
        self.spares
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn refill_forever(&self) {
        // The keys a starting server needs are generated inline, in parallel;
        // refilling at the same moment would only compete with them for the cores.
        std::thread::sleep(std::time::Duration::from_millis(250));
        // With spares on disk, every spare goes there: a key made for this
        // process serves it as well from disk, and is not lost when it exits.
        let mut disk = self.disk.as_ref();
        loop {
            {
                let mut spares = self.lock();
                loop {
                    let wanted = match disk {
                        Some(disk) => disk.count() < DISK_SPARES,
                        None => spares.len() < POOL_SPARES,
                    };
                    if wanted {
                        break;
                    }
                    spares = self
                        .wanted
                        .wait(spares)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
            // Generate outside the lock: takers never wait on a generation.
            let Ok(key) = SigningKey::generate() else {
                return;
            };
            match disk {
                Some(dir) => {
                    if let Err(error) = dir.put(&key) {
                        tracing::warn!(%error, "spare keys cannot be kept on disk");
                        disk = None;
                        self.lock().push(key);
                    }
                }
                None => self.lock().push(key),
            }
        }
    }
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// A `kid` derived from the key (stable for a loaded key) that every Okta
/// verifier accepts: 43 characters with no `-` or `_`, and a JWS header whose
/// base64url form has none either (okta-jwt-verifier-golang decodes the
/// header with the standard alphabet).
fn safe_kid(n: &str, e: &str) -> String {
    let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    for counter in 0u32.. {
        let mut hasher = Sha256::new();
        hasher.update(thumbprint_input.as_bytes());
        if counter > 0 {
            hasher.update(counter.to_be_bytes());
        }
        let kid = B64.encode(hasher.finalize());
        if kid.contains(['-', '_']) {
            continue;
        }
        let header = B64.encode(format!(r#"{{"kid":"{kid}","alg":"RS256"}}"#));
        if !header.contains(['-', '_']) {
            return kid;
        }
    }
    unreachable!("the counter space is never exhausted in practice")
}

/// The keys of one authorization server: the active signing key and the keys
/// still published so that tokens they signed keep verifying.
///
/// A ring may start empty while its first key is generated on another
/// thread: the server then answers at once, and whatever needs a key waits
/// for it ([`KeyRing::ready`] in async code; every other method blocks).
#[derive(Debug)]
pub struct KeyRing(Arc<Slot>);

#[derive(Debug)]
struct Slot {
    /// `None` once generation has failed for good.
    ring: OnceLock<Option<Ring>>,
    lock: Mutex<()>,
    /// Somebody waits for the first key (it gets the next key made).
    wanted: AtomicBool,
    filled: Condvar,
    filled_async: tokio::sync::Notify,
}

#[derive(Debug)]
struct Ring {
    active: ArcSwap<SigningKey>,
    published: RwLock<Vec<PublishedKey>>,
    jwks: ArcSwap<Bytes>,
}

#[derive(Debug, Clone)]
struct PublishedKey {
    key: Arc<SigningKey>,
    /// When a retired key stops being published (None while active).
    retire_at: Option<i64>,
}

/// Attempts at the first key before a ring gives up (aws-lc fails only
/// without a working random source, where retrying is of little use).
const GENERATE_ATTEMPTS: usize = 3;

impl KeyRing {
    pub fn new(active: SigningKey) -> Self {
        let slot = Slot::empty();
        slot.fill(Some(Ring::new(active)));
        Self(Arc::new(slot))
    }

    /// A ring whose first key `make` produces on a new thread. Not a tokio
    /// blocking task: a caller that blocks on the ring inside a runtime (a
    /// test on a current-thread runtime) never waits on that runtime.
    pub fn generating<F>(make: F) -> Self
    where
        F: Fn() -> Result<SigningKey, KeyError> + Send + Sync + 'static,
    {
        let mut rings = Self::generating_together(1, make);
        rings.remove(0)
    }

    /// `count` rings whose first keys `count` threads make at once. Each key,
    /// once made, goes to a ring somebody is waiting for, else to the first
    /// empty ring in order. An RSA key takes a random 20–150 ms, so the ring
    /// needed first gets the quickest of the draws instead of its own (with
    /// two: median 55 ms instead of 76).
    pub fn generating_together<F>(count: usize, make: F) -> Vec<Self>
    where
        F: Fn() -> Result<SigningKey, KeyError> + Send + Sync + 'static,
    {
        let slots: Vec<Arc<Slot>> = (0..count).map(|_| Arc::new(Slot::empty())).collect();
        let race = Arc::new(KeyRace {
            state: Mutex::new(RaceState {
                empty: slots.clone(),
                making: 0,
                makers: count,
            }),
        });
        let make = Arc::new(make);
        for _ in 0..count {
            // Dropped unrun when the thread cannot start: the race then has one maker fewer.
            let maker = Maker {
                race: race.clone(),
                making: false,
            };
            let make = make.clone();
            let work = move || maker.run(&*make);
            if let Err(error) = std::thread::Builder::new()
                .name("mock-idp-keygen".into())
                .spawn(work)
            {
                tracing::error!(%error, "cannot start key generation");
            }
        }
        slots.into_iter().map(Self).collect()
    }

    /// Waits (without blocking the thread) until the first key exists.
    pub async fn ready(&self) -> Result<(), KeyError> {
        self.0.wanted.store(true, Ordering::Relaxed);
        loop {
            let filled = self.0.filled_async.notified();
            let mut filled = std::pin::pin!(filled);
            // Registered before looking, so a fill in between is not missed.
            filled.as_mut().enable();
            if let Some(ring) = self.0.ring.get() {
                return ring.as_ref().map(|_| ()).ok_or(KeyError::Generate);
            }
            filled.await;
        }
    }

    /// Whether the first key exists.
    pub fn is_ready(&self) -> bool {
        matches!(self.0.ring.get(), Some(Some(_)))
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> Arc<SigningKey> {
        self.ring().active.load_full()
    }

    /// The published key set, pre-rendered.
    pub fn jwks_bytes(&self) -> Bytes {
        Bytes::clone(&self.ring().jwks.load())
    }

    /// Finds a published key by `kid`.
    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        let ring = self.ring();
        let active = ring.active.load();
        if active.kid == kid {
            return Some(Arc::clone(&active));
        }
        ring.read()
            .iter()
            .find(|p| p.key.kid == kid)
            .map(|p| p.key.clone())
    }

    /// Every published key, active first.
    pub fn keys(&self) -> Vec<Arc<SigningKey>> {
        let ring = self.ring();
        let active = ring.active.load_full();
        let mut keys = vec![active.clone()];
        keys.extend(
            ring.read()
                .iter()
                .filter(|p| p.key.kid != active.kid)
                .map(|p| p.key.clone()),
        );
        keys
    }

    /// Makes `next` the signing key. The previous keys stay published until
    /// `retire_at` (when the tokens they signed have expired), then drop out.
    pub fn rotate(&self, next: SigningKey, now: i64, retire_at: i64) -> Arc<SigningKey> {
        let ring = self.ring();
        let next = Arc::new(next);
        let mut published = ring.write();
        published.retain(|p| p.retire_at.is_none_or(|at| at > now));
        for key in published.iter_mut() {
            key.retire_at.get_or_insert(retire_at);
        }
        published.insert(
            0,
            PublishedKey {
                key: next.clone(),
                retire_at: None,
            },
        );
        ring.jwks.store(Arc::new(render_jwks(&published)));
        ring.active.store(next.clone());
        next
    }

    /// The keys, waiting for the first one if need be. Request handlers get
    /// here after the router awaited [`KeyRing::ready`], so only library calls
    /// made right after start ever wait here.
    fn ring(&self) -> &Ring {
        match self.0.wait() {
            Some(ring) => ring,
            // Requests were answered 500 by then (see `ready`); this is a library call.
            None => panic!("mock-idp: the server's signing key could not be generated"),
        }
    }
}

impl Slot {
    fn empty() -> Self {
        Self {
            ring: OnceLock::new(),
            lock: Mutex::new(()),
            wanted: AtomicBool::new(false),
            filled: Condvar::new(),
            filled_async: tokio::sync::Notify::new(),
        }
    }

    fn fill(&self, ring: Option<Ring>) {
        if self.ring.set(ring).is_ok() {
            // Taking the lock orders the fill after any waiter's last look.
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.filled.notify_all();
            self.filled_async.notify_waiters();
        }
    }

    fn wait(&self) -> &Option<Ring> {
        if let Some(ring) = self.ring.get() {
            return ring;
        }
        self.wanted.store(true, Ordering::Relaxed);
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(ring) = self.ring.get() {
                return ring;
            }
            guard = self
                .filled
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The first keys of rings made together (see [`KeyRing::generating_together`]).
struct KeyRace {
    state: Mutex<RaceState>,
}

struct RaceState {
    /// Rings still without a key, in the order they are served.
    empty: Vec<Arc<Slot>>,
    /// Keys being made now.
    making: usize,
    /// Threads still running.
    makers: usize,
}

impl KeyRace {
    fn lock(&self) -> std::sync::MutexGuard<'_, RaceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One thread of a race. When the last one ends (done, failed, panicked or
/// never started), the rings still empty are marked failed, so that nothing
/// waits forever.
struct Maker {
    race: Arc<KeyRace>,
    making: bool,
}

impl Maker {
    fn run(mut self, make: &dyn Fn() -> Result<SigningKey, KeyError>) {
        loop {
            {
                let mut state = self.race.lock();
                // Enough keys are under way for the rings left.
                if state.empty.len() <= state.making {
                    return;
                }
                state.making += 1;
                self.making = true;
            }
            let key = (0..GENERATE_ATTEMPTS).find_map(|_| make().ok());
            let mut state = self.race.lock();
            state.making -= 1;
            self.making = false;
            let Some(key) = key else {
                tracing::error!("signing key generation failed; requests needing the key fail");
                return;
            };
            let at = state
                .empty
                .iter()
                .position(|slot| slot.wanted.load(Ordering::Relaxed))
                .unwrap_or(0);
            // Never empty here: a key is begun only for a ring without one.
            if at < state.empty.len() {
                let slot = state.empty.remove(at);
                drop(state);
                slot.fill(Some(Ring::new(key)));
            }
        }
    }
}

impl Drop for Maker {
    fn drop(&mut self) {
        let mut state = self.race.lock();
        state.makers -= 1;
        if self.making {
            state.making -= 1; // it panicked while making a key
        }
        if state.makers == 0 {
            let failed = std::mem::take(&mut state.empty);
            drop(state);
            failed.iter().for_each(|slot| slot.fill(None));
        }
    }
}

impl Ring {
    fn new(active: SigningKey) -> Self {
        let active = Arc::new(active);
        let published = vec![PublishedKey {
            key: active.clone(),
            retire_at: None,
        }];
        let jwks = render_jwks(&published);
        Self {
            active: ArcSwap::new(active),
            published: RwLock::new(published),
            jwks: ArcSwap::from_pointee(jwks),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<PublishedKey>> {
        self.published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<PublishedKey>> {
        self.published
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn render_jwks(keys: &[PublishedKey]) -> Bytes {
    let keys: Vec<_> = keys.iter().map(|p| p.key.public_jwk()).collect();
    Bytes::from(serde_json::json!({ "keys": keys }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_with_jsonwebtoken_against_the_published_jwk() {
        let key = SigningKey::generate().unwrap();
        let token = key
            .sign_jwt(&serde_json::json!({"sub": "x", "exp": 4_000_000_000_u64}))
            .unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "x");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
        let (message, signature) = token.rsplit_once('.').unwrap();
        assert!(key.verify(message.as_bytes(), signature));
        assert!(!key.verify(b"tampered", signature));
    }

    #[test]
    fn kids_are_safe_for_every_okta_verifier() {
        let key = SigningKey::generate().unwrap();
        assert_eq!(key.kid().len(), 43);
        assert!(!key.kid().contains(['-', '_']));
        assert!(!key.header_b64.contains(['-', '_']));
    }

    #[test]
    fn a_loaded_key_keeps_its_kid() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(key.private_key_pem().as_bytes()).unwrap();
        assert_eq!(key.kid(), again.kid());
    }

    #[test]
    fn rotation_publishes_the_new_key_and_retires_old_ones_after_their_tokens_expire() {
        let first = SigningKey::generate().unwrap();
        let first_kid = first.kid().to_owned();
        let ring = KeyRing::new(first);
        let second = ring.rotate(SigningKey::generate().unwrap(), 1000, 4600);
        assert_eq!(ring.active().kid(), second.kid());
        assert!(ring.find(&first_kid).is_some(), "old key stays published");
        let jwks: serde_json::Value = serde_json::from_slice(&ring.jwks_bytes()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        // A rotation after the old key's tokens have expired drops it.
        ring.rotate(SigningKey::generate().unwrap(), 5000, 8600);
        assert!(ring.find(&first_kid).is_none());
        assert!(ring.find(second.kid()).is_some());
    }

    #[tokio::test]
    async fn a_generating_ring_serves_its_key_once_made_to_async_and_blocking_callers() {
        let (made_tx, made_rx) = std::sync::mpsc::channel::<()>();
        let made_rx = Mutex::new(made_rx);
        // The key is made only when the test says so: callers meet an empty ring.
        let ring = Arc::new(KeyRing::generating(move || {
            let _ = made_rx.lock().unwrap().recv();
            SigningKey::generate()
        }));
        assert!(!ring.is_ready());
        let blocking = std::thread::spawn({
            let ring = ring.clone();
            move || ring.active().kid().to_owned()
        });
        made_tx.send(()).unwrap();
        ring.ready().await.unwrap();
        assert!(ring.is_ready());
        assert_eq!(blocking.join().unwrap(), ring.active().kid());
        let jwks: serde_json::Value = serde_json::from_slice(&ring.jwks_bytes()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], ring.active().kid());
    }

    #[tokio::test]
    async fn rings_made_together_give_the_first_key_made_to_the_ring_somebody_waits_for() {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(released);
        // Both makers wait for the test's word before making a key.
        let rings = KeyRing::generating_together(2, move || {
            let _ = released.lock().unwrap().recv();
            SigningKey::generate()
        });
        // Somebody asks for the second ring (one poll registers the wait).
        let _ = tokio::time::timeout(std::time::Duration::ZERO, rings[1].ready()).await;
        release.send(()).unwrap();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(20), rings[1].ready());
        assert!(
            matches!(waited.await, Ok(Ok(()))),
            "the first key made goes to the ring waited for"
        );
        assert!(!rings[0].is_ready());
        release.send(()).unwrap();
        rings[0].ready().await.unwrap();
        assert_ne!(rings[0].active().kid(), rings[1].active().kid());
    }

    #[tokio::test]
    async fn rings_made_together_without_waiters_are_served_in_order_and_fail_together() {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(released);
        let rings = KeyRing::generating_together(3, move || {
            let word = released.lock().unwrap().recv();
            word.map_err(|_| KeyError::Generate)?;
            SigningKey::generate()
        });
        release.send(()).unwrap();
        rings[0].ready().await.unwrap();
        assert!(!rings[1].is_ready() && !rings[2].is_ready());
        // The makers give up (the channel closes): the rings still empty fail, none hangs.
        drop(release);
        assert!(matches!(rings[1].ready().await, Err(KeyError::Generate)));
        assert!(matches!(rings[2].ready().await, Err(KeyError::Generate)));
        assert!(rings[0].is_ready());
    }

    #[tokio::test]
    async fn a_ring_whose_key_cannot_be_made_fails_its_waiters_instead_of_hanging() {
        let ring = KeyRing::generating(|| Err(KeyError::Generate));
        assert!(matches!(ring.ready().await, Err(KeyError::Generate)));
        assert!(!ring.is_ready());
    }
}
