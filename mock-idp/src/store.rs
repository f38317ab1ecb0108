//! What the server remembers between requests: revoked tokens and used
//! client-assertion ids. Entries carry their expiry and are purged lazily.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Store {
    /// Revoked access-token `jti`s, with the token's `exp`.
    revoked: Mutex<HashMap<String, i64>>,
    /// `jti`s of client assertions already used, with the assertion's `exp`.
    used_assertions: Mutex<HashMap<String, i64>>,
}

impl Store {
    /// Records a revoked token until its own expiry.
    pub fn revoke(&self, jti: &str, exp: i64, now: i64) {
        let mut revoked = lock(&self.revoked);
        revoked.retain(|_, exp| *exp > now);
        revoked.insert(jti.to_owned(), exp);
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        lock(&self.revoked).contains_key(jti)
    }

    /// Records an assertion `jti`; false if it was already used and is still live.
    pub fn use_assertion(&self, key: &str, exp: i64, now: i64) -> bool {
        let mut used = lock(&self.used_assertions);
        used.retain(|_, exp| *exp > now);
        if used.contains_key(key) {
            return false;
        }
        used.insert(key.to_owned(), exp);
        true
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
