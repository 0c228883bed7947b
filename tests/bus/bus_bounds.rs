//! What a `Bus` holds stays bounded by what is alive: a subscription nobody reads keeps its
//! backlog and reports its losses, closed topics are remembered in a window of fixed size, and
//! subscribers leave in constant time without taking anyone else with them, even under races.
#![cfg(feature = "tokio")]

use crate::common;

use common::XorShift;

use fixpoint::bus::{Bus, BusLimits, PublishError, WaitError};

/// A subscription nobody waits on holds at most its backlog, the latest events, and says how
/// many it lost: once to the next wait, in total when closed.
#[tokio::test]
async fn an_unread_subscription_holds_at_most_its_backlog_and_reports_what_it_missed() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const BACKLOG: usize = 16;
    const EVENTS: u64 = 100_000;
    let bus: Bus<u8, u64> = Bus::with_limits(BusLimits::new().backlog(BACKLOG));
    let mut slow = bus.subscribe(1);
    let unread = bus.subscribe(1);
    for event in 0..EVENTS {
        assert_eq!(
            bus.publish(&1, event),
            Ok(2),
            "a full backlog still takes the event"
        );
    }
    let missed = EVENTS - BACKLOG as u64;
    assert_eq!(slow.wait(|| None).await, Err(WaitError::Lagged { missed }));
    for event in missed..EVENTS {
        assert_eq!(
            slow.wait(|| None).await,
            Ok(event),
            "the latest events, oldest first"
        );
    }
    bus.publish(&1, EVENTS).unwrap();
    assert_eq!(
        slow.wait(|| None).await,
        Ok(EVENTS),
        "no second loss report"
    );
    let closed = unread.close();
    assert_eq!(
        (closed.unread(), closed.missed()),
        (BACKLOG as u64, EVENTS + 1 - BACKLOG as u64)
    );
    let closed = slow.close();
    assert_eq!(
        (closed.delivered(), closed.unread()),
        (BACKLOG as u64 + 1, 0)
    );
}

/// A closed topic is remembered among the last `remembered_closes` closes, no more: inside the
/// window a new subscription is born closed, past it the topic is a fresh one, and the bus
/// holds no trace of the closes it forgot.
#[tokio::test]
async fn closed_topics_are_remembered_in_a_bounded_window() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const WINDOW: usize = 8;
    let bus: Bus<u32, u32> = Bus::with_limits(BusLimits::new().remembered_closes(WINDOW));
    for topic in 0..1_000 {
        bus.close_topic(&topic);
        bus.close_topic(&topic); // closing twice is remembered once
    }
    assert!(format!("{bus:?}").contains(&format!("topics: {WINDOW}, remembered_closes: {WINDOW}")));
    for topic in 1_000 - WINDOW as u32..1_000 {
        let mut late = bus.subscribe(topic);
        assert_eq!(
            late.wait(|| None).await,
            Err(WaitError::Closed),
            "topic {topic}"
        );
        assert_eq!(bus.publish(&topic, 1), Err(PublishError::Closed));
    }
    let mut reopened = bus.subscribe(0);
    assert_eq!(
        bus.publish(&0, 5),
        Ok(1),
        "a forgotten close: a fresh topic"
    );
    assert_eq!(reopened.wait(|| None).await, Ok(5));

    let forgetful: Bus<u32, u32> = Bus::with_limits(BusLimits::new().remembered_closes(0));
    let stale = forgetful.subscribe(1);
    forgetful.close_topic(&1);
    let fresh = forgetful.subscribe(1);
    drop(stale); // left when the topic closed: must not take the fresh one with it
    assert_eq!(forgetful.subscribers(&1), 1);
    assert_eq!(forgetful.publish(&1, 1), Ok(1));
    drop(fresh);
    assert!(format!("{forgetful:?}").contains("topics: 0, remembered_closes: 0"));
}

/// Thousands of subscribers leave in random order, each in constant time; after every
/// departure an event reaches exactly those still subscribed, each once.
#[tokio::test]
async fn unsubscribing_in_any_order_leaves_exactly_the_others() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const SUBSCRIBERS: usize = 2_000;
    let bus: Bus<u8, u64> = Bus::new();
    let mut subscriptions: Vec<_> = (0..SUBSCRIBERS).map(|_| bus.subscribe(1)).collect();
    let mut rng = XorShift(0x1234_5678);
    let mut event = 0;
    while !subscriptions.is_empty() {
        let leaving = subscriptions.swap_remove(rng.below(subscriptions.len() as u64) as usize);
        if rng.below(2) == 0 {
            drop(leaving);
        } else {
            let _ = leaving.close();
        }
        assert_eq!(bus.subscribers(&1), subscriptions.len());
        if subscriptions.len() % 97 == 0 {
            event += 1;
            assert_eq!(bus.publish(&1, event), Ok(subscriptions.len()));
            for subscription in &mut subscriptions {
                assert_eq!(subscription.wait(|| None).await, Ok(event));
            }
        }
    }
    assert!(
        format!("{bus:?}").contains("topics: 0"),
        "the topic left with its last subscriber"
    );
}

/// Four threads subscribe, publish, close topics and drop subscriptions at random over a few
/// topics, with a window of closes small enough to be forgotten and reopened under them. When
/// every subscription is gone, nothing is left but remembered closes: no entry leaked, and no
/// departure took someone else's place with it.
#[test]
fn racing_closes_and_departures_leave_nothing_behind() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const THREADS: u64 = 4;
    const OPS: usize = 20_000;
    let bus: Bus<u8, u64> = Bus::with_limits(BusLimits::new().backlog(4).remembered_closes(3));
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let bus = bus.clone();
            std::thread::spawn(move || {
                let mut rng = XorShift(0x7f4a_7c15 + thread);
                let mut held = Vec::new();
                for op in 0..OPS as u64 {
                    let topic = rng.below(12) as u8;
                    match rng.below(8) {
                        0..=2 => held.push(bus.subscribe(topic)),
                        3 | 4 if !held.is_empty() => {
                            drop(held.swap_remove(rng.below(held.len() as u64) as usize))
                        }
                        5 => bus.close_topic(&topic),
                        _ => {
                            let _ = bus.publish(&topic, op);
                        }
                    }
                }
                held
            })
        })
        .collect();
    let mut held = Vec::new();
    for worker in workers {
        held.extend(worker.join().unwrap());
    }
    for topic in 0..12 {
        let alive = held.iter().filter(|s| *s.topic() == topic).count();
        assert!(
            bus.subscribers(&topic) <= alive,
            "topic {topic}: more listed than alive"
        );
    }
    drop(held);
    for topic in 0..12 {
        assert_eq!(bus.subscribers(&topic), 0, "topic {topic}");
    }
    let debug = format!("{bus:?}");
    assert!(
        debug.contains("topics: 3, remembered_closes: 3"),
        "only the remembered closes remain: {debug}"
    );
}
