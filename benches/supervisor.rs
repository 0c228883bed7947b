//! Spawning and completing trivial tasks, in batches of 1,000, three ways: a bare
//! `tokio::task::JoinSet`; the fair peer, a `JoinSet` beside the `Mutex<HashMap<id, status>>`
//! recorder a user would write by hand (three statuses per task, like the supervisor's
//! insert and two transitions); and a `Supervisor` recording every transition to a
//! `MemoryStore`, flushed. Each side's set-up (`JoinSet::new`, `Supervisor::start`) and
//! teardown are inside the measured window. A fourth side, the bare `JoinSet` given the same
//! ids as the peer and the supervisor, is not a peer: it shows what building the ids costs.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group};
use fixpoint::{store::MemoryStore, task::Supervisor};
use tokio::task::JoinSet;

const BATCH: u64 = 1_000;

/// The bare `JoinSet`: no status anywhere.
async fn joinset() {
    let mut set = JoinSet::new();
    for task in 0..BATCH {
        set.spawn(async move { black_box(task) });
    }
    while let Some(done) = set.join_next().await {
        black_box(done.unwrap());
    }
}

/// The bare `JoinSet`, building the ids the other two sides build (`format!` per task) and
/// letting each go at once: no status anywhere. Not a peer: it shows what building the ids
/// costs, which any recorder keyed by them pays and the bare side does not (keeping them, as
/// the others do, costs more: an id owned by its task until it is done, ~280 more a task).
async fn joinset_with_ids(round: u64) {
    let mut set = JoinSet::new();
    for task in 0..BATCH {
        drop(black_box(format!("{round}-{task}")));
        set.spawn(async move { black_box(task) });
    }
    while let Some(done) = set.join_next().await {
        black_box(done.unwrap());
    }
}

/// What a user would write instead of a supervisor: a status map beside a `JoinSet`.
async fn joinset_with_status_map(round: u64) {
    let statuses: Arc<Mutex<HashMap<String, &'static str>>> = Arc::default();
    let mut set = JoinSet::new();
    for task in 0..BATCH {
        let id = format!("{round}-{task}");
        statuses.lock().unwrap().insert(id.clone(), "Queued");
        let statuses = Arc::clone(&statuses);
        set.spawn(async move {
            *statuses.lock().unwrap().get_mut(&id).unwrap() = "Running";
            black_box(task);
            *statuses.lock().unwrap().get_mut(&id).unwrap() = "Done";
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    black_box(statuses);
}

/// The supervisor, every transition applied to the store before the clock stops.
async fn supervisor(round: u64) -> Supervisor<Job, MemoryStore<Job>> {
    spawn_join_flush(MemoryStore::<Job>::new(), &format!("{round}-"), BATCH).await
}

/// The sides, by their names in criterion's report and in `FIXPOINT_COUNT`.
const SIDES: [&str; 4] = [
    "tokio_joinset",
    "joinset_with_ids",
    "joinset_with_status_map",
    "fixpoint_supervisor_memory_store",
];

/// One round of `side` (`none` runs nothing: the baseline to subtract from a count).
async fn run(side: &str, round: u64) {
    match side {
        "none" => {}
        "tokio_joinset" => joinset().await,
        "joinset_with_ids" => joinset_with_ids(round).await,
        "joinset_with_status_map" => joinset_with_status_map(round).await,
        // Dropped inside the window: it frees what its tasks left, as the others free theirs
        // when they join.
        "fixpoint_supervisor_memory_store" => drop(supervisor(round).await),
        other => panic!("no side named {other}"),
    }
}

fn spawn_complete(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("supervisor/spawn_complete");
    group.throughput(Throughput::Elements(BATCH));
    for side in SIDES {
        group.bench_function(side, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for round in 0..iters {
                        run(side, round).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, spawn_complete);

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <this bench>` runs 100 rounds of one side
/// (`none` runs nothing: the baseline to subtract) instead of criterion, for instruction
/// counts that the machine's load does not move.
fn count(side: &str) {
    let rt = runtime();
    rt.block_on(async {
        for round in 0..100 {
            run(side, round).await;
        }
    });
}

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
