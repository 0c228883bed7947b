//! The queue from the tasks to the writer: a locked buffer the writer swaps out whole, so a
//! write costs a push and a burst costs one wake-up.
//!
//! The writer is a thread of its own (see `writer.rs`), so it waits on a condition variable,
//! not on the async runtime: a task that blocks a worker thread cannot hold it back, and a
//! runtime that shuts down under it leaves no timer to fail.
//!
//! A store that applies writes without I/O ([`StatusStore::apply_now`]) is written at once,
//! by the thread that makes the write: nothing to batch, no thread to wake. Should it fail, the write goes to the writer, which retries it, and so does every
//! later one: the writes of a row never overtake each other.
//!
//! Such a store may never need the writer: its thread is started by the first item queued
//! (see [`Sender::defer_writer`]), not with the supervisor.
//!
//! [`StatusStore::apply_now`]: crate::store::StatusStore::apply_now

use std::sync::PoisonError;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::lifecycle::Lifecycle;
use crate::store::{RowWrite, StatusStore, StoreError};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What the writer applies, in the order the tasks produced it.
pub(crate) enum Queued<L> {
    /// A write, and who made it.
    Write(RowWrite<L>, Maker<L>),
    /// Answered once every write queued before it is applied, or with the store's error
    /// while they cannot be.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// Who made a queued write, to be told what the store did with it.
pub(crate) enum Maker<L> {
    /// The task in this registry slot (fenced if the store refuses the write as not ours).
    Task(usize),
    /// The insert of a task's row: the task starts once it has committed. (`std`'s `Arc`: the
    /// model checkers' cannot hold a `dyn`.)
    Insert(std::sync::Arc<dyn Inserting<L>>),
}

/// A task whose row's insert is queued: told once the store has committed the row, or
/// refused it. Its body waits until then.
pub(crate) trait Inserting<L>: Send + Sync {
    /// The row has committed: the task may start. Returns the writes made for the row while
    /// its insert was queued (an abort, a note), for the writer to apply next, each with the
    /// task's registry slot.
    fn committed(&self) -> Vec<(RowWrite<L>, usize)>;

    /// The store refused the row: the task ends without starting.
    fn refused(&self, error: StoreError);
}

/// Queued items past which the writer stops lingering.
const URGENT_AT: usize = 512;

/// Applies one write on the writing thread, for a store that can: see the module's docs.
pub(crate) type ApplyNow<L> = Box<dyn Fn(&RowWrite<L>) -> AppliedNow + Send + Sync>;

/// What a write applied at once came to: applied, or what the store said instead (boxed: it is
/// rare, and it keeps the common answer a register wide).
pub(crate) type AppliedNow = Result<(), Box<NotApplied>>;

/// Why a write applied at once was not applied.
pub(crate) enum NotApplied {
    /// The store refused it (see [`StatusStore::apply`](crate::store::StatusStore::apply)).
    Refused(StoreError),
    /// The store failed, or stopped applying writes at once.
    Failed(StoreError),
}

/// Starts the writer's thread over the queue it is given.
pub(crate) type StartWriter<L> = Box<dyn Fn(Receiver<L>) -> std::io::Result<()> + Send + Sync>;

/// What a write applied at once leaves its writer to act on.
#[must_use]
pub(crate) enum Written<L> {
    /// Applied, or queued for the writer.
    Done,
    /// Applied at once, and refused by the store.
    Refused(RowWrite<L>, StoreError),
    /// The store failed the write applied at once: it went to the writer, and so will every
    /// later write.
    Failed(StoreError),
}

struct Shared<L> {
    state: Mutex<State<L>>,
    writer: Condvar,
    apply_now: Option<ApplyNow<L>>,
    /// Writes go to [`Shared::apply_now`] as they come, not to the queue.
    inline: AtomicBool,
}

struct State<L> {
    items: Vec<Queued<L>>,
    /// A flush, or a full batch, is waiting: the writer stops lingering.
    urgent: bool,
    /// The [`Sender`] is gone: the writer stops once the queue is empty.
    closed: bool,
    /// The writer holds items it took and has not applied yet (or failed to apply).
    in_hand: bool,
    /// The writer's thread is not started yet: the first item queued starts it.
    start: Option<StartWriter<L>>,
    /// What the writer sleeps until.
    writer: Sleep,
}

/// What the writer sleeps until, if it sleeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sleep {
    Awake,
    /// Any item.
    Items,
    /// Lingering: an urgent item (a flush, a full batch).
    Urgent,
}

/// The tasks' side, one per supervisor (its children share it).
pub(crate) struct Sender<L> {
    shared: Arc<Shared<L>>,
}

/// The writer's side.
pub(crate) struct Receiver<L> {
    shared: Arc<Shared<L>>,
}

/// The queue; `apply_now` when the store applies writes at once.
pub(crate) fn channel<L>(apply_now: Option<ApplyNow<L>>) -> (Sender<L>, Receiver<L>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: Vec::new(),
            urgent: false,
            closed: false,
            in_hand: false,
            start: None,
            writer: Sleep::Awake,
        }),
        writer: Condvar::new(),
        inline: AtomicBool::new(apply_now.is_some()),
        apply_now,
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
    /// Applies `write` at once if the store takes writes at once, or queues it for the
    /// writer. The writes of one row are made one at a time (each task writes its own row,
    /// under its own lock), so they reach the store in the order they are made.
    #[inline(always)] // one branch and a call on the way of every write
    pub(crate) fn write(&self, write: RowWrite<L>, slot: usize) -> Written<L> {
        if let Some(apply_now) = &self.shared.apply_now
            && self.shared.inline.load(Ordering::Acquire)
        {
            return match apply_now(&write) {
                Ok(()) => Written::Done,
                Err(not_applied) => self.not_applied(write, slot, *not_applied),
            };
        }
        self.send(Queued::Write(write, Maker::Task(slot)));
        Written::Done
    }

    /// Queues the insert of a task's row for the writer, which tells `task` when the row
    /// commits.
    pub(crate) fn insert(&self, write: RowWrite<L>, task: std::sync::Arc<dyn Inserting<L>>) {
        self.send(Queued::Write(write, Maker::Insert(task)));
    }

    /// Whether writes are applied at once, on the thread that makes them (see the module's
    /// docs): until the store fails one.
    pub(crate) fn applies_at_once(&self) -> bool {
        self.shared.apply_now.is_some() && self.shared.inline.load(Ordering::Acquire)
    }

    /// What a write the store did not apply at once leaves to do: a refusal goes back to the
    /// task's side; on a failure, this write and every later one go to the writer.
    #[cold]
    #[inline(never)]
    fn not_applied(&self, write: RowWrite<L>, slot: usize, not_applied: NotApplied) -> Written<L> {
        match not_applied {
            NotApplied::Refused(error) => Written::Refused(write, error),
            NotApplied::Failed(error) => {
                self.shared.inline.store(false, Ordering::Release);
                self.send(Queued::Write(write, Maker::Task(slot)));
                Written::Failed(error)
            }
        }
    }

    /// Whether every write queued so far is applied: nothing is queued, and the writer holds
    /// nothing it has not applied. (Writes applied at once never wait in the queue.)
    pub(crate) fn settled(&self) -> bool {
        let state = self.shared.lock();
        state.items.is_empty() && !state.in_hand
    }

    /// Leaves the writer's thread unstarted until an item is queued: `start` starts it then
    /// (and again on the next item, should it fail).
    pub(crate) fn defer_writer(&self, start: StartWriter<L>) {
        self.shared.lock().start = Some(start);
    }

    /// Starts the deferred writer's thread, if it is not started and anything is queued. Should
    /// its thread not start, the flushes queued learn why now (rather than wait for a writer
    /// that is not there); the writes stay queued, and the next item tries again.
    fn start_writer(&self) {
        // Under the lock: two senders never start two writers.
        let mut state = self.shared.lock();
        if state.items.is_empty() {
            return;
        }
        let Some(start) = state.start.take() else {
            return;
        };
        let receiver = Receiver {
            shared: Arc::clone(&self.shared),
        };
        // The writer's first step waits for this lock: it starts once the lock is let go.
        if let Err(error) = start(receiver) {
            state.start = Some(start);
            let error = StoreError::Backend(format!(
                "cannot start the supervisor's writer thread: {error}"
            ));
            for item in &mut state.items {
                if let Queued::Flush(done) = item {
                    let (answered, _) = oneshot::channel();
                    let _ = std::mem::replace(done, answered).send(Err(error.clone()));
                }
            }
        }
    }

    /// Queues `item` for the writer. Wakes the writer if it sleeps and now has work, and cuts
    /// its lingering short for a flush or a full batch.
    pub(crate) fn send(&self, item: Queued<L>) {
        let (wake, start) = {
            let mut state = self.shared.lock();
            if state.items.len() + 1 >= URGENT_AT || matches!(item, Queued::Flush(_)) {
                state.urgent = true;
            }
            state.items.push(item);
            let wake = match state.writer {
                Sleep::Awake => false,
                Sleep::Items => true,
                Sleep::Urgent => state.urgent,
            };
            if wake {
                state.writer = Sleep::Awake;
            }
            (wake, state.start.is_some())
        };
        if start {
            self.start_writer();
        } else if wake {
            self.shared.writer.notify_one();
        }
    }
}

impl<L> Drop for Sender<L> {
    fn drop(&mut self) {
        // What is queued is applied before the writer stops, started or not yet.
        self.start_writer();
        let wake = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::replace(&mut state.writer, Sleep::Awake) != Sleep::Awake
        };
        if wake {
            self.shared.writer.notify_one();
        }
    }
}

impl<L> Receiver<L> {
    /// Moves everything queued into `into` (appending), sleeping until there is something;
    /// `false` once the sender is gone and nothing is left.
    pub(crate) fn recv_all(&mut self, into: &mut Vec<Queued<L>>) -> bool {
        let mut state = self.shared.lock();
        loop {
            if !state.items.is_empty() {
                take(&mut state, into);
                return true;
            }
            if state.closed {
                return false;
            }
            state.writer = Sleep::Items;
            state = self
                .shared
                .writer
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.writer = Sleep::Awake;
        }
    }

    /// Sleeps up to `linger`, unless a flush or a full batch is queued (or comes): the
    /// writes of a burst then go to the store together.
    pub(crate) fn linger(&mut self, linger: Duration) {
        let mut state = self.shared.lock();
        if !state.urgent && !state.closed {
            state.writer = Sleep::Urgent;
            state = crate::sync::wait_timeout_while(&self.shared.writer, state, linger, |state| {
                !state.urgent && !state.closed
            });
            state.writer = Sleep::Awake;
        }
        state.urgent = false;
    }

    /// Everything taken so far is applied (see [`Sender::settled`]).
    pub(crate) fn applied(&mut self) {
        self.shared.lock().in_hand = false;
    }

    /// Moves what is queued into `into` without waiting.
    pub(crate) fn try_recv_all(&mut self, into: &mut Vec<Queued<L>>) {
        take(&mut self.shared.lock(), into);
    }
}

fn take<L>(state: &mut State<L>, into: &mut Vec<Queued<L>>) {
    state.in_hand |= !state.items.is_empty();
    if into.is_empty() {
        // Swap buffers: the tasks push into the writer's emptied one.
        std::mem::swap(into, &mut state.items);
    } else {
        into.append(&mut state.items);
    }
}

/// Applies `write` at once through [`StatusStore::apply_now`], for a store that does.
#[inline]
pub(crate) fn apply_one_now<L: Lifecycle, S: StatusStore<L>>(
    store: &S,
    owner: &str,
    write: &RowWrite<L>,
) -> AppliedNow {
    match store.apply_now(owner, core::slice::from_ref(write)) {
        // One write: refused at most once.
        Some(Ok(mut refused)) => match refused.pop() {
            None => Ok(()),
            Some((_, error)) => Err(Box::new(NotApplied::Refused(error))),
        },
        Some(Err(error)) => Err(Box::new(NotApplied::Failed(error))),
        None => Err(Box::new(NotApplied::Failed(StoreError::Backend(
            "the store stopped applying writes at once (`apply_now` answered `None` after \
             `Some`): its writes go to the writer from now on"
                .to_owned(),
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flush may skip the writer only while nothing is queued and the writer holds nothing
    /// it has not applied: what it took counts until it says it applied it.
    #[test]
    fn settled_only_once_what_the_writer_took_is_applied() {
        let (sender, mut receiver) = channel::<()>(None);
        assert!(sender.settled(), "nothing queued, nothing taken");
        let (done, _answer) = oneshot::channel();
        sender.send(Queued::Flush(done));
        assert!(!sender.settled(), "queued");
        let mut taken = Vec::new();
        receiver.try_recv_all(&mut taken);
        assert_eq!(taken.len(), 1);
        assert!(!sender.settled(), "taken, not applied yet");
        receiver.try_recv_all(&mut taken);
        assert!(
            !sender.settled(),
            "nothing new taken: the first is still in hand"
        );
        receiver.applied();
        assert!(sender.settled(), "applied");
    }
}
