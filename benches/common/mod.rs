//! What the store and supervisor benches share: their lifecycles and their runtime.
#![allow(dead_code)] // each bench uses what it needs

use fixpoint::terminal_state;

/// A task's lifecycle, the tests' own: two transitions from spawn to its end.
#[path = "../../tests/common/job.rs"]
mod jobs;
pub use jobs::*;

/// Scratch SQLite files, the tests' own.
#[path = "../../tests/common/scratch.rs"]
mod scratch;
#[allow(unused_imports)] // the SQLite benches use them
pub use scratch::{remove_db, scratch_db};

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

/// The end-to-end round the supervisor benches time: start a supervisor on `store`, spawn
/// `tasks` one after another (ids `<prefix><n>`), each moving `Queued -> Running -> Done`, read
/// every outcome, flush. Returns the supervisor, to be dropped outside the clock.
pub async fn spawn_join_flush<S: fixpoint::store::StatusStore<Job>>(
    store: S,
    prefix: &str,
    tasks: u64,
) -> fixpoint::task::Supervisor<Job, S> {
    let config = fixpoint::task::Config::default();
    let mut supervisor = fixpoint::task::Supervisor::start(store, config)
        .await
        .unwrap();
    for task in 0..tasks {
        supervisor
            .spawn(format!("{prefix}{task}"), task, |job| async move {
                job.to_running().to_done()
            })
            .await
            .unwrap();
    }
    while let Some(done) = supervisor.join_next().await {
        std::hint::black_box(done);
    }
    supervisor.flush().await.unwrap();
    supervisor
}
