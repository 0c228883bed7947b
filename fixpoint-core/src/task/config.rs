//! How a supervisor keeps its lease, reaps what dead owners left, and what it keeps of
//! finished tasks.

use std::time::Duration;

#[cfg(doc)]
use super::{Counters, Supervisor};
use crate::store::Retention;
#[cfg(doc)]
use crate::store::StatusStore;

/// How a supervisor keeps its lease, what it keeps of finished tasks, and for how long:
/// [`Config::new`] (the defaults), then a setter for each thing to change.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{store::Retention, task::Config};
///
/// let config = Config::new()
///     .lease_ttl(Duration::from_secs(10))
///     .heartbeat(Duration::from_secs(2))
///     .retention(Retention { max_age: Some(Duration::from_secs(3600)), max_rows: None });
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub(crate) lease_ttl: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) end_orphans: bool,
    pub(crate) retention: Retention,
    pub(crate) prune_every: Duration,
    pub(crate) unread_outcomes: usize,
    pub(crate) queued_spawns: usize,
}

impl Config {
    /// The defaults: a 30 s lease renewed every 5 s, orphans ended and dead leases reaped on
    /// the same beat; [`Retention::default`] applied every minute; up to 16,384 unread
    /// outcomes, and 16,384 spawns whose rows are queued.
    #[must_use]
    pub const fn new() -> Self {
        Config {
            lease_ttl: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            end_orphans: true,
            retention: Retention::DEFAULT,
            prune_every: Duration::from_secs(60),
            unread_outcomes: 16_384,
            queued_spawns: 16_384,
        }
    }

    /// How long the lease lasts without renewal (default 30 s): after a crash, another
    /// process may reconcile this supervisor's rows once it has passed.
    #[must_use]
    pub const fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// How often the lease is renewed (default 5 s; keep it well under the
    /// [`lease_ttl`](Self::lease_ttl)), and the store reaped: each heartbeat also deletes the
    /// leases that expired more than a `lease_ttl` ago (owners that died without releasing
    /// theirs, [`StatusStore::reap_leases`]) and, with [`end_orphans`](Self::end_orphans),
    /// ends the rows such owners left unfinished.
    #[must_use]
    pub const fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Whether each heartbeat ends the orphans it finds (unfinished rows whose owner's lease
    /// lapsed): adopted, then moved to the `#[abandoned]` state with a reason naming the dead
    /// owner, so no row stays unfinished longer than the lease and one heartbeat, though the
    /// process that owned it never comes back. On by default. Turn it off to leave orphans
    /// to an explicit [`Supervisor::reconcile`] that resumes them (then only a process that
    /// calls it ends them).
    #[must_use]
    pub const fn end_orphans(mut self, end: bool) -> Self {
        self.end_orphans = end;
        self
    }

    /// Which terminal rows the store forgets (store-wide; non-terminal rows never; default
    /// [`Retention::default`]).
    #[must_use]
    pub const fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How often the retention policy runs (default every minute).
    #[must_use]
    pub const fn prune_every(mut self, every: Duration) -> Self {
        self.prune_every = every;
        self
    }

    /// How many outcomes wait for [`Supervisor::join_next`] at most (default 16,384). Past
    /// that the oldest unread outcome is dropped and counted
    /// ([`Counters::outcomes_dropped`]); its row keeps its status and reason all the same.
    /// `0` keeps none: spawn and forget.
    #[must_use]
    pub const fn unread_outcomes(mut self, outcomes: usize) -> Self {
        self.unread_outcomes = outcomes;
        self
    }

    /// How many spawned tasks may wait for their row to commit at once (default 16,384; at
    /// least 1). [`Supervisor::spawn`] returns without waiting for the commit; past this
    /// many, it waits until the store has caught up, so that a spawning loop faster than the
    /// store holds a bounded number of tasks (and their futures) in memory rather than all of
    /// them. A store that applies writes at once never makes a spawn wait.
    #[must_use]
    pub const fn queued_spawns(mut self, spawns: usize) -> Self {
        self.queued_spawns = if spawns == 0 { 1 } else { spawns };
        self
    }
}

impl Default for Config {
    /// [`Config::new`].
    fn default() -> Self {
        Self::new()
    }
}
