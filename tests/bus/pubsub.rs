//! Subscribe before publish, under races: the contract never loses an answer nor hangs, the
//! naive order is shown to lose answers (so the test can see the bug), and the registry never
//! lets a stale cleanup close a fresh handle.
#![cfg(feature = "tokio")]

use crate::common;

use common::XorShift;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixpoint::bus::{Bus, PublishError, Registry, RemoveError, Subscription, WaitError};

// A bus is shared between tasks and threads; a subscription moves into the task that waits.
static_assertions::assert_impl_all!(Bus<String, String>: Send, Sync, Clone);
static_assertions::assert_impl_all!(Subscription<String, String>: Send, Sync);
static_assertions::assert_impl_all!(Registry<String, String>: Send, Sync);

/// Where answers are recorded before they are announced: the re-check reads it.
#[derive(Clone, Default)]
struct AnswerStore(Arc<Mutex<HashMap<u64, u64>>>);

impl AnswerStore {
    fn record(&self, question: u64, answer: u64) {
        self.0.lock().unwrap().insert(question, answer);
    }

    fn get(&self, question: u64) -> Option<u64> {
        self.0.lock().unwrap().get(&question).copied()
    }
}

/// The user answering on another task: record, then announce. Sometimes at once, sometimes
/// after a yield, so the answer lands before or after the wait starts.
fn answer_from_another_task(
    bus: &Bus<u64, u64>,
    store: &AnswerStore,
    question: u64,
    yield_first: bool,
) {
    let (bus, store) = (bus.clone(), store.clone());
    tokio::spawn(async move {
        if yield_first {
            tokio::task::yield_now().await;
        }
        store.record(question, question * 2);
        let _ = bus.publish(&question, question * 2);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_never_loses_an_answer_nor_hangs() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const ITERATIONS: u64 = 100_000;
    let bus: Bus<u64, u64> = Bus::new();
    let store = AnswerStore::default();
    let mut rng = XorShift(0x5b5c_21be);
    let (mut by_event, mut by_recheck) = (0, 0);
    for question in 0..ITERATIONS {
        // One in ten answers was recorded before this process subscribed (a reconnect): only
        // the re-check can find it.
        let answered_before = rng.below(10) == 0;
        if answered_before {
            store.record(question, question * 2);
            let _ = bus.publish(&question, question * 2); // nobody listens yet: dropped
        }
        let mut answer = bus.subscribe(question); // 1. subscribe
        if !answered_before {
            answer_from_another_task(&bus, &store, question, rng.below(2) == 0); // 2. the write
        }
        let recorded = store.get(question);
        let got = answer
            .wait_within(Duration::from_secs(10), || recorded) // 3. re-check, then wait
            .await
            .unwrap_or_else(|error| panic!("question {question}: {error}"));
        assert_eq!(got, question * 2);
        if recorded.is_some() {
            by_recheck += 1
        } else {
            by_event += 1
        }
    }
    assert!(
        by_recheck >= ITERATIONS / 20,
        "the re-check path was exercised: {by_recheck}"
    );
    assert!(by_event > 0);
}

/// The bug, reproduced: the write runs before the subscription exists, so an answer that
/// arrives in between goes to a topic with no listener. The wait is bounded here only so the
/// test ends; in production it waited forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_naive_order_loses_answers() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const ITERATIONS: u64 = 2_000;
    let bus: Bus<u64, u64> = Bus::new();
    let store = AnswerStore::default();
    let mut lost = 0;
    for question in 0..ITERATIONS {
        answer_from_another_task(&bus, &store, question, false); // the write first
        tokio::task::yield_now().await; // ... the handler does other work ...
        let mut answer = bus.subscribe(question); // then subscribe: too late
        match answer.wait_within(Duration::from_millis(2), || None).await {
            Ok(got) => assert_eq!(got, question * 2),
            Err(WaitError::TimedOut { .. }) => lost += 1,
            Err(error) => panic!("{error}"),
        }
    }
    assert!(
        lost > 0,
        "the naive order lost no answer in {ITERATIONS} tries: the race was not exercised"
    );
    println!("naive order: {lost} of {ITERATIONS} answers lost");
}

#[tokio::test]
async fn bad_use_is_a_typed_error_never_a_hang() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let bus: Bus<&str, u8> = Bus::new();
    let mut waiting = bus.subscribe("q");
    bus.close_topic(&"q");
    assert_eq!(waiting.wait(|| None).await, Err(WaitError::Closed));
    assert_eq!(bus.publish(&"q", 1), Err(PublishError::Closed));
    let mut born_closed = bus.subscribe("q");
    assert_eq!(born_closed.wait(|| None).await, Err(WaitError::Closed));
    assert_eq!(
        born_closed.wait(|| Some(9)).await,
        Ok(9),
        "a recorded answer is still found"
    );

    assert_eq!(
        bus.publish(&"other", 1),
        Ok(0),
        "no listener: dropped, not an error"
    );
    let mut other = bus.subscribe("other");
    bus.close();
    assert_eq!(other.wait(|| None).await, Err(WaitError::Closed));
    assert_eq!(bus.publish(&"other", 1), Err(PublishError::Closed));

    let a: Registry<u8, u8> = Registry::new();
    let b: Registry<u8, u8> = Registry::new();
    let ticket = a.insert(1, 10).ticket;
    assert_eq!(b.remove(ticket), Err(RemoveError::ForeignTicket));
    assert_eq!(a.len(), 1);
}

#[tokio::test]
async fn subscriptions_unregister_when_dropped_or_closed() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let bus: Bus<u8, u8> = Bus::new();
    let first = bus.subscribe(1);
    let mut second = bus.subscribe(1);
    assert_eq!(bus.subscribers(&1), 2);
    drop(first);
    assert_eq!(bus.publish(&1, 5), Ok(1));
    assert_eq!(bus.publish(&1, 6), Ok(1));
    assert_eq!(second.wait(|| None).await, Ok(5));
    let closed = second.close();
    assert_eq!((closed.delivered(), closed.unread()), (1, 1));
    assert_eq!(bus.subscribers(&1), 0);
    assert_eq!(bus.publish(&1, 7), Ok(0));
}

/// The table remembers the last topic published to, so that a stream on one topic hashes its
/// key once. Whatever was published before, and however the table changed since (topics
/// leaving, coming back, the table growing and shrinking), an event reaches its own topic's
/// subscribers and no one else.
#[tokio::test]
async fn every_event_reaches_its_own_topic_whatever_came_before() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const TOPICS: u64 = 300;
    let bus: Bus<u64, u64> = Bus::new();
    let mut subscriptions: Vec<_> = (0..TOPICS).map(|topic| bus.subscribe(topic)).collect();
    let mut expected = vec![0_u64; TOPICS as usize];
    let mut rng = XorShift(0x0dd_ba11);
    for sequence in 0..20_000 {
        let topic = rng.below(TOPICS);
        if rng.below(50) == 0 {
            // The topic leaves the table with its only subscriber, and comes back.
            subscriptions[topic as usize] = bus.subscribe(topic + TOPICS);
            subscriptions[topic as usize] = bus.subscribe(topic);
            expected[topic as usize] = 0;
        }
        for _ in 0..=rng.below(3) {
            assert_eq!(bus.publish(&topic, topic << 32 | sequence), Ok(1));
            expected[topic as usize] += 1;
        }
        if rng.below(10) == 0 {
            assert_eq!(bus.publish(&(topic + TOPICS), 0), Ok(0), "nobody there");
        }
    }
    for (topic, subscription) in subscriptions.into_iter().enumerate() {
        let mut subscription = subscription;
        for _ in 0..expected[topic] {
            let event = subscription.wait(|| None).await.unwrap();
            assert_eq!(
                event >> 32,
                topic as u64,
                "an event for topic {} reached {topic}",
                event >> 32
            );
        }
        assert_eq!(
            subscription.close().unread(),
            0,
            "topic {topic} got more than its own"
        );
    }
}

/// A long-lived handle that knows whether it was closed, and by whom.
struct Handle {
    id: usize,
    closed: Arc<AtomicBool>,
}

impl Handle {
    /// Closing is the owner's act: it takes the handle by value.
    fn close(self, closes: &AtomicUsize) {
        assert!(
            !self.closed.swap(true, Ordering::SeqCst),
            "handle {} closed twice",
            self.id
        );
        closes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Four threads reconnect, clean up late (stale tickets) and clean up on time, at random, over
/// a few keys. Every removal is checked against the ticket that made it: a current ticket
/// returns the very handle it inserted, a stale one returns the typed error and leaves the
/// key's current handle in place. Afterwards every handle ever made was closed exactly once.
#[test]
fn the_registry_never_lets_a_stale_cleanup_close_a_fresh_handle() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const THREADS: usize = 4;
    const OPS: usize = 20_000;
    const KEYS: u64 = 4;
    let registry: Arc<Registry<u8, Handle>> = Arc::new(Registry::new());
    let made = Arc::new(AtomicUsize::new(0));
    let closes = Arc::new(AtomicUsize::new(0));
    let flags = Arc::new(Mutex::new(Vec::new()));
    let (removed, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (registry, made, closes, flags, removed, refused) = (
                registry.clone(),
                made.clone(),
                closes.clone(),
                flags.clone(),
                removed.clone(),
                refused.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = XorShift(0x9e37_79b9 + thread as u64);
                // Each ticket beside the id of the handle its insertion put in.
                let mut tickets = Vec::new();
                for _ in 0..OPS {
                    match rng.below(3) {
                        0 => {
                            let id = made.fetch_add(1, Ordering::SeqCst);
                            let closed = Arc::new(AtomicBool::new(false));
                            flags.lock().unwrap().push(closed.clone());
                            let key = rng.below(KEYS) as u8;
                            let inserted = registry.insert(key, Handle { id, closed });
                            if let Some(replaced) = inserted.replaced {
                                assert_ne!(replaced.id, id, "an insertion replaced itself");
                                replaced.close(&closes); // handed back: the new owner closes it
                            }
                            tickets.push((inserted.ticket, id));
                        }
                        _ if !tickets.is_empty() => {
                            let at = rng.below(tickets.len() as u64) as usize;
                            let (ticket, id) = tickets.swap_remove(at);
                            let key = *ticket.key();
                            match registry.remove(ticket) {
                                Ok(handle) => {
                                    assert_eq!(
                                        handle.id, id,
                                        "a ticket removed a handle it did not insert"
                                    );
                                    removed.fetch_add(1, Ordering::SeqCst);
                                    handle.close(&closes);
                                }
                                Err(RemoveError::Stale) => {
                                    // Only this ticket could remove handle `id`, and ids are
                                    // never reused: whatever is current now is another one.
                                    assert_ne!(
                                        registry.with(&key, |current| current.id),
                                        Some(id),
                                        "a ticket was refused while its handle is current"
                                    );
                                    refused.fetch_add(1, Ordering::SeqCst);
                                }
                                Err(error) => panic!("{error}"),
                            }
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(registry.len() <= KEYS as usize, "one entry per key at most");
    for (_, handle) in registry.drain() {
        handle.close(&closes); // shutdown: every remaining handle comes back to be closed
    }
    let open: Vec<usize> = flags
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, closed)| !closed.load(Ordering::SeqCst))
        .map(|(id, _)| id)
        .collect();
    assert!(
        open.is_empty(),
        "{} handles never closed (lost by the registry), the first: {:?}",
        open.len(),
        &open[..open.len().min(8)]
    );
    assert!(
        removed.load(Ordering::SeqCst) > 0 && refused.load(Ordering::SeqCst) > 0,
        "both current and stale cleanups were exercised"
    );
    assert!(registry.is_empty());
}

/// One thread, checked step by step against a plain map of key to current handle id: every
/// insertion hands back exactly the handle the model says it replaced, every removal returns
/// exactly what the model predicts, and a key leaves the registry with its handle.
#[test]
fn the_registry_matches_a_model_of_current_handles() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let registry: Registry<u8, usize> = Registry::new();
    let mut model: HashMap<u8, usize> = HashMap::new();
    let mut tickets = Vec::new();
    let mut rng = XorShift(0x2545_f491);
    for id in 0..50_000 {
        if rng.below(2) == 0 || tickets.is_empty() {
            let key = rng.below(8) as u8;
            let inserted = registry.insert(key, id);
            assert_eq!(inserted.replaced, model.insert(key, id));
            tickets.push((inserted.ticket, id));
        } else {
            let (ticket, inserted) = tickets.swap_remove(rng.below(tickets.len() as u64) as usize);
            let key = *ticket.key();
            let current = model.get(&key) == Some(&inserted);
            assert_eq!(registry.is_current(&ticket), current);
            if current {
                assert_eq!(registry.remove(ticket), Ok(inserted));
                model.remove(&key);
            } else {
                assert_eq!(registry.remove(ticket), Err(RemoveError::Stale));
            }
        }
        assert_eq!(registry.len(), model.len(), "keys leave with their handles");
        assert_eq!(registry.is_empty(), model.is_empty());
    }
    for (key, id) in &model {
        assert_eq!(registry.with(key, |current| *current), Some(*id));
    }
}

/// A wait polled once and given up in one place (a `select!` whose other branch won), then
/// awaited in another task, is woken in the task that waits now: the waker kept from the
/// first poll is replaced, not trusted.
#[tokio::test]
async fn a_wait_given_up_and_resumed_in_another_task_is_woken_there() {
    use std::future::Future;
    use std::task::{Context, Waker};

    let _limit = common::time_limit(common::TEST_LIMIT);
    let bus: Bus<u64, u64> = Bus::new();
    let mut subscription = bus.subscribe(7);
    {
        let wait = std::pin::pin!(subscription.wait(|| None));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wait.poll(&mut cx).is_pending());
    }
    let waiting = tokio::spawn(async move { subscription.wait(|| None).await });
    // The task polls its wait (and parks) while this one sleeps.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(bus.publish(&7, 42), Ok(1));
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the wait in its new task was never woken: the old waker was kept");
    assert_eq!(answer.unwrap(), Ok(42));
}
