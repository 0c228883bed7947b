//! Where supervised tasks' statuses live: the store contract every backend keeps.

use core::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::{IllegalTransition, Lifecycle, State, UnknownState};

pub use super::write::{
    MAX_REASON_BYTES, Retention, RowChange, RowWrite, Transition, sanitize_reason,
};

/// One task's status row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The task's id, unique in the store.
    pub id: String,
    /// The supervisor instance that owns the row (see [`StatusStore::renew_lease`]).
    pub owner: String,
    /// The state's name, as stored.
    pub status: String,
    /// Why the task ended where it did, when it did not finish on its own: the error text, the
    /// panic message, "aborted", or a reconciliation's reason.
    pub reason: Option<String>,
    /// When the row turned terminal, in milliseconds since the Unix epoch (a store may read
    /// a coarse clock, a few milliseconds off); `None` while it is not terminal. A restart
    /// supervisor resumes its restart window from these after a crash
    /// ([`RestartSupervisor`](crate::restart::RestartSupervisor)).
    pub finished_at: Option<i64>,
}

impl Row {
    /// The stored status as a state of `L`.
    ///
    /// # Errors
    ///
    /// [`UnknownState`] for a poisoned row.
    pub fn state<L: Lifecycle>(&self) -> Result<State<L>, UnknownState> {
        State::parse(&self.status)
    }
}

/// What a batch did: the writes the store refused, each with its index in the batch; every
/// write not listed was applied. Empty when all were.
pub type Refused = Vec<(usize, StoreError)>;

/// A store of task statuses with compare-and-set transitions, fenced by owner.
///
/// The trait is small enough to implement over any database: rows keyed by id, an owner per
/// row, and a lease per owner so that two live supervisors never reconcile each other's rows.
/// Every write names its owner and is refused ([`StoreError::Fenced`]) when the row belongs
/// to someone else: a supervisor whose lease lapsed and whose rows were adopted cannot drive
/// them any more. Transitions arrive checked ([`Transition`]); a store refuses every one from
/// a state the row is not in.
///
/// `tests/store/store_contract.rs` holds the contract every backend passes; a new backend runs it
/// by adding one line there.
pub trait StatusStore<L: Lifecycle>: Send + Sync + 'static {
    /// Creates the row of a new task in the `#[initial]` state, owned by `owner`.
    ///
    /// # Errors
    ///
    /// [`StoreError::IdTaken`] when a row with this id exists, finished or not: no row is
    /// overwritten.
    fn insert(&self, id: &str, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Like [`insert`](Self::insert), for an id and an owner the caller already shares: a
    /// store that keeps them in memory may keep these rather than copies (and then know the
    /// caller's later writes by pointer). (A supervisor inserts its tasks' rows through
    /// [`apply`](Self::apply), as [`RowChange::Insert`] writes.)
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    fn insert_shared(
        &self,
        id: &Arc<str>,
        owner: &Arc<str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.insert(id, owner)
    }

    /// Applies `writes` for `owner`, in order, as one unit where the backend has one (a single
    /// transaction in SQL stores), and returns the writes it refused, by index:
    /// [`StoreError::IdTaken`] for an insert ([`RowChange::Insert`]) whose id a row holds,
    /// [`StoreError::NotFound`], [`StoreError::Fenced`] when the row is not `owner`'s,
    /// [`StoreError::Conflict`] when a transition's row is not in its `from` state,
    /// [`StoreError::Rejected`] when the backend refused that write for its data (a constraint,
    /// a value it cannot hold). A refused write changes nothing and the others still apply:
    /// one bad write never holds back its batch.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the batch could not be applied for a reason that is not
    /// its data (the connection lost, the server restarting, a lock timeout, a full disk):
    /// then none of it was, and the caller may retry it whole.
    fn apply(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> impl Future<Output = Result<Refused, StoreError>> + Send;

    /// Applies `writes` at once on the calling thread, if this store can do so without waiting
    /// on anything but a short lock (an in-memory store); `None`, the default, if it cannot.
    /// When it can, the supervisor applies each write as its task makes it instead of batching
    /// writes through its writer thread: there is no I/O to amortize. A store answers the same
    /// way on every call; when it answers, [`apply`](Self::apply)'s contract holds.
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply). A supervisor that meets an error here hands the write to its
    /// writer, which retries it, and batches every later write.
    fn apply_now(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> Option<Result<Refused, StoreError>> {
        let _ = (owner, writes);
        None
    }

    /// How many batches this store applies side by side to advantage (several connections to
    /// a server that runs them in parallel); 1, the default, for a store that applies one at a
    /// time. A supervisor's writer splits its batches into that many lanes by row and applies
    /// them at once: a row's writes always take the same lane, so they stay in order.
    fn parallel_batches(&self) -> usize {
        1
    }

    /// Declares `owner` alive for `ttl` more.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn renew_lease(
        &self,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Declares `owner` gone.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn release_lease(&self, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the leases that expired more than `grace` ago, and returns how many: the
    /// lease rows of owners that died without releasing theirs (a SIGKILL, a lost host). Every
    /// live supervisor calls it on its heartbeat, so a crashed owner's lease row is reaped by
    /// the survivors. A deleted lease changes nothing else: its owner's unfinished rows were
    /// orphans already (an owner with no live lease), and an owner that renews writes a new
    /// one.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn reap_leases(&self, grace: Duration) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The non-terminal rows whose owner holds no live lease: what a crashed process left.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn orphans(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Moves an orphan to `to_owner`: only if it still belongs to `from_owner`, is still in
    /// `status`, and `from_owner` holds no live lease (compare-and-set on all three). Returns
    /// whether it did.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets the terminal rows `retention` lets go, and returns how many. Never touches a
    /// non-terminal row.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn prune(&self, retention: Retention) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every row, for inspection and tests.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn rows(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Moves row `id` from `from` to `to` for `owner`: a batch of one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Illegal`] for an undeclared edge, and what [`apply`](Self::apply) returns.
    fn transition(
        &self,
        id: &str,
        owner: &str,
        from: State<L>,
        to: State<L>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let write = Transition::new(from, to).map(|checked| RowWrite::transition(id, checked));
        async move { single(self.apply(owner, &[write?]).await) }
    }

    /// Sets row `id`'s reason for `owner`: a batch of one.
    ///
    /// # Errors
    ///
    /// What [`apply`](Self::apply) returns.
    fn annotate(
        &self,
        id: &str,
        owner: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let write = RowWrite::reason(id, reason);
        async move { single(self.apply(owner, &[write]).await) }
    }
}

fn single(applied: Result<Refused, StoreError>) -> Result<(), StoreError> {
    match applied?.pop() {
        None => Ok(()),
        Some((_, refusal)) => Err(refusal),
    }
}

/// Why a store refused or failed a request. No variant loses a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A row with this id exists; ids are never reused while it does.
    #[error(
        "task id `{id}` is taken (its row is `{status}`); ids are not reused, so no row is lost"
    )]
    IdTaken {
        /// The id.
        id: String,
        /// The existing row's status.
        status: String,
    },
    /// No row has this id.
    #[error("no status row has id `{id}`")]
    NotFound {
        /// The id.
        id: String,
    },
    /// The row is not in the state the transition leaves.
    #[error("task `{id}` is `{found}`, not `{expected}`: the transition was refused")]
    Conflict {
        /// The id.
        id: String,
        /// The state the transition leaves.
        expected: &'static str,
        /// The row's actual status.
        found: String,
    },
    /// The row belongs to another supervisor: the writer's lease lapsed and the row was
    /// adopted. The write was refused; the writer must not drive the row again.
    #[error(
        "task `{id}` now belongs to `{owner}`, not to the writer: its lease lapsed and the row \
         was adopted, so the write was refused"
    )]
    Fenced {
        /// The id.
        id: String,
        /// The row's current owner.
        owner: String,
    },
    /// The lifecycle does not allow the transition.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The row's status is not a state of the lifecycle.
    #[error(
        "task `{id}` has status `{status}`, which is not a state of its lifecycle; the row is left as it is"
    )]
    Poisoned {
        /// The id.
        id: String,
        /// The stored status.
        status: String,
    },
    /// The backend refused this one write for its data (a constraint of the table, a value it
    /// cannot hold): the write changed nothing, and the other writes of its batch applied. It
    /// is not retried: the same data would be refused again.
    #[error(
        "the status store refused a write to task `{id}` for its data: {cause}; the write was \
         dropped, the rest of its batch applied"
    )]
    Rejected {
        /// The id of the row the write was for.
        id: String,
        /// What the backend said.
        cause: String,
    },
    /// Opening the store would migrate its table to a lifecycle that no longer declares
    /// states some rows hold: nothing was changed. Move those rows to declared states (or
    /// delete them), or declare the states again.
    #[error(
        "table `{table}` holds rows in states the lifecycle no longer declares ({}); nothing \
         was migrated: move those rows to declared states or delete them, or declare the \
         states again",
        list_states(rows)
    )]
    StatesRemoved {
        /// The table.
        table: String,
        /// Each state the lifecycle no longer declares, with how many rows hold it.
        rows: Vec<(String, u64)>,
    },
    /// The storage backend failed.
    #[error("status store: {0}")]
    Backend(String),
}

fn list_states(rows: &[(String, u64)]) -> String {
    let listed: Vec<String> = rows
        .iter()
        .map(|(state, count)| {
            let plural = if *count == 1 { "" } else { "s" };
            format!("`{state}`: {count} row{plural}")
        })
        .collect();
    listed.join(", ")
}

/// A shared store: several supervisors of one process (or a supervisor and the code that
/// inspects its rows) can hold the same store.
impl<L: Lifecycle, S: StatusStore<L>> StatusStore<L> for Arc<S> {
    fn insert(&self, id: &str, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert(id, owner)
    }

    fn insert_shared(
        &self,
        id: &Arc<str>,
        owner: &Arc<str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert_shared(id, owner)
    }

    fn apply(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> impl Future<Output = Result<Refused, StoreError>> + Send {
        (**self).apply(owner, writes)
    }

    fn apply_now(
        &self,
        owner: &str,
        writes: &[RowWrite<L>],
    ) -> Option<Result<Refused, StoreError>> {
        (**self).apply_now(owner, writes)
    }

    fn parallel_batches(&self) -> usize {
        (**self).parallel_batches()
    }

    fn renew_lease(
        &self,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).renew_lease(owner, ttl)
    }

    fn release_lease(&self, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).release_lease(owner)
    }

    fn reap_leases(&self, grace: Duration) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).reap_leases(grace)
    }

    fn orphans(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send {
        (**self).orphans()
    }

    fn adopt(
        &self,
        id: &str,
        from_owner: &str,
        status: State<L>,
        to_owner: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).adopt(id, from_owner, status, to_owner)
    }

    fn prune(&self, retention: Retention) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).prune(retention)
    }

    fn rows(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send {
        (**self).rows()
    }
}
