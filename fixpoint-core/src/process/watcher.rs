//! The watcher: the task that owns a watched child, reaps it, and reports how it ended. Its
//! deadline and silence threshold are kept outside the runtime ([`Outside`]): the watcher
//! learns of a kill, it does not need to be free to make one.

use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::child::{Ending, Kill};
use super::escalation::Escalation;
use super::group::{Group, GroupGuard};
use super::outside::{Decided, Outside};
use super::tail::{Line, Tail};
use crate::uptime::timekeeper;

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
    pub(super) grace: Duration,
    pub(super) escalation: Option<Escalation>,
    /// Its deadline and silence, kept by the timekeeper.
    pub(super) outside: Outside,
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
    Decided(Decided),
    Cancelled,
}

impl Watcher {
    pub(super) async fn watch(mut self, cancelled: oneshot::Receiver<()>) -> Report {
        let woken = tokio::select! {
            biased;
            status = self.child.wait() => Woken::Exited(status),
            Ok(decided) = &mut self.outside.decided => Woken::Decided(decided),
            _ = cancelled => Woken::Cancelled,
        };
        let end = match woken {
            // A deadline that fired as the child ended: its decision stands (the signals were
            // sent), reported once made.
            Woken::Exited(_) if !self.outside.claim() => match (&mut self.outside.decided).await {
                Ok(decided) => return self.decided(decided).await,
                Err(_) => End::Lost,
            },
            Woken::Exited(Ok(status)) => {
                // It ended by itself: whatever hung before, its streak of timeouts is over.
                if let Some(escalation) = &self.escalation {
                    escalation.forget(&self.key);
                }
                End::Exited(status)
            }
            Woken::Exited(Err(_)) => End::Lost,
            Woken::Decided(decided) => return self.decided(decided).await,
            Woken::Cancelled => {
                self.outside.claim();
                self.end_group().await;
                End::Cancelled
            }
        };
        self.finish(end).await
    }

    /// Reports what the deadline (or the silence) decided: the group was ended, or is kept
    /// stopped for inspection, on the capture thread; the leader is reaped here.
    async fn decided(mut self, decided: Decided) -> Report {
        let ran_for = decided.at.saturating_duration_since(self.started);
        let kill = Box::new(Kill {
            diagnosis: decided.diagnosis,
            ended_by: decided.ended_by,
        });
        if let Ending::StoppedForInspection(window) = decided.ended_by {
            return self.keep_stopped(kill, window, ran_for);
        }
        let _ = self.child.wait().await;
        let mut report = self.finish(End::Killed(kill)).await;
        report.ran_for = ran_for;
        report
    }

    /// `SIGTERM` to the group, `SIGKILL` after the grace, and the leader reaped.
    async fn end_group(&mut self) -> Ending {
        self.group.terminate();
        let grace = self.grace;
        if timekeeper::timeout(grace, self.child.wait()).await.is_ok() {
            return Ending::Terminated;
        }
        self.group.kill();
        let _ = self.child.wait().await;
        Ending::KilledAfterGrace(grace)
    }

    /// Reports now, and leaves the stopped group to be killed after `window` (by the
    /// timekeeper) and reaped (by a task).
    fn keep_stopped(self, kill: Box<Kill>, window: Duration, ran_for: Duration) -> Report {
        let report = Report {
            end: End::Killed(kill),
            ran_for,
            tail: self.tail.snapshot(),
        };
        let group = self.group;
        timekeeper::at(Instant::now() + window, move || group.kill()).detach();
        tokio::spawn(async move {
            let mut watcher = self;
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
        if timekeeper::timeout(self.grace, async {
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
