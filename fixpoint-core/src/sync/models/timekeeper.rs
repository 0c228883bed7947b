//! The signal between the timekeeper's thread and a sleeping future.
//!
//! The timekeeper itself (its heap of deadlines in a `static`, its clock) is not modelled: loom
//! has no clock and cannot build a `static`; its stress tests cover it. What is modelled is the
//! hand-off where a wake-up can be lost.

use std::future::poll_fn;

use loom::sync::Arc;
use loom::thread;

use crate::uptime::timekeeper::sleep::Signal;

/// The timekeeper fires a sleep's signal while the sleeping future polls it, once or again
/// after a wake-up: the future is always woken (loom reports a wait nobody wakes as a
/// deadlock) and finishes.
#[test]
fn a_fired_deadline_always_wakes_its_sleeper() {
    loom::model(|| {
        let signal = Arc::new(Signal::default());
        let keeper = {
            let signal = signal.clone();
            thread::spawn(move || signal.fire())
        };
        loom::future::block_on(poll_fn(|cx| signal.poll(cx)));
        keeper.join().unwrap();
    });
}
