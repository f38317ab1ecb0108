//! The clock the server reads. Every "now" in token minting, expiry and
//! introspection comes from here, so tests move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The latest time the clock may be set or advanced to (9999-12-31T23:59:59Z, the last
/// second an HTTP date can name): far enough from `i64::MAX` that `now + lifetime` never wraps.
pub const LATEST: i64 = 253_402_300_799;

/// A shareable clock: the system clock plus an offset, or a frozen instant.
///
/// Cloning shares the same time source, so a test holding a clone of the
/// server's clock moves the server's time.
#[derive(Clone, Debug, Default)]
pub struct Clock(Arc<ClockState>);

#[derive(Debug, Default)]
struct ClockState {
    /// Milliseconds added to the system clock (or the frozen instant).
    offset_ms: AtomicI64,
    frozen: AtomicBool,
    frozen_at_ms: AtomicI64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock frozen at `unix_seconds`; it moves only when told to.
    pub fn frozen_at(unix_seconds: i64) -> Self {
        let clock = Self::default();
        clock.freeze_at(unix_seconds);
        clock
    }

    /// Now, in whole Unix seconds (the unit of JWT NumericDate claims).
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let state = &self.0;
        let base = if state.frozen.load(Ordering::Acquire) {
            state.frozen_at_ms.load(Ordering::Acquire)
        } else {
            system_now_ms()
        };
        base.saturating_add(state.offset_ms.load(Ordering::Acquire))
    }

    /// Moves time forward (the clock keeps running if it was running).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // Saturating: the control API bounds what it passes, the Rust handle may not.
        let _ = self
            .0
            .offset_ms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |offset| {
                Some(offset.saturating_add(ms))
            });
    }

    /// Sets the current time; a running clock keeps running from there.
    pub fn set(&self, unix_seconds: i64) {
        let base = if self.0.frozen.load(Ordering::Acquire) {
            self.0.frozen_at_ms.load(Ordering::Acquire)
        } else {
            system_now_ms()
        };
        self.0.offset_ms.store(
            unix_seconds.saturating_mul(1000).saturating_sub(base),
            Ordering::Release,
        );
    }

    /// Stops the clock at `unix_seconds`.
    pub fn freeze_at(&self, unix_seconds: i64) {
        self.0
            .frozen_at_ms
            .store(unix_seconds.saturating_mul(1000), Ordering::Release);
        self.0.offset_ms.store(0, Ordering::Release);
        self.0.frozen.store(true, Ordering::Release);
    }

    /// Back to the system clock, with no offset.
    pub fn reset(&self) {
        self.0.frozen.store(false, Ordering::Release);
        self.0.offset_ms.store(0, Ordering::Release);
    }

    pub fn is_frozen(&self) -> bool {
        self.0.frozen.load(Ordering::Acquire)
    }
}

/// The system's wall clock: the one place it is read. Token times go through [`Clock`]; this is
/// for what is measured against the file system's times (spare key files' ages).
#[allow(
    clippy::disallowed_methods,
    reason = "the clock module: the one read of the system clock"
)]
pub(crate) fn wall_clock() -> SystemTime {
    SystemTime::now()
}

fn system_now_ms() -> i64 {
    wall_clock()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::frozen_at(1_700_000_000);
        assert_eq!(clock.now(), 1_700_000_000);
        clock.advance(Duration::from_secs(3601));
        assert_eq!(clock.now(), 1_700_003_601);
        let shared = clock.clone();
        shared.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), 1_700_003_602);
    }

    #[test]
    fn set_moves_a_running_clock_to_the_given_time() {
        let clock = Clock::system();
        clock.set(2_000_000_000);
        let now = clock.now();
        assert!((2_000_000_000..2_000_000_005).contains(&now), "{now}");
        clock.reset();
        assert!(clock.now() < 2_000_000_000);
    }
}
