//! Where supervised tasks' statuses live.

use core::future::Future;
use std::time::Duration;

use crate::lifecycle::{IllegalTransition, Lifecycle, State, UnknownState};

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

/// A store of task statuses with compare-and-set transitions.
///
/// The trait is small enough to implement over any database: rows keyed by id, an owner per
/// row, and a lease per owner so that two live supervisors never reconcile each other's rows.
/// Implementations refuse every transition the lifecycle does not allow
/// ([`Lifecycle::check_transition`]) and every transition from a state the row is not in.
pub trait StatusStore<L: Lifecycle>: Send + Sync + 'static {
    /// Creates the row of a new task in the `#[initial]` state, owned by `owner`.
    ///
    /// # Errors
    ///
    /// [`StoreError::IdTaken`] when a row with this id exists, finished or not: no row is
    /// overwritten.
    fn insert(&self, id: &str, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves the row from `from` to `to`, only if it is in `from` and the lifecycle allows it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Illegal`], [`StoreError::Conflict`] or [`StoreError::NotFound`]; the row
    /// is unchanged.
    fn transition(
        &self,
        id: &str,
        from: State<L>,
        to: State<L>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records why the row ended where it did.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], or the backend's error.
    fn annotate(
        &self,
        id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// The non-terminal rows whose owner holds no live lease: what a crashed process left.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn orphans(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Moves an orphan to `to_owner`, only if it still belongs to `from_owner` and is still
    /// in `status`. Returns whether it did.
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

    /// Every row, for inspection and tests.
    ///
    /// # Errors
    ///
    /// The backend's error.
    fn rows(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;
}

/// Why a store refused or failed a request. No variant loses a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A row with this id exists; ids are never reused.
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
    /// The storage backend failed.
    #[error("status store: {0}")]
    Backend(String),
}

/// A shared store: several supervisors of one process (or a supervisor and the code that
/// inspects its rows) can hold the same store.
impl<L: Lifecycle, S: StatusStore<L>> StatusStore<L> for std::sync::Arc<S> {
    fn insert(&self, id: &str, owner: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert(id, owner)
    }

    fn transition(
        &self,
        id: &str,
        from: State<L>,
        to: State<L>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).transition(id, from, to)
    }

    fn annotate(
        &self,
        id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).annotate(id, reason)
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

    fn rows(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send {
        (**self).rows()
    }
}
