//! The supervisor: owns its tasks, records every transition, ends every task terminal.

use core::fmt;
use core::future::Future;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use super::store::{Row, StatusStore, StoreError};
use crate::lifecycle::{
    Abandonment, Event, EventKind, Lifecycle, Recorded, Recorder, State, StateMarker, Terminal,
    Tracked,
};

/// How a supervisor keeps its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long the lease lasts without renewal: after a crash, another process may reconcile
    /// this supervisor's rows once it has passed.
    pub lease_ttl: Duration,
    /// How often the lease is renewed (well under `lease_ttl`).
    pub heartbeat: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lease_ttl: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// Spawns tasks whose status is recorded at every step and always ends terminal.
///
/// ```
/// use fixpoint::{terminal_state, MemoryStore, Supervisor, Terminal, Tracked};
///
/// #[terminal_state]
/// pub enum Job {
///     #[initial] #[to(Running, Failed)] Queued,
///     #[to(Done, Failed)]               Running,
///     #[terminal]                       Done,
///     #[terminal] #[abandoned]          Failed,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut supervisor = Supervisor::start(MemoryStore::<Job>::new(), Default::default()).await.unwrap();
/// supervisor
///     .spawn("job-1", (), |job| async move { job.to_running().to_done() })
///     .await
///     .unwrap();
/// let report = supervisor.shutdown(std::time::Duration::from_secs(1)).await.unwrap();
/// assert_eq!(report.rows[0].status, "Done");
/// # }
/// ```
pub struct Supervisor<L: Lifecycle, S: StatusStore<L>> {
    store: Arc<S>,
    owner: Arc<str>,
    config: Config,
    writes: mpsc::UnboundedSender<Write<L>>,
    writer: Option<tokio::task::JoinHandle<()>>,
    heartbeat: AbortHandle,
    tasks: JoinSet<Result<State<L>, String>>,
    ids: HashMap<tokio::task::Id, Arc<str>>,
    counters: Arc<Counters>,
}

/// What the writer applies to the store, in the order the tasks produced it.
enum Write<L> {
    Transition { id: Arc<str>, event: Event<L> },
    Reason { id: Arc<str>, text: String },
    Flush(oneshot::Sender<()>),
}

/// The recorder of one supervised task: queues each transition for the store, from any
/// context (a drop during a panic or an abort included).
pub struct TaskRecorder<L> {
    id: Arc<str>,
    writes: mpsc::UnboundedSender<Write<L>>,
}

impl<L: Lifecycle> Recorder<L> for TaskRecorder<L> {
    fn record(&self, event: Event<L>) {
        // A closed queue means the supervisor and its writer are gone with the runtime; the
        // row is then an orphan for the next start's `reconcile`.
        let _ = self.writes.send(Write::Transition {
            id: Arc::clone(&self.id),
            event,
        });
    }
}

impl<L> fmt::Debug for TaskRecorder<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRecorder")
            .field("id", &self.id)
            .finish()
    }
}

/// The machine a supervised task's body receives.
pub type Machine<L, T> = Tracked<L, <L as Lifecycle>::Initial, T, Recorded<TaskRecorder<L>>>;

/// What a supervised task's body may return: the proof that its lifecycle finished, or an
/// error (recorded as the reason of the `#[abandoned]` state its dropped machine recorded).
#[diagnostic::on_unimplemented(
    message = "a supervised task must finish its lifecycle, but its body returns `{Self}`",
    label = "not a `Terminal` proof",
    note = "return the `Terminal` that a transition into a #[terminal] state produces (or \
            `machine.abandon()`), or a `Result` of one whose error is recorded as the reason"
)]
pub trait TaskOutput<L: Lifecycle>: Send + 'static {
    /// The terminal state reached, or the error's text.
    ///
    /// # Errors
    ///
    /// The error's text.
    fn into_result(self) -> Result<State<L>, String>;
}

impl<L: Lifecycle + Send, T: Send + 'static> TaskOutput<L> for Terminal<L, T> {
    fn into_result(self) -> Result<State<L>, String> {
        Ok(self.state())
    }
}

impl<L, T, E> TaskOutput<L> for Result<Terminal<L, T>, E>
where
    L: Lifecycle + Send,
    T: Send + 'static,
    E: fmt::Display + Send + 'static,
{
    fn into_result(self) -> Result<State<L>, String> {
        self.map(|terminal| terminal.state())
            .map_err(|error| error.to_string())
    }
}

/// A running task: its id, and the means to abort it.
#[derive(Debug, Clone)]
pub struct TaskHandle {
    id: Arc<str>,
    abort: AbortHandle,
}

impl TaskHandle {
    /// The task's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Aborts the task; its machine is dropped and records the `#[abandoned]` state.
    pub fn abort(&self) {
        self.abort.abort();
    }
}

/// How one task ended, as its parent observes it.
#[derive(Clone, PartialEq, Eq)]
pub enum Outcome<L> {
    /// The body returned a terminal proof in this state.
    Finished(State<L>),
    /// The body returned an error; the row is abandoned with its text as the reason.
    Failed(String),
    /// The body panicked; the row is abandoned with the panic message as the reason.
    Panicked(String),
    /// The task was aborted (directly, or by shutdown); the row is abandoned.
    Aborted,
}

/// One finished task.
#[derive(Clone, PartialEq, Eq)]
pub struct Finished<L> {
    /// The task's id.
    pub id: String,
    /// How it ended.
    pub outcome: Outcome<L>,
}

/// What a shutdown saw and left.
#[derive(Clone)]
pub struct Report<L> {
    /// Every task that ended during the shutdown.
    pub finished: Vec<Finished<L>>,
    /// The store's rows after the flush: every one of this supervisor's rows is terminal.
    pub rows: Vec<Row>,
}

impl<L: Lifecycle> fmt::Debug for Outcome<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Finished(state) => f.debug_tuple("Finished").field(state).finish(),
            Outcome::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            Outcome::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
            Outcome::Aborted => f.write_str("Aborted"),
        }
    }
}

impl<L: Lifecycle> fmt::Debug for Finished<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("id", &self.id)
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl<L: Lifecycle> fmt::Debug for Report<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("finished", &self.finished)
            .field("rows", &self.rows)
            .finish()
    }
}

/// What a reconciliation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Orphans resumed as supervised tasks.
    pub resumed: Vec<String>,
    /// Orphans recorded as abandoned.
    pub abandoned: Vec<String>,
    /// Rows whose status is not a state of the lifecycle: left untouched, reported.
    pub poisoned: Vec<String>,
}

/// A row a stopped supervisor left non-terminal, rebuilt as its typed machine.
pub struct Orphan<L: Lifecycle> {
    /// The task's id (also the machine's value).
    pub id: String,
    /// The supervisor instance that owned it.
    pub previous_owner: String,
    /// The stored state.
    pub state: State<L>,
    /// The typed machine, recording to this supervisor. Dropping it abandons the row.
    pub machine: L::Resumed<String, Recorded<TaskRecorder<L>>>,
}

impl<L: Lifecycle> fmt::Debug for Orphan<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orphan")
            .field("id", &self.id)
            .field("previous_owner", &self.previous_owner)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The counters of a supervisor, readable at any time.
#[derive(Debug, Default)]
pub struct Counters {
    running: AtomicU64,
    completed: AtomicU64,
    abandoned: AtomicU64,
    reconciled: AtomicU64,
    store_errors: AtomicU64,
}

impl Counters {
    /// Tasks spawned and not yet joined.
    #[must_use]
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::Relaxed)
    }

    /// Tasks that ended in a terminal state other than the abandoned one.
    #[must_use]
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Tasks that ended abandoned: an error, a panic, an abort, or `abandon()`.
    #[must_use]
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Orphans handled by `reconcile`.
    #[must_use]
    pub fn reconciled(&self) -> u64 {
        self.reconciled.load(Ordering::Relaxed)
    }

    /// Store writes that failed (each also reported through `tracing`, with that feature).
    #[must_use]
    pub fn store_errors(&self) -> u64 {
        self.store_errors.load(Ordering::Relaxed)
    }
}

/// Why a task was not spawned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The store refused the row (an id already in use, a backend failure).
    #[error(transparent)]
    Store(#[from] StoreError),
}

static NEXT_OWNER: AtomicU64 = AtomicU64::new(0);

impl<L, S> Supervisor<L, S>
where
    L: Lifecycle + Send,
    S: StatusStore<L>,
{
    /// Starts a supervisor over `store`: takes a lease under a fresh owner id and starts the
    /// writer that applies transitions in order.
    ///
    /// # Errors
    ///
    /// The store's error when the lease cannot be written.
    pub async fn start(store: S, config: Config) -> Result<Self, StoreError> {
        let owner: Arc<str> = format!(
            "{}-{}-{}",
            std::process::id(),
            super::now_millis(),
            NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
        )
        .into();
        let store = Arc::new(store);
        store.renew_lease(&owner, config.lease_ttl).await?;
        let counters = Arc::new(Counters::default());
        let (writes, queue) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(Arc::clone(&store), queue, Arc::clone(&counters)));
        let heartbeat =
            tokio::spawn(renew_loop(Arc::clone(&store), Arc::clone(&owner), config)).abort_handle();
        Ok(Supervisor {
            store,
            owner,
            config,
            writes,
            writer: Some(writer),
            heartbeat,
            tasks: JoinSet::new(),
            ids: HashMap::new(),
            counters,
        })
    }

    /// This supervisor instance's owner id, as its rows and lease name it.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    fn recorder(&self, id: &Arc<str>) -> TaskRecorder<L> {
        TaskRecorder {
            id: Arc::clone(id),
            writes: self.writes.clone(),
        }
    }

    /// Creates the task's row and spawns `body` with the typed machine in its initial state.
    /// The body must return the machine's [`Terminal`] proof (see [`TaskOutput`]).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Store`] when the id is taken or the store fails; nothing is spawned.
    pub async fn spawn<T, F, Fut>(
        &mut self,
        id: impl Into<String>,
        value: T,
        body: F,
    ) -> Result<TaskHandle, SpawnError>
    where
        T: Send + 'static,
        L::Initial: StateMarker<Data = ()>,
        F: FnOnce(Machine<L, T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let id: Arc<str> = id.into().into();
        self.store.insert(&id, &self.owner).await?;
        let machine = Tracked::<L, L::Initial, T>::new(value).with_recorder(self.recorder(&id));
        Ok(self.run(id, body(machine)))
    }

    fn run<Fut>(&mut self, id: Arc<str>, body: Fut) -> TaskHandle
    where
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let abort = self.tasks.spawn(async move { body.await.into_result() });
        self.ids.insert(abort.id(), Arc::clone(&id));
        self.counters.running.fetch_add(1, Ordering::Relaxed);
        TaskHandle { id, abort }
    }

    /// Waits for the next task to end and says how it ended; `None` when none is left.
    pub async fn join_next(&mut self) -> Option<Finished<L>> {
        let joined = self.tasks.join_next_with_id().await?;
        let (task, outcome) = match joined {
            Ok((task, Ok(state))) => (task, Outcome::Finished(state)),
            Ok((task, Err(error))) => (task, Outcome::Failed(error)),
            Err(error) => {
                let task = error.id();
                if error.is_panic() {
                    (task, Outcome::Panicked(panic_message(error.into_panic())))
                } else {
                    (task, Outcome::Aborted)
                }
            }
        };
        let id = self.ids.remove(&task).unwrap_or_else(|| Arc::from("?"));
        self.counters.running.fetch_sub(1, Ordering::Relaxed);
        let reason = match &outcome {
            Outcome::Finished(state) if !state.is_abandoned() => None,
            Outcome::Finished(_) => Some("abandoned by the task".to_owned()),
            Outcome::Failed(error) => Some(error.clone()),
            Outcome::Panicked(message) => Some(format!("panicked: {message}")),
            Outcome::Aborted => Some("aborted".to_owned()),
        };
        match reason {
            None => self.counters.completed.fetch_add(1, Ordering::Relaxed),
            Some(text) => {
                let _ = self.writes.send(Write::Reason {
                    id: Arc::clone(&id),
                    text,
                });
                self.counters.abandoned.fetch_add(1, Ordering::Relaxed)
            }
        };
        Some(Finished {
            id: id.to_string(),
            outcome,
        })
    }

    /// Waits until the store has applied every transition recorded so far.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.writes.send(Write::Flush(done)).is_ok() {
            let _ = flushed.await;
        }
    }

    /// Gives the tasks `grace` to finish, aborts the rest (their machines record the
    /// `#[abandoned]` state), applies every transition to the store, and releases the lease.
    ///
    /// # Errors
    ///
    /// The store's error when the final rows cannot be read or the lease released.
    pub async fn shutdown(mut self, grace: Duration) -> Result<Report<L>, StoreError> {
        let deadline = tokio::time::Instant::now() + grace;
        let mut finished = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.join_next()).await {
                Ok(Some(task)) => finished.push(task),
                Ok(None) => break,
                Err(_) => {
                    self.tasks.abort_all();
                    while let Some(task) = self.join_next().await {
                        finished.push(task);
                    }
                    break;
                }
            }
        }
        self.flush().await;
        self.heartbeat.abort();
        self.store.release_lease(&self.owner).await?;
        let rows = self.store.rows().await?;
        Ok(Report { finished, rows })
    }

    /// Finishes the rows a stopped supervisor left non-terminal (its lease expired): each is
    /// adopted, rebuilt as its typed machine, and handed to `resume`. `Some(body)` runs the
    /// body as a supervised task; `None` drops the machine, which records the `#[abandoned]`
    /// state. A state whose variant carries data cannot be rebuilt from a status alone and is
    /// abandoned with that reason; a poisoned row is reported and left untouched.
    ///
    /// # Errors
    ///
    /// The store's error when orphans cannot be listed or adopted.
    pub async fn reconcile<F, Fut>(&mut self, mut resume: F) -> Result<Reconciled, StoreError>
    where
        F: FnMut(Orphan<L>) -> Option<Fut>,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let mut report = Reconciled::default();
        for row in self.store.orphans().await? {
            let Ok(state) = row.state::<L>() else {
                report.poisoned.push(row.id);
                continue;
            };
            if !self
                .store
                .adopt(&row.id, &row.owner, state, &self.owner)
                .await?
            {
                continue; // another supervisor adopted it first
            }
            self.counters.reconciled.fetch_add(1, Ordering::Relaxed);
            let id: Arc<str> = row.id.as_str().into();
            let Some(status) = L::__unit(state) else {
                self.abandon_orphan(
                    &id,
                    state,
                    "its state carries data that a status row does not hold",
                );
                report.abandoned.push(row.id);
                continue;
            };
            let machine = status.resume_recorded(row.id.clone(), self.recorder(&id));
            let orphan = Orphan {
                id: row.id.clone(),
                previous_owner: row.owner,
                state,
                machine,
            };
            match resume(orphan) {
                Some(body) => {
                    self.run(id, body);
                    report.resumed.push(row.id);
                }
                None => {
                    let _ = self.writes.send(Write::Reason {
                        id,
                        text: "orphaned by a stopped supervisor; abandoned at reconcile".to_owned(),
                    });
                    report.abandoned.push(row.id);
                }
            }
        }
        self.flush().await;
        Ok(report)
    }

    fn abandon_orphan(&self, id: &Arc<str>, from: State<L>, reason: &str) {
        let event = Event {
            from,
            to: L::abandoned(),
            kind: EventKind::Abandoned(Abandonment::Explicit),
        };
        let _ = self.writes.send(Write::Transition {
            id: Arc::clone(id),
            event,
        });
        let _ = self.writes.send(Write::Reason {
            id: Arc::clone(id),
            text: reason.to_owned(),
        });
    }
}

impl<L: Lifecycle, S: StatusStore<L>> Drop for Supervisor<L, S> {
    fn drop(&mut self) {
        // The tasks are aborted with the JoinSet; their machines queue their abandonment, and
        // the writer applies the queue before it stops (it stops when the last sender goes).
        self.heartbeat.abort();
        self.tasks.abort_all();
        drop(self.writer.take());
    }
}

impl<L: Lifecycle, S: StatusStore<L>> fmt::Debug for Supervisor<L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("owner", &self.owner)
            .field("config", &self.config)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// Applies the queued writes in order; ends when every sender is gone.
async fn write_loop<L: Lifecycle, S: StatusStore<L>>(
    store: Arc<S>,
    mut queue: mpsc::UnboundedReceiver<Write<L>>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(256);
    // Drains what is queued in one wake-up; the order within and across batches is kept.
    while queue.recv_many(&mut batch, 256).await > 0 {
        for write in batch.drain(..) {
            apply(&*store, write, &counters).await;
        }
    }
}

async fn apply<L: Lifecycle, S: StatusStore<L>>(store: &S, write: Write<L>, counters: &Counters) {
    let result = match write {
        Write::Transition { id, event } => {
            trace(&id, event);
            store.transition(&id, event.from, event.to).await
        }
        Write::Reason { id, text } => store.annotate(&id, &text).await,
        Write::Flush(done) => {
            let _ = done.send(());
            Ok(())
        }
    };
    if let Err(_error) = result {
        counters.store_errors.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::error!(error = %_error, "status store write failed");
    }
}

#[cfg(feature = "tracing")]
fn trace<L: Lifecycle>(id: &str, event: Event<L>) {
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

/// Keeps the lease alive.
async fn renew_loop<L: Lifecycle, S: StatusStore<L>>(
    store: Arc<S>,
    owner: Arc<str>,
    config: Config,
) {
    let mut ticks = tokio::time::interval(config.heartbeat);
    loop {
        ticks.tick().await;
        let _ = store.renew_lease(&owner, config.lease_ttl).await;
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}
