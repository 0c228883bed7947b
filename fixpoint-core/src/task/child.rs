//! One supervised task as its recorder, its handle, the writer and the registry see it: the
//! writes it may still make, and who ended its row if the task itself did not.

use core::fmt;
use core::task::{Context, Poll, Waker};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::task::JoinHandle;

use super::children::Children;
use super::queue::Inserting;
use super::report::Counters;
use crate::lifecycle::{Event, Lifecycle, Recorder, State};
use crate::store::{RowChange, RowWrite, StoreError, Transition};

/// Who ends the row: the task, by its own transitions, unless one of the others took over.
pub(super) const BY_TASK: u8 = 0;
/// The store refused a write: another supervisor adopted the row.
pub(super) const FENCED: u8 = 1;
/// `TaskHandle::abort`, the shutdown after its grace, or the supervisor dropped.
pub(super) const ENDED_BY_SUPERVISOR: u8 = 2;

/// One task, shared by its wrapper, its recorder, its handle, the writer (to fence it) and
/// the registry (to end it).
pub(super) struct Child<L> {
    pub(super) id: Arc<str>,
    pub(super) slot: AtomicUsize,
    /// The task's handle, to abort it (never joined: the task reports through its `Exit`);
    /// set once, right after the spawn. A plain lock, not a once-cell: taken once uncontended,
    /// it costs a fraction of a once-cell's initialization.
    task: Mutex<Option<JoinHandle<()>>>,
    /// Who ended the row: [`BY_TASK`] while the task's own writes stand.
    ended_by: AtomicU8,
    /// The state the task last recorded, for the supervisor to end the row from. Both are
    /// read and written under `writing`, with the writes they decide.
    state: AtomicU16,
    /// Whether the row has committed: [`Writing::row`] says so too; this is read without the
    /// lock, on the way into the task's body.
    committed: AtomicBool,
    /// Held while the row is written: the task's own writes and the supervisor's end of the
    /// row are made one at a time, each with the check that decides it.
    writing: Mutex<Writing<L>>,
    pub(super) children: Arc<Children<L>>,
}

/// Where a task's row stands, decided under the child's lock: its body starts only once the
/// row has committed. (Two words: a row committed from the start, as every row of a store
/// that applies writes at once is, costs no more.)
enum Writing<L> {
    Queued(Box<Queued<L>>),
    Committed,
    /// The store refused the insert (an id in use, a fenced owner, a constraint): the row is
    /// not this task's, and nothing is written to it.
    Refused(Box<StoreError>),
}

/// A task whose row's insert is queued.
struct Queued<L> {
    /// Writes made for the row meanwhile (an abort, a note), applied once it commits, dropped
    /// if the store refuses it.
    parked: Vec<RowWrite<L>>,
    /// The task (to start its body) and the callers of [`TaskHandle::committed`].
    waiting: Vec<Waker>,
}

impl<L: Lifecycle> Child<L> {
    /// A task in `state`, whose row has `committed` already or whose insert is queued.
    #[inline]
    pub(super) fn new(
        id: Arc<str>,
        state: State<L>,
        children: &Arc<Children<L>>,
        committed: bool,
    ) -> Arc<Self> {
        Arc::new(Child {
            id,
            slot: AtomicUsize::new(usize::MAX),
            task: Mutex::new(None),
            ended_by: AtomicU8::new(BY_TASK),
            state: AtomicU16::new(state_index(state)),
            committed: AtomicBool::new(committed),
            writing: Mutex::new(if committed {
                Writing::Committed
            } else {
                Writing::Queued(Box::new(Queued {
                    parked: Vec::new(),
                    waiting: Vec::new(),
                }))
            }),
            children: Arc::clone(children),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Writing<L>> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `write` for the row as it stands: to the store once it has committed, parked
    /// while its insert is queued, nowhere if the store refused it. Under the lock.
    #[inline(always)] // on the way of every write
    fn put(&self, writing: &mut Writing<L>, write: RowWrite<L>) {
        match writing {
            Writing::Committed => self
                .children
                .write(write, self.slot.load(Ordering::Relaxed)),
            Writing::Queued(queued) => queued.parked.push(write),
            Writing::Refused(_) => {}
        }
    }

    /// Ready once the row has committed (`Ok`) or the store refused it (`Err`, why).
    #[inline]
    pub(super) fn poll_row(&self, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        if self.committed.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        self.poll_row_queued(cx)
    }

    /// Why the store refused the row, once it has.
    #[cold]
    pub(super) fn refusal(&self) -> StoreError {
        match &*self.lock() {
            Writing::Refused(error) => StoreError::clone(error),
            _ => StoreError::Backend("the task's row was not refused".to_owned()),
        }
    }

    #[cold]
    fn poll_row_queued(&self, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        match &mut *self.lock() {
            Writing::Committed => Poll::Ready(Ok(())),
            Writing::Refused(error) => Poll::Ready(Err(StoreError::clone(error))),
            Writing::Queued(queued) => {
                if !queued.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    queued.waiting.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Who ended the row.
    pub(super) fn ended_by(&self) -> u8 {
        self.ended_by.load(Ordering::Acquire)
    }

    /// Writes the task's write, unless its row was ended for it (fenced, or ended by the
    /// supervisor): the check and the write are one step against [`end`](Self::end). A closed
    /// queue means the supervisor and its writer are gone with the runtime; the row is then
    /// an orphan for the next start's `reconcile`.
    #[inline]
    pub(super) fn write(&self, write: RowWrite<L>) {
        let mut writing = self.lock();
        if self.ended_by.load(Ordering::Acquire) != BY_TASK {
            return;
        }
        if let RowChange::Transition(step) = write.change() {
            self.state.store(state_index(step.to()), Ordering::Relaxed);
        }
        self.put(&mut writing, write);
    }

    /// The store refused a write because another supervisor owns the row now: end the task
    /// and never write the row again. Returns whether this call fenced it (then counted
    /// before the task is aborted, so whoever sees it end sees the count).
    pub(super) fn fence(&self) -> bool {
        let first = self
            .ended_by
            .compare_exchange(BY_TASK, FENCED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            Counters::add(&self.children.counters.fenced, 1);
        }
        self.abort_task();
        first
    }

    /// Ends the row now, without waiting for the task to stop (it may be blocked in a
    /// synchronous call, where no abort reaches it): the abandoned state from the state the
    /// task last recorded, with `reason`; the task's own writes from here on are dropped, and
    /// its task is aborted. Returns whether this call ended the row (not if the task had
    /// already reached a terminal state, been fenced, or been ended).
    pub(super) fn end(&self, reason: &str) -> bool {
        let ended = {
            let mut writing = self.lock();
            let state = State::<L>::from_index(self.state.load(Ordering::Relaxed));
            match Transition::new(state, L::abandoned()) {
                // Terminal already: the task's own end stands.
                Err(_) => false,
                Ok(_) if self.ended_by.load(Ordering::Acquire) != BY_TASK => false,
                Ok(abandon) => {
                    self.ended_by.store(ENDED_BY_SUPERVISOR, Ordering::Release);
                    let id = &self.id;
                    let abandon = RowWrite::transition(Arc::clone(id), abandon);
                    self.put(&mut writing, abandon);
                    self.put(&mut writing, RowWrite::reason(Arc::clone(id), reason));
                    true
                }
            }
        };
        self.abort_task();
        ended
    }

    /// Keeps the handle of the task just spawned, to abort it.
    #[inline]
    pub(super) fn set_task(&self, task: JoinHandle<()>) {
        *self.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    fn abort_task(&self) {
        // Under the lock: an abort only marks the task and schedules it, it runs nothing here.
        if let Some(task) = &*self.task.lock().unwrap_or_else(PoisonError::into_inner) {
            task.abort();
        }
    }
}

impl<L: Lifecycle> Child<L> {
    /// Settles the row's queued insert as `now` (committed or refused), and returns what was
    /// queued; `None` if it was settled already (the writer tells a task once).
    fn settle(&self, now: Writing<L>) -> Option<(Queued<L>, usize)> {
        let mut writing = self.lock();
        if !matches!(*writing, Writing::Queued(_)) {
            return None;
        }
        let committed = matches!(now, Writing::Committed);
        let Writing::Queued(queued) = std::mem::replace(&mut *writing, now) else {
            return None;
        };
        self.committed.store(committed, Ordering::Release);
        Some((*queued, self.slot.load(Ordering::Relaxed)))
    }
}

impl<L: Lifecycle> Inserting<L> for Child<L> {
    fn committed(&self) -> Vec<(RowWrite<L>, usize)> {
        let Some((Queued { parked, waiting }, slot)) = self.settle(Writing::Committed) else {
            return Vec::new();
        };
        self.children.insert_settled();
        waiting.into_iter().for_each(Waker::wake);
        parked.into_iter().map(|write| (write, slot)).collect()
    }

    fn refused(&self, error: StoreError) {
        let Some((queued, _)) = self.settle(Writing::Refused(Box::new(error.clone()))) else {
            return;
        };
        let counters = &self.children.counters;
        Counters::add(&counters.refused_spawns, 1);
        counters.note_refused(&self.id, error);
        self.children.insert_settled();
        // The writes made for the row meanwhile go with `queued`: the row is not this task's.
        queued.waiting.into_iter().for_each(Waker::wake);
    }
}

fn state_index<L: Lifecycle>(state: State<L>) -> u16 {
    // A lifecycle's states are numbered in a `u16` by the macro.
    u16::try_from(state.index()).unwrap_or(u16::MAX)
}

/// The recorder of one supervised task: queues each transition for the store, from any
/// context (a drop during a panic or an abort included).
pub struct TaskRecorder<L> {
    pub(super) child: Arc<Child<L>>,
}

impl<L: Lifecycle> Recorder<L> for TaskRecorder<L> {
    fn record(&self, event: Event<L>) {
        // A typed machine only takes declared edges (or abandons a live state): the check
        // cannot fail here, and the store is never handed an unchecked move.
        if let Ok(transition) = Transition::new(event.from, event.to) {
            trace(&self.child.id, event);
            self.child
                .write(RowWrite::transition(Arc::clone(&self.child.id), transition));
        }
    }
}

impl<L> fmt::Debug for TaskRecorder<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRecorder")
            .field("id", &self.child.id)
            .finish()
    }
}

/// What a [`TaskHandle`] can do to its task, whatever its lifecycle.
trait EndTask: Send + Sync {
    fn id(&self) -> &str;
    fn end(&self, reason: &str);
    fn note(&self, reason: &str);
    fn poll_row(&self, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>>;
}

impl<L: Lifecycle> EndTask for Child<L> {
    fn id(&self) -> &str {
        &self.id
    }

    fn end(&self, reason: &str) {
        Child::end(self, reason);
    }

    fn note(&self, reason: &str) {
        let mut writing = self.lock();
        let state = State::<L>::from_index(self.state.load(Ordering::Relaxed));
        // A row that has ended keeps the reason it ended with.
        if self.ended_by.load(Ordering::Acquire) == BY_TASK && !state.is_terminal() {
            self.put(&mut writing, RowWrite::reason(Arc::clone(&self.id), reason));
        }
    }

    fn poll_row(&self, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        Child::poll_row(self, cx)
    }
}

/// A running task: its id, and the means to abort it.
#[derive(Clone)]
pub struct TaskHandle {
    /// The task, whatever its lifecycle (its id included: one `Arc` to clone, not two).
    child: Arc<dyn EndTask>,
}

impl TaskHandle {
    pub(super) fn new<L: Lifecycle>(child: &Arc<Child<L>>) -> Self {
        TaskHandle {
            child: Arc::clone(child) as Arc<dyn EndTask>,
        }
    }

    /// The task's id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.child.id()
    }

    /// Aborts the task. Its row is ended at once, in the `#[abandoned]` state with reason
    /// "aborted", even if the task is blocked in a synchronous call that no abort can reach
    /// until it returns; whatever the task records afterwards is dropped. A task that has
    /// already finished keeps its row.
    pub fn abort(&self) {
        self.child.end("aborted");
    }

    /// Waits until the task's row has committed in the store: a task's body starts only then,
    /// never before its row is durable. `Err`, with why, when the store refused the row (an
    /// id in use, a fenced owner, a constraint): the body never ran, nothing was written to
    /// that row, and the task's outcome is [`Outcome::Refused`](super::Outcome::Refused).
    /// Ready at once with a store that applies writes at once
    /// ([`MemoryStore`](crate::store::MemoryStore)), whose refusals
    /// [`Supervisor::spawn`](super::Supervisor::spawn) returns itself.
    ///
    /// # Errors
    ///
    /// The store's refusal of the row, as [`StoreError::IdTaken`] for an id in use.
    pub async fn committed(&self) -> Result<(), StoreError> {
        core::future::poll_fn(|cx| self.child.poll_row(cx)).await
    }

    /// Ends the task's row with `reason` and aborts it, as [`abort`](Self::abort) does.
    pub(crate) fn end(&self, reason: &str) {
        self.child.end(reason);
    }

    /// Sets the row's reason, in order with the task's own writes, unless the row has ended
    /// (by the task or for it): a reason the task's own end writes later replaces it.
    pub(crate) fn note(&self, reason: &str) {
        self.child.note(reason);
    }
}

impl fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// The `tracing` event of one recorded transition.
#[cfg(feature = "tracing")]
#[inline]
fn trace<L: Lifecycle>(id: &str, event: Event<L>) {
    use crate::EventKind;
    match event.kind {
        EventKind::Abandoned(cause) => {
            tracing::warn!(task = id, lifecycle = L::name(), from = event.from.name(), to = event.to.name(), %cause, "task abandoned");
        }
        _ => tracing::info!(
            task = id,
            lifecycle = L::name(),
            from = event.from.name(),
            to = event.to.name(),
            "task transition"
        ),
    }
}

#[cfg(not(feature = "tracing"))]
fn trace<L: Lifecycle>(_: &str, _: Event<L>) {}
