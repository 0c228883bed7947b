//! What the store and supervisor benches share: their lifecycles and their runtime.
#![allow(dead_code)] // each bench uses what it needs

use fixpoint::terminal_state;

/// A task's lifecycle, the tests' own: two transitions from spawn to its end.
#[path = "../../tests/common/job.rs"]
mod jobs;
pub use jobs::*;

/// A row that can flip forever, so a store-level bench moves the same rows round after round.
#[terminal_state]
pub enum Worker {
    #[initial]
    #[to(Busy, Gone)]
    Idle,
    #[to(Idle, Gone)]
    Busy,
    #[terminal]
    #[abandoned]
    Gone,
}

/// Two worker threads and the timer, as a small service runs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}
