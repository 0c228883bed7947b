//! Uptime primitives: runtime tools for work that must not settle into a fixpoint in a process
//! left running for months, each from an incident where a service stayed "up" and did nothing.
//!
//! - Time is kept outside the work *and* outside the runtime: the `timekeeper` (feature
//!   `tokio`) is one thread per process with a timer heap that keeps every deadline this crate
//!   keeps (a watched child's deadline and silence, a watchdog's threshold, a supervisor's
//!   shutdown grace, a restart child's start limit and stop time), so none of them waits for a
//!   free runtime worker, and tokio's paused test clock neither stops nor jumps them.
//! - A deadline lives outside the work it limits (feature `process`, Linux): [`Watched`] runs a
//!   child process in its own process group; at its deadline the timekeeper captures its stuck
//!   state and kills the whole group, on a thread of its own; the watcher task reaps it and
//!   reports a terminal [`ChildStatus`].
//! - A timeout is a tourniquet, not a diagnosis: before it kills, the watcher captures the
//!   child's stuck state ([`Diagnosis`]: process tree, states, wait channels, threads,
//!   descriptors, last output), and an [`Escalation`] makes a hang that keeps recurring capture
//!   every thread's stack, or stay stopped for inspection.
//! - `Progress` and `Watchdog` (feature `tokio`): liveness is a property of the output, not
//!   of the PID; a work that stops producing is declared wedged, and a supervised task is
//!   aborted with the reason (`Supervisor::spawn_watched`). A watched child's output lines are
//!   its progress: they tick a `Progress` (`Watched::progress`), and a child that writes none
//!   for a threshold is killed as wedged (`Watched::wedged_after`).
//! - [`Backoff`] and [`BackoffFile`]: a self-healing backoff marker whose only question is
//!   the predicate; a marker that cannot be read is expired, loudly.
//! - `Periodic` (feature `tokio`): a periodic job that does not build without a reaper, whose
//!   first run is the caller's error, and whose identical failures escalate.
//! - [`GlobalWorker`]: a lazily started global worker thread that survives `fork`.

// `/proc`, process groups and child subreapers: Linux.
#[cfg(all(feature = "process", target_os = "linux"))]
mod child;
#[cfg(all(feature = "process", target_os = "linux"))]
mod diagnosis;
#[cfg(all(feature = "process", target_os = "linux"))]
mod escalation;
#[cfg(all(feature = "process", target_os = "linux"))]
mod group;
mod marker;
#[cfg(all(feature = "process", target_os = "linux"))]
mod outside;
#[cfg(feature = "tokio")]
mod periodic;
#[cfg(all(feature = "process", target_os = "linux"))]
mod procfs;
#[cfg(feature = "tokio")]
pub(crate) mod progress;
#[cfg(all(feature = "process", target_os = "linux"))]
mod tail;
#[cfg(feature = "tokio")]
pub mod timekeeper;
#[cfg(all(feature = "process", target_os = "linux"))]
mod watcher;
mod worker;

// The state markers (`child_status`) stay unexported, and no state is named `Running`: a second
// public type of a common name makes rustc spell the user's own with its path in diagnostics
// (`job::Running`), which changes their text (and this crate's ui expectations).
#[cfg(all(feature = "process", target_os = "linux"))]
pub use child::{ChildStatus, Ending, Kill, Outcome, Run, StartError, Watched};
#[cfg(all(feature = "process", target_os = "linux"))]
pub use diagnosis::{Diagnosis, Process, StackSource, Stacks};
#[cfg(all(feature = "process", target_os = "linux"))]
pub use escalation::{Escalated, Escalation, EscalationPolicy};
#[cfg(all(feature = "process", target_os = "linux"))]
pub use group::reap_orphans;
pub use marker::{Backoff, BackoffFile, MarkerError};
#[cfg(feature = "tokio")]
pub use periodic::{
    Failing, Job, NoJob, NoReaper, NothingToReap, Periodic, PeriodicError, PeriodicTask, ReapWith,
    Reaper, Reaps, Status,
};
#[cfg(feature = "tokio")]
pub use progress::{Progress, Threshold, ThresholdError, Watchdog, Wedged};
#[cfg(all(feature = "process", target_os = "linux"))]
pub use tail::{Line, Stream};
pub use worker::{GlobalWorker, WorkerError};
