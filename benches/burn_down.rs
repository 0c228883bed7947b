//! A burn-down shaped like River's and Graphile Worker's job-queue benchmarks: one supervisor
//! works off 1,000,000 no-op tasks, and the figure is tasks per second from the first spawn to
//! the flush after the last one ended.
//!
//! Each task is the whole life of a job row: its insert (queued by `spawn`, committed in the
//! writer's batches), then `Queued -> Running -> Done`, three row writes in all. The tasks are
//! spawned one after another by one caller (a `for` loop, as a service that enqueues work
//! runs), on a 2-worker runtime, with the default `Config` (so at most 16,384 rows wait for a
//! commit at once). The clock runs from the supervisor's start to the return of the `flush`
//! that follows the last outcome: the inserts are inside the window, where River's and
//! Graphile's benchmarks insert their jobs before they start the clock.
//!
//! `cargo bench --bench burn_down` runs SQLite (a fresh WAL file per round); with
//! `--features postgres`, PostgreSQL 15 too (a throwaway server with `fsync` on, a fresh
//! database per round). `FIXPOINT_BURN_DOWN=<tasks>` runs fewer tasks, for a quick look.

#[path = "../tests/common/postgres.rs"]
#[cfg(feature = "postgres")]
mod cluster;

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixpoint::{
    store::{SqliteStore, StatusStore},
    task::{Config, Supervisor},
};

fn tasks() -> u64 {
    std::env::var("FIXPOINT_BURN_DOWN")
        .ok()
        .and_then(|tasks| tasks.parse().ok())
        .unwrap_or(1_000_000)
}

fn scratch(name: &str) -> PathBuf {
    scratch_db(&format!("bench-{name}"))
}

/// One burn-down: start, `tasks` spawns one after another, every outcome read, flush. Checks
/// that every row ended `Done`, outside the clock.
async fn burn_down<S: StatusStore<Job>>(store: S, tasks: u64) -> Duration {
    let start = Instant::now();
    let mut supervisor = Supervisor::start(store, Config::default()).await.unwrap();
    for task in 0..tasks {
        supervisor
            .spawn(format!("job-{task:07}"), (), |job| async move {
                job.to_running().to_done()
            })
            .await
            .unwrap();
    }
    while let Some(finished) = supervisor.join_next().await {
        std::hint::black_box(finished);
    }
    supervisor.flush().await.unwrap();
    let elapsed = start.elapsed();
    let counters = supervisor.counters();
    assert_eq!(counters.completed(), tasks, "every task ended Done");
    assert_eq!(counters.store_errors() + counters.refused_spawns(), 0);
    elapsed
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let tasks = tasks();
    let mut group = c.benchmark_group("burn_down");
    group.throughput(Throughput::Elements(tasks));
    group.sample_size(10);
    group.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let path = scratch("burn-down");
                let store = SqliteStore::<Job>::open(&path).unwrap();
                elapsed += rt.block_on(burn_down(store, tasks));
                remove_db(&path);
            }
            elapsed
        });
    });
    group.finish();
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    let rt = runtime();
    let tasks = tasks();
    let cluster = cluster::Cluster::start_with(cluster::Options {
        durable: true,
        ..cluster::Options::default()
    });
    let mut group = c.benchmark_group("burn_down");
    group.throughput(Throughput::Elements(tasks));
    group.sample_size(10);
    let mut round = 0;
    group.bench_function("postgres", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let url = cluster.create_database(&format!("burn_down_{round}"));
                elapsed += rt.block_on(async {
                    let store = fixpoint::store::PostgresStore::<Job>::connect(&url)
                        .await
                        .unwrap();
                    burn_down(store, tasks).await
                });
            }
            elapsed
        });
    });
    group.finish();
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion) {}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
