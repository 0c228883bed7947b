//! `PgBus` round trip against a throwaway PostgreSQL 15 server on loopback (started here, as
//! the tests start theirs; commits flushed to disk, as in production): publish on one
//! connection, receive on another; beside the same round trip written by hand with
//! tokio-postgres (`LISTEN` on one client, a prepared `pg_notify` on another), and beside
//! `PgBus` with a one-row re-check query in the wait, as a real waiter runs it.
//!
//! `cargo bench --bench pg_bus --features postgres`

// The tests' harness; outside a test target, clippy flags its watchdog, which is detached on
// purpose (it outlives the process to stop the server after a SIGKILL).
#[allow(clippy::zombie_processes)]
#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fixpoint::pubsub::PgBus;
use postgres::{Cluster, Options};
use tokio::runtime::Runtime;
use tokio_postgres::{AsyncMessage, Client, NoTls};

const LIMIT: Duration = Duration::from_secs(30);

fn round_trips(c: &mut Criterion) {
    let cluster = Cluster::start_with(Options {
        durable: true,
        ..Options::default()
    });
    let url = cluster.url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pg_bus_round_trip");
    group.measurement_time(Duration::from_secs(10));
    pg_bus(&mut group, &rt, &url);
    raw(&mut group, &rt, &url);
    group.finish();
    drop(cluster);
}

fn pg_bus(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    url: &str,
) {
    let (subscriber, publisher, reader) = rt.block_on(async {
        let subscriber = PgBus::connect(url).await.unwrap();
        let publisher = PgBus::connect(url).await.unwrap();
        let reader = connect(url).await;
        reader
            .batch_execute("CREATE TABLE answers (question bigint PRIMARY KEY, answer text)")
            .await
            .unwrap();
        (subscriber, publisher, reader)
    });
    let mut subscription = rt.block_on(subscriber.subscribe("bench")).unwrap();
    group.bench_function("PgBus", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    publisher.publish("bench", "answer").await.unwrap();
                    let event = subscription.wait_within(LIMIT, || async { Ok(None) }).await;
                    assert_eq!(event.unwrap(), "answer");
                }
                start.elapsed()
            })
        });
    });
    let recheck = rt
        .block_on(reader.prepare("SELECT answer FROM answers WHERE question = 1"))
        .unwrap();
    group.bench_function("PgBus with a re-check query", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    publisher.publish("bench", "answer").await.unwrap();
                    let event = subscription
                        .wait_within(LIMIT, || async {
                            let row = reader.query_opt(&recheck, &[]).await?;
                            Ok(row.map(|row| row.get(0)))
                        })
                        .await;
                    assert_eq!(event.unwrap(), "answer");
                }
                start.elapsed()
            })
        });
    });
}

fn raw(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    url: &str,
) {
    let (listener, mut notes, publisher) = rt.block_on(async {
        let (listener, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        let (sender, notes) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(message)) =
                std::future::poll_fn(|cx| connection.poll_message(cx)).await
            {
                if let AsyncMessage::Notification(note) = message {
                    let _ = sender.send(note.payload().to_owned());
                }
            }
        });
        listener.batch_execute("LISTEN bench").await.unwrap();
        (listener, notes, connect(url).await)
    });
    let notify = rt
        .block_on(publisher.prepare("SELECT pg_notify($1, $2)"))
        .unwrap();
    group.bench_function("tokio-postgres LISTEN/NOTIFY by hand", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    publisher
                        .execute(&notify, &[&"bench", &"answer"])
                        .await
                        .unwrap();
                    let note = tokio::time::timeout(LIMIT, notes.recv()).await.unwrap();
                    assert_eq!(note.unwrap(), "answer");
                }
                start.elapsed()
            })
        });
    });
    drop(listener);
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
