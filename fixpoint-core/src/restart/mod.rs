#![doc = include_str!("guide.md")]

// Restarts by policy, as OTP's supervisors do, with every attempt a recorded row.
//
// A [`RestartSupervisor`] runs its children through a [`Supervisor`]: each attempt of a
// child is a supervised task with a row of its own, `"{child}#{attempt}"` (`"worker#1"`,
// `"worker#2"`, ...), so "a task exits if and only if its row is terminal" holds for every
// attempt, and the restart history is the rows. When an attempt ends, the child's
// [`Restart`] type says whether it comes back, the [`Strategy`] which siblings come back with
// it, the [`RestartBackoff`] when, and the [`Intensity`] how many restarts are allowed in a
// period: one more and the supervisor gives up, stops its children in reverse start order
// and returns [`RestartError::GaveUp`] from [`wait`](RestartSupervisor::wait).
//
// Started again on the same store after a crash, it reads the rows back: orphaned attempts
// are ended (abandoned) and count as failures, attempt numbers go on, and the restarts
// within the period count against the new supervisor's budget, so a crash loop across
// process restarts is capped too.
//
// `driver` is the supervisor's own task, `history` reads a child's past from its rows,
// `policy` and `spec` are what the caller configures.

mod driver;
mod history;
mod policy;
mod spec;

use core::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use policy::{Intensity, Restart, RestartBackoff, Strategy};
pub use spec::{Attempt, ChildSpec};

use driver::{Command, Driver, Policy};

use crate::lifecycle::{Lifecycle, StateMarker};
use crate::store::{Row, StatusStore, StoreError};
use crate::task::{Config, Supervisor};

/// A supervisor that restarts its children by policy: OTP's restart types, strategies and
/// intensity, with a backoff, ordered start and stop, and children added and removed at run
/// time.
///
/// It runs its children through a [`Supervisor`]: each attempt of a child is a supervised
/// task with a row of its own, `"{child}#{attempt}"` (`"worker#1"`, `"worker#2"`, ...), so
/// "a task exits if and only if its row is terminal" holds for every attempt, and the restart
/// history is the rows ([`Row::finished_at`] says when each attempt ended). An attempt the
/// supervisor stops itself gets a reason that starts with "stopped by its restart
/// supervisor", so a stop is not read back as a failure.
///
/// When an attempt ends, the child's [`Restart`] type says whether it comes back, the
/// [`Strategy`] which siblings come back with it, the [`RestartBackoff`] when, and the
/// [`Intensity`] how many restarts are allowed in a period: one more and the supervisor gives
/// up, stops its children in reverse start order and returns [`RestartError::GaveUp`] from
/// [`wait`](Self::wait).
///
/// Started again on the same store after a crash, it reads each child's rows back: attempts
/// the killed process left running are ended (abandoned, a failure) once its lease has
/// lapsed, attempt numbers go on, and the restarts within the period count against the new
/// supervisor's budget, so a crash loop across process restarts is capped too.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{terminal_state, restart::{ChildSpec, RestartBackoff, RestartError, RestartSupervisor}, store::MemoryStore};
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
/// let store = std::sync::Arc::new(MemoryStore::<Job>::new());
/// let supervisor = RestartSupervisor::builder()
///     .intensity(3, Duration::from_secs(10))
///     .backoff(RestartBackoff::ZERO)
///     .child(ChildSpec::new("flaky", |job, attempt| async move {
///         let job = job.to_running();
///         if attempt.number() < 3 {
///             return Err("connection refused"); // abnormal: restarted
///         }
///         Ok(job.to_done()) // normal: a permanent child is restarted even so
///     }))
///     .start(store.clone())
///     .await
///     .unwrap();
/// // Three restarts allowed: attempts 1 and 2 fail, 3 and 4 finish, the fourth restart is
/// // one too many.
/// let Err(RestartError::GaveUp { child, restarts, .. }) = supervisor.wait().await else {
///     panic!("a permanent child that keeps ending exhausts the intensity");
/// };
/// assert_eq!((child.as_str(), restarts), ("flaky", 4));
/// let rows = store.rows().await.unwrap();
/// # use fixpoint::store::StatusStore;
/// let ids: Vec<_> = rows.iter().map(|row| row.id.as_str()).collect();
/// assert_eq!(ids, ["flaky#1", "flaky#2", "flaky#3", "flaky#4"]);
/// assert_eq!(rows[0].reason.as_deref(), Some("connection refused"));
/// # }
/// ```
pub struct RestartSupervisor<L: Lifecycle> {
    commands: mpsc::UnboundedSender<Command<L>>,
    shared: Arc<Shared>,
    driver: Option<JoinHandle<Result<RestartReport, RestartError>>>,
}

/// Configures a [`RestartSupervisor`]: its strategy, intensity, backoff, the inner
/// supervisor's [`Config`], and its children in start order.
pub struct RestartBuilder<L: Lifecycle> {
    policy: Policy,
    config: Config,
    children: Vec<ChildSpec<L>>,
}

impl<L: Lifecycle> RestartSupervisor<L> {
    /// A builder: [`Strategy::OneForOne`], [`Intensity::default`] (OTP's one restart in
    /// five seconds), [`RestartBackoff::default`], [`Config::default`], no children.
    #[must_use]
    pub fn builder() -> RestartBuilder<L> {
        RestartBuilder {
            policy: Policy {
                strategy: Strategy::default(),
                intensity: Intensity::default(),
                backoff: RestartBackoff::default(),
            },
            config: Config::default(),
            children: Vec::new(),
        }
    }

    /// The children, in start order: each one's id, state, last attempt and restarts within
    /// the current intensity window.
    #[must_use]
    pub fn children(&self) -> Vec<ChildInfo> {
        self.shared.lock().clone()
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &RestartCounters {
        &self.shared.counters
    }

    /// Adds a child after the others, and starts it (its past attempts on this store, if
    /// any, are read back first: numbering and restarts go on).
    ///
    /// # Errors
    ///
    /// [`ChildError::Duplicate`] when a child has this id; [`ChildError::NotRunning`] when the
    /// supervisor has stopped (its [`wait`](Self::wait) says why).
    pub async fn add_child(&self, spec: ChildSpec<L>) -> Result<(), ChildError> {
        let (reply, replied) = oneshot::channel();
        self.commands
            .send(Command::Add(spec, reply))
            .map_err(|_| ChildError::NotRunning)?;
        replied.await.unwrap_or(Err(ChildError::NotRunning))
    }

    /// Stops a child (asked to stop, given its shutdown time, then aborted) and removes it:
    /// it is not restarted.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] when no child has this id; [`ChildError::NotRunning`] when the
    /// supervisor has stopped.
    pub async fn remove_child(&self, id: &str) -> Result<(), ChildError> {
        let (reply, replied) = oneshot::channel();
        self.commands
            .send(Command::Remove(id.to_owned(), reply))
            .map_err(|_| ChildError::NotRunning)?;
        replied.await.unwrap_or(Err(ChildError::NotRunning))
    }

    /// Stops every child in reverse start order (each asked to stop, given its shutdown
    /// time, then aborted), flushes the rows and releases the lease.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait): a give-up that came first is returned.
    pub async fn shutdown(self) -> Result<RestartReport, RestartError> {
        let _ = self.commands.send(Command::Shutdown);
        self.wait().await
    }

    /// Waits until the supervisor stops: shut down, left with no child to run (every one
    /// ended for good: temporary, or transient after a normal end), or given up.
    ///
    /// Dropping this future (or the supervisor) stops the supervisor at once: its running
    /// attempts are aborted and their rows ended, as a dropped [`Supervisor`]'s are. A
    /// restart supervisor run as a child of another is stopped with it that way.
    ///
    /// # Errors
    ///
    /// [`RestartError::GaveUp`] when the intensity was exceeded (its children were stopped
    /// first); [`RestartError::Store`] when the store failed a spawn or the final flush.
    pub async fn wait(mut self) -> Result<RestartReport, RestartError> {
        let Some(driver) = self.driver.as_mut() else {
            return Err(RestartError::Ended("it was already waited for".to_owned()));
        };
        let ended = driver.await;
        self.driver = None;
        ended.unwrap_or_else(|error| Err(RestartError::Ended(error.to_string())))
    }
}

impl<L: Lifecycle> Drop for RestartSupervisor<L> {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
    }
}

impl<L: Lifecycle> fmt::Debug for RestartSupervisor<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartSupervisor")
            .field("children", &*self.shared.lock())
            .field("counters", &self.shared.counters)
            .finish_non_exhaustive()
    }
}

impl<L: Lifecycle + Send> RestartBuilder<L>
where
    L::Initial: StateMarker<Data = ()>,
{
    /// Which children a restart takes (default [`Strategy::OneForOne`]).
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.policy.strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `period`; one more and the supervisor gives
    /// up (default: one in five seconds, OTP's).
    #[must_use]
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.policy.intensity = Intensity {
            max_restarts,
            period,
        };
        self
    }

    /// The wait before each restart (default [`RestartBackoff::default`];
    /// [`RestartBackoff::ZERO`] for none).
    #[must_use]
    pub fn backoff(mut self, backoff: RestartBackoff) -> Self {
        self.policy.backoff = backoff;
        self
    }

    /// The inner [`Supervisor`]'s lease and retention.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds a child, started after the ones added before it.
    #[must_use]
    pub fn child(mut self, spec: ChildSpec<L>) -> Self {
        self.children.push(spec);
        self
    }

    /// Starts the supervisor on `store` (a [`Supervisor`] under a fresh owner), then, on its
    /// own task, each child in order: orphaned attempts of a child (its previous process
    /// crashed) are ended first, its attempt numbers and restarts in the window are read
    /// back from its rows, and a child whose last attempt failed is restarted, not started
    /// afresh: that restart counts, and may be one too many.
    ///
    /// # Errors
    ///
    /// [`RestartError::Store`] when the lease cannot be taken; what happens later (a
    /// give-up included) is returned by [`wait`](RestartSupervisor::wait).
    pub async fn start<S: StatusStore<L>>(
        self,
        store: S,
    ) -> Result<RestartSupervisor<L>, RestartError> {
        // Its own heartbeat ends orphaned attempts and counts them (the driver's sweep): the
        // inner supervisor's would end them uncounted.
        let config = self.config.end_orphans(false);
        let inner = Supervisor::start(store, config).await?;
        let (commands, received) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        // Listed at once, as starting: the supervisor's task reads their past before it
        // starts them.
        shared
            .lock()
            .extend(self.children.iter().map(|spec| ChildInfo {
                id: Arc::clone(&spec.id),
                state: ChildState::Starting,
                restart: spec.restart,
                attempt: 0,
                restarts_in_window: 0,
            }));
        let driver = Driver::new(inner, self.policy, received, Arc::clone(&shared));
        let driver = tokio::spawn(driver.run(self.children));
        Ok(RestartSupervisor {
            commands,
            shared,
            driver: Some(driver),
        })
    }
}

impl<L: Lifecycle> fmt::Debug for RestartBuilder<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartBuilder")
            .field("strategy", &self.policy.strategy)
            .field("intensity", &self.policy.intensity)
            .field("backoff", &self.policy.backoff)
            .field("config", &self.config)
            .field("children", &self.children)
            .finish()
    }
}

/// One child as [`RestartSupervisor::children`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    /// The child's id.
    pub id: Arc<str>,
    /// Where it is.
    pub state: ChildState,
    /// Its restart type.
    pub restart: Restart,
    /// Its last attempt's number (`0` before the first); the attempt's row is
    /// `"{id}#{attempt}"`.
    pub attempt: u32,
    /// Its restarts within the current intensity window (what its backoff grows with).
    pub restarts_in_window: u32,
}

/// Where a child is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildState {
    /// Due to start, or spawned and not yet reported started
    /// ([`ChildSpec::await_started`]).
    Starting,
    /// An attempt is running. (Not `Running`: that name is a lifecycle state's in most
    /// programs, and a second one would lengthen every compiler message that names theirs.)
    Active,
    /// Waiting out its backoff before a restart.
    BackingOff,
    /// Being stopped.
    Stopping,
    /// Ended for good (a transient child after a normal end): not restarted.
    Exited,
}

/// The counters of a [`RestartSupervisor`], readable at any time.
#[derive(Debug, Default)]
pub struct RestartCounters {
    attempts: AtomicU64,
    restarts: AtomicU64,
    normal: AtomicU64,
    abnormal: AtomicU64,
    stopped: AtomicU64,
    gave_up: AtomicBool,
}

impl RestartCounters {
    /// Attempts started, restarts included.
    #[must_use]
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Restarts decided (a [`Strategy::OneForAll`] restart of several children is one).
    #[must_use]
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Attempts that ended normally on their own.
    #[must_use]
    pub fn normal_ends(&self) -> u64 {
        self.normal.load(Ordering::Relaxed)
    }

    /// Attempts that ended abnormally on their own: an error, a panic, an abort, a wedge.
    #[must_use]
    pub fn abnormal_ends(&self) -> u64 {
        self.abnormal.load(Ordering::Relaxed)
    }

    /// Attempts the supervisor stopped: shutdown, a sibling's restart, removal, give-up.
    #[must_use]
    pub fn stopped(&self) -> u64 {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Whether the supervisor gave up.
    #[must_use]
    pub fn gave_up(&self) -> bool {
        self.gave_up.load(Ordering::Relaxed)
    }
}

/// What the caller and the supervisor's task share.
#[derive(Default)]
struct Shared {
    children: Mutex<Vec<ChildInfo>>,
    counters: RestartCounters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<ChildInfo>> {
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn gave_up(&self) {
        self.counters.gave_up.store(true, Ordering::Relaxed);
    }
}

/// What a stopped [`RestartSupervisor`] left.
#[derive(Debug, Clone)]
pub struct RestartReport {
    /// The store's rows after the final flush: every attempt's row is terminal.
    pub rows: Vec<Row>,
    /// Attempts that did not stop within their shutdown time and did not yield to the
    /// abort (blocked in a synchronous call): their rows were ended without them.
    pub unresponsive: Vec<String>,
}

/// Why a [`RestartSupervisor`] stopped other than by a shutdown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestartError {
    /// More restarts within the period than its [`Intensity`] allows: a restart storm. The
    /// children were stopped in reverse start order, each attempt's row ended with the
    /// reason; the failing attempt's row has its own.
    #[error(
        "the restart supervisor gave up: child `{child}` (attempt #{attempt}) {reason}; that \
         makes {restarts} restarts within {period:?}, more than its intensity allows, so it \
         stopped its children ({stopped:?}). Fix the failing child, or allow more restarts \
         (`intensity`) or space them (`backoff`)"
    )]
    GaveUp {
        /// The child whose end called for the restart one too many.
        child: String,
        /// That child's last attempt.
        attempt: u32,
        /// The restarts counted within the period, the refused one included.
        restarts: u32,
        /// The intensity's period.
        period: Duration,
        /// How the attempt ended ("failed: connection refused", "panicked: ...").
        reason: String,
        /// The children stopped on giving up, in the order they were stopped (reverse
        /// start order).
        stopped: Vec<String>,
    },
    /// The store failed: the lease, a spawn, or the final flush.
    #[error("the restart supervisor stopped: {0}")]
    Store(#[from] StoreError),
    /// The supervisor's task ended without a result: it panicked, or the runtime is
    /// shutting down.
    #[error("the restart supervisor's task ended without a result: {0}")]
    Ended(String),
}

/// Why [`RestartSupervisor::add_child`] or [`remove_child`](RestartSupervisor::remove_child)
/// did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildError {
    /// A child with this id is already supervised.
    #[error("a child with id `{id}` is already supervised; child ids are unique")]
    Duplicate {
        /// The id.
        id: String,
    },
    /// No child has this id.
    #[error("no child has id `{id}` (a temporary child is removed when it ends)")]
    NotFound {
        /// The id.
        id: String,
    },
    /// The supervisor has stopped; [`RestartSupervisor::wait`] says why.
    #[error("the restart supervisor has stopped; `wait` says why")]
    NotRunning,
}
