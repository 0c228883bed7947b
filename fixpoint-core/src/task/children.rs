//! The supervisor's children: each task reaps itself when it ends, whether or not anyone
//! joins it, so a spawn-and-forget service holds only its live tasks and a bounded queue of
//! unread outcomes.

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::child::{Child, ENDED_BY_SUPERVISOR, FENCED};

use super::output::TaskOutput;
use super::queue::{Sender, Written};
use super::report::{Counters, Finished, Outcome};
use super::writer::OnRefused;
use crate::lifecycle::{Lifecycle, State};
use crate::store::{RowWrite, StoreError};

/// How many ended children free slots keep at most, to be freed by the spawns that reuse
/// their slots.
const KEPT_FREE_CHILDREN: usize = 1024;

/// The live children and the outcomes nobody has read yet.
pub(super) struct Children<L> {
    state: Mutex<Slots<L>>,
    finished_ready: Notify,
    unread_outcomes: usize,
    /// The one sender of the writer's queue: the writer stops once every child is gone.
    pub(super) writes: Sender<L>,
    /// Tasks whose row's insert is queued, and how many may be (`Config::queued_spawns`);
    /// `room` wakes the spawn that waits for one to commit.
    queued: AtomicUsize,
    queued_spawns: usize,
    room: Notify,
    pub(super) counters: Arc<Counters>,
}

struct Slots<L> {
    /// Every slot, live or free. A free slot keeps its last child until the next spawn
    /// takes it, so that the child (its id, its task's memory) is freed on the spawning
    /// thread, which allocated it: freeing it on the worker that ran it makes the two
    /// threads contend for the allocator.
    slots: Vec<Slot<L>>,
    /// Free slots, oldest first: the slot taken is the one whose task ended longest ago,
    /// whose memory its worker has long let go.
    free: VecDeque<usize>,
    count: usize,
    /// The supervisor is gone: a free slot keeps nothing (the children would keep the
    /// registry alive).
    closed: bool,
    finished: VecDeque<Finished<L>>,
    /// `join_next` waits for a task to end: the next one to end notifies it.
    waiting: bool,
}

struct Slot<L> {
    child: Option<Arc<Child<L>>>,
    running: bool,
}

impl<L: Lifecycle> Children<L> {
    pub(super) fn new(
        unread_outcomes: usize,
        queued_spawns: usize,
        writes: Sender<L>,
        counters: Arc<Counters>,
    ) -> Self {
        Children {
            state: Mutex::new(Slots {
                slots: Vec::new(),
                free: VecDeque::new(),
                count: 0,
                closed: false,
                finished: VecDeque::new(),
                waiting: false,
            }),
            finished_ready: Notify::new(),
            unread_outcomes,
            writes,
            queued: AtomicUsize::new(0),
            queued_spawns,
            room: Notify::new(),
            counters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots<L>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `write` (see [`Sender::write`]) for the child in `slot`, then acts on what the
    /// store refused or failed of it.
    #[inline]
    pub(super) fn write(&self, write: RowWrite<L>, slot: usize) {
        match self.writes.write(write, slot) {
            Written::Done => {}
            not_done => self.not_written(not_done, slot),
        }
    }

    #[cold]
    #[inline(never)]
    fn not_written(&self, written: Written<L>, slot: usize) {
        match written {
            Written::Done => {}
            Written::Refused(write, error) => self.refused(slot, &write, error),
            Written::Failed(error) => self.counters.note_failed(&error),
        }
    }

    /// Where the writer reports the writes the store refused: to the table, which decides
    /// what the task that made each becomes, while it lives; counted and kept for the next
    /// flush once it is gone (every task has ended: nothing is left to stop).
    pub(super) fn refusals(this: &Arc<Self>) -> Arc<OnRefused<L>> {
        let (children, counters) = (Arc::downgrade(this), Arc::clone(&this.counters));
        Arc::new(
            move |slot, write: &RowWrite<L>, error| match children.upgrade() {
                Some(children) => children.refused(slot, write, error),
                None => {
                    counters.note_failed(&error);
                    counters.note_refused(write.id(), error);
                }
            },
        )
    }

    /// Acts on a write the store refused, made by the child in `slot` (reported by the writer,
    /// or by the store that applies writes at once): one refused because the row is another
    /// owner's ends that task; any other refusal is counted and reported.
    pub(super) fn refused(&self, slot: usize, write: &RowWrite<L>, error: StoreError) {
        self.counters.note_refused(write.id(), error.clone());
        match error {
            StoreError::Fenced { .. } => {
                Counters::add(&self.counters.fenced_writes, 1);
                let _ended = self.fence(slot, write.id());
                #[cfg(feature = "tracing")]
                if _ended {
                    tracing::error!(
                        task = write.id(),
                        ?error,
                        "the row was adopted by another supervisor: the task is ended and its row left to its new owner"
                    );
                } else {
                    tracing::error!(
                        task = write.id(),
                        ?error,
                        "the row was adopted by another supervisor: this write is dropped and the row left to its new owner"
                    );
                }
            }
            error => self.counters.note_failed(&error),
        }
    }

    /// Queues the insert of a new task `id`'s row, in the lifecycle's initial state, for the
    /// writer's next batch, and returns the task: its body waits for the row's commit.
    pub(super) fn insert(self: &Arc<Self>, id: Arc<str>) -> Arc<Child<L>> {
        let child = Child::new(Arc::clone(&id), L::initial(), self, false);
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.writes
            .insert(RowWrite::insert(id), Arc::clone(&child) as _);
        child
    }

    /// Whether [`Config::queued_spawns`](super::Config::queued_spawns) rows are queued.
    pub(super) fn must_wait_to_spawn(&self) -> bool {
        self.queued.load(Ordering::Acquire) >= self.queued_spawns
    }

    /// Waits while [`Config::queued_spawns`](super::Config::queued_spawns) rows are queued.
    pub(super) async fn room_to_spawn(&self) {
        while self.queued.load(Ordering::Acquire) >= self.queued_spawns {
            let room = pin!(self.room.notified());
            // A commit between the check and the wait leaves a permit: the loop looks again.
            room.await;
        }
    }

    /// A queued insert has committed or been refused: one more spawn may queue.
    pub(super) fn insert_settled(&self) {
        if self.queued.fetch_sub(1, Ordering::AcqRel) >= self.queued_spawns {
            self.room.notify_one();
        }
    }

    /// Spawns `body` as `child`'s task, registered until it ends; the body starts once the
    /// task's row has committed.
    pub(super) fn spawn<Fut>(&self, child: &Arc<Child<L>>, body: Fut)
    where
        L: Send,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let last = {
            let mut slots = self.lock();
            let slot = slots.free.pop_front().unwrap_or(slots.slots.len());
            child.slot.store(slot, Ordering::Relaxed);
            let taken = Slot {
                child: Some(Arc::clone(child)),
                running: true,
            };
            slots.count += 1;
            if slot == slots.slots.len() {
                slots.slots.push(taken);
                None
            } else {
                std::mem::replace(&mut slots.slots[slot], taken).child
            }
        };
        drop(last); // the slot's previous child, freed here, outside the lock
        Counters::add(&self.counters.running, 1);
        let exit = Exit {
            child: Arc::clone(child),
            outcome: None,
        };
        child.set_task(tokio::spawn(Supervised { body, exit }));
    }

    /// Fences the live child in `slot` if it is the task of row `id` (a task that already
    /// ended has nothing left to stop). Returns whether this call fenced it.
    pub(super) fn fence(&self, slot: usize, id: &str) -> bool {
        let slots = self.lock();
        match slots.slots.get(slot) {
            Some(Slot {
                child: Some(child),
                running: true,
            }) if &*child.id == id => child.fence(),
            _ => false,
        }
    }

    /// The live children.
    fn live(&self) -> Vec<Arc<Child<L>>> {
        let slots = self.lock();
        slots
            .slots
            .iter()
            .filter(|slot| slot.running)
            .filter_map(|slot| slot.child.clone())
            .collect()
    }

    /// Ends every live child's row now, with `reason` (see [`Child::end`]), and aborts its
    /// task.
    pub(super) fn end_all(&self, reason: &str) {
        for child in self.live() {
            child.end(reason);
        }
    }

    /// The ids of the children whose task has not ended.
    pub(super) fn running_ids(&self) -> Vec<Arc<str>> {
        self.live()
            .into_iter()
            .map(|child| Arc::clone(&child.id))
            .collect()
    }

    /// Names the tasks still running after their rows were ended by a shutdown whose `grace`
    /// ran out: they did not yield. Their rows' reasons say so.
    pub(super) fn name_unresponsive(&self, grace: Duration) -> Vec<String> {
        let ids = self.running_ids();
        for id in &ids {
            let reason = format!(
                "aborted: did not yield within the shutdown grace of {grace:?} (blocked in a \
                 synchronous call?); its row was ended without it"
            );
            // Through the queue directly: the task's own writes are dropped from now on.
            self.write(RowWrite::reason(Arc::clone(id), reason), usize::MAX);
            #[cfg(feature = "tracing")]
            tracing::error!(
                task = &**id,
                ?grace,
                "supervised task did not yield within the shutdown grace; its row was ended without it"
            );
        }
        Counters::add(&self.counters.unresponsive, ids.len() as u64);
        ids.iter().map(ToString::to_string).collect()
    }

    /// The supervisor is gone: ends every live child and lets the free slots go, so that
    /// nothing keeps the registry alive once the last child ends.
    pub(super) fn close(&self) {
        let kept: Vec<_> = {
            let mut slots = self.lock();
            slots.closed = true;
            let free = std::mem::take(&mut slots.free);
            free.iter()
                .filter_map(|&slot| slots.slots[slot].child.take())
                .collect()
        };
        drop(kept);
        self.end_all("aborted");
    }

    /// The next unread outcome; `None` once no child is live and every outcome was read.
    pub(super) async fn next(&self) -> Option<Finished<L>> {
        loop {
            if let Some(found) = self.take_outcome(false) {
                return found;
            }
            let mut ready = pin!(self.finished_ready.notified());
            ready.as_mut().enable();
            // Marked as waiting (under the lock) after `enable`: the next task to end notifies
            // a registered waiter, so no ending slips between the check and the wait.
            if let Some(found) = self.take_outcome(true) {
                return found;
            }
            ready.await;
        }
    }

    /// `Some(Some(outcome))`; `Some(None)` when nothing is left to wait for; `None` when the
    /// caller must wait (marked as waiting if `wait`).
    fn take_outcome(&self, wait: bool) -> Option<Option<Finished<L>>> {
        let mut slots = self.lock();
        let found = match slots.finished.pop_front() {
            Some(finished) => Some(Some(finished)),
            None if slots.count == 0 => Some(None),
            None => None,
        };
        slots.waiting = wait && found.is_none();
        found
    }

    /// Takes every unread outcome.
    pub(super) fn drain(&self) -> Vec<Finished<L>> {
        self.lock().finished.drain(..).collect()
    }

    /// Unregisters `child` and keeps its outcome for `join_next`, the newest
    /// `unread_outcomes` of them.
    fn reap(&self, child: &Child<L>, outcome: Outcome<L>) {
        let mut dropped = 0;
        let waiting = {
            let mut slots = self.lock();
            let slot = child.slot.load(Ordering::Relaxed);
            slots.slots[slot].running = false;
            if slots.closed || slots.free.len() >= KEPT_FREE_CHILDREN {
                // After a burst, no more than a bounded number of ended children wait for a
                // spawn to free them; the rest go with their task.
                slots.slots[slot].child = None;
            }
            if !slots.closed {
                slots.free.push_back(slot);
            }
            slots.count -= 1;
            if self.unread_outcomes > 0 {
                if slots.finished.len() == self.unread_outcomes {
                    slots.finished.pop_front();
                    dropped = 1;
                }
                slots.finished.push_back(Finished {
                    id: Arc::clone(&child.id),
                    outcome,
                });
            } else {
                dropped = 1;
            }
            // Counted before the task stops counting as running (that decrement releases it):
            // whoever sees `running()` reach zero sees every dropped outcome too.
            Counters::add(&self.counters.outcomes_dropped, dropped);
            self.counters.running.fetch_sub(1, Ordering::AcqRel);
            std::mem::take(&mut slots.waiting)
        };
        if waiting {
            self.finished_ready.notify_one();
        }
    }
}

pin_project_lite::pin_project! {
    /// A supervised task: waits for its row to commit, runs the body, sees its panic, and
    /// whatever ends it (return, error, panic, abort, the runtime going away, the store
    /// refusing its row) [`Exit`]'s drop records the reason and reaps the child. `body` is
    /// dropped first: the machine records its abandonment before the exit writes the reason.
    struct Supervised<L, F>
    where
        L: Lifecycle,
    {
        #[pin]
        body: F,
        exit: Exit<L>,
    }
}

impl<L, F> Future for Supervised<L, F>
where
    L: Lifecycle,
    F: Future,
    F::Output: TaskOutput<L>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // The body runs once the row has committed (one load of a flag, once it has).
        match this.exit.child.poll_row(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => {
                this.exit.outcome = Some(Ended::Refused);
                return Poll::Ready(());
            }
        }
        let body = this.body;
        this.exit.outcome = Some(match catch_unwind(AssertUnwindSafe(|| body.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => match output.into_result() {
                Ok(state) => Ended::Finished(state),
                Err(error) => Ended::Failed(error),
            },
            Err(payload) => Ended::Panicked(panic_message(&*payload)),
        });
        Poll::Ready(())
    }
}

struct Exit<L: Lifecycle> {
    child: Arc<Child<L>>,
    /// `None` until the body ends: dropped before, the task was aborted.
    outcome: Option<Ended<L>>,
}

/// How a task ended, as its future keeps it until its exit: small (the future is moved on
/// every spawn), the store's refusal read from the child instead.
enum Ended<L> {
    Finished(State<L>),
    Failed(String),
    Panicked(String),
    Refused,
}

impl<L: Lifecycle> Drop for Exit<L> {
    fn drop(&mut self) {
        let counters = &self.child.children.counters;
        let mut outcome = match self.outcome.take() {
            None => Outcome::Aborted,
            Some(Ended::Finished(state)) => Outcome::Finished(state),
            Some(Ended::Failed(error)) => Outcome::Failed(error),
            Some(Ended::Panicked(message)) => Outcome::Panicked(message),
            Some(Ended::Refused) => Outcome::Refused(self.child.refusal()),
        };
        match self.child.ended_by() {
            FENCED => outcome = Outcome::Fenced,
            // The supervisor wrote the row's end; the task was aborted on the way.
            ENDED_BY_SUPERVISOR => outcome = Outcome::Aborted,
            _ => {}
        }
        match reason(&outcome) {
            Reason::None => Counters::add(&counters.completed, 1),
            Reason::NotOurs => {}
            Reason::Text(text) => {
                self.child
                    .write(RowWrite::reason(Arc::clone(&self.child.id), text));
                Counters::add(&counters.abandoned, 1);
            }
        }
        self.child.children.reap(&self.child, outcome);
    }
}

enum Reason {
    None,
    /// The row is another owner's.
    NotOurs,
    Text(String),
}

fn reason<L: Lifecycle>(outcome: &Outcome<L>) -> Reason {
    match outcome {
        Outcome::Finished(state) if !state.is_abandoned() => Reason::None,
        Outcome::Finished(_) => Reason::Text("abandoned by the task".to_owned()),
        Outcome::Failed(error) => Reason::Text(error.clone()),
        Outcome::Panicked(message) => Reason::Text(format!("panicked: {message}")),
        Outcome::Aborted => Reason::Text("aborted".to_owned()),
        // The row is another owner's: nothing more is written to it.
        Outcome::Fenced | Outcome::Refused(_) => Reason::NotOurs,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}
