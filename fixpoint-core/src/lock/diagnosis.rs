//! What a lock says about itself: its holders, its gauges, and the error of a wait that gave up.

use core::fmt;
use std::panic::Location;
use std::time::Duration;

/// Who holds a lock: where it was acquired, its label, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Where the permit was acquired.
    pub location: &'static Location<'static>,
    /// The label set with [`Permit::set_label`](crate::lock::Permit::set_label) or a guard's
    /// `set_label`.
    pub label: Option<String>,
    /// How long the permit had been held when this was read.
    pub held_for: Duration,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(label) = &self.label {
            write!(f, "`{label}` ")?;
        }
        write!(
            f,
            "acquired at {}, held for {}",
            self.location,
            human(self.held_for)
        )
    }
}

/// A wait for a lock that gave up; it names who held it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use fixpoint::{lock::{LockKind, LockScope, Mutex}};
///
/// let cache = Mutex::new("cache", 0_u32);
/// let scope = LockScope::unchecked("a doctest");
/// let held = cache.lock(&scope).await;
/// let stalled = cache.lock_timeout(&scope, Duration::from_millis(5)).await.unwrap_err();
/// assert_eq!((stalled.kind, stalled.holders.len()), (LockKind::Mutex, 1));
/// assert!(stalled.to_string().starts_with("mutex `cache` did not come free within"));
/// drop(held);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
pub struct AcquireTimeout {
    /// The lock's name.
    pub lock: String,
    /// What kind of lock, and which access, was waited for.
    pub kind: LockKind,
    /// How many may hold it at once: the permits of a semaphore, 1 for a mutex, the most
    /// readers of an rwlock.
    pub permits: usize,
    /// How long the acquisition waited.
    pub waited: Duration,
    /// Who held it when the wait gave up, the longest hold first.
    pub holders: Vec<Holder>,
}

/// What a timed-out acquisition waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockKind {
    /// A permit of a [`Semaphore`](crate::lock::Semaphore).
    Semaphore,
    /// A [`Mutex`](crate::lock::Mutex).
    Mutex,
    /// Read access to an [`RwLock`](crate::lock::RwLock).
    Read,
    /// Write access to an [`RwLock`](crate::lock::RwLock).
    Write,
}

fn describe(timeout: &AcquireTimeout) -> String {
    let AcquireTimeout {
        lock,
        permits,
        waited,
        holders,
        ..
    } = timeout;
    let (waited, holders) = (human(*waited), list(holders));
    match timeout.kind {
        LockKind::Semaphore => format!(
            "no permit of semaphore `{lock}` came free within {waited}: all {permits} are held \
             ({holders})"
        ),
        LockKind::Mutex => {
            format!("mutex `{lock}` did not come free within {waited}: it is held ({holders})")
        }
        LockKind::Read => {
            format!("rwlock `{lock}` gave no read access within {waited}: it is held ({holders})")
        }
        LockKind::Write => {
            format!("rwlock `{lock}` gave no write access within {waited}: it is held ({holders})")
        }
    }
}

fn list(holders: &[Holder]) -> String {
    let holders: Vec<String> = holders.iter().map(ToString::to_string).collect();
    holders.join("; ")
}

/// `93m05s`, `4.2s`, `120ms`: durations as a person reads them.
pub(crate) fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 3600 {
        format!("{}h{:02}m{:02}s", secs / 3600, secs % 3600 / 60, secs % 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else if secs >= 1 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The gauges of a lock, read by [`Semaphore::gauges`](crate::lock::Semaphore::gauges),
/// [`Mutex::gauges`](crate::lock::Mutex::gauges) or [`RwLock::gauges`](crate::lock::RwLock::gauges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gauges {
    /// How many may hold the lock at once: the permits of a semaphore, 1 for a mutex, the most
    /// readers of an rwlock.
    pub permits: usize,
    /// Holds now: permits held, 1 for a locked mutex, readers (or 1 writer) of an rwlock.
    pub in_flight: usize,
    /// Tasks waiting for the lock now.
    pub waiters: usize,
    /// The longest current hold, if the lock is held.
    pub longest_hold: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_reads_them() {
        assert_eq!(human(Duration::from_secs(93 * 60 + 5)), "1h33m05s");
        assert_eq!(human(Duration::from_secs(125)), "2m05s");
        assert_eq!(human(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(human(Duration::from_millis(120)), "120ms");
    }
}
