//! Clocks that tests control.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use iras_core::ports::Clock;

use super::lock;
use crate::samples::base_time;

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub DateTime<Utc>);

impl Default for FixedClock {
    /// Stopped at [`base_time`].
    fn default() -> Self {
        Self(base_time())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock that moves only when the test moves it.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Sets the time.
    pub fn set(&self, to: DateTime<Utc>) {
        *lock(&self.now) = to;
    }

    /// Moves the time forward by `by` (backward if negative).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = lock(&self.now);
        *now += by;
    }
}

impl Default for ManualClock {
    /// Starts at [`base_time`].
    fn default() -> Self {
        Self::new(base_time())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}
