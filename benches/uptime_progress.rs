//! `Progress::tick` beside the bare `AtomicU64::store` it is built on, and `tick_with` with a
//! static note: the per-tick cost a work pays for being watched. `FIXPOINT_COUNT=<side>`
//! runs 1,000,000 ticks of one side instead (`atomic`, `tick`, `tick_with`, `none` for the
//! loop alone), for callgrind.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group};
use fixpoint::uptime::Progress;

fn ticks(c: &mut Criterion) {
    let mut group = c.benchmark_group("uptime/progress_tick");
    group.bench_function("atomic_store", |b| {
        let last = AtomicU64::new(0);
        let mut n = 0_u64;
        b.iter(|| {
            n += 1;
            last.store(black_box(n), Ordering::Relaxed);
        });
    });
    group.bench_function("tick", |b| {
        let progress = Progress::new();
        b.iter(|| black_box(&progress).tick());
    });
    group.bench_function("tick_with_static_note", |b| {
        let progress = Progress::new();
        b.iter(|| black_box(&progress).tick_with("claimed a job"));
    });
    group.finish();
}

/// `FIXPOINT_COUNT=<side> valgrind --tool=callgrind <this bench>`: a million ticks of one
/// side; `none` is the loop alone, the baseline to subtract.
fn count(side: &str) {
    let (progress, last) = (Progress::new(), AtomicU64::new(0));
    for n in 0..1_000_000_u64 {
        match side {
            "atomic" => last.store(black_box(n), Ordering::Relaxed),
            "tick" => black_box(&progress).tick(),
            "tick_with" => black_box(&progress).tick_with("claimed a job"),
            _ => {
                black_box(n);
            }
        }
    }
}

criterion_group!(benches, ticks);

#[path = "common/counted.rs"]
#[macro_use]
mod counted;
counted_main!(benches, count);
