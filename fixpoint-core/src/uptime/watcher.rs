//! The watcher: the task that owns a watched child, keeps its deadline and its silence
//! threshold from outside the code that waits for it, and ends its group.

use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::child::{Ending, Kill};
use super::diagnosis::Diagnosis;
use super::escalation::{Escalated, Escalation, Level};
use super::group::{Group, GroupGuard};
use super::progress::{Watchdog, Wedged};
use super::tail::{Line, Tail};

/// Resolves when `silence` declares the child wedged; never without one.
async fn silent(silence: Option<&Watchdog>) -> Wedged {
    match silence {
        Some(watchdog) => watchdog.wedged().await,
        None => std::future::pending().await,
    }
}

/// The longest a watcher waits for killed members of its group to die, to reap them (they die at
/// once unless stuck in an uninterruptible sleep).
const REAP_LIMIT: Duration = Duration::from_secs(5);

/// The task that owns a watched child and keeps its deadline.
pub(super) struct Watcher {
    pub(super) child: tokio::process::Child,
    /// A piped stdin, kept open (unwritten) until the end.
    pub(super) stdin: Option<tokio::process::ChildStdin>,
    pub(super) group: Group,
    pub(super) guard: GroupGuard,
    pub(super) key: String,
    pub(super) deadline: Duration,
    pub(super) grace: Duration,
    pub(super) escalation: Option<Escalation>,
    /// The watchdog over the lines it writes, with `wedged_after`.
    pub(super) silence: Option<Watchdog>,
    pub(super) tail: Tail,
    pub(super) readers: Vec<JoinHandle<()>>,
    pub(super) started: Instant,
}

/// What a watcher hands back.
pub(super) struct Report {
    pub(super) end: End,
    pub(super) ran_for: Duration,
    pub(super) tail: Vec<Line>,
}

pub(super) enum End {
    Exited(ExitStatus),
    Killed(Box<Kill>),
    Lost,
    Cancelled,
}

/// What woke the watcher.
enum Woken {
    Exited(io::Result<ExitStatus>),
    Deadline,
    Wedged(Wedged),
    Cancelled,
}

impl Watcher {
    pub(super) async fn watch(mut self, cancelled: oneshot::Receiver<()>) -> Report {
        let woken = tokio::select! {
            biased;
            status = self.child.wait() => Woken::Exited(status),
            () = tokio::time::sleep(self.deadline) => Woken::Deadline,
            wedged = silent(self.silence.as_ref()) => Woken::Wedged(wedged),
            _ = cancelled => Woken::Cancelled,
        };
        let end = match woken {
            Woken::Exited(Ok(status)) => {
                // It ended by itself: whatever hung before, its streak of timeouts is over.
                if let Some(escalation) = &self.escalation {
                    escalation.forget(&self.key);
                }
                End::Exited(status)
            }
            Woken::Exited(Err(_)) => End::Lost,
            // Boxed: the capture's futures are large, and only a timeout pays for them.
            Woken::Deadline => return Box::pin(self.at_deadline(None)).await,
            Woken::Wedged(wedged) => return Box::pin(self.at_deadline(Some(wedged))).await,
            Woken::Cancelled => {
                self.end_group().await;
                End::Cancelled
            }
        };
        self.finish(end).await
    }

    /// Captures the stuck state, escalates if asked, and ends the group (or keeps it stopped):
    /// at the deadline, or once `wedged` (silent for its threshold).
    async fn at_deadline(mut self, wedged: Option<Wedged>) -> Report {
        let mut diagnosis = self.diagnose().await;
        diagnosis.wedged = wedged.map(|wedged| Wedged {
            last_progress_note: diagnosis.tail.last().map(ToString::to_string),
            ..wedged
        });
        let signature = diagnosis.signature();
        let level = self
            .escalation
            .as_ref()
            .map(|e| e.record(&self.key, &signature, Instant::now()));
        if let Some(level) = level {
            diagnosis.repeated = level.repeated;
        }
        if let Some(level) = level.filter(|l| l.deep) {
            diagnosis.deepen().await;
            self.announce(&diagnosis, level);
            if let Some(window) = level.inspect_for {
                self.group.stop();
                return self.keep_stopped(diagnosis, window);
            }
        }
        let ended_by = self.end_group().await;
        self.finish(End::Killed(Box::new(Kill {
            diagnosis,
            ended_by,
        })))
        .await
    }

    async fn diagnose(&self) -> Diagnosis {
        let (key, group, ran_for, deadline) = (
            self.key.clone(),
            self.group.id(),
            self.started.elapsed(),
            self.deadline,
        );
        let tail = self.tail.snapshot();
        let capture = move || Diagnosis::capture(&key, group, ran_for, deadline, tail);
        tokio::task::spawn_blocking(capture.clone())
            .await
            .unwrap_or_else(|_| capture())
    }

    fn announce(&self, diagnosis: &Diagnosis, level: Level) {
        let Some(escalation) = &self.escalation else {
            return;
        };
        escalation.announce(&Escalated {
            key: self.key.clone(),
            repeated: level.repeated,
            stopped: level.inspect_for.map(|window| (self.group.id(), window)),
            pids: diagnosis.processes.iter().map(|p| p.pid).collect(),
        });
    }

    /// `SIGTERM` to the group, `SIGKILL` after the grace, and the leader reaped.
    async fn end_group(&mut self) -> Ending {
        self.group.terminate();
        let grace = self.grace;
        if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
            return Ending::Terminated;
        }
        self.group.kill();
        let _ = self.child.wait().await;
        Ending::KilledAfterGrace(grace)
    }

    /// Reports now, and leaves the stopped group to a task that kills and reaps it after `window`.
    fn keep_stopped(self, diagnosis: Diagnosis, window: Duration) -> Report {
        let report = Report {
            end: End::Killed(Box::new(Kill {
                diagnosis,
                ended_by: Ending::StoppedForInspection(window),
            })),
            ran_for: self.started.elapsed(),
            tail: self.tail.snapshot(),
        };
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            let mut watcher = self;
            watcher.group.kill();
            let _ = watcher.child.wait().await;
            watcher.finish(End::Cancelled).await;
        });
        report
    }

    /// Kills what is left of the group, reaps it, and collects the last output.
    async fn finish(mut self, end: End) -> Report {
        drop(self.stdin.take());
        // A member the child left behind (a background job) would hold the pipes open forever.
        // The group outlives its reaped leader while it has members, so its id still names it;
        // once empty, the id is free again, and a signal to it finds nobody (ESRCH).
        self.group.kill();
        self.group.reap(REAP_LIMIT).await;
        self.guard.disarm();
        let readers = std::mem::take(&mut self.readers);
        let aborts: Vec<_> = readers.iter().map(JoinHandle::abort_handle).collect();
        // A process that left the group may still hold the pipes: wait for them only so long.
        if tokio::time::timeout(self.grace, async {
            for reader in readers {
                let _ = reader.await;
            }
        })
        .await
        .is_err()
        {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        Report {
            end,
            ran_for: self.started.elapsed(),
            tail: self.tail.snapshot(),
        }
    }
}
