//! Liveness as a property of the output: a [`Progress`] handle the work ticks when it produces
//! something, and a [`Watchdog`] outside the work that declares it [`Wedged`] when no tick
//! arrives within a [`Threshold`], however alive the process looks.

use core::fmt;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The work's proof of life: cheap to clone and to [`tick`](Progress::tick) (an atomic store
/// of a coarse timestamp, a few nanoseconds), shared by the work and its [`Watchdog`].
///
/// Tick where the work *produces* something (claims a job, writes a row, prints a line), not
/// on a timer of its own: a loop that ticks while it waits on a dead connection proves
/// nothing.
///
/// ```
/// use fixpoint::uptime::Progress;
///
/// let progress = Progress::new();
/// progress.tick();
/// progress.tick_with("claimed job 812");
/// assert_eq!(progress.note().as_deref(), Some("claimed job 812"));
/// ```
#[derive(Clone)]
pub struct Progress {
    shared: Arc<Shared>,
}

struct Shared {
    /// The coarse clock's ticks at the last progress (at creation before the first).
    last: AtomicU64,
    note: Mutex<Option<Cow<'static, str>>>,
}

impl Progress {
    /// A handle whose silence starts now: a work that never ticks is wedged one threshold
    /// after this call.
    #[must_use]
    pub fn new() -> Self {
        Progress {
            shared: Arc::new(Shared {
                last: AtomicU64::new(now()),
                note: Mutex::new(None),
            }),
        }
    }

    /// Records progress now.
    #[inline]
    pub fn tick(&self) {
        self.shared.last.store(now(), Ordering::Relaxed);
    }

    /// Records progress now, with what it was ("claimed job 812"): a wedge names the last
    /// note. Costs a lock more than [`tick`](Self::tick); use it where the note is worth it.
    pub fn tick_with(&self, note: impl Into<Cow<'static, str>>) {
        *self.lock_note() = Some(note.into());
        self.tick();
    }

    /// Records progress now, with a note `write` puts in the last note's buffer (cleared): no
    /// allocation once the buffer has grown to the notes' size, where `tick_with` allocates each
    /// one. For a note per line of a watched child's output.
    #[cfg(all(feature = "process", target_os = "linux"))]
    pub(crate) fn tick_with_in_place(&self, write: impl FnOnce(&mut String)) {
        {
            let mut note = self.lock_note();
            if let Some(Cow::Owned(buffer)) = &mut *note {
                buffer.clear();
                write(buffer);
            } else {
                let mut buffer = String::new();
                write(&mut buffer);
                *note = Some(Cow::Owned(buffer));
            }
        }
        self.tick();
    }

    /// The note of the last [`tick_with`](Self::tick_with), if any.
    #[must_use]
    pub fn note(&self) -> Option<String> {
        self.lock_note().as_deref().map(str::to_owned)
    }

    /// How long since the last progress (since creation if there was none), on the coarse
    /// monotonic clock (millisecond resolution).
    #[must_use]
    pub fn silent_for(&self) -> Duration {
        let then = coarsetime::Instant::from_ticks(self.shared.last.load(Ordering::Relaxed));
        let now = coarsetime::Instant::now_without_cache_update();
        if now > then {
            (now - then).into()
        } else {
            Duration::ZERO
        }
    }

    /// A watchdog over this handle that declares the work wedged after `threshold` without
    /// progress.
    #[must_use]
    pub fn watchdog(&self, threshold: Threshold) -> Watchdog {
        Watchdog {
            progress: self.clone(),
            threshold,
        }
    }

    fn lock_note(&self) -> std::sync::MutexGuard<'_, Option<Cow<'static, str>>> {
        self.shared
            .note
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("silent_for", &self.silent_for())
            .field("note", &self.note())
            .finish()
    }
}

/// The coarse clock (a few nanoseconds to read; no shared cache written).
fn now() -> u64 {
    coarsetime::Instant::now_without_cache_update().as_ticks()
}

/// How long a work may go without progress before it is wedged: at least [`Threshold::TICK`],
/// the resolution of the clock progress is stamped with.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{uptime::{Threshold, ThresholdError}};
///
/// let threshold = Threshold::new(Duration::from_secs(30)).unwrap();
/// assert_eq!(threshold.get(), Duration::from_secs(30));
/// assert!(matches!(
///     Threshold::new(Duration::from_millis(1)),
///     Err(ThresholdError::ShorterThanTick { .. })
/// ));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Threshold(Duration);

impl Threshold {
    /// The resolution of the coarse clock progress is stamped with (a kernel tick: 1 to
    /// 10 ms): a shorter threshold could not tell a wedge from the clock's own step.
    pub const TICK: Duration = Duration::from_millis(10);

    /// A threshold of `threshold`.
    ///
    /// # Errors
    ///
    /// [`ThresholdError::ShorterThanTick`] when it is under [`Threshold::TICK`].
    pub const fn new(threshold: Duration) -> Result<Self, ThresholdError> {
        if threshold.as_nanos() < Self::TICK.as_nanos() {
            return Err(ThresholdError::ShorterThanTick {
                threshold,
                tick: Self::TICK,
            });
        }
        Ok(Threshold(threshold))
    }

    /// The duration.
    #[must_use]
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl TryFrom<Duration> for Threshold {
    type Error = ThresholdError;

    fn try_from(threshold: Duration) -> Result<Self, ThresholdError> {
        Threshold::new(threshold)
    }
}

/// A [`Threshold`] that cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    /// The threshold is shorter than the clock's tick.
    #[error(
        "a progress threshold of {threshold:?} is shorter than the clock's tick of {tick:?}; \
         use a threshold of at least {tick:?} (a real one is seconds: several times the \
         longest gap between two results of healthy work)"
    )]
    ShorterThanTick {
        /// The threshold asked for.
        threshold: Duration,
        /// [`Threshold::TICK`].
        tick: Duration,
    },
}

/// Watches a [`Progress`] from outside the work: [`wedged`](Self::wedged) resolves when no
/// progress arrived within the threshold.
///
/// It sleeps on the [`timekeeper`](super::timekeeper)'s clock until the earliest moment the
/// work could be wedged (the last progress plus the threshold), looks once, and sleeps again
/// if the work progressed: no polling, one timer wake per threshold of healthy work, and no
/// runtime worker needed for the wake (a watchdog over work that blocks every worker still
/// fires). It measures the monotonic clock, which `tokio::time::pause` does not stop: test it
/// in real time, with a short threshold.
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{uptime::{Progress, Threshold}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let progress = Progress::new();
/// progress.tick_with("claimed job 812");
/// let watchdog = progress.watchdog(Threshold::new(Duration::from_millis(20)).unwrap());
/// // The work stops here: its connection dropped, it logs nothing, it is still "up".
/// let wedged = watchdog.wedged().await;
/// assert!(wedged.for_ >= Duration::from_millis(20));
/// assert!(wedged.to_string().ends_with("; last progress: claimed job 812"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Watchdog {
    progress: Progress,
    threshold: Threshold,
}

impl Watchdog {
    /// The threshold.
    #[must_use]
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// Resolves once the work has gone a whole threshold without progress (it never resolves
    /// for work that keeps progressing). Cancel-safe: drop it to stop watching.
    pub async fn wedged(&self) -> Wedged {
        let threshold = self.threshold.get();
        loop {
            let silent = self.progress.silent_for();
            if silent >= threshold {
                return Wedged {
                    for_: silent,
                    last_progress_note: self.progress.note(),
                };
            }
            super::timekeeper::sleep(threshold - silent).await;
        }
    }
}

impl Watchdog {
    /// Calls `on_wedged` on the timekeeper's thread once the work has gone a whole threshold
    /// without progress, with no task and no runtime worker involved; dropping the returned
    /// [`Watching`] stops it. `on_wedged` must be short and must not block (end a row, abort a
    /// task, signal a process, or start a thread).
    pub(crate) fn on_wedged(&self, on_wedged: impl FnOnce(Wedged) + Send + 'static) -> Watching {
        let shared = Arc::new(Mutex::new(Watch {
            stopped: false,
            timer: None,
            on_wedged: Some(Box::new(on_wedged)),
        }));
        let first = self.progress.silent_for();
        arm(
            &shared,
            self.clone(),
            self.threshold.get().saturating_sub(first),
        );
        Watching { shared }
    }
}

type OnWedged = Box<dyn FnOnce(Wedged) + Send>;

struct Watch {
    stopped: bool,
    timer: Option<super::timekeeper::Timer>,
    on_wedged: Option<OnWedged>,
}

/// Sets the next look `after` from now.
fn arm(shared: &Arc<Mutex<Watch>>, watchdog: Watchdog, after: Duration) {
    let looked = Arc::clone(shared);
    let timer = super::timekeeper::at(std::time::Instant::now() + after, move || {
        look(&looked, watchdog);
    });
    let mut watch = shared.lock().unwrap_or_else(PoisonError::into_inner);
    if watch.stopped {
        drop(watch);
        timer.cancel();
    } else {
        watch.timer = Some(timer);
    }
}

/// One look, on the timekeeper's thread: wedged now, or the next look set.
fn look(shared: &Arc<Mutex<Watch>>, watchdog: Watchdog) {
    let silent = watchdog.progress.silent_for();
    let threshold = watchdog.threshold.get();
    if silent < threshold {
        return arm(shared, watchdog, threshold - silent);
    }
    let on_wedged = {
        let mut watch = shared.lock().unwrap_or_else(PoisonError::into_inner);
        if watch.stopped {
            return;
        }
        watch.timer = None; // this one fired
        watch.on_wedged.take()
    };
    if let Some(on_wedged) = on_wedged {
        on_wedged(Wedged {
            for_: silent,
            last_progress_note: watchdog.progress.note(),
        });
    }
}

/// A watchdog kept on the timekeeper's thread ([`Watchdog::on_wedged`]): dropping it stops
/// the watch (the callback never runs after the drop returns, unless it had begun).
pub(crate) struct Watching {
    shared: Arc<Mutex<Watch>>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let timer = {
            let mut watch = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            watch.stopped = true;
            watch.on_wedged = None;
            watch.timer.take()
        };
        if let Some(timer) = timer {
            timer.cancel();
        }
    }
}

impl fmt::Debug for Watching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watching").finish_non_exhaustive()
    }
}

/// A work declared wedged: how long it had gone without progress, and its last note.
///
/// Its `Display` is the reason a supervisor records: "no progress for 30s; last progress:
/// claimed job 812".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wedged {
    /// How long the work had gone without progress when the watchdog looked.
    pub for_: Duration,
    /// The note of the last [`Progress::tick_with`], if any.
    pub last_progress_note: Option<String>,
}

impl fmt::Display for Wedged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whole milliseconds: the clock's resolution, and a reason a person reads.
        let for_ = Duration::from_millis(u64::try_from(self.for_.as_millis()).unwrap_or(u64::MAX));
        write!(f, "no progress for {for_:?}; ")?;
        match &self.last_progress_note {
            Some(note) => write!(f, "last progress: {note}"),
            None => f.write_str("no progress noted"),
        }
    }
}
