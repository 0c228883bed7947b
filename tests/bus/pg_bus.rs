//! `PgBus` against a real PostgreSQL 15 server the tests start themselves: the paper's race over
//! `LISTEN`/`NOTIFY`, a server restart under a waiting subscription, the payload limit, and the
//! channel names of awkward topics.
#![cfg(feature = "postgres")]

use crate::common::postgres;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fixpoint::bus::{PAYLOAD_MAX_BYTES, PgBus, PgBusError, PgBusOptions, PgWaitError};
use postgres::{Cluster, eventually};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// A bound for liveness only: a lost answer shows up as this wait running out.
const LIVENESS: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A plain connection whose driver runs on its own task.
async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// A plain connection whose notifications (channel, payload) come out of the receiver, as a
/// hand-written listener gets them.
async fn listen_raw(url: &str) -> (Client, mpsc::UnboundedReceiver<(String, String)>) {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(note) = message {
                let _ = sender.send((note.channel().to_owned(), note.payload().to_owned()));
            }
        }
    });
    (client, receiver)
}

async fn answers_table(client: &Client) {
    client
        .batch_execute("CREATE TABLE answers (question bigint PRIMARY KEY, answer text NOT NULL)")
        .await
        .unwrap();
}

/// The writer of the paper: records the answer, then announces it (two autocommit statements).
async fn answer(publisher: &Client, question: i64, topic: &str) {
    publisher
        .execute(
            "INSERT INTO answers VALUES ($1, $2)",
            &[&question, &format!("row:{question}")],
        )
        .await
        .unwrap();
    PgBus::publish_in(publisher, topic, &format!("note:{question}"))
        .await
        .unwrap();
}

/// The re-check: the answer recorded for `question`, if any.
async fn recorded(client: &Client, question: i64) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT answer FROM answers WHERE question = $1",
            &[&question],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

#[test]
fn the_naive_order_loses_every_answer_published_before_the_listen() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::shared();
    let url = cluster.create_database("naive_order");
    runtime().block_on(async {
        let publisher = connect(&url).await;
        answers_table(&publisher).await;
        let (listener, mut notes) = listen_raw(&url).await;
        let mut lost = 0;
        for question in 0..20_i64 {
            // The order of the incident, forced: the answer is written and announced, and only
            // then does the waiter LISTEN.
            answer(&publisher, question, "naive").await;
            listener.batch_execute("LISTEN naive").await.unwrap();
            // A marker sent after the LISTEN arrives; the answer, sent before it, would have
            // arrived first (one sender's notifications arrive in commit order). It never does.
            let marker = format!("marker:{question}");
            PgBus::publish_in(&publisher, "naive", &marker)
                .await
                .unwrap();
            let (_, first) = tokio::time::timeout(LIVENESS, notes.recv())
                .await
                .expect("the marker arrives")
                .unwrap();
            if first == marker {
                lost += 1;
            }
            listener.batch_execute("UNLISTEN naive").await.unwrap();
        }
        assert_eq!(lost, 20, "every answer announced before the LISTEN is lost");

        // The same order through PgBus: the subscription comes after the write, and the wait's
        // re-check finds every answer in the table.
        let bus = PgBus::connect(&url).await.unwrap();
        let reader = connect(&url).await;
        for question in 100..120_i64 {
            answer(&publisher, question, &format!("late-{question}")).await;
            let mut subscription = bus.subscribe(&format!("late-{question}")).await.unwrap();
            let found = subscription
                .wait_within(LIVENESS, || recorded(&reader, question))
                .await;
            assert_eq!(found.unwrap(), format!("row:{question}"));
        }
    });
}

#[test]
fn ten_thousand_races_lose_no_answer() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const RACES: i64 = 10_000;
    const LANES: i64 = 8;
    let cluster = Cluster::shared();
    let url = cluster.create_database("races");
    runtime().block_on(async {
        let setup = connect(&url).await;
        answers_table(&setup).await;
        let bus = PgBus::connect(&url).await.unwrap();
        let by_recheck = Arc::new(AtomicUsize::new(0));
        let by_notification = Arc::new(AtomicUsize::new(0));
        let mut lanes = tokio::task::JoinSet::new();
        for lane in 0..LANES {
            let (bus, url) = (bus.clone(), url.clone());
            let (by_recheck, by_notification) =
                (Arc::clone(&by_recheck), Arc::clone(&by_notification));
            lanes.spawn(async move {
                // The answers come from another connection than the listener's and the reader's.
                let publisher = Arc::new(connect(&url).await);
                let reader = connect(&url).await;
                let mut lost = Vec::new();
                for question in (lane..RACES).step_by(LANES as usize) {
                    let topic = format!("question-{question}");
                    let racing = {
                        let (publisher, topic) = (Arc::clone(&publisher), topic.clone());
                        async move { answer(&publisher, question, &topic).await }
                    };
                    let answered = match question % 3 {
                        // Answered before the subscription: only the re-check can find it.
                        0 => {
                            racing.await;
                            None
                        }
                        // Answered while the subscription is being made.
                        1 => Some(tokio::spawn(racing)),
                        // Answered after the subscription, while the re-check runs.
                        _ => None,
                    };
                    let mut subscription = bus.subscribe(&topic).await.unwrap();
                    let answered = match answered {
                        None if question % 3 == 2 => Some(tokio::spawn(racing_after(
                            Arc::clone(&publisher),
                            question,
                            topic.clone(),
                        ))),
                        other => other,
                    };
                    let found = subscription
                        .wait_within(LIVENESS, || recorded(&reader, question))
                        .await;
                    match found.as_deref() {
                        Ok(found) if found == format!("row:{question}") => {
                            by_recheck.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(found) if found == format!("note:{question}") => {
                            by_notification.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => lost.push((question, format!("{found:?}"))),
                    }
                    if let Some(answered) = answered {
                        answered.await.unwrap();
                    }
                }
                lost
            });
        }
        let mut lost = Vec::new();
        while let Some(lane) = lanes.join_next().await {
            lost.extend(lane.unwrap());
        }
        let (by_recheck, by_notification) = (
            by_recheck.load(Ordering::Relaxed),
            by_notification.load(Ordering::Relaxed),
        );
        assert!(
            lost.is_empty(),
            "{} answers lost: {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        // Both ways were taken: a third of the answers came before their subscription.
        assert!(
            by_recheck >= (RACES / 3) as usize,
            "{by_recheck} by the re-check"
        );
        assert!(by_notification > 0, "no answer came by notification");
        println!("{by_recheck} answers found by the re-check, {by_notification} by notification");
        // Every topic was UNLISTENed once its subscription was dropped.
        let reaped = tokio::time::timeout(LIVENESS, async {
            while bus.listening() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        assert!(
            reaped.await.is_ok(),
            "{} channels still listened",
            bus.listening()
        );
    });
}

/// The answer, written once the subscription exists.
async fn racing_after(publisher: Arc<Client>, question: i64, topic: String) {
    answer(&publisher, question, &topic).await;
}

#[test]
fn a_restart_under_a_waiting_subscription_loses_nothing() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    // Its own server: this test restarts it.
    let cluster = Cluster::start();
    let url = cluster.url();
    let rt = runtime();
    let admin = rt.block_on(async {
        let admin = connect(&url).await;
        answers_table(&admin).await;
        admin
            .batch_execute("CREATE ROLE listener LOGIN")
            .await
            .unwrap();
        admin
    });
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.user("listener");
    let options =
        PgBusOptions::new().reconnect(Duration::from_millis(20), Duration::from_millis(200));
    let bus = rt.block_on(PgBus::with_config(config, options)).unwrap();
    let mut subscription = rt.block_on(bus.subscribe("answers")).unwrap();
    // A publishing bus whose connection the restart will cut.
    let publisher = rt.block_on(PgBus::connect(&url)).unwrap();
    rt.block_on(publisher.publish("warm-up", "opens the publishing connection"))
        .unwrap();
    let rechecks = Arc::new(AtomicUsize::new(0));
    let recheck = {
        let (url, rechecks) = (url.clone(), Arc::clone(&rechecks));
        move |question: i64| {
            let (url, rechecks) = (url.clone(), Arc::clone(&rechecks));
            move || {
                let (url, rechecks) = (url.clone(), Arc::clone(&rechecks));
                async move {
                    // A connection of its own each time: the server restarts in between.
                    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
                    tokio::spawn(connection);
                    let found = recorded(&client, question).await;
                    // Counted once answered: the test moves on only when no query is in flight.
                    rechecks.fetch_add(1, Ordering::SeqCst);
                    found
                }
            }
        }
    };
    let waiting = {
        let recheck = recheck(1);
        rt.spawn(async move {
            let found = subscription.wait_within(LIVENESS, recheck).await;
            (subscription, found)
        })
    };
    assert!(eventually(LIVENESS, || rechecks.load(Ordering::SeqCst) == 1));

    // The listener cannot come back until the role may log in again: deterministically, the
    // next answer is published while nobody listens.
    rt.block_on(admin.batch_execute("ALTER ROLE listener NOLOGIN"))
        .unwrap();
    drop(admin);
    cluster.restart();
    assert!(
        eventually(LIVENESS, || !bus.is_connected()),
        "the listener noticed the restart"
    );
    // A subscribe while the listener cannot reconnect is an error that says why, not a hang.
    let refused = rt.block_on(bus.subscribe("meanwhile")).unwrap_err();
    assert!(matches!(refused, PgBusError::Connect { .. }), "{refused:?}");
    assert!(
        refused.to_string().contains("not permitted to log in"),
        "{refused}"
    );
    let admin = rt.block_on(async {
        let admin = connect(&url).await;
        answer(&admin, 1, "answers").await; // row:1, and note:1 to nobody
        admin
            .batch_execute("ALTER ROLE listener LOGIN")
            .await
            .unwrap();
        admin
    });
    let (mut subscription, found) = rt.block_on(waiting).unwrap();
    assert_eq!(
        found.unwrap(),
        "row:1",
        "the answer published during the outage is found by the re-check"
    );
    assert_eq!(
        rechecks.load(Ordering::SeqCst),
        2,
        "re-checked once more, after reconnecting"
    );
    assert_eq!(bus.reconnections(), 1);

    // After the restart, notifications flow again on the same subscription.
    let waiting = {
        let recheck = recheck(2);
        rt.spawn(async move { subscription.wait_within(LIVENESS, recheck).await })
    };
    assert!(eventually(LIVENESS, || rechecks.load(Ordering::SeqCst) == 3));
    // The publishing bus reopens its connection: at most the first publish after the cut fails
    // (when it runs before the driver has seen the connection close), the next one goes out.
    let published = rt.block_on(async {
        match publisher.publish("answers", "after the restart").await {
            Err(PgBusError::Publish { .. }) => {
                publisher.publish("answers", "after the restart").await
            }
            first => first,
        }
    });
    published.unwrap();
    assert_eq!(rt.block_on(waiting).unwrap().unwrap(), "after the restart");
    assert_eq!(bus.subscribers("meanwhile"), 0);
    drop(admin);
}

#[test]
fn a_payload_above_notify_limit_is_a_typed_error() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::shared();
    let url = cluster.create_database("payloads");
    runtime().block_on(async {
        let bus = PgBus::connect(&url).await.unwrap();
        let client = connect(&url).await;
        let too_long = "x".repeat(PAYLOAD_MAX_BYTES + 1);
        for refused in [
            bus.publish("big", &too_long).await,
            PgBus::publish_in(&client, "big", &too_long).await,
        ] {
            let error = refused.unwrap_err();
            assert!(
                matches!(&error, PgBusError::PayloadTooLarge { bytes: 8_000, .. }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains("7999") && message.contains("publish its key"),
                "{message}"
            );
        }
        // The limit is the server's: one byte more is refused by it too, and the longest
        // payload allowed arrives whole.
        let server = client
            .execute("SELECT pg_notify('big', repeat('x', 8000))", &[])
            .await
            .unwrap_err();
        let message = server.as_db_error().map(|error| error.message());
        assert_eq!(message, Some("payload string too long"), "{server:?}");
        let mut subscription = bus.subscribe("big").await.unwrap();
        let longest = "y".repeat(PAYLOAD_MAX_BYTES);
        bus.publish("big", &longest).await.unwrap();
        let received = subscription
            .wait_within(LIVENESS, || async { Ok(None) })
            .await;
        assert_eq!(received.unwrap(), longest);
        let nul = bus.publish("big", "a\0b").await.unwrap_err();
        assert!(
            matches!(nul, PgBusError::PayloadContainsNul { at: 1, .. }),
            "{nul:?}"
        );
    });
}

#[test]
fn awkward_topics_reach_their_own_subscribers_only() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::shared();
    let url = cluster.create_database("topics");
    runtime().block_on(async {
        let bus = PgBus::connect(&url).await.unwrap();
        let long = "q".repeat(200);
        let longer = "q".repeat(201);
        let topics = [
            "plain",
            "Plain",
            r#"quote " and ; LISTEN x; --"#,
            "",
            long.as_str(),
            longer.as_str(),
            "fixpoint#not-a-hash",
        ];
        let mut subscriptions = Vec::new();
        for topic in topics {
            subscriptions.push(bus.subscribe(topic).await.unwrap());
        }
        assert_eq!(bus.listening(), topics.len());
        // Published from another process's point of view: a second bus.
        let publisher = PgBus::connect(&url).await.unwrap();
        for topic in topics {
            publisher
                .publish(topic, &format!("for {topic}"))
                .await
                .unwrap();
        }
        for (subscription, topic) in subscriptions.iter_mut().zip(topics) {
            let received = subscription
                .wait_within(LIVENESS, || async { Ok(None) })
                .await;
            assert_eq!(received.unwrap(), format!("for {topic}"), "{topic:?}");
        }
        // Each got its own and nothing else.
        for subscription in &mut subscriptions {
            let nothing = subscription
                .wait_within(Duration::from_millis(200), || async { Ok(None) })
                .await;
            assert!(
                matches!(nothing, Err(PgWaitError::TimedOut { .. })),
                "{nothing:?}"
            );
        }
        drop(subscriptions);
        assert!(
            tokio::time::timeout(LIVENESS, async {
                while bus.listening() > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .is_ok(),
            "the last subscriptions of a topic UNLISTEN it"
        );
    });
}

#[test]
fn a_listener_whose_server_goes_silent_reconnects_and_rechecks() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    // Its own server: one of its backends is stopped.
    let cluster = Cluster::start();
    let url = cluster.url();
    let rt = runtime();
    let admin = rt.block_on(async {
        let admin = connect(&url).await;
        answers_table(&admin).await;
        admin
    });
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.application_name("silent-listener");
    let options = PgBusOptions::new()
        .heartbeat(Duration::from_millis(200))
        .statement_timeout(Duration::from_secs(1));
    let bus = rt.block_on(PgBus::with_config(config, options)).unwrap();
    let mut subscription = rt.block_on(bus.subscribe("answers")).unwrap();
    let reader = rt.block_on(connect(&url));
    let rechecks = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&rechecks);
    let waiting = rt.spawn(async move {
        let recheck = || async {
            let found = recorded(&reader, 1).await;
            // Counted once answered: the test moves on only when no query is in flight.
            counted.fetch_add(1, Ordering::SeqCst);
            found
        };
        subscription.wait_within(LIVENESS, recheck).await
    });
    assert!(eventually(LIVENESS, || rechecks.load(Ordering::SeqCst) == 1));
    // Heartbeats answered keep the connection: five of them pass (fewer on a loaded machine,
    // never a false alarm) without a reconnection.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(bus.reconnections(), 0, "an answered heartbeat is no loss");
    // The listener's backend stops answering, its socket still open: no reset, no error, the
    // way a host behind a cut link or a frozen VM looks. Its heartbeat gets no answer.
    let backend: i32 = rt
        .block_on(admin.query_one(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'silent-listener'",
            &[],
        ))
        .unwrap()
        .get(0);
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([name, &backend.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name} {backend}");
    };
    // Recorded, not announced, once the wait's first re-check is over: only a re-check after
    // a reconnection can find it.
    rt.block_on(admin.execute("INSERT INTO answers VALUES (1, 'row:1')", &[]))
        .unwrap();
    signal("-STOP");
    let found = rt.block_on(waiting).unwrap();
    signal("-CONT");
    assert_eq!(
        found.unwrap(),
        "row:1",
        "found by the re-check after reconnecting"
    );
    assert!(
        bus.reconnections() >= 1,
        "the silent connection was replaced"
    );
    assert!(
        rechecks.load(Ordering::SeqCst) >= 2,
        "re-checked after reconnecting"
    );
}

/// The server stops sending a topic's notifications once its last subscription leaves, not
/// only the bus's own count: the listening connection `UNLISTEN`s the channel, read from the
/// server's own log of the statements it ran. One subscription leaving while another stays
/// changes nothing on the server.
#[test]
fn the_last_subscription_to_leave_unlistens_on_the_server() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cluster = Cluster::shared();
    let url = cluster.create_database("unlisten");
    runtime().block_on(async {
        // Every statement of this database's sessions goes to the server's log.
        connect(&url)
            .await
            .batch_execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET log_statement = ''all''', current_database()); END $$")
            .await
            .unwrap();
        let bus = PgBus::connect(&url).await.unwrap();
        // A topic no other test uses: its channel names its statements in the shared log.
        let topic = format!("unlisten-{}", std::process::id());
        let first = bus.subscribe(&topic).await.unwrap();
        let second = bus.subscribe(&topic).await.unwrap();
        let channel = first.channel().to_owned();
        let ran = |statement: &str| {
            let quoted = format!("{statement} \"{channel}\"");
            cluster.log().matches(&quoted).count()
        };
        assert_eq!(ran("LISTEN"), 1, "one LISTEN for two subscriptions");
        drop(first);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ran("UNLISTEN"), 0, "UNLISTEN while a subscription stays");
        drop(second);
        assert!(
            eventually(LIVENESS, || ran("UNLISTEN") == 1),
            "the server never ran UNLISTEN {channel:?}; its log:\n{}",
            cluster.log()
        );
        assert_eq!(bus.listening(), 0);
    });
}
