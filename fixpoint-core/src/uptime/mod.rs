//! Uptime primitives, each from an incident where a service stayed "up" and did nothing:
//!
//! - `Progress` and `Watchdog` (feature `tokio`): liveness is a property of the output, not
//!   of the PID; a work that stops producing is declared wedged, and a supervised task is
//!   aborted with the reason (`Supervisor::spawn_watched`).
//! - [`Backoff`] and [`BackoffFile`]: a self-healing backoff marker whose only question is
//!   the predicate; a marker that cannot be read is expired, loudly.
//! - `Periodic` (feature `tokio`): a periodic job that does not build without a reaper, whose
//!   first run is the caller's error, and whose identical failures escalate.
//! - [`GlobalWorker`]: a lazily started global worker thread that survives `fork`.

mod marker;
#[cfg(feature = "tokio")]
mod periodic;
#[cfg(feature = "tokio")]
mod progress;
mod worker;

pub use marker::{Backoff, BackoffFile, MarkerError};
#[cfg(feature = "tokio")]
pub use periodic::{
    Failing, Job, NoJob, NoReaper, NothingToReap, Periodic, PeriodicTask, ReapWith, Reaper, Reaps,
    StartError, Status,
};
#[cfg(feature = "tokio")]
pub use progress::{Progress, Threshold, ThresholdError, Watchdog, Wedged};
pub use worker::{GlobalWorker, WorkerError};
