//! Watched tasks: a [`Watchdog`](crate::uptime::Watchdog) beside the task, on the runtime's
//! timer, ends the row of a task that stops progressing (abandoned, with the wedge as the
//! reason) and aborts it; it stops when the task ends.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use tokio::sync::oneshot;

use super::child::TaskHandle;
use crate::uptime::{Progress, Threshold};

/// The watchdog of one task, not yet started.
pub(super) struct Watch {
    progress: Progress,
    threshold: Threshold,
    ended: oneshot::Receiver<()>,
}

/// Held by the task's body: dropped when the task ends, however it ends, which stops the
/// watchdog.
pub(super) struct Running {
    _held: oneshot::Sender<()>,
}

impl Watch {
    /// A watch over `progress`, and the token the body holds while it runs.
    pub(super) fn new(progress: &Progress, threshold: Threshold) -> (Self, Running) {
        let (running, ended) = oneshot::channel();
        let watch = Watch {
            progress: progress.clone(),
            threshold,
            ended,
        };
        (watch, Running { _held: running })
    }

    /// Starts the watchdog on the runtime: when the task goes a whole threshold without
    /// progress, its row is ended with the wedge as the reason and the task is aborted.
    pub(super) fn start(self, task: TaskHandle) {
        let Watch {
            progress,
            threshold,
            mut ended,
        } = self;
        tokio::spawn(async move {
            let watchdog = progress.watchdog(threshold);
            let mut wedged = pin!(watchdog.wedged());
            let wedged = poll_fn(|cx| {
                if pin!(&mut ended).poll(cx).is_ready() {
                    return Poll::Ready(None); // the task ended: nothing left to watch
                }
                wedged.as_mut().poll(cx).map(Some)
            })
            .await;
            if let Some(wedged) = wedged {
                #[cfg(feature = "tracing")]
                tracing::warn!(task = task.id(), %wedged, "supervised task wedged; aborted");
                task.end(&wedged.to_string());
            }
        });
    }
}

/// `body`, holding `running` until it ends.
pub(super) async fn holding<Fut: Future>(running: Running, body: Fut) -> Fut::Output {
    let output = body.await;
    drop(running);
    output
}
