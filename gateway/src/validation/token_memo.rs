//! What was learned about a token (its decoded parts, a verified signature), remembered by the
//! token's SHA-256 until a time. One map per proxy worker (`PerWorker`): no lock or reference
//! count is shared between cores, at the price of learning a token once per worker.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::per_worker::PerWorker;

/// One worker's map: token digest → the value and until when it holds.
type Map<V> = RwLock<HashMap<[u8; 32], (V, u64)>>;

/// Token digests → a value and until when it holds, at most `capacity` over all workers.
#[derive(Debug)]
pub(crate) struct TokenMemo<V> {
    maps: PerWorker<Map<V>>,
    /// Entries per worker beyond which expired ones are swept (and, if none expired, all are
    /// dropped).
    per_worker: usize,
}

impl<V: Clone> TokenMemo<V> {
    /// A memo of at most `capacity` entries in all (each worker a share, at least 1,024).
    pub(crate) fn new(capacity: usize) -> Self {
        let maps = PerWorker::default();
        let per_worker = (capacity / maps.len()).max(1024);
        Self { maps, per_worker }
    }

    /// The value for `digest`, if remembered on this worker and still held at `now`.
    pub(crate) fn get(&self, digest: &[u8; 32], now: u64) -> Option<V> {
        let map = self
            .maps
            .get()
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(digest)
            .filter(|(_, until)| now <= *until)
            .map(|(value, _)| value.clone())
    }

    /// Remembers `value` for `digest` until `until`.
    pub(crate) fn insert(&self, digest: [u8; 32], value: V, until: u64, now: u64) {
        let mut map = self
            .maps
            .get()
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.per_worker {
            map.retain(|_, (_, u)| now <= *u);
            if map.len() >= self.per_worker {
                map.clear();
            }
        }
        map.insert(digest, (value, until));
    }

    /// Entries on all workers.
    pub(crate) fn len(&self) -> usize {
        self.maps
            .iter()
            .map(|m| m.read().map_or(0, |m| m.len()))
            .sum()
    }
}
