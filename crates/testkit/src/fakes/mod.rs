//! In-memory fakes of the ports for unit tests: a store, clocks, and recording notifier, pager and
//! executor that can be told to fail. Each is `Send + Sync` and meant to be shared through an
//! `Arc`, with the test keeping a handle to inspect what was recorded.

mod clock;
mod executor;
mod notifier;
mod pager;
mod store;

pub use clock::{FixedClock, ManualClock};
pub use executor::{Execution, ScriptedExecutor};
pub use notifier::{Notification, RecordingNotifier};
pub use pager::{Page, PagerMode, RecordingPager};
pub use store::MemoryStore;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a fake's state. A test that panicked while holding the lock has already failed; the
/// state is still worth reading, so poisoning is ignored.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
