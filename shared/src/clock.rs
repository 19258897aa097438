//! Time as an input: services ask a [`Clock`] for "now" so that expiry, lockout and QR lifetime
//! are tested by moving a clock, not by sleeping: tests run on a [`ManualClock`].
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

/// A clock that stands still until it is moved: it starts at a chosen instant and time passes
/// only when [`ManualClock::advance`] says so. Tests run on it, so what they see (rate-limit
/// windows, expiry, ordering by time) depends on the steps they take, never on how fast the
/// machine runs them.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn starting_at(at: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Mutex::new(at),
        }
    }

    /// Moves this clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(*self.now.lock().expect("clock lock"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_tick_in_whole_milliseconds() {
        let clock = ManualClock::starting_at(DateTime::UNIX_EPOCH);
        clock.advance(Duration::nanoseconds(123_456));
        for now in [SystemClock.now(), clock.now()] {
            assert_eq!(now.timestamp_subsec_nanos() % 1_000_000, 0, "{now:?}");
        }
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let start = DateTime::UNIX_EPOCH + Duration::days(20_000);
        let clock = ManualClock::starting_at(start);
        assert_eq!(clock.now(), start);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(61));
        assert_eq!(clock.now(), start + Duration::seconds(61));
    }
}
