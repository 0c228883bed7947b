//! Supervised tasks: a task exits if and only if its status is terminal, even across a crash.
//!
//! A [`Supervisor`] spawns tasks whose body receives a typed machine in its `#[initial]` state
//! and must return its [`Terminal`](crate::Terminal) proof. Every transition is recorded in a
//! [`StatusStore`]; every way a task can end (return, error, panic, abort, the supervisor
//! dropped or shut down) ends in a recorded terminal status; and [`Supervisor::reconcile`]
//! finishes the rows a crashed process left behind. [`MemoryStore`] ships always,
//! `SqliteStore` with feature `sqlite`,
//! `PostgresStore` with feature `postgres`.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod restart;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rules;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod supervisor;
mod write;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_POOL_SIZE, PgIoThread, PostgresStore};
pub use restart::{
    Attempt, ChildError, ChildInfo, ChildSpec, ChildState, Intensity, Restart, RestartBackoff,
    RestartBuilder, RestartCounters, RestartError, RestartReport, RestartSupervisor, Strategy,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{
    MAX_REASON_BYTES, Refused, Retention, Row, RowChange, RowWrite, StatusStore, StoreError,
    Transition, sanitize_reason,
};
pub use supervisor::{
    Config, Counters, Finished, Flushed, KEPT_REFUSALS, Machine, Orphan, Outcome, Reconciled,
    RefusedWrite, Report, SpawnError, Supervisor, TaskHandle, TaskOutput, TaskRecorder,
    UNRESPONSIVE_AFTER,
};

/// Milliseconds since the Unix epoch: lease expiry is compared across processes.
pub(crate) fn now_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |elapsed| {
        i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
    })
}
