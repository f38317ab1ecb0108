//! The wall clock, read here only: the suite judges servers that live in real time (a token's
//! `exp`/`iat` against now, a report's start time). The in-process mock's clock is moved through
//! `Ctx::clock`, never read here.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Unix time now, in seconds.
#[allow(
    clippy::disallowed_methods,
    reason = "the clock module: the suite's one read of the system clock"
)]
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A start point for measuring how long a run took.
#[allow(
    clippy::disallowed_methods,
    reason = "elapsed time for the report, not a time any check judges"
)]
pub fn stopwatch() -> Instant {
    Instant::now()
}
