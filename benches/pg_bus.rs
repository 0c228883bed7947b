//! `PgBus` round trip against a throwaway PostgreSQL 15 server on loopback (started here, as
//! the tests start theirs; commits flushed to disk, as in production): publish on one
//! connection, receive on another; beside the same round trip written by hand with
//! tokio-postgres (`LISTEN` on one client, a prepared `pg_notify` on another), and beside
//! `PgBus` with a one-row re-check query in the wait, as a real waiter runs it.
//!
//! `cargo bench --bench pg_bus --features postgres`
//!
//! The three loops share one server whose speed drifts with the machine's load, so criterion's
//! figures, taken one after the other, may differ by more than the bus costs. For a comparison,
//! `FIXPOINT_PG_BUS_ROUNDS=<rounds>` runs them interleaved instead (rounds of 2,000 round trips
//! each, in turn) and prints each loop's median and best round.

// The tests' harness: a throwaway PostgreSQL 15 server.
#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use fixpoint::bus::{PgBus, PgSubscription};
use postgres::{Cluster, Options};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

const LIMIT: Duration = Duration::from_secs(30);
/// Round trips per interleaved round.
const ROUND: u64 = 2_000;

/// The server and the connections of the three loops.
struct Rig {
    _cluster: Cluster,
    rt: Runtime,
    bus: BusSide,
    raw: RawSide,
}

struct BusSide {
    _subscriber: PgBus,
    publisher: PgBus,
    subscription: PgSubscription,
    reader: Client,
    recheck: Statement,
}

struct RawSide {
    _listener: Client,
    notes: mpsc::UnboundedReceiver<String>,
    publisher: Client,
    notify: Statement,
}

impl Rig {
    fn start() -> Rig {
        let cluster = Cluster::start_with(Options {
            durable: true,
            ..Options::default()
        });
        let url = cluster.url();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (bus, raw) =
            rt.block_on(async { (BusSide::open(&url).await, RawSide::open(&url).await) });
        Rig {
            _cluster: cluster,
            rt,
            bus,
            raw,
        }
    }
}

impl BusSide {
    async fn open(url: &str) -> BusSide {
        let subscriber = PgBus::connect(url).await.unwrap();
        let publisher = PgBus::connect(url).await.unwrap();
        let reader = connect(url).await;
        reader
            .batch_execute("CREATE TABLE answers (question bigint PRIMARY KEY, answer text)")
            .await
            .unwrap();
        let recheck = reader
            .prepare("SELECT answer FROM answers WHERE question = 1")
            .await
            .unwrap();
        let subscription = subscriber.subscribe("bench").await.unwrap();
        BusSide {
            _subscriber: subscriber,
            publisher,
            subscription,
            reader,
            recheck,
        }
    }

    /// `n` round trips: publish, then wait with no re-check query.
    async fn trips(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.publisher.publish("bench", "answer").await.unwrap();
            let event = self
                .subscription
                .wait_within(LIMIT, || async { Ok(None) })
                .await;
            assert_eq!(event.unwrap(), "answer");
        }
        start.elapsed()
    }

    /// `n` round trips whose wait runs a one-row re-check query first.
    async fn trips_with_recheck(&mut self, n: u64) -> Duration {
        let (reader, recheck) = (&self.reader, &self.recheck);
        let start = Instant::now();
        for _ in 0..n {
            self.publisher.publish("bench", "answer").await.unwrap();
            let event = self
                .subscription
                .wait_within(LIMIT, || async move {
                    let row = reader.query_opt(recheck, &[]).await?;
                    Ok(row.map(|row| row.get(0)))
                })
                .await;
            assert_eq!(event.unwrap(), "answer");
        }
        start.elapsed()
    }
}

impl RawSide {
    async fn open(url: &str) -> RawSide {
        let (listener, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        let (sender, notes) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                if let AsyncMessage::Notification(note) = message {
                    let _ = sender.send(note.payload().to_owned());
                }
            }
        });
        listener.batch_execute("LISTEN bench_raw").await.unwrap();
        let publisher = connect(url).await;
        let notify = publisher.prepare("SELECT pg_notify($1, $2)").await.unwrap();
        RawSide {
            _listener: listener,
            notes,
            publisher,
            notify,
        }
    }

    /// `n` round trips by hand.
    async fn trips(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.publisher
                .execute(&self.notify, &[&"bench_raw", &"answer"])
                .await
                .unwrap();
            let note = tokio::time::timeout(LIMIT, self.notes.recv()).await;
            assert_eq!(note.unwrap().unwrap(), "answer");
        }
        start.elapsed()
    }
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

fn round_trips(c: &mut Criterion) {
    let mut rig = Rig::start();
    let Rig { rt, bus, raw, .. } = &mut rig;
    let mut group = c.benchmark_group("pg_bus_round_trip");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("PgBus", |b| {
        b.iter_custom(|n| rt.block_on(bus.trips(n)));
    });
    group.bench_function("PgBus with a re-check query", |b| {
        b.iter_custom(|n| rt.block_on(bus.trips_with_recheck(n)));
    });
    group.bench_function("tokio-postgres LISTEN/NOTIFY by hand", |b| {
        b.iter_custom(|n| rt.block_on(raw.trips(n)));
    });
    group.finish();
}

/// The three loops in turn, `rounds` times; each loop's median and best round.
fn interleaved(rounds: usize) {
    let mut rig = Rig::start();
    let Rig { rt, bus, raw, .. } = &mut rig;
    let mut times: [Vec<f64>; 3] = Default::default();
    let per_trip = |elapsed: Duration| elapsed.as_secs_f64() * 1e6 / ROUND as f64;
    rt.block_on(async {
        // Warm up every connection and the server's caches.
        raw.trips(ROUND).await;
        bus.trips(ROUND).await;
        bus.trips_with_recheck(ROUND).await;
        for _ in 0..rounds {
            times[0].push(per_trip(raw.trips(ROUND).await));
            times[1].push(per_trip(bus.trips(ROUND).await));
            times[2].push(per_trip(bus.trips_with_recheck(ROUND).await));
        }
    });
    let names = [
        "tokio-postgres by hand",
        "PgBus",
        "PgBus with a re-check query",
    ];
    for (name, mut samples) in names.into_iter().zip(times) {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        println!(
            "{name}: median {median:.1} µs per round trip, best round {:.1} µs ({rounds} rounds of {ROUND})",
            samples[0]
        );
    }
}

criterion_group!(benches, round_trips);

fn main() {
    if let Ok(rounds) = std::env::var("FIXPOINT_PG_BUS_ROUNDS") {
        interleaved(rounds.parse().expect("FIXPOINT_PG_BUS_ROUNDS=<rounds>"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
