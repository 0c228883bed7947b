//! The bus as users hold it: subscribe, publish, close a topic, drop a subscription, all at
//! once, through the table of topics behind its lock and each subscription's backlog.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

use crate::bus::{Bus, BusLimits, PublishError, WaitError};

/// A publisher sends two events on a topic and closes it while a subscriber subscribes and
/// waits, with room for one event. Every event published after `subscribe` returned reaches
/// the subscription; every event that reached it is received or counted as lag, never lost
/// silently; the close always wakes the wait (loom reports a wait nobody wakes as a
/// deadlock); and the closed topic leaves nothing behind: no subscriber, no entry but the
/// remembered close, and a later subscription is born closed.
#[test]
fn every_event_after_subscribing_arrives_or_is_counted_and_a_close_leaves_nothing() {
    loom::model(|| {
        let limits = BusLimits::new().backlog(1).remembered_closes(1);
        let bus: Bus<u8, u32> = Bus::with_limits(limits);
        let subscribed = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (bus, subscribed) = (bus.clone(), subscribed.clone());
            thread::spawn(move || {
                let mut reached = 0;
                for event in 1..=2 {
                    let after_subscribing = subscribed.load(Ordering::SeqCst);
                    let now = bus.publish(&7, event).expect("the topic closed early");
                    assert!(
                        now == 1 || !after_subscribing,
                        "event {event}, published after subscribe returned, reached nobody"
                    );
                    reached += now;
                }
                bus.close_topic(&7);
                assert_eq!(bus.publish(&7, 3), Err(PublishError::Closed));
                reached as u64
            })
        };
        let mut subscription = bus.subscribe(7);
        subscribed.store(true, Ordering::SeqCst);
        let (mut received, mut lagged) = (0, 0);
        loop {
            match loom::future::block_on(subscription.wait(|| None)) {
                Ok(_) => received += 1,
                Err(WaitError::Lagged { missed }) => lagged += missed,
                Err(WaitError::Closed) => break,
                Err(other) => panic!("{other:?}"),
            }
        }
        let reached = publisher.join().unwrap();
        assert_eq!(
            received + lagged,
            reached,
            "{reached} events reached the subscription: {received} received, {lagged} lagged"
        );
        drop(subscription);
        assert_eq!(bus.subscribers(&7), 0, "a subscriber outlived the close");
        assert_eq!(
            bus.topic_entries(),
            1,
            "the close left more than its tombstone"
        );
        let mut late = bus.subscribe(7);
        assert_eq!(
            loom::future::block_on(late.wait(|| None)),
            Err(WaitError::Closed),
            "a subscription after the close was not born closed"
        );
        drop(late);
        assert_eq!(
            bus.topic_entries(),
            1,
            "a born-closed subscription left an entry"
        );
    });
}

/// Two subscriptions share a topic; one is dropped while an event is published, and the
/// other is dropped last. The event reaches the one still held (dropping a subscription never
/// detaches another, though it moves it in the topic's list), and when both are gone the
/// topic leaves nothing behind: no subscriber and no entry.
#[test]
fn dropping_one_subscription_never_detaches_another_and_the_last_leaves_nothing() {
    loom::model(|| {
        let bus: Bus<u8, u32> = Bus::with_limits(BusLimits::new().backlog(2));
        let first = bus.subscribe(7);
        let mut second = bus.subscribe(7);
        let dropper = thread::spawn(move || drop(first));
        let publisher = {
            let bus = bus.clone();
            thread::spawn(move || bus.publish(&7, 1).unwrap())
        };
        assert_eq!(
            loom::future::block_on(second.wait(|| None)),
            Ok(1),
            "the subscription still held missed the event"
        );
        dropper.join().unwrap();
        let reached = publisher.join().unwrap();
        assert!(reached >= 1, "the event reached nobody");
        assert_eq!(bus.subscribers(&7), 1);
        drop(second);
        assert_eq!(
            bus.subscribers(&7),
            0,
            "a dropped subscription stayed registered"
        );
        assert_eq!(
            bus.topic_entries(),
            0,
            "the topic's entry outlived its subscribers"
        );
    });
}
