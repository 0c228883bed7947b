//! What a supervisor tells its caller: how tasks ended, what a shutdown or a reconcile did,
//! and its counters.

use core::fmt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::child::TaskRecorder;
use crate::lifecycle::{Lifecycle, Recorded, Resume, State};
use crate::store::{Row, StoreError};

/// How one task ended, as its parent observes it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome<L> {
    /// The body returned a terminal proof in this state.
    Finished(State<L>),
    /// The body returned an error; the row is abandoned with its text as the reason.
    Failed(String),
    /// The body panicked; the row is abandoned with the panic message as the reason.
    Panicked(String),
    /// The task was aborted (directly, or by shutdown); the row is abandoned.
    Aborted,
    /// The row was adopted by another supervisor after this one's lease lapsed: the task was
    /// ended, and this supervisor wrote nothing more to the row (its new owner drives it).
    Fenced,
    /// The store refused the task's row (an id in use, a fenced owner, a constraint): its
    /// body never ran, and nothing was written to the row that holds the id.
    Refused(StoreError),
}

/// One finished task.
#[derive(Clone, PartialEq, Eq)]
pub struct Finished<L> {
    /// The task's id.
    pub id: Arc<str>,
    /// How it ended.
    pub outcome: Outcome<L>,
}

/// What a shutdown saw and left.
#[derive(Clone)]
pub struct Report<L> {
    /// The tasks that ended and that no `join_next` had read, the most recent
    /// [`Config::unread_outcomes`](super::Config::unread_outcomes) of them.
    pub finished: Vec<Finished<L>>,
    /// The tasks that had not stopped [`UNRESPONSIVE_AFTER`](super::UNRESPONSIVE_AFTER) past
    /// the grace (blocked in a synchronous call): their rows were ended without them.
    pub unresponsive: Vec<String>,
    /// The store's rows after the flush: every one of this supervisor's rows is terminal.
    pub rows: Vec<Row>,
    /// The writes the store refused since the last [`flush`](super::Supervisor::flush)
    /// reported them (the most recent [`KEPT_REFUSALS`]), by the id of their row: a write
    /// refused for its data ([`StoreError::Rejected`]) stands alone, and every other write
    /// of its batch landed.
    pub refused: Vec<RefusedWrite>,
}

/// A write the store refused, by the id of its row, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedWrite {
    /// The id of the row the write was for.
    pub id: String,
    /// Why the store refused it.
    pub error: StoreError,
}

/// What [`Supervisor::flush`](super::Supervisor::flush) reports once the store has applied
/// every write recorded before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flushed {
    /// The writes the store refused since the previous flush (the most recent
    /// [`KEPT_REFUSALS`]), by the id of their row. Each is reported once: by a flush, or by
    /// the shutdown's [`Report::refused`].
    pub refused: Vec<RefusedWrite>,
}

/// How many refused writes a supervisor keeps for its next [`Flushed`] or [`Report`]; past
/// that the oldest are forgotten (each is counted and, with feature `tracing`, logged when
/// it happens).
pub const KEPT_REFUSALS: usize = 1024;

impl<L: Lifecycle> fmt::Debug for Outcome<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Finished(state) => f.debug_tuple("Finished").field(state).finish(),
            Outcome::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            Outcome::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
            Outcome::Aborted => f.write_str("Aborted"),
            Outcome::Fenced => f.write_str("Fenced"),
            Outcome::Refused(error) => f.debug_tuple("Refused").field(error).finish(),
        }
    }
}

impl<L: Lifecycle> fmt::Debug for Finished<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("id", &self.id)
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl<L: Lifecycle> fmt::Debug for Report<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("finished", &self.finished)
            .field("unresponsive", &self.unresponsive)
            .field("rows", &self.rows)
            .field("refused", &self.refused)
            .finish()
    }
}

/// What a reconciliation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Orphans resumed as supervised tasks.
    pub resumed: Vec<String>,
    /// Orphans recorded as abandoned.
    pub abandoned: Vec<String>,
    /// Rows whose status is not a state of the lifecycle: left untouched, reported.
    pub poisoned: Vec<String>,
}

/// A row a stopped supervisor left non-terminal, rebuilt as its typed machine.
pub struct Orphan<L: Resume> {
    /// The task's id (also the machine's value).
    pub id: String,
    /// The supervisor instance that owned it.
    pub previous_owner: String,
    /// The stored state.
    pub state: State<L>,
    /// The typed machine, recording to this supervisor. Dropping it abandons the row.
    pub machine: L::Resumed<String, Recorded<TaskRecorder<L>>>,
}

impl<L: Resume> fmt::Debug for Orphan<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orphan")
            .field("id", &self.id)
            .field("previous_owner", &self.previous_owner)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The counters of a supervisor, readable at any time.
#[derive(Debug, Default)]
pub struct Counters {
    pub(super) running: AtomicU64,
    pub(super) completed: AtomicU64,
    pub(super) abandoned: AtomicU64,
    pub(super) reconciled: AtomicU64,
    pub(super) fenced: AtomicU64,
    pub(super) fenced_writes: AtomicU64,
    pub(super) unresponsive: AtomicU64,
    pub(super) pruned: AtomicU64,
    pub(super) outcomes_dropped: AtomicU64,
    pub(super) store_errors: AtomicU64,
    pub(super) rejected_writes: AtomicU64,
    pub(super) leases_reaped: AtomicU64,
    pub(super) orphans_ended: AtomicU64,
    pub(super) refused_spawns: AtomicU64,
    /// Refused writes not yet reported, the most recent [`KEPT_REFUSALS`].
    pub(super) refused: Mutex<VecDeque<RefusedWrite>>,
}

impl Counters {
    /// Tasks spawned whose body has not ended yet: exact at all times, whether or not anyone
    /// calls `join_next`.
    #[must_use]
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::Acquire)
    }

    /// Tasks that ended in a terminal state other than the abandoned one.
    #[must_use]
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Tasks that ended abandoned: an error, a panic, an abort, or `abandon()`.
    #[must_use]
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Orphans handled by `reconcile`.
    #[must_use]
    pub fn reconciled(&self) -> u64 {
        self.reconciled.load(Ordering::Relaxed)
    }

    /// Tasks ended because their row was adopted by another supervisor (see
    /// [`StoreError::Fenced`]).
    #[must_use]
    pub fn fenced(&self) -> u64 {
        self.fenced.load(Ordering::Relaxed)
    }

    /// Writes the store refused because another supervisor owns their row now (see
    /// [`StoreError::Fenced`]), each one: those of tasks still running (which [`fenced`]
    /// counts as they are ended) and those of tasks that had already returned when their last
    /// write was refused (their outcome stands; the row is the new owner's).
    ///
    /// [`fenced`]: Self::fenced
    #[must_use]
    pub fn fenced_writes(&self) -> u64 {
        self.fenced_writes.load(Ordering::Relaxed)
    }

    /// Tasks still running past a shutdown's grace (blocked in a synchronous call), whose
    /// rows the supervisor ended without them.
    #[must_use]
    pub fn unresponsive(&self) -> u64 {
        self.unresponsive.load(Ordering::Relaxed)
    }

    /// Terminal rows the retention policy pruned from the store.
    #[must_use]
    pub fn pruned(&self) -> u64 {
        self.pruned.load(Ordering::Relaxed)
    }

    /// Outcomes dropped, oldest first, because more than
    /// [`Config::unread_outcomes`](super::Config::unread_outcomes) were waiting for a
    /// `join_next`. Their rows have their status and reason all the same.
    #[must_use]
    pub fn outcomes_dropped(&self) -> u64 {
        self.outcomes_dropped.load(Ordering::Relaxed)
    }

    /// Store requests that failed (each also reported through `tracing`, with that feature).
    /// A batch that failed is retried whole; none is lost or half-written.
    #[must_use]
    pub fn store_errors(&self) -> u64 {
        self.store_errors.load(Ordering::Relaxed)
    }

    /// Writes the store refused for their data ([`StoreError::Rejected`]): each stood alone,
    /// and the rest of its batch landed.
    #[must_use]
    pub fn rejected_writes(&self) -> u64 {
        self.rejected_writes.load(Ordering::Relaxed)
    }

    /// Leases of dead owners this supervisor deleted on its heartbeats
    /// ([`StatusStore::reap_leases`](crate::store::StatusStore::reap_leases)).
    #[must_use]
    pub fn leases_reaped(&self) -> u64 {
        self.leases_reaped.load(Ordering::Relaxed)
    }

    /// Orphans (unfinished rows of owners whose lease lapsed) this supervisor's heartbeats
    /// ended, with [`Config::end_orphans`](super::Config::end_orphans).
    #[must_use]
    pub fn orphans_ended(&self) -> u64 {
        self.orphans_ended.load(Ordering::Relaxed)
    }

    /// Tasks whose row the store refused ([`Outcome::Refused`]): their body never ran.
    #[must_use]
    pub fn refused_spawns(&self) -> u64 {
        self.refused_spawns.load(Ordering::Relaxed)
    }

    /// Keeps a refused write for the next flush or shutdown to report.
    pub(super) fn note_refused(&self, id: &str, error: StoreError) {
        if matches!(error, StoreError::Rejected { .. }) {
            Counters::add(&self.rejected_writes, 1);
        }
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() == KEPT_REFUSALS {
            refused.pop_front();
        }
        refused.push_back(RefusedWrite {
            id: id.to_owned(),
            error,
        });
    }

    /// Counts a write (or a lease renewal, a prune, a reap) the store failed.
    pub(super) fn note_failed(&self, _error: &StoreError) {
        Counters::add(&self.store_errors, 1);
        #[cfg(feature = "tracing")]
        tracing::error!(error = %_error, "status store write failed");
    }

    /// The refused writes kept since the last call.
    pub(super) fn take_refused(&self) -> Vec<RefusedWrite> {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.drain(..).collect()
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        // Adding nothing writes nothing: the counters' line is shared by every worker.
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Why a task was not spawned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The store refused the row (an id already in use, a fenced owner, a constraint).
    #[error(transparent)]
    Store(#[from] StoreError),
}
