//! Time as an input: services ask a [`Clock`] for "now" so that expiry, lockout and QR lifetime
//! are tested by moving a clock, not by sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
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
        Utc::now() + *self.offset.lock().expect("clock lock")
    }
}
