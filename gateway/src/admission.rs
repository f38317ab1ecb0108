//! Who may hold a client connection on a listener: at most `max_connections` at once, at most
//! `max_connections_per_client` from one address, and when either is reached the oldest
//! connection in that scope with no request in flight (silent, half a head, a handshake, or
//! idle between requests) is closed to make room, as nginx reuses keep-alive connections and
//! HAProxy closes idle ones, rather than refusing the newcomer. Only when every connection in
//! the scope is busy is the new one refused. So silent connections cannot lock clients out,
//! and reconnecting only evicts the attacker's own older connections first.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A listener's connections.
#[derive(Debug)]
pub(crate) struct Admission {
    max: usize,
    per_client: usize,
    table: Mutex<Table>,
    /// For `/metrics`: closed to make room, refused at the per-client cap, refused when full.
    evicted: AtomicU64,
    refused_per_client: AtomicU64,
    refused_full: AtomicU64,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    /// By age: ids only grow.
    open: BTreeMap<u64, (IpAddr, Arc<ConnState>)>,
    per_client: HashMap<IpAddr, usize>,
}

/// What a connection's task and the admission share.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    in_flight: AtomicUsize,
    evicted: AtomicBool,
    evict: Notify,
}

impl ConnState {
    /// Marks a request in flight until the guard is dropped (with its response body).
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Whether no request is in flight.
    pub(crate) fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    /// Ends once the connection was chosen to make room for another.
    pub(crate) async fn evicted(&self) {
        let notified = self.evict.notified();
        if self.evicted.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_connections_per_client` busy connections from its address.
    PerClient,
    /// `max_connections` busy connections.
    Full,
}

impl Admission {
    pub(crate) fn new(max: usize, per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            per_client: per_client.max(1),
            table: Mutex::new(Table::default()),
            evicted: AtomicU64::new(0),
            refused_per_client: AtomicU64::new(0),
            refused_full: AtomicU64::new(0),
        })
    }

    /// The listener's connection counters, in Prometheus text.
    pub(crate) fn render(&self, listener: &str, out: &mut String) {
        let open = self.table.lock().map_or(0, |t| t.open.len());
        let _ = write!(
            out,
            "# HELP gateway_connections_open Client connections open, by listener.\n\
             # TYPE gateway_connections_open gauge\n\
             gateway_connections_open{{listener=\"{listener}\"}} {open}\n\
             # HELP gateway_connections_closed_total Connections closed by the caps: an idle one to make room, or a new one refused.\n\
             # TYPE gateway_connections_closed_total counter\n\
             gateway_connections_closed_total{{listener=\"{listener}\",reason=\"made_room\"}} {}\n\
             gateway_connections_closed_total{{listener=\"{listener}\",reason=\"max_connections_per_client\"}} {}\n\
             gateway_connections_closed_total{{listener=\"{listener}\",reason=\"max_connections\"}} {}\n",
            self.evicted.load(Ordering::Relaxed),
            self.refused_per_client.load(Ordering::Relaxed),
            self.refused_full.load(Ordering::Relaxed),
        );
    }

    /// Admits a connection from `addr`, closing an idle one first if a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, addr: IpAddr) -> Result<Admitted, Refused> {
        let mut t = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.per_client.get(&addr).copied().unwrap_or(0) >= self.per_client {
            if !t.evict_oldest_idle(Some(addr)) {
                self.refused_per_client.fetch_add(1, Ordering::Relaxed);
                return Err(Refused::PerClient);
            }
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        if t.open.len() >= self.max {
            if !t.evict_oldest_idle(None) {
                self.refused_full.fetch_add(1, Ordering::Relaxed);
                return Err(Refused::Full);
            }
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let id = t.next_id;
        t.next_id += 1;
        let state = Arc::new(ConnState::default());
        t.open.insert(id, (addr, state.clone()));
        *t.per_client.entry(addr).or_default() += 1;
        Ok(Admitted {
            admission: self.clone(),
            id,
            state,
        })
    }

    /// Connections counted now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.table.lock().map(|t| t.open.len()).unwrap_or(0)
    }
}

impl Table {
    /// Closes the oldest connection with no request in flight (from `addr`, if given); false
    /// when there is none. It no longer counts from here on: its task drops it promptly.
    fn evict_oldest_idle(&mut self, addr: Option<IpAddr>) -> bool {
        let victim = self
            .open
            .iter()
            .find(|(_, (a, s))| addr.is_none_or(|addr| *a == addr) && s.idle())
            .map(|(id, _)| *id);
        let Some(id) = victim else { return false };
        if let Some((_, state)) = self.remove(id) {
            state.evicted.store(true, Ordering::Release);
            state.evict.notify_waiters();
            tracing::debug!("an idle connection was closed to make room for a new one");
        }
        true
    }

    fn remove(&mut self, id: u64) -> Option<(IpAddr, Arc<ConnState>)> {
        let (addr, state) = self.open.remove(&id)?;
        if let std::collections::hash_map::Entry::Occupied(mut e) = self.per_client.entry(addr) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
        Some((addr, state))
    }
}

/// One admitted connection, counted until dropped (with its task) or evicted.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    id: u64,
    pub(crate) state: Arc<ConnState>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut t = self
            .admission
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        t.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn a_full_listener_closes_its_oldest_idle_connection_for_a_new_one() {
        let adm = Admission::new(2, 10);
        let first = adm.admit(A).unwrap();
        let second = adm.admit(A).unwrap();
        let _busy = second.state.begin();
        let third = adm.admit(B).unwrap();
        assert!(first.state.evicted.load(Ordering::Relaxed));
        assert!(!second.state.evicted.load(Ordering::Relaxed));
        assert_eq!(adm.open(), 2);
        let _also_busy = third.state.begin();
        assert_eq!(adm.admit(B).unwrap_err(), Refused::Full);
        drop(first);
        assert_eq!(adm.open(), 2, "an evicted connection is not counted twice");
    }

    #[test]
    fn a_client_at_its_cap_makes_room_among_its_own_connections() {
        let adm = Admission::new(10, 2);
        let a1 = adm.admit(A).unwrap();
        let b1 = adm.admit(B).unwrap();
        let a2 = adm.admit(A).unwrap();
        let _a3 = adm.admit(A).unwrap();
        assert!(a1.state.evicted.load(Ordering::Relaxed));
        assert!(!b1.state.evicted.load(Ordering::Relaxed));
        let _busy = (a2.state.begin(), _a3.state.begin());
        assert_eq!(adm.admit(A).unwrap_err(), Refused::PerClient);
        assert!(adm.admit(B).is_ok());
    }
}
