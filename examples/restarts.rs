//! A flaky child restarted, then a restart storm that gives up instead of spinning.
//!
//! Part 1: a worker whose connection fails twice comes back each time (after a short
//! backoff) and then serves; its rows are `worker#1`, `worker#2`, `worker#3`. Part 2: a child
//! that fails at once, forever, under a supervisor that allows three restarts in ten seconds:
//! the fourth is refused, the supervisor stops its other child and `wait()` returns
//! `RestartError::GaveUp`. Every attempt is a row with its reason.
//!
//! Run it with `cargo run --example restarts`.

use std::sync::Arc;
use std::time::Duration;

use fixpoint::{
    restart::{ChildSpec, Restart, RestartBackoff, RestartError, RestartSupervisor},
    store::{MemoryStore, Row, StatusStore},
    terminal_state,
};

/// A worker's lifecycle.
#[terminal_state]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Worker {
    /// Spawned.
    #[initial]
    #[to(Serving, Failed)]
    Connecting,
    /// Connected; serving until asked to stop.
    #[to(Stopped, Failed)]
    Serving,
    /// Stopped when asked.
    #[terminal]
    Stopped,
    /// Failed, or recorded when the attempt was lost.
    #[terminal]
    #[abandoned]
    Failed,
}

fn print_rows(rows: &[Row]) {
    for row in rows {
        println!(
            "  {:<10} {:<8} {}",
            row.id,
            row.status,
            row.reason.as_deref().unwrap_or("")
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("1. a flaky worker, restarted until it serves");
    let store = Arc::new(MemoryStore::<Worker>::new());
    let flaky = ChildSpec::new("worker", |worker, attempt| async move {
        if attempt.number() <= 2 {
            return Err(format!("connection refused (attempt {})", attempt.number()));
        }
        let serving = worker.to_serving();
        attempt.stopping().await;
        Ok(serving.to_stopped())
    });
    let supervisor = RestartSupervisor::builder()
        .intensity(3, Duration::from_secs(10))
        .backoff(RestartBackoff::exponential(
            Duration::from_millis(20),
            Duration::from_secs(1),
        ))
        .child(flaky)
        .start(Arc::clone(&store))
        .await
        .expect("the store takes the lease");
    while supervisor.children()[0].attempt < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("  live: {:?}", supervisor.children()[0]);
    let stopped = supervisor.shutdown().await.expect("stops cleanly");
    print_rows(&stopped.rows);

    println!("\n2. a restart storm: three restarts allowed in ten seconds");
    let store = Arc::new(MemoryStore::<Worker>::new());
    let steady = ChildSpec::new(
        "steady",
        |worker: fixpoint::task::Machine<Worker, ()>, attempt| async move {
            let serving = worker.to_serving();
            attempt.stopping().await;
            Ok::<_, String>(serving.to_stopped())
        },
    );
    let storm = ChildSpec::new(
        "storm",
        |_worker: fixpoint::task::Machine<Worker, ()>, _| async move {
            Err::<fixpoint::Terminal<Worker, ()>, _>("config file missing")
        },
    )
    .restart(Restart::Permanent);
    let supervisor = RestartSupervisor::builder()
        .intensity(3, Duration::from_secs(10))
        .backoff(RestartBackoff::ZERO)
        .child(steady)
        .child(storm)
        .start(Arc::clone(&store))
        .await
        .expect("the store takes the lease");
    match supervisor.wait().await {
        Err(error @ RestartError::GaveUp { .. }) => println!("  {error}"),
        other => panic!("a storm gives up: {other:?}"),
    }
    print_rows(&store.rows().await.expect("a memory store reads"));
}
