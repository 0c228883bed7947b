//! The queue from the tasks to the writer: a locked buffer the writer swaps out whole, so a
//! write costs a push and a burst costs one wake-up.

use core::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, oneshot};

use crate::task::store::{RowWrite, StoreError};

/// What the writer applies, in the order the tasks produced it.
pub(crate) enum Queued<L> {
    /// A write, and the registry slot of the task that made it (fenced if the store refuses
    /// the write as not ours).
    Write(RowWrite<L>, usize),
    /// Answered once every write queued before it is applied, or with the store's error
    /// while they cannot be.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

struct Shared<L> {
    state: Mutex<State<L>>,
    /// Rings when the writer should not wait any longer: a flush, or a full batch.
    urgent: Notify,
    /// The [`Sender`] is gone: the writer stops once the queue is empty. The sender pushes
    /// before it goes, so a writer that sees it gone also sees every item.
    closed: AtomicBool,
    ready: Notify,
}

struct State<L> {
    items: Vec<Queued<L>>,
    /// The writer is parked: the next push wakes it.
    writer_waiting: bool,
}

/// The tasks' side, one per supervisor (its children share it).
pub(crate) struct Sender<L> {
    shared: Arc<Shared<L>>,
}

/// The writer's side.
pub(crate) struct Receiver<L> {
    shared: Arc<Shared<L>>,
}

/// Queued items past which the writer stops lingering.
const URGENT_AT: usize = 512;

pub(crate) fn channel<L>() -> (Sender<L>, Receiver<L>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: Vec::new(),
            writer_waiting: false,
        }),
        closed: AtomicBool::new(false),
        urgent: Notify::new(),
        ready: Notify::new(),
    });
    let receiver = Receiver {
        shared: Arc::clone(&shared),
    };
    (Sender { shared }, receiver)
}

impl<L> Shared<L> {
    fn lock(&self) -> MutexGuard<'_, State<L>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<L> Sender<L> {
    /// Queues `item`, waking the writer if it is parked, and cutting its wait short for a
    /// flush or a full batch.
    pub(crate) fn send(&self, item: Queued<L>) {
        let flush = matches!(item, Queued::Flush(_));
        let (wake, full) = {
            let mut state = self.shared.lock();
            state.items.push(item);
            let full = state.items.len() >= URGENT_AT;
            (std::mem::take(&mut state.writer_waiting), full)
        };
        if wake {
            self.shared.ready.notify_one();
        }
        if flush || full {
            self.shared.urgent.notify_one();
        }
    }
}

impl<L> Drop for Sender<L> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        if std::mem::take(&mut self.shared.lock().writer_waiting) {
            self.shared.ready.notify_one();
        }
    }
}

impl<L> Receiver<L> {
    /// Moves everything queued into `into` (appending), waiting for at least one item;
    /// `false` once the sender is gone and nothing is left.
    pub(crate) async fn recv_all(&mut self, into: &mut Vec<Queued<L>>) -> bool {
        loop {
            if let Some(received) = self.take(into, false) {
                return received;
            }
            let mut ready = pin!(self.shared.ready.notified());
            ready.as_mut().enable();
            // Marked as waiting (under the lock) after `enable`: no push slips past the wait.
            if let Some(received) = self.take(into, true) {
                return received;
            }
            ready.await;
        }
    }

    /// Waits until a flush or a full batch is queued, at most `linger`: the writes of a burst
    /// then go to the store together, for one wake-up and one lock or transaction.
    pub(crate) async fn linger(&mut self, linger: std::time::Duration) {
        let _ = tokio::time::timeout(linger, self.shared.urgent.notified()).await;
    }

    /// Moves what is queued into `into` without waiting.
    pub(crate) fn try_recv_all(&mut self, into: &mut Vec<Queued<L>>) {
        let _ = self.take(into, false);
    }

    fn take(&self, into: &mut Vec<Queued<L>>, wait: bool) -> Option<bool> {
        let mut state = self.shared.lock();
        if !state.items.is_empty() {
            if into.is_empty() {
                // Swap buffers: the tasks push into the writer's emptied one.
                std::mem::swap(into, &mut state.items);
            } else {
                into.append(&mut state.items);
            }
            return Some(true);
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Some(false);
        }
        state.writer_waiting = wait;
        None
    }
}
