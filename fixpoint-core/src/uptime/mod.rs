#![doc = include_str!("guide.md")]

// Uptime primitives: runtime tools for work that must not settle into a fixpoint in a process
// left running for months, each from an incident where a service stayed "up" and did nothing.
//
// - Time is kept outside the work *and* outside the runtime: the [`timekeeper`] (feature
// `tokio`) is one thread per process with a timer heap that keeps every deadline this crate
// keeps (a watched child's deadline and silence, a watchdog's threshold, a supervisor's
// shutdown grace, a restart child's start limit and stop time), so none of them waits for a
// free runtime worker, and tokio's paused test clock neither stops nor jumps them.
// - `Progress` and `Watchdog` (feature `tokio`): liveness is a property of the output, not
// of the PID; a work that stops producing is declared wedged, and a supervised task is
// aborted with the reason (`Supervisor::spawn_watched`).
// - [`Cooldown`] and [`CooldownFile`]: a self-healing backoff marker whose only question is
// the predicate; a marker that cannot be read is expired, loudly.
// - `Periodic` (feature `tokio`): a periodic job that does not build without a reaper, whose
// first run is the caller's error, and whose identical failures escalate.
// - [`GlobalWorker`]: a lazily started global worker thread that survives `fork`.
//
// Child processes watched from outside are the [`process`](crate::process) module's.

mod marker;
#[cfg(feature = "tokio")]
mod periodic;
#[cfg(feature = "tokio")]
pub(crate) mod progress;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod timekeeper;
mod worker;

pub use marker::{Cooldown, CooldownFile, MarkerError};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use periodic::{
    Failing, Job, NoJob, NoReaper, NothingToReap, Periodic, PeriodicError, PeriodicTask, ReapWith,
    Reaper, Reaps, Status,
};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use progress::{Progress, Threshold, ThresholdError, Watchdog, Wedged};
pub use worker::{GlobalWorker, WorkerError};
