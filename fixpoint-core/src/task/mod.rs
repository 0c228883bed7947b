#![doc = include_str!("guide.md")]

// Supervised tasks: a task exits if and only if its status is terminal, even across a crash.
//
// A [`Supervisor`] spawns tasks whose body receives a typed machine in its `#[initial]` state
// and must return its [`Terminal`](crate::Terminal) proof. Every transition is recorded in a
// [`StatusStore`]; every way a task can end (return, error, panic,
// abort, the supervisor dropped or shut down) ends in a recorded terminal status; and
// [`Supervisor::reconcile`] finishes the rows a crashed process left behind.
//
// Inside: `children` holds the live tasks (each reaps itself when it ends; a task's body waits
// for its row's commit), `queue` takes their writes (applied at once for a store that can,
// queued otherwise), `writer` applies the queued ones to the store in batches (split into
// `lanes` by row for a store that applies several at once), tells each task when its row has
// committed, and keeps the lease and the retention cadence; `report` is what the caller reads.

mod child;
mod children;
mod config;
mod lanes;
mod output;
pub(crate) mod queue;
mod reconcile;
mod report;
mod watch;
mod writer;

use core::fmt;
use core::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::AbortHandle;

pub use child::{TaskHandle, TaskRecorder};
pub use config::Config;
pub use output::TaskOutput;
pub use report::{
    Counters, Finished, Flushed, KEPT_REFUSALS, Orphan, Outcome, Reconciled, RefusedWrite, Report,
    SpawnError,
};

use child::Child;
use children::Children;
use queue::Queued;

use crate::lifecycle::{Lifecycle, Recorded, State, StateMarker, Tracked};
use crate::store::{RowWrite, StatusStore, StoreError};
use crate::uptime::timekeeper;

/// Spawns tasks whose status is recorded at every step and always ends terminal.
///
/// Each task reaps itself when it ends (see [`spawn`](Supervisor::spawn)). The tasks' writes
/// go to the store through one writer, a thread of the supervisor's own, in batches: a task
/// that blocks its worker thread cannot hold anyone's row back, and
/// [`shutdown`](Supervisor::shutdown) keeps its deadline whatever the tasks do. A store that
/// applies writes at once ([`StatusStore::apply_now`], as [`MemoryStore`](crate::store::MemoryStore)
/// does) is written by each task as it moves instead, with nothing to wait for; its writer
/// thread is started only if the store ever fails such a write.
///
/// ```
/// use fixpoint::{terminal_state, Terminal, Tracked, store::MemoryStore, task::Supervisor};
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
    maintenance: AbortHandle,
    children: Arc<Children<L>>,
}

/// The machine a supervised task's body receives.
pub type Machine<L, T> = Tracked<L, <L as Lifecycle>::Initial, T, Recorded<TaskRecorder<L>>>;

static NEXT_OWNER: AtomicU64 = AtomicU64::new(0);

/// How long [`Supervisor::shutdown`] waits, past its grace, for the tasks it aborted to stop
/// before it names the ones that did not as unresponsive.
pub const UNRESPONSIVE_AFTER: Duration = Duration::from_millis(100);

impl<L, S> Supervisor<L, S>
where
    L: Lifecycle + Send,
    S: StatusStore<L>,
{
    /// Starts a supervisor over `store`: takes a lease under a fresh owner id, and starts the
    /// writer that applies transitions in order and the loop that renews the lease and
    /// applies the retention policy.
    ///
    /// # Errors
    ///
    /// The store's error when the lease cannot be written.
    pub async fn start(store: S, config: Config) -> Result<Self, StoreError> {
        let owner: Arc<str> = format!(
            "{}-{}-{}",
            std::process::id(),
            crate::store::now_millis(),
            NEXT_OWNER.fetch_add(1, Ordering::Relaxed)
        )
        .into();
        let store = Arc::new(store);
        store.renew_lease(&owner, config.lease_ttl).await?;
        let counters = Arc::new(Counters::default());
        let apply_now = store.apply_now(&owner, &[]).is_some().then(|| {
            let (store, owner) = (Arc::clone(&store), Arc::clone(&owner));
            Box::new(move |write: &RowWrite<L>| queue::apply_one_now(&*store, &owner, write))
                as queue::ApplyNow<L>
        });
        let inline = apply_now.is_some();
        let (writes, queue) = queue::channel(apply_now);
        let children = Arc::new(Children::new(
            config.unread_outcomes,
            config.queued_spawns,
            writes,
            Arc::clone(&counters),
        ));
        // The writer runs on a thread of its own (see `writer::starter`); what the store
        // refuses goes back to the tasks' table (the writer never reaches into it).
        let on_refused = Children::refusals(&children);
        let start_writer = writer::starter(
            Arc::clone(&store),
            Arc::clone(&owner),
            on_refused,
            Arc::clone(&counters),
        );
        if inline {
            // Its writes never wait in the queue unless the store fails one: the writer's
            // thread starts then, if ever.
            children.writes.defer_writer(Box::new(start_writer));
            drop(queue);
        } else {
            start_writer(queue).map_err(|error| {
                StoreError::Backend(format!(
                    "cannot start the supervisor's writer thread: {error}"
                ))
            })?;
        }
        let maintenance = tokio::spawn(writer::maintain(
            Arc::clone(&store),
            Arc::clone(&owner),
            config,
            counters,
        ))
        .abort_handle();
        Ok(Supervisor {
            store,
            owner,
            config,
            maintenance,
            children,
        })
    }

    /// This supervisor instance's owner id, as its rows and lease name it.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The configuration it was started with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.children.counters
    }

    /// The task of a row the store holds already.
    fn child(&self, id: Arc<str>, state: State<L>) -> Arc<Child<L>> {
        Child::new(id, state, &self.children, true)
    }

    /// Queues the task's row and spawns `body` with the typed machine in its initial state;
    /// the body starts once the row has committed, never before. The body must return the
    /// machine's [`Terminal`](crate::Terminal) proof (see [`TaskOutput`]).
    ///
    /// `spawn` does not wait for the commit: the rows of tasks spawned one after another are
    /// inserted together, in the writer's next batch (one transaction in SQL stores, with
    /// the transitions of the tasks already running). It waits only while
    /// [`Config::queued_spawns`] rows are queued, for the store to catch up. A row the store refuses (an id in use,
    /// a fenced owner, a constraint) ends its task without running the body, and reaches the
    /// caller three ways: [`TaskHandle::committed`] returns the error, the task's outcome in
    /// [`join_next`](Self::join_next) is [`Outcome::Refused`], and the next
    /// [`flush`](Self::flush) lists it. To wait for the commit at the spawn, use
    /// [`spawn_committed`](Self::spawn_committed).
    ///
    /// The task reaps itself when it ends: its status and reason reach the store, and
    /// [`Counters::running`] drops, whether or not anyone calls [`join_next`](Self::join_next).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Store`] when a store that applies writes at once
    /// ([`MemoryStore`](crate::store::MemoryStore)) refuses the row: nothing is spawned.
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
        let child = if self.children.writes.applies_at_once() {
            // Nothing to batch: the row is in the store when `insert_shared` returns.
            self.store.insert_shared(&id, &self.owner).await?;
            self.child(id, L::initial())
        } else {
            if self.children.must_wait_to_spawn() {
                // Boxed: the wait is rare, and the spawn's future stays small without it.
                Box::pin(self.children.room_to_spawn()).await;
            }
            self.children.insert(id)
        };
        let recorder = TaskRecorder {
            child: Arc::clone(&child),
        };
        let machine = Tracked::<L, L::Initial, T>::new(value).with_recorder(recorder);
        self.children.spawn(&child, body(machine));
        Ok(TaskHandle::new(&child))
    }

    /// Like [`spawn`](Self::spawn), and returns once the task's row has committed (see
    /// [`TaskHandle::committed`]): for a caller that must know the row is durable, or
    /// refused, before it goes on. Tasks spawned this way one after another pay a commit
    /// each; spawned concurrently, they share one.
    ///
    /// ```
    /// # use fixpoint::{terminal_state, store::{MemoryStore, StoreError}, task::{SpawnError, Supervisor}};
    /// # #[terminal_state]
    /// # pub enum Job {
    /// #     #[initial] #[to(Running, Failed)] Queued,
    /// #     #[to(Done, Failed)]               Running,
    /// #     #[terminal]                       Done,
    /// #     #[terminal] #[abandoned]          Failed,
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // Any store: `SqliteStore` and `PostgresStore` answer once their batch has committed.
    /// let mut supervisor = Supervisor::start(MemoryStore::<Job>::new(), Default::default()).await.unwrap();
    /// supervisor
    ///     .spawn_committed("invoice-7", (), |job| async move { job.to_running().to_done() })
    ///     .await
    ///     .unwrap();
    /// // The id is the row's: a second task with it is refused, and its body never runs.
    /// let again = supervisor
    ///     .spawn_committed("invoice-7", (), |job| async move { job.abandon() })
    ///     .await;
    /// assert!(matches!(again, Err(SpawnError::Store(StoreError::IdTaken { .. }))));
    /// # supervisor.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SpawnError::Store`] when the store refuses the row (an id in use, a fenced owner, a
    /// constraint): the body never runs. While the store cannot be reached, this waits: the
    /// insert stays queued and is retried with the writer's batches.
    pub async fn spawn_committed<T, F, Fut>(
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
        let task = self.spawn(id, value, body).await?;
        task.committed().await?;
        Ok(task)
    }

    /// Like [`spawn_committed`](Self::spawn_committed), for work that must keep producing:
    /// the body also gets a [`Progress`](crate::uptime::Progress) to tick whenever it
    /// produces something, and a watchdog outside the task (a timer of the runtime) aborts it
    /// once it has gone `threshold` without progress (counted from the body's start),
    /// however alive it looks. Its row is then ended in the
    /// `#[abandoned]` state with the reason "no progress for 30s; last progress: claimed
    /// job 812" (the last [`tick_with`](crate::uptime::Progress::tick_with) note), and its
    /// outcome is [`Outcome::Aborted`].
    ///
    /// ```
    /// # use fixpoint::{terminal_state, store::MemoryStore, task::Supervisor};
    /// # #[terminal_state]
    /// # pub enum Job {
    /// #     #[initial] #[to(Running, Failed)] Queued,
    /// #     #[to(Done, Failed)]               Running,
    /// #     #[terminal]                       Done,
    /// #     #[terminal] #[abandoned]          Failed,
    /// # }
    /// use std::time::Duration;
    /// use fixpoint::uptime::Threshold;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut supervisor = Supervisor::start(MemoryStore::<Job>::new(), Default::default()).await.unwrap();
    /// let threshold = Threshold::new(Duration::from_millis(50)).unwrap();
    /// supervisor
    ///     .spawn_watched("worker", (), threshold, |job, progress| async move {
    ///         let job = job.to_running();
    ///         progress.tick_with("claimed job 812");
    ///         std::future::pending::<()>().await; // the queue connection dropped
    ///         job.to_done()
    ///     })
    ///     .await
    ///     .unwrap();
    /// let report = supervisor.shutdown(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(report.rows[0].status, "Failed");
    /// let reason = report.rows[0].reason.as_deref().unwrap();
    /// assert!(reason.starts_with("no progress for "), "{reason}");
    /// assert!(reason.ends_with("; last progress: claimed job 812"), "{reason}");
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`SpawnError::Store`] when the store refuses the row: the body never runs.
    pub async fn spawn_watched<T, F, Fut>(
        &mut self,
        id: impl Into<String>,
        value: T,
        threshold: crate::uptime::Threshold,
        body: F,
    ) -> Result<TaskHandle, SpawnError>
    where
        T: Send + 'static,
        L::Initial: StateMarker<Data = ()>,
        F: FnOnce(Machine<L, T>, crate::uptime::Progress) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let progress = crate::uptime::Progress::new();
        let (watch, running) = watch::Watch::new(&progress, threshold);
        let body = |machine| {
            // The silence counts from the body's start, not from the row's insert.
            watch::holding(running, progress.clone(), body(machine, progress))
        };
        let task = self.spawn_committed(id, value, body).await?;
        watch.start(task.clone());
        Ok(task)
    }

    /// Waits for the next unread outcome and says how that task ended; `None` when no task
    /// is running and every outcome was read. Outcomes wait here up to
    /// [`Config::unread_outcomes`]; the rows have them all.
    pub async fn join_next(&mut self) -> Option<Finished<L>> {
        self.children.next().await
    }

    /// Waits until the store has applied every write recorded so far, and reports the writes
    /// it refused since the previous flush ([`Flushed::refused`], by row id). A write refused
    /// for its data ([`StoreError::Rejected`]) stood alone: the flush is still `Ok`, every
    /// other write landed.
    ///
    /// # Errors
    ///
    /// The store's error while it cannot apply them (the connection lost, the server
    /// restarting): the writes stay queued, in order, and are retried whole; none is lost or
    /// half-written.
    pub async fn flush(&self) -> Result<Flushed, StoreError> {
        self.flush_writes().await?;
        Ok(Flushed {
            refused: self.children.counters.take_refused(),
        })
    }

    /// Waits until the store has applied every write recorded so far; the refusals stay for
    /// the caller's next flush or shutdown.
    pub(crate) async fn flush_writes(&self) -> Result<(), StoreError> {
        // Nothing queued and nothing in the writer's hands (a store that applies writes at
        // once had them applied as they were made): no need to wake the writer and wait.
        if self.children.writes.settled() {
            return Ok(());
        }
        let (done, flushed) = oneshot::channel();
        self.children.writes.send(Queued::Flush(done));
        // A dropped answer means the writer is gone with the runtime: nothing left to wait for.
        flushed.await.unwrap_or(Ok(()))
    }

    /// Gives the tasks `grace` to finish; then ends the row of every task still running
    /// (abandoned, reason "aborted") and aborts it, applies every write to the store, and
    /// releases the lease.
    ///
    /// The grace is a deadline kept from outside the tasks and outside the runtime, by the
    /// [`timekeeper`]: a task blocked in a synchronous call cannot
    /// be stopped, but its row is ended at the deadline all the same, even when every worker
    /// is blocked, and the report comes back at most [`UNRESPONSIVE_AFTER`] past the grace
    /// (the final writes go through the store: one whose I/O runs on the runtime, as
    /// `PostgresStore`'s does, needs a free worker for them; `MemoryStore` and `SqliteStore`
    /// do not). A caller whose own thread is blocked returns when its thread is free again;
    /// the rows were ended on time. A task that has not stopped by then is
    /// named in [`Report::unresponsive`], counted in [`Counters::unresponsive`], its row's
    /// reason says it did not yield, and (with the `tracing` feature) an error event names
    /// it; whatever it records when its call returns is dropped.
    ///
    /// # Errors
    ///
    /// The store's error when the final writes cannot be applied, the rows read or the lease
    /// released.
    pub async fn shutdown(mut self, grace: Duration) -> Result<Report<L>, StoreError> {
        let deadline = Instant::now() + grace;
        // The decision is the timekeeper's: at the deadline every live row is ended and its
        // task aborted on its thread, even when no runtime worker is free and this caller's
        // own thread is blocked.
        let children = Arc::clone(&self.children);
        let _ending = timekeeper::at(deadline, move || children.end_all("aborted"));
        let mut finished = Vec::new();
        let mut unresponsive = Vec::new();
        loop {
            match timekeeper::timeout_at(deadline, self.join_next()).await {
                Ok(Some(task)) => finished.push(task),
                Ok(None) => break,
                Err(_) => {
                    // Done already when the timekeeper fired; ending twice ends nothing twice.
                    self.children.end_all("aborted");
                    let settled = deadline + UNRESPONSIVE_AFTER;
                    while let Ok(Some(task)) =
                        timekeeper::timeout_at(settled, self.join_next()).await
                    {
                        finished.push(task);
                    }
                    unresponsive = self.children.name_unresponsive(grace);
                    break;
                }
            }
        }
        finished.extend(self.children.drain());
        let mut refused = self.flush().await?.refused;
        self.maintenance.abort();
        self.store.release_lease(&self.owner).await?;
        let rows = self.store.rows().await?;
        refused.extend(self.children.counters.take_refused());
        Ok(Report {
            finished,
            unresponsive,
            rows,
            refused,
        })
    }
}

impl<L: Lifecycle, S: StatusStore<L>> Drop for Supervisor<L, S> {
    fn drop(&mut self) {
        // Every live task's row is ended now (abandoned, "aborted") and its task aborted; the
        // writer applies the queue before it stops (it stops when the last child goes).
        self.maintenance.abort();
        self.children.close();
    }
}

impl<L: Lifecycle, S: StatusStore<L>> fmt::Debug for Supervisor<L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("owner", &self.owner)
            .field("config", &self.config)
            .field("counters", &self.children.counters)
            .finish_non_exhaustive()
    }
}
