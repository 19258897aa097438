//! Time as an input: services ask a [`Clock`] for "now" so that expiry, lockout and QR lifetime
//! are tested by moving a clock, not by sleeping.
//!
//! Every clock ticks in whole milliseconds: the store keeps timestamps as epoch milliseconds and
//! responses show three fraction digits, so a value read back equals the value written, and two
//! timestamps taken in one request have the same precision.

use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time, truncated to the millisecond.
    fn now(&self) -> DateTime<Utc>;
}

/// `at` without its sub-millisecond part.
fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::milliseconds(1)).unwrap_or(at)
}

/// The real wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(Utc::now())
    }
}

/// The wall clock shifted by an adjustable offset, for tests that need time to pass.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: Mutex<Duration>,
}

impl OffsetClock {
    /// Moves this clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().expect("clock lock") += by;
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(Utc::now() + *self.offset.lock().expect("clock lock"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_tick_in_whole_milliseconds() {
        let clock = OffsetClock::default();
        clock.advance(Duration::nanoseconds(123_456));
        for now in [SystemClock.now(), clock.now()] {
            assert_eq!(now.timestamp_subsec_nanos() % 1_000_000, 0, "{now:?}");
        }
    }
}
