//! Restart latency: a child that ends at once, restarted 1,000 times with no backoff, three
//! ways: a hand-written `loop { spawn; join }` of bare tokio tasks (no row anywhere); the same
//! loop over a `Supervisor` (a row per attempt, as a user would restart by hand); and a
//! `RestartSupervisor` with a permanent child (a row per attempt, the policy's bookkeeping).
//! Each side's set-up and teardown are inside the measured window; time per restart is the
//! window over 1,000.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use fixpoint::{
    restart::{ChildSpec, RestartBackoff, RestartSupervisor},
    store::MemoryStore,
    task::{Config, Supervisor},
};
use tokio::sync::Notify;

const RESTARTS: u32 = 1_000;

/// The hand-written loop: spawn the work, wait for it to end, spawn it again. Like the
/// restart supervisor's own task, the loop runs on a worker thread (spawned), not in
/// `block_on`: a worker's spawns go to its local queue.
async fn spawn_join_loop() {
    tokio::spawn(async {
        for attempt in 0..=RESTARTS {
            black_box(
                tokio::spawn(async move { black_box(attempt) })
                    .await
                    .unwrap(),
            );
        }
    })
    .await
    .unwrap();
}

/// The same loop over a `Supervisor`: a recorded row per attempt, restarted by hand (on a
/// worker thread too).
async fn supervisor_loop() {
    tokio::spawn(supervisor_loop_on_worker()).await.unwrap();
}

async fn supervisor_loop_on_worker() {
    let mut supervisor = Supervisor::start(MemoryStore::<Job>::new(), Config::default())
        .await
        .unwrap();
    for attempt in 1..=RESTARTS + 1 {
        supervisor
            .spawn(format!("worker#{attempt}"), (), |job| async move {
                job.to_running().to_done()
            })
            .await
            .unwrap();
        black_box(supervisor.join_next().await);
    }
    supervisor.shutdown(Duration::ZERO).await.unwrap();
}

/// A `RestartSupervisor` restarting a permanent child that ends at once, until its last
/// attempt, which waits to be stopped.
async fn restart_supervisor() {
    let done = Arc::new(Notify::new());
    let last = Arc::clone(&done);
    let worker = ChildSpec::new(
        "worker",
        move |job: fixpoint::task::Machine<Job, ()>, attempt| {
            let last = Arc::clone(&last);
            async move {
                let job = job.to_running();
                if attempt.number() > RESTARTS {
                    last.notify_one();
                    attempt.stopping().await;
                }
                job.to_done()
            }
        },
    );
    let supervisor = RestartSupervisor::builder()
        .intensity(u32::MAX, Duration::from_secs(3600))
        .backoff(RestartBackoff::ZERO)
        .child(worker)
        .start(MemoryStore::<Job>::new())
        .await
        .unwrap();
    done.notified().await;
    black_box(supervisor.shutdown().await.unwrap());
}

fn restart_latency(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("restart/latency");
    group.throughput(Throughput::Elements(u64::from(RESTARTS)));
    group.sample_size(30);
    group.bench_function("spawn_join_loop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    spawn_join_loop().await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("supervisor_loop", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    supervisor_loop().await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("restart_supervisor", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    restart_supervisor().await;
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, restart_latency);

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <this bench>` runs 20 rounds of one side
/// (`none` runs nothing: the baseline to subtract) instead of criterion, for instruction
/// counts that the machine's load does not move.
fn count(side: &str) {
    let rt = runtime();
    rt.block_on(async {
        for _ in 0..20 {
            match side {
                "none" => {}
                "spawn_join_loop" => spawn_join_loop().await,
                "supervisor_loop" => supervisor_loop().await,
                "restart_supervisor" => restart_supervisor().await,
                other => panic!("no side named {other}"),
            }
        }
    });
}

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
