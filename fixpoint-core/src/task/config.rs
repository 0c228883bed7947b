//! How a supervisor keeps its lease, reaps what dead owners left, and what it keeps of
//! finished tasks.

use std::time::Duration;

#[cfg(doc)]
use super::{Counters, Supervisor};
use crate::store::Retention;
#[cfg(doc)]
use crate::store::StatusStore;

/// How a supervisor keeps its lease, what it keeps of finished tasks, and for how long.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{task::Config, store::Retention};
///
/// let config = Config {
///     lease_ttl: Duration::from_secs(10),
///     heartbeat: Duration::from_secs(2),
///     retention: Retention { max_age: Some(Duration::from_secs(3600)), max_rows: None },
///     ..Config::default()
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long the lease lasts without renewal: after a crash, another process may reconcile
    /// this supervisor's rows once it has passed.
    pub lease_ttl: Duration,
    /// How often the lease is renewed (well under `lease_ttl`), and the store reaped: each
    /// heartbeat also deletes the leases that expired more than a `lease_ttl` ago (owners
    /// that died without releasing theirs, [`StatusStore::reap_leases`]) and, with
    /// [`end_orphans`](Self::end_orphans), ends the rows such owners left unfinished.
    pub heartbeat: Duration,
    /// Whether each heartbeat ends the orphans it finds (unfinished rows whose owner's lease
    /// lapsed): adopted, then moved to the `#[abandoned]` state with a reason naming the dead
    /// owner, so no row stays unfinished longer than the lease and one heartbeat, though the
    /// process that owned it never comes back. On by default. Turn it off to leave orphans
    /// to an explicit [`Supervisor::reconcile`] that resumes them (then only a process that
    /// calls it ends them).
    pub end_orphans: bool,
    /// Which terminal rows the store forgets (store-wide; non-terminal rows never).
    pub retention: Retention,
    /// How often the retention policy runs.
    pub prune_every: Duration,
    /// How many outcomes wait for [`Supervisor::join_next`] at most. Past that the oldest
    /// unread outcome is dropped and counted ([`Counters::outcomes_dropped`]); its row keeps
    /// its status and reason all the same. `0` keeps none: spawn and forget.
    pub unread_outcomes: usize,
}

impl Default for Config {
    /// A 30 s lease renewed every 5 s, orphans ended and dead leases reaped on the same
    /// beat; [`Retention::default`] applied every minute; up to 16,384 unread outcomes.
    fn default() -> Self {
        Config {
            lease_ttl: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            end_orphans: true,
            retention: Retention::default(),
            prune_every: Duration::from_secs(60),
            unread_outcomes: 16_384,
        }
    }
}
