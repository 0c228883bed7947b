//! A periodic job that cannot be built without a reaper for what each cycle accumulates,
//! whose first run is the caller's to see, and whose identical failures escalate.
//!
//! The builder is a type-state: [`Periodic::every`] → [`run`](Periodic::run) →
//! [`reap`](Periodic::reap) or [`no_reaper`](Periodic::no_reaper) → [`start`](Periodic::start).
//! Without the reaper step there is no `start`.

use core::fmt;
use core::future::Future;
use core::num::NonZeroU32;
use core::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// A periodic job under construction: `J` is its job (or [`NoJob`]), `R` its reaper (or
/// [`NoReaper`]).
///
/// ```
/// use std::time::Duration;
/// use fixpoint::uptime::Periodic;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let deploys = Periodic::every(Duration::from_secs(3600))
///     .named("deploy")
///     .run(|| async { Ok::<_, std::io::Error>(()) /* pull and start the new image */ })
///     .reap(|| async { Ok(()) /* remove the images the previous cycles left */ })
///     .start()
///     .await
///     .expect("the first run fails here, at start, not in a log");
/// assert_eq!(deploys.status().runs, 1);
/// # }
/// ```
///
/// Without a reaper there is no `start`:
///
/// ```compile_fail
/// use std::time::Duration;
/// use fixpoint::uptime::Periodic;
///
/// # async fn f() {
/// let _ = Periodic::every(Duration::from_secs(3600))
///     .run(|| async { Ok::<_, std::io::Error>(()) })
///     .start()
///     .await;
/// # }
/// ```
#[must_use = "a periodic job runs once `start` is awaited"]
pub struct Periodic<J, R> {
    period: Duration,
    name: &'static str,
    escalate_after: NonZeroU32,
    job: J,
    reaper: R,
}

/// [`Periodic`] before [`run`](Periodic::run): no job yet.
#[derive(Debug)]
pub struct NoJob;

/// The job given to [`Periodic::run`].
#[derive(Debug)]
pub struct Job<F>(F);

/// [`Periodic`] before [`reap`](Periodic::reap) or [`no_reaper`](Periodic::no_reaper): it
/// cannot start.
#[derive(Debug)]
pub struct NoReaper;

/// The reaper given to [`Periodic::reap`].
#[derive(Debug)]
pub struct Reaper<G>(G);

/// A job that accumulates nothing, and the reason given to [`Periodic::no_reaper`].
#[derive(Debug)]
pub struct NothingToReap(pub &'static str);

/// How many identical failures in a row escalate by default.
const ESCALATE_AFTER: NonZeroU32 = NonZeroU32::new(3).unwrap();

impl Periodic<NoJob, NoReaper> {
    /// A job to run every `period` (at start, then on the cadence; a late cycle delays the
    /// next ones rather than bursting).
    pub fn every(period: Duration) -> Self {
        Periodic {
            period,
            name: "periodic job",
            escalate_after: ESCALATE_AFTER,
            job: NoJob,
            reaper: NoReaper,
        }
    }
}

impl<J, R> Periodic<J, R> {
    /// The name its events and status use.
    pub fn named(self, name: &'static str) -> Self {
        Periodic { name, ..self }
    }

    /// How many identical failures in a row escalate to an error (3 by default).
    pub fn escalate_after(self, failures: NonZeroU32) -> Self {
        Periodic {
            escalate_after: failures,
            ..self
        }
    }
}

impl<R> Periodic<NoJob, R> {
    /// What each cycle does: a closure returning the cycle's future, whose error is a failure
    /// of the cycle.
    pub fn run<F>(self, job: F) -> Periodic<Job<F>, R> {
        let Periodic {
            period,
            name,
            escalate_after,
            reaper,
            ..
        } = self;
        Periodic {
            period,
            name,
            escalate_after,
            job: Job(job),
            reaper,
        }
    }
}

impl<J> Periodic<J, NoReaper> {
    /// What removes what each cycle accumulates (the images a deploy leaves, the temp files a
    /// build writes): it runs after the job on every cycle, whether the job succeeded or not.
    pub fn reap<G>(self, reaper: G) -> Periodic<J, Reaper<G>> {
        self.with_reaper(Reaper(reaper))
    }

    /// Declares that the cycles accumulate nothing, and says why: the reason is in the code
    /// for the next reader to check.
    pub fn no_reaper(self, why: &'static str) -> Periodic<J, NothingToReap> {
        self.with_reaper(NothingToReap(why))
    }

    fn with_reaper<R>(self, reaper: R) -> Periodic<J, R> {
        let Periodic {
            period,
            name,
            escalate_after,
            job,
            ..
        } = self;
        Periodic {
            period,
            name,
            escalate_after,
            job,
            reaper,
        }
    }
}

impl<F> Periodic<Job<F>, NoReaper> {
    /// Does not compile: a job whose reaper was not chosen cannot start. The compiler's
    /// message says what to add (`.reap(..)` or `.no_reaper("why")`); this method exists only
    /// so that it can say so.
    #[doc(hidden)]
    pub fn start<E>(self) -> core::future::Ready<Result<PeriodicTask, PeriodicError<E>>>
    where
        NoReaper: ReaperChosen<E>,
    {
        unreachable!("no reaper was chosen: `NoReaper: ReaperChosen` never holds")
    }
}

/// A cycle's future.
type CycleFuture<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send>>;

/// A [`Periodic`] whose reaper was chosen: [`Reaper`] or [`NothingToReap`]. Only these
/// have a `start`.
pub trait Reaps: sealed::Sealed {}

/// Never implemented (and no other crate may: both it and `NoReaper` are this crate's): the
/// bound of the `start` that a job without a chosen reaper offers only to fail with this
/// message.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a periodic job cannot start without a reaper for what each cycle accumulates",
    label = "no reaper chosen for this job",
    note = "call `.reap(|| async {{ .. }})` with what removes each cycle's leftovers, or \
            `.no_reaper(\"why the cycles accumulate nothing\")`, before `.start()`"
)]
pub trait ReaperChosen<E> {}

impl<G> Reaps for Reaper<G> {}
impl Reaps for NothingToReap {}

mod sealed {
    pub trait Sealed {}
    impl<G> Sealed for super::Reaper<G> {}
    impl Sealed for super::NothingToReap {}
}

/// What a [`Periodic`] reaps after each cycle whose error type is `E`.
pub trait ReapWith<E>: Reaps + Send + 'static {
    /// The reaper's future for one cycle; `None` when there is nothing to reap.
    fn reap(&mut self) -> Option<CycleFuture<E>>;
}

impl<E, G, Fut> ReapWith<E> for Reaper<G>
where
    G: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    fn reap(&mut self) -> Option<CycleFuture<E>> {
        Some(Box::pin((self.0)()))
    }
}

impl<E> ReapWith<E> for NothingToReap {
    fn reap(&mut self) -> Option<CycleFuture<E>> {
        None
    }
}

impl<F, R: Reaps> Periodic<Job<F>, R> {
    /// Runs the first cycle now and returns its error; on success, runs the next cycles every
    /// period on a task of the runtime until the returned [`PeriodicTask`] is stopped or
    /// dropped.
    ///
    /// The cadence counts from this call. The cycles' task is spawned from a thread of the
    /// runtime's blocking pool (for an instant), so that any free worker runs it: a caller
    /// that goes on to block its own worker holds no cycle back. A start on a runtime whose
    /// blocking pool is full waits for one of its threads.
    ///
    /// # Errors
    ///
    /// [`PeriodicError::FirstRun`] with the first cycle's error (nothing keeps running);
    /// [`PeriodicError::PeriodTooShort`] for a period under the timer's millisecond.
    pub async fn start<E, Fut>(mut self) -> Result<PeriodicTask, PeriodicError<E>>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
        R: ReapWith<E>,
    {
        if self.period < MIN_PERIOD {
            return Err(PeriodicError::PeriodTooShort {
                period: self.period,
                tick: MIN_PERIOD,
            });
        }
        // The cadence counts from the start, not from the first poll of the cycles' task.
        let first = Instant::now() + self.period;
        self.cycle().await.map_err(PeriodicError::FirstRun)?;
        let history = Arc::new(Mutex::new(History::started(self.name)));
        let cycles = self.cycles(first, Arc::downgrade(&history));
        // Spawned from a thread of the blocking pool, the cycles' task enters the runtime's
        // shared queue, where any free worker takes it. Spawned from this task, it would wait
        // in this worker's next-task slot, which no other worker may take: a caller that went
        // on to block its thread would hold every cycle back. While the blocking task runs, a
        // paused clock cannot jump past the first tick before the cycles' task has set it.
        let runtime = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || runtime.spawn(cycles).abort_handle())
            .await
            .ok(); // cancelled: the runtime is shutting down, and runs no task anymore
        Ok(PeriodicTask { history, task })
    }

    /// One cycle: the job, then the reaper; the job's error first.
    async fn cycle<E, Fut>(&mut self) -> Result<(), E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), E>>,
        R: ReapWith<E>,
    {
        let job = (self.job.0)().await;
        let reaped = match self.reaper.reap() {
            Some(reap) => reap.await,
            None => Ok(()),
        };
        job.and(reaped)
    }

    /// The cycles from `first` on, until the [`PeriodicTask`] (which holds the history) is
    /// gone: aborted by its drop, or ended at its next tick if the start was cancelled before
    /// the task could be handed back.
    async fn cycles<E, Fut>(mut self, first: Instant, history: Weak<Mutex<History>>)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
        R: ReapWith<E>,
    {
        let mut cadence = tokio::time::interval_at(first, self.period);
        // A cycle the runtime held back runs once when it is free, and the next a period
        // later: no burst of the missed ones.
        cadence.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            cadence.tick().await;
            let Some(history) = history.upgrade() else {
                return;
            };
            let result = self.cycle().await.map_err(|error| error.to_string());
            lock(&history).record(result, self.escalate_after);
        }
    }
}

/// The timer's resolution.
const MIN_PERIOD: Duration = Duration::from_millis(1);

impl<J, R> fmt::Debug for Periodic<J, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The job and the reaper are closures: their types say which steps were taken.
        f.debug_struct("Periodic")
            .field("period", &self.period)
            .field("name", &self.name)
            .field("escalate_after", &self.escalate_after)
            .field("job", &std::any::type_name::<J>())
            .field("reaper", &std::any::type_name::<R>())
            .finish()
    }
}

/// A periodic job that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeriodicError<E> {
    /// The first cycle, run at start, failed: the job does not run.
    #[error("the first run of the periodic job failed: {0}")]
    FirstRun(E),
    /// The period is under the timer's resolution.
    #[error(
        "a period of {period:?} is shorter than the timer's tick of {tick:?}; use a period \
         of at least {tick:?}"
    )]
    PeriodTooShort {
        /// The period asked for.
        period: Duration,
        /// The timer's resolution.
        tick: Duration,
    },
}

/// A started periodic job: its [`status`](Self::status), until it is stopped or dropped.
#[derive(Debug)]
#[must_use = "dropping a `PeriodicTask` stops its cycles; keep it as long as the job must run"]
pub struct PeriodicTask {
    history: Arc<Mutex<History>>,
    /// `None` when the runtime was shutting down at the start.
    task: Option<AbortHandle>,
}

impl PeriodicTask {
    /// How the job is doing: its runs and failures and, while it fails identically, since
    /// when.
    #[must_use]
    pub fn status(&self) -> Status {
        lock(&self.history).status.clone()
    }

    /// Stops the cycles (one running now is cancelled at its next wait).
    pub fn stop(self) {}
}

impl Drop for PeriodicTask {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn lock(history: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct History {
    name: &'static str,
    status: Status,
}

impl History {
    /// After the first run, which succeeded.
    fn started(name: &'static str) -> Self {
        History {
            name,
            status: Status {
                runs: 1,
                failures: 0,
                escalations: 0,
                failing: None,
            },
        }
    }

    fn record(&mut self, result: Result<(), String>, escalate_after: NonZeroU32) {
        let status = &mut self.status;
        status.runs += 1;
        let Err(error) = result else {
            status.failing = None;
            return;
        };
        status.failures += 1;
        let failing = match status.failing.take() {
            Some(mut failing) if failing.error == error => {
                failing.identical_runs += 1;
                failing
            }
            _ => Failing {
                identical_runs: 1,
                since: Instant::now(),
                since_run: status.runs,
                error,
            },
        };
        if failing.identical_runs == escalate_after.get() {
            status.escalations += 1;
        }
        self.escalate(&failing, escalate_after);
        self.status.failing = Some(failing);
    }

    /// A failure is a warning; from the `escalate_after`th identical one in a row, an error.
    #[cfg(feature = "tracing")]
    fn escalate(&self, failing: &Failing, escalate_after: NonZeroU32) {
        let (name, runs, error) = (self.name, failing.identical_runs, &failing.error);
        if runs >= escalate_after.get() {
            tracing::error!(job = name, runs, error, "periodic job failing identically");
        } else {
            tracing::warn!(job = name, runs, error, "periodic job failed");
        }
    }

    #[cfg(not(feature = "tracing"))]
    fn escalate(&self, _: &Failing, _: NonZeroU32) {
        let _ = self.name;
    }
}

/// What [`PeriodicTask::status`] says.
///
/// Its `Display` reads "healthy: 12 runs, 1 failed" or "failing identically for 4 runs since
/// run 9 (12s ago): disk full".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Cycles run, the first (at start) included.
    pub runs: u64,
    /// Cycles that failed.
    pub failures: u64,
    /// Streaks of identical failures that reached the escalation count.
    pub escalations: u64,
    /// The current streak of identical failures; `None` when the last cycle succeeded.
    pub failing: Option<Failing>,
}

/// A streak of identical failures (the same error text, run after run).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failing {
    /// How many cycles in a row failed with this error.
    pub identical_runs: u32,
    /// When the streak's first failure was recorded.
    pub since: Instant,
    /// Which run (counting from 1, the run at start) began the streak.
    pub since_run: u64,
    /// The error's text.
    pub error: String,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failing {
            None => write!(f, "healthy: {} runs, {} failed", self.runs, self.failures),
            Some(failing) => {
                let ago = u64::try_from(failing.since.elapsed().as_millis()).unwrap_or(u64::MAX);
                write!(
                    f,
                    "failing identically for {} runs since run {} ({:?} ago): {}",
                    failing.identical_runs,
                    failing.since_run,
                    Duration::from_millis(ago),
                    failing.error
                )
            }
        }
    }
}
