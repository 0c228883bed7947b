//! Watched tasks: a [`Watchdog`](crate::uptime::Watchdog) kept by the timekeeper, outside the
//! runtime, ends the row of a task that stops progressing (abandoned, with the wedge as the
//! reason) and aborts it, even when the task blocks every worker; it stops when the task ends.

use core::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use super::child::TaskHandle;
use crate::uptime::{Progress, Threshold};

/// The watchdog of one task, not yet started.
pub(super) struct Watch {
    progress: Progress,
    threshold: Threshold,
    slot: Arc<Mutex<Slot>>,
}

/// The watch, once started, and whether the task has ended already.
#[derive(Default)]
struct Slot {
    ended: bool,
    watching: Option<crate::uptime::progress::Watching>,
}

/// Held by the task's body: dropped when the task ends, however it ends, which stops the
/// watchdog.
pub(super) struct Running {
    slot: Arc<Mutex<Slot>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let watching = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            slot.ended = true;
            slot.watching.take()
        };
        drop(watching);
    }
}

impl Watch {
    /// A watch over `progress`, and the token the body holds while it runs.
    pub(super) fn new(progress: &Progress, threshold: Threshold) -> (Self, Running) {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let watch = Watch {
            progress: progress.clone(),
            threshold,
            slot: Arc::clone(&slot),
        };
        (watch, Running { slot })
    }

    /// Starts the watchdog on the timekeeper: when the task goes a whole threshold without
    /// progress, its row is ended with the wedge as the reason and the task is aborted.
    pub(super) fn start(self, task: TaskHandle) {
        let watching = self
            .progress
            .watchdog(self.threshold)
            .on_wedged(move |wedged| {
                #[cfg(feature = "tracing")]
                tracing::warn!(task = task.id(), %wedged, "supervised task wedged; aborted");
                task.end(&wedged.to_string());
            });
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.ended {
            slot.watching = Some(watching);
        }
    }
}

/// `body`, holding `running` until it ends; its first progress is its start.
pub(super) async fn holding<Fut: Future>(
    running: Running,
    progress: Progress,
    body: Fut,
) -> Fut::Output {
    progress.tick();
    let output = body.await;
    drop(running);
    output
}
