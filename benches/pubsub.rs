//! `fixpoint::Bus` beside `tokio::sync::broadcast`: publish then receive, one topic, one
//! subscriber, in batches of 1,000 events on a current-thread runtime.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixpoint::Bus;

const BATCH: u64 = 1_000;

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pubsub/publish_receive");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("tokio_broadcast", |b| {
        let (sender, mut receiver) = tokio::sync::broadcast::channel::<u64>(1_024);
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for event in 0..BATCH {
                        sender.send(event).unwrap();
                        black_box(receiver.recv().await.unwrap());
                    }
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("fixpoint_bus", |b| {
        let bus: Bus<u32, u64> = Bus::new();
        let mut subscription = bus.subscribe(1);
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for event in 0..BATCH {
                        bus.publish(&1, event).unwrap();
                        black_box(subscription.wait(|| None).await.unwrap());
                    }
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
