//! The bounded queue between a topic and one subscription: the oldest event gives way when it is
//! full, and the loss is reported to the next wait.

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker, ready};

use super::WaitError;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The position of a backlog that is in no topic's subscriber list.
pub(super) const DETACHED: usize = usize::MAX;

pub(crate) struct Backlog<E> {
    state: Mutex<State<E>>,
    /// Where this backlog sits in its topic's subscriber list, so that leaving is a
    /// `swap_remove`, not a search. Written only under the bus's topic lock.
    slot: AtomicUsize,
    /// The hash of the topic's key, so that leaving does not hash it again.
    topic_hash: u64,
}

struct State<E> {
    events: VecDeque<E>,
    capacity: usize,
    /// Events dropped to make room and not yet reported to a wait.
    unreported: u64,
    /// Events dropped to make room over the whole life of the subscription.
    missed: u64,
    closed: bool,
    waker: Option<Waker>,
}

/// What a closed backlog leaves to inspect.
pub(crate) struct Remains {
    pub(crate) unread: u64,
    pub(crate) missed: u64,
}

impl<E> Backlog<E> {
    /// An open backlog holding at most `capacity` events (at least one), placed at `slot` of
    /// the topic whose key hashes to `topic_hash`.
    pub(crate) fn open(capacity: usize, slot: usize, topic_hash: u64) -> Self {
        Self::new(capacity, slot, topic_hash, false)
    }

    /// The backlog of a subscription born closed: in no list, nothing will ever arrive.
    pub(super) fn born_closed() -> Self {
        Self::new(1, DETACHED, 0, true)
    }

    fn new(capacity: usize, slot: usize, topic_hash: u64, closed: bool) -> Self {
        Backlog {
            state: Mutex::new(State {
                events: VecDeque::new(),
                capacity: capacity.max(1),
                unreported: 0,
                missed: 0,
                closed,
                waker: None,
            }),
            slot: AtomicUsize::new(slot),
            topic_hash,
        }
    }

    pub(super) fn slot(&self) -> usize {
        // Relaxed: the slot is only meaningful under the topic lock, which orders it.
        self.slot.load(Ordering::Relaxed)
    }

    pub(super) fn topic_hash(&self) -> u64 {
        self.topic_hash
    }

    pub(super) fn set_slot(&self, slot: usize) {
        self.slot.store(slot, Ordering::Relaxed);
    }

    /// Queues `event`, dropping the oldest one if the backlog is full. Returns whether the
    /// subscription was still open to receive it.
    pub(crate) fn push(&self, event: E) -> bool {
        let (waker, displaced) = {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            let displaced = if state.events.len() == state.capacity {
                state.unreported += 1;
                state.missed += 1;
                state.events.pop_front()
            } else {
                None
            };
            state.events.push_back(event);
            (state.waker.take(), displaced)
        };
        // Outside the backlog's lock: a waiter woken on another thread would otherwise find it
        // still held, and the displaced event's `Drop` is the user's code.
        drop(displaced);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The next outcome for a wait: a loss to report first, then the oldest event, then the end.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Result<E, WaitError>> {
        // An always-ready queue must still let the other tasks of its thread run, as tokio's
        // own channels do.
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let mut state = self.lock();
        let outcome = if state.unreported > 0 {
            let missed = std::mem::take(&mut state.unreported);
            Err(WaitError::Lagged { missed })
        } else if let Some(event) = state.events.pop_front() {
            Ok(event)
        } else if state.closed {
            Err(WaitError::Closed)
        } else {
            match &mut state.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                waker => *waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        };
        coop.made_progress();
        Poll::Ready(outcome)
    }

    /// Ends delivery: queued events can still be waited for, then waits fail with `Closed`.
    pub(crate) fn close(&self) {
        let waker = {
            let mut state = self.lock();
            state.closed = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Closes and empties the backlog, and says what was in it.
    pub(crate) fn drain(&self) -> Remains {
        let (events, missed) = {
            let mut state = self.lock();
            state.closed = true;
            (std::mem::take(&mut state.events), state.missed)
        };
        Remains {
            unread: events.len() as u64,
            missed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
