//! A child of a restart supervisor: how to run one attempt of it, and what the attempt is
//! told (its number, when to stop, whom to report started to, its progress).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use core::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, oneshot};

use super::policy::Restart;
use crate::lifecycle::{Lifecycle, State};
use crate::task::{Machine, TaskOutput};
use crate::uptime::{Progress, Threshold};

/// One attempt's body, its output reduced to the terminal state reached or the error's text.
pub(super) type Run<L> = Arc<
    dyn Fn(Machine<L, ()>, Attempt) -> Pin<Box<dyn Future<Output = Ended<L>> + Send>> + Send + Sync,
>;

/// An attempt's output, as the supervisor records it.
pub(super) struct Ended<L>(Result<State<L>, String>);

// Internal: a user's body must not be told it could return this.
#[diagnostic::do_not_recommend]
impl<L: Lifecycle + Send> TaskOutput<L> for Ended<L> {
    fn into_result(self) -> Result<State<L>, String> {
        self.0
    }
}

/// How to run a child of a [`RestartSupervisor`](super::RestartSupervisor), and when to
/// restart it.
///
/// `run` is called for every attempt with a fresh machine (its row is `"{id}#{attempt}"`)
/// and the [`Attempt`]; it returns the machine's terminal proof, or an error, as a
/// [`Supervisor`](crate::task::Supervisor)'s task does.
///
/// ```
/// # use fixpoint::terminal_state;
/// # #[terminal_state]
/// # pub enum Job {
/// #     #[initial] #[to(Running, Failed)] Queued,
/// #     #[to(Done, Failed)]               Running,
/// #     #[terminal]                       Done,
/// #     #[terminal] #[abandoned]          Failed,
/// # }
/// use std::time::Duration;
/// use fixpoint::{restart::{ChildSpec, Restart}};
///
/// let spec = ChildSpec::<Job>::new("poller", |job, mut attempt| async move {
///     let job = job.to_running();
///     attempt.started(); // the next child starts now
///     attempt.stopping().await; // ... work until asked to stop
///     job.to_done()
/// })
/// .restart(Restart::Transient)
/// .await_started(Duration::from_secs(30))
/// .shutdown(Duration::from_secs(2));
/// # let _ = spec;
/// ```
pub struct ChildSpec<L: Lifecycle> {
    pub(super) id: Arc<str>,
    pub(super) restart: Restart,
    pub(super) shutdown: Duration,
    /// With [`await_started`](Self::await_started): how long an attempt has to report.
    pub(super) await_started: Option<Duration>,
    pub(super) watchdog: Option<Threshold>,
    pub(super) run: Run<L>,
}

impl<L: Lifecycle + Send> ChildSpec<L> {
    /// A [`Restart::Permanent`] child named `id`, started when spawned, with a five-second
    /// shutdown.
    ///
    /// Its attempts' rows are `"{id}#1"`, `"{id}#2"`, ...: the id names one child in the
    /// store, run by one supervisor at a time (a second supervisor running the same id on the
    /// same store would find its attempt ids taken, and stop with the store's error). The
    /// restart window is read back from these rows, so a retention that prunes them sooner
    /// than the intensity's period forgets those restarts.
    pub fn new<F, Fut>(id: impl Into<String>, run: F) -> Self
    where
        F: Fn(Machine<L, ()>, Attempt) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput<L>,
    {
        let run: Run<L> = Arc::new(move |machine, attempt| {
            let body = run(machine, attempt);
            Box::pin(async move { Ended(body.await.into_result()) })
        });
        ChildSpec {
            id: id.into().into(),
            restart: Restart::Permanent,
            shutdown: Duration::from_secs(5),
            await_started: None,
            watchdog: None,
            run,
        }
    }
}

impl<L: Lifecycle> ChildSpec<L> {
    /// When the child is restarted (default [`Restart::Permanent`]).
    #[must_use]
    pub fn restart(self, restart: Restart) -> Self {
        ChildSpec { restart, ..self }
    }

    /// How long a stop waits for the attempt to end after [`Attempt::stopping`] fired,
    /// before its row is ended (abandoned, with the stop's reason) and its task aborted.
    /// `Duration::ZERO` aborts at once. Default five seconds.
    #[must_use]
    pub fn shutdown(self, shutdown: Duration) -> Self {
        ChildSpec { shutdown, ..self }
    }

    /// The next child waits, after this one is spawned, until its attempt calls
    /// [`Attempt::started`] (or ends): ordered start for children that depend on the ones
    /// before them. Without it a child counts as started once spawned.
    ///
    /// The wait is bounded by `limit`: an attempt that has not reported by then is ended, its
    /// row abandoned with the reason "did not report started within ..", and it is an
    /// abnormal end, restarted (or not) under the child's policy, as an attempt that ended
    /// before it reported is; the next child starts then. The supervisor does nothing
    /// else while it waits (the other children's ends and the caller's requests are handled
    /// once the attempt reports, ends or runs out of time), so keep `limit` short.
    #[must_use]
    pub fn await_started(self, limit: Duration) -> Self {
        ChildSpec {
            await_started: Some(limit),
            ..self
        }
    }

    /// Watches every attempt's [`Attempt::progress`]: an attempt that goes `threshold`
    /// without a tick is ended (its row abandoned with the wedge as the reason, as
    /// [`Supervisor::spawn_watched`](crate::task::Supervisor::spawn_watched) does), which is an
    /// abnormal end, restarted under the child's policy.
    #[must_use]
    pub fn watchdog(self, threshold: Threshold) -> Self {
        ChildSpec {
            watchdog: Some(threshold),
            ..self
        }
    }

    /// The child's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<L: Lifecycle> fmt::Debug for ChildSpec<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("await_started", &self.await_started)
            .field("watchdog", &self.watchdog)
            .finish_non_exhaustive()
    }
}

/// What one attempt of a child is told: which attempt it is, when it is asked to stop, how to
/// report that it has started, and the progress its watchdog reads.
pub struct Attempt {
    pub(super) child: Arc<str>,
    pub(super) number: u32,
    pub(super) started: Option<oneshot::Sender<()>>,
    pub(super) stop: Arc<Stop>,
    /// Set for a watched child; made on first use otherwise (most attempts never ask).
    pub(super) progress: OnceLock<Progress>,
}

impl Attempt {
    /// The child's id.
    #[must_use]
    pub fn child(&self) -> &str {
        &self.child
    }

    /// The attempt's number: `1` for the first, one more for each restart (across process
    /// restarts too: the supervisor resumes it from the rows).
    #[must_use]
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Reports the attempt started: with [`ChildSpec::await_started`], the supervisor starts
    /// the next child now. Further calls do nothing.
    pub fn started(&mut self) {
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
    }

    /// Waits until the supervisor asks this attempt to stop (it is shutting down, restarting
    /// it with a sibling, or removing it): the attempt then has the child's
    /// [`shutdown`](ChildSpec::shutdown) time to finish its lifecycle before it is aborted.
    pub async fn stopping(&self) {
        loop {
            let mut stopped = pin!(self.stop.notify.notified());
            // Registered before the check: a stop between the two still wakes it.
            stopped.as_mut().enable();
            if self.is_stopping() {
                return;
            }
            stopped.await;
        }
    }

    /// Whether the supervisor has asked this attempt to stop.
    #[must_use]
    pub fn is_stopping(&self) -> bool {
        self.stop.stopping.load(Ordering::Acquire)
    }

    /// The progress this attempt ticks: watched by the child's
    /// [`watchdog`](ChildSpec::watchdog), if it has one (unwatched otherwise).
    #[must_use]
    pub fn progress(&self) -> &Progress {
        self.progress.get_or_init(Progress::new)
    }
}

/// The request to stop, from the supervisor to one attempt.
#[derive(Default)]
pub(super) struct Stop {
    stopping: AtomicBool,
    notify: Notify,
}

impl Stop {
    /// Asks the attempt to stop: [`Attempt::stopping`] returns.
    pub(super) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("child", &self.child)
            .field("number", &self.number)
            .field("stopping", &self.is_stopping())
            .finish_non_exhaustive()
    }
}
