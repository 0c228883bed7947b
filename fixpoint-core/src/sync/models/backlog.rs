//! A bus subscription's backlog: the lag bound and the waker.

use std::future::poll_fn;

use loom::sync::Arc;
use loom::thread;

use crate::bus::WaitError;
use crate::bus::backlog::Backlog;

/// A publisher pushes three events into a backlog of two and closes it while the subscriber
/// waits: the subscriber is always woken (loom reports a wait nobody wakes as a deadlock), it
/// receives events in the order they were published, every event is either delivered or
/// counted as lag, the newest is never the one dropped, and the end is reported as `Closed`.
#[test]
fn every_event_is_delivered_or_counted_as_lag_and_no_wake_up_is_lost() {
    loom::model(|| {
        let backlog = Arc::new(Backlog::<u32>::open(2, 0, 0));
        let publisher = {
            let backlog = backlog.clone();
            thread::spawn(move || {
                for event in 1..=3 {
                    assert!(
                        backlog.push(event),
                        "the backlog closed before its publisher"
                    );
                }
                backlog.close();
            })
        };
        let (mut received, mut lagged) = (Vec::new(), 0);
        loop {
            match loom::future::block_on(poll_fn(|cx| backlog.poll_next(cx))) {
                Ok(event) => received.push(event),
                Err(WaitError::Lagged { missed }) => lagged += missed,
                Err(WaitError::Closed) => break,
                Err(other) => panic!("{other:?}"),
            }
        }
        publisher.join().unwrap();
        assert!(received.is_sorted(), "events out of order: {received:?}");
        assert_eq!(
            received.len() as u64 + lagged,
            3,
            "an event lost silently: received {received:?}, {lagged} counted as lag"
        );
        assert_eq!(received.last(), Some(&3), "the newest event was dropped");
        let remains = backlog.drain();
        assert_eq!((remains.unread, remains.missed), (0, lagged));
    });
}
