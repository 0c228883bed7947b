//! `fixpoint::lock::Mutex`, `RwLock` and the owned forms beside the tokio primitives they wrap:
//! uncontended lock + unlock, 64 tasks on one mutex, and the owned acquisitions beside tokio's
//! `*_owned`. `FIXPOINT_COUNT=<side>` runs one side's loop instead, for callgrind.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use fixpoint::lock::{LockScope, Mutex, RwLock, Semaphore};
use tokio::runtime::Runtime;

const TASKS: usize = 64;
const ROUNDS_PER_TASK: usize = 50;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Both sides of every comparison, so that criterion and callgrind run the same code.
struct Sides {
    tokio_mutex: Arc<tokio::sync::Mutex<u64>>,
    mutex: Mutex<u64>,
    tokio_rwlock: Arc<tokio::sync::RwLock<u64>>,
    rwlock: RwLock<u64>,
    tokio_semaphore: Arc<tokio::sync::Semaphore>,
    semaphore: Semaphore,
    scope: LockScope,
}

impl Sides {
    fn new() -> Self {
        Sides {
            tokio_mutex: Arc::new(tokio::sync::Mutex::new(0)),
            mutex: Mutex::new("bench", 0),
            tokio_rwlock: Arc::new(tokio::sync::RwLock::new(0)),
            rwlock: RwLock::new("bench", 0),
            tokio_semaphore: Arc::new(tokio::sync::Semaphore::new(1)),
            semaphore: Semaphore::new("bench", 1),
            scope: LockScope::unchecked("benchmark loop"),
        }
    }

    /// One lock + unlock of side `side`.
    async fn once(&self, side: &str) {
        let scope = &self.scope;
        match side {
            "none" => {}
            "tokio_mutex" => *black_box(self.tokio_mutex.lock().await) += 1,
            "mutex" => *black_box(self.mutex.lock(scope).await) += 1,
            "tokio_read" => drop(black_box(self.tokio_rwlock.read().await)),
            "read" => drop(black_box(self.rwlock.read(scope).await)),
            "tokio_write" => *black_box(self.tokio_rwlock.write().await) += 1,
            "write" => *black_box(self.rwlock.write(scope).await) += 1,
            "tokio_mutex_owned" => {
                *black_box(Arc::clone(&self.tokio_mutex).lock_owned().await) += 1
            }
            "mutex_owned" => *black_box(self.mutex.lock_cloned(scope).await) += 1,
            "tokio_semaphore_owned" => {
                drop(black_box(
                    Arc::clone(&self.tokio_semaphore).acquire_owned().await,
                ));
            }
            "semaphore_owned" => drop(black_box(self.semaphore.acquire_cloned(scope).await)),
            other => panic!("no side named {other}"),
        }
    }
}

fn bench_pairs(c: &mut Criterion, group: &str, pairs: &[(&str, &str)]) {
    let rt = current_thread();
    let sides = Sides::new();
    let mut group = c.benchmark_group(group);
    for (name, side) in pairs {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        sides.once(side).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn uncontended(c: &mut Criterion) {
    bench_pairs(
        c,
        "mutex/uncontended_lock_unlock",
        &[("tokio", "tokio_mutex"), ("fixpoint", "mutex")],
    );
    bench_pairs(
        c,
        "rwlock/uncontended_read",
        &[("tokio", "tokio_read"), ("fixpoint", "read")],
    );
    bench_pairs(
        c,
        "rwlock/uncontended_write",
        &[("tokio", "tokio_write"), ("fixpoint", "write")],
    );
}

fn owned(c: &mut Criterion) {
    bench_pairs(
        c,
        "mutex/owned_lock_unlock",
        &[("tokio", "tokio_mutex_owned"), ("fixpoint", "mutex_owned")],
    );
    bench_pairs(
        c,
        "semaphore/owned_acquire_release",
        &[
            ("tokio", "tokio_semaphore_owned"),
            ("fixpoint", "semaphore_owned"),
        ],
    );
}

/// One round: 64 tasks, each locking 50 times, yielding while it holds.
async fn contended_round(
    side: &str,
    tokio_mutex: &Arc<tokio::sync::Mutex<u64>>,
    mutex: &Mutex<u64>,
) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (tokio_mutex, mutex) = (Arc::clone(tokio_mutex), mutex.clone());
            let tokio_side = side == "tokio";
            tokio::spawn(async move {
                let scope = LockScope::unchecked("benchmark loop");
                for _ in 0..ROUNDS_PER_TASK {
                    if tokio_side {
                        let mut value = tokio_mutex.lock().await;
                        tokio::task::yield_now().await;
                        *value += 1;
                    } else {
                        let mut value = mutex.lock(&scope).await;
                        tokio::task::yield_now().await;
                        *value += 1;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn contended(c: &mut Criterion) {
    let rt = multi_thread();
    let (tokio_mutex, mutex) = (Arc::new(tokio::sync::Mutex::new(0)), Mutex::new("bench", 0));
    let mut group = c.benchmark_group("mutex/contended_64_tasks");
    group.measurement_time(Duration::from_secs(10));
    for side in ["tokio", "fixpoint"] {
        group.bench_function(side, |b| {
            b.iter(|| rt.block_on(contended_round(side, &tokio_mutex, &mutex)));
        });
    }
    group.finish();
}

criterion_group!(benches, uncontended, owned, contended);

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <this bench>` runs 100,000 lock + unlock
/// of one side (`none` runs the loop alone: the baseline to subtract), or 20 contended rounds
/// (`contended_tokio`, `contended_fixpoint`, `contended_none`), instead of criterion.
fn count(side: &str) {
    if let Some(side) = side.strip_prefix("contended_") {
        let rt = current_thread();
        let (tokio_mutex, mutex) = (Arc::new(tokio::sync::Mutex::new(0)), Mutex::new("bench", 0));
        rt.block_on(async {
            for _ in 0..20 {
                if side != "none" {
                    contended_round(side, &tokio_mutex, &mutex).await;
                }
            }
        });
        return;
    }
    let rt = current_thread();
    let sides = Sides::new();
    rt.block_on(async {
        for _ in 0..100_000 {
            sides.once(side).await;
        }
    });
}

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
