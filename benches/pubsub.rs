//! `fixpoint::bus::Bus` beside the tokio channels it competes with: publish then receive, one topic,
//! one subscriber, in batches of 1,000 events on a current-thread runtime, against
//! `tokio::sync::broadcast` and tokio's unbounded `mpsc`; a topic per question beside a tokio
//! `oneshot` per question; and unsubscribing 1k, 10k and 100k subscribers of one topic, whose
//! time per unsubscribe must stay flat.
//!
//! For instruction counts, the same loops run without criterion when `FIXPOINT_PUBSUB_LOOP`
//! names one (`broadcast`, `mpsc`, `bus`, `bus-fx`, `oneshot-questions` or `bus-questions`,
//! optionally `:<events>`), so that callgrind measures the loop and nothing else (subtract a
//! run with 0 events for the set-up):
//!
//! ```sh
//! FIXPOINT_PUBSUB_LOOP=bus:1000000 valgrind --tool=callgrind target/release/deps/pubsub-<hash>
//! ```

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use fixpoint::bus::{Bus, BusLimits, Subscription};
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, mpsc};

const BATCH: u64 = 1_000;

/// A multiply-rotate hasher (rustc's `FxHasher`) for topic keys the service picks itself: a
/// bus keyed by ids from outside keeps the default, which resists chosen collisions.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = BuildHasherDefault<FxHasher>;

fn fx_bus() -> Bus<u32, u64, Fx> {
    Bus::with_hasher(BusLimits::default(), Fx::default())
}

/// Each contender delivers `events` events, one at a time, and receives each.
async fn broadcast_batch(
    (sender, receiver): &mut (broadcast::Sender<u64>, broadcast::Receiver<u64>),
    events: u64,
) {
    for event in 0..events {
        sender.send(event).unwrap();
        black_box(receiver.recv().await.unwrap());
    }
}

async fn mpsc_batch(
    (sender, receiver): &mut (mpsc::UnboundedSender<u64>, mpsc::UnboundedReceiver<u64>),
    events: u64,
) {
    for event in 0..events {
        sender.send(event).unwrap();
        black_box(receiver.recv().await.unwrap());
    }
}

async fn bus_batch<S: BuildHasher>(
    (bus, subscription): &mut (Bus<u32, u64, S>, Subscription<u32, u64, S>),
    events: u64,
) {
    for event in 0..events {
        bus.publish(&1, event).unwrap();
        black_box(subscription.wait(|| None).await.unwrap());
    }
}

/// The channels are made outside the timed region, as a long-lived one would be.
fn broadcast_pair() -> (broadcast::Sender<u64>, broadcast::Receiver<u64>) {
    broadcast::channel(1_024)
}

fn bus_pair<S: BuildHasher>(
    bus: Bus<u32, u64, S>,
) -> (Bus<u32, u64, S>, Subscription<u32, u64, S>) {
    let subscription = bus.subscribe(1);
    (bus, subscription)
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn throughput(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("pubsub/publish_receive");
    group.throughput(Throughput::Elements(BATCH));
    // Each body times `iters` batches; the channel outlives the samples.
    macro_rules! contender {
        ($name:literal, $pair:expr, $batch:ident) => {
            group.bench_function($name, |b| {
                let mut pair = $pair;
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            $batch(&mut pair, BATCH).await;
                        }
                        start.elapsed()
                    })
                });
            });
        };
    }
    contender!("tokio_broadcast", broadcast_pair(), broadcast_batch);
    contender!(
        "tokio_unbounded_mpsc",
        mpsc::unbounded_channel(),
        mpsc_batch
    );
    contender!("fixpoint_bus", bus_pair(Bus::new()), bus_batch);
    // With a fast hasher for trusted keys: a stream on one topic should not care, as the table
    // hashes its key once; this row shows that it does not.
    contender!("fixpoint_bus_fx_hasher", bus_pair(fx_bus()), bus_batch);
    group.finish();
}

/// A topic per question, as a service asks them: subscribe, publish the answer, wait for it,
/// leave. Beside it, what tokio offers for one answer: a `oneshot` channel per question.
async fn oneshot_questions(questions: std::ops::Range<u64>) {
    for question in questions {
        let (sender, receiver) = tokio::sync::oneshot::channel::<u64>();
        sender.send(question).unwrap();
        black_box(receiver.await.unwrap());
    }
}

async fn bus_questions(bus: &Bus<u64, u64>, questions: std::ops::Range<u64>) {
    for question in questions {
        let mut answer = bus.subscribe(question);
        bus.publish(&question, question).unwrap();
        black_box(answer.wait(|| None).await.unwrap());
    }
}

fn per_question(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("pubsub/per_question");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("tokio_oneshot", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                oneshot_questions(0..iters * BATCH).await;
                start.elapsed()
            })
        });
    });
    group.bench_function("fixpoint_bus", |b| {
        let bus: Bus<u64, u64> = Bus::new();
        let mut asked = 0;
        b.iter_custom(|iters| {
            let questions = asked..asked + iters * BATCH;
            asked = questions.end;
            rt.block_on(async {
                let start = Instant::now();
                bus_questions(&bus, questions).await;
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// `n` subscribers of one topic leave in the order they came; the time per unsubscribe is the
/// figure to read, and it must not grow with `n`.
fn unsubscribe(c: &mut Criterion) {
    let mut group = c.benchmark_group("pubsub/unsubscribe");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for n in [1_000_usize, 10_000, 100_000] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("fixpoint_bus/{n}"), |b| {
            let bus: Bus<u32, u64> = Bus::new();
            b.iter_batched(
                || (0..n).map(|_| bus.subscribe(1)).collect::<Vec<_>>(),
                drop,
                BatchSize::PerIteration,
            );
        });
        // The peer: a broadcast receiver leaves in constant time too, and shows what the
        // memory traffic of a larger crowd costs on its own.
        group.bench_function(format!("tokio_broadcast/{n}"), |b| {
            let (sender, _) = broadcast::channel::<u64>(1_024);
            b.iter_batched(
                || (0..n).map(|_| sender.subscribe()).collect::<Vec<_>>(),
                drop,
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

/// Runs one contender's loop alone, for callgrind; see the module docs.
fn run_loop(spec: &str) {
    let (name, events) = spec.split_once(':').unwrap_or((spec, "1000000"));
    let events: u64 = events
        .parse()
        .expect("FIXPOINT_PUBSUB_LOOP=<name>:<events>");
    let rt = current_thread();
    match name {
        "broadcast" => rt.block_on(broadcast_batch(&mut broadcast_pair(), events)),
        "mpsc" => rt.block_on(mpsc_batch(&mut mpsc::unbounded_channel(), events)),
        "bus" => rt.block_on(bus_batch(&mut bus_pair(Bus::new()), events)),
        "bus-fx" => rt.block_on(bus_batch(&mut bus_pair(fx_bus()), events)),
        "oneshot-questions" => rt.block_on(oneshot_questions(0..events)),
        "bus-questions" => rt.block_on(bus_questions(&Bus::new(), 0..events)),
        other => panic!(
            "unknown loop {other}: broadcast, mpsc, bus, bus-fx, oneshot-questions, bus-questions"
        ),
    }
}

criterion_group!(benches, throughput, per_question, unsubscribe);

fn main() {
    if let Ok(spec) = std::env::var("FIXPOINT_PUBSUB_LOOP") {
        run_loop(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
