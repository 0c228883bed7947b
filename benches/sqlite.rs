//! Transitions per second through a `SqliteStore` (a WAL file, `synchronous = NORMAL`): the
//! store alone applying batches of 1,024 transitions to existing rows, and a `Supervisor`
//! end to end (start, 1,000 spawns of two transitions each, join, flush); and the inserts
//! that bound the latter, one after another as a supervisor spawns, or all at once.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixpoint::{Config, Lifecycle, RowWrite, SqliteStore, StatusStore, Supervisor, Transition};

/// Transitions per `apply`, as the supervisor's writer sends them.
const BATCH: usize = 1024;
/// Rows in the store-level table: the batches walk through them block by block.
const BLOCKS: usize = 100;
/// Tasks per end-to-end round.
const TASKS: u64 = 1_000;

fn scratch(name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("fixpoint-bench-{name}-{}.db", std::process::id()));
    remove(&path);
    path
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// One batch moving every row of block `round % BLOCKS` to the other side of its flip.
fn flip_batch(round: usize) -> Vec<RowWrite<Worker>> {
    let state = |name| Worker::parse_state(name).unwrap();
    let (from, to) = if (round / BLOCKS).is_multiple_of(2) {
        (state("Idle"), state("Busy"))
    } else {
        (state("Busy"), state("Idle"))
    };
    let transition = Transition::new(from, to).unwrap();
    let block = round % BLOCKS;
    (0..BATCH)
        .map(|row| RowWrite::transition(format!("w{:07}", block * BATCH + row), transition))
        .collect()
}

fn store_apply(c: &mut Criterion) {
    let rt = runtime();
    let path = scratch("apply");
    let store = SqliteStore::<Worker>::open(&path).unwrap();
    // The table is filled through a second connection in one transaction: the bench measures
    // transitions, not inserts.
    let mut fill = rusqlite::Connection::open(&path).unwrap();
    let fill_tx = fill.transaction().unwrap();
    {
        let table = SqliteStore::<Worker>::table();
        let mut insert = fill_tx
            .prepare(&format!(
                "INSERT INTO {table} (id, owner, status, updated_at) VALUES (?1, 'me', 'Idle', 0)"
            ))
            .unwrap();
        for row in 0..BLOCKS * BATCH {
            insert.execute([format!("w{row:07}")]).unwrap();
        }
    }
    fill_tx.commit().unwrap();
    drop(fill);

    let mut group = c.benchmark_group("sqlite/store_apply");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut round = 0;
    group.bench_function("batch_of_1024_transitions", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<_> = (0..iters).map(|i| flip_batch(round + i as usize)).collect();
            round += iters as usize;
            rt.block_on(async {
                let start = Instant::now();
                for batch in &batches {
                    let applied = store.apply("me", batch).await.unwrap();
                    assert!(applied.is_empty(), "every flip applies: {applied:?}");
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    drop(store);
    remove(&path);
}

fn supervisor_end_to_end(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sqlite/supervisor");
    group.throughput(Throughput::Elements(TASKS * 2)); // two transitions per task
    group.sample_size(20);
    group.bench_function("start_spawn_1000_join_flush", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let path = scratch("supervisor");
                    let store = SqliteStore::<Job>::open(&path).unwrap();
                    let start = Instant::now();
                    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
                    for task in 0..TASKS {
                        supervisor
                            .spawn(format!("{task}"), task, |job| async move {
                                job.to_running().to_done()
                            })
                            .await
                            .unwrap();
                    }
                    while let Some(done) = supervisor.join_next().await {
                        black_box(done);
                    }
                    supervisor.flush().await.unwrap();
                    elapsed += start.elapsed();
                    drop(supervisor);
                    remove(&path);
                }
                elapsed
            })
        });
    });
    group.finish();
}

/// What a spawn costs the store: one insert, answered after its commit. A supervisor awaits
/// each spawn's insert before the next, so each has a commit of its own; inserts that arrive
/// together (several supervisors, or tasks of one process) share one.
fn store_insert(c: &mut Criterion) {
    let rt = runtime();
    let path = scratch("insert");
    let store = SqliteStore::<Job>::open(&path).unwrap();
    let mut group = c.benchmark_group("sqlite/store_insert");
    group.throughput(Throughput::Elements(TASKS));
    group.sample_size(20);
    let mut round = 0;
    group.bench_function("1000_one_after_another", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    for task in 0..TASKS {
                        store
                            .insert(&format!("s{round}-{task}"), "me")
                            .await
                            .unwrap();
                    }
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("1000_at_once", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    let mut inserts = tokio::task::JoinSet::new();
                    for task in 0..TASKS {
                        let (store, id) = (store.clone(), format!("c{round}-{task}"));
                        inserts.spawn(async move { store.insert(&id, "me").await });
                    }
                    while let Some(inserted) = inserts.join_next().await {
                        inserted.unwrap().unwrap();
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    drop(store);
    remove(&path);
}

criterion_group!(benches, store_apply, supervisor_end_to_end, store_insert);
criterion_main!(benches);
