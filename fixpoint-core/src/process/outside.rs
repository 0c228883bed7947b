//! The part of a watched child's watch kept outside the runtime: the timekeeper fires its
//! deadline (and its silence threshold), and a thread of its own captures the diagnosis and
//! ends the group, so that neither waits for a free runtime worker. The watcher task only reaps
//! and reports afterwards.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use tokio::sync::oneshot;

use super::child::Ending;
use super::diagnosis::Diagnosis;
use super::escalation::{Escalated, Escalation, Level};
use super::group::Group;
use super::tail::Tail;
use crate::uptime::progress::{Watchdog, Watching, Wedged};
use crate::uptime::timekeeper::{self, Timer};

/// What the deadline (or the silence) decided, and when the group was ended.
pub(super) struct Decided {
    pub(super) diagnosis: Diagnosis,
    pub(super) ended_by: Ending,
    /// When the leader was seen to end (or the group was stopped for inspection).
    pub(super) at: Instant,
}

/// What the capture thread needs of the child.
pub(super) struct Capture {
    pub(super) key: String,
    pub(super) group: Group,
    /// The leader's pidfd, opened while it could not have been reaped: waits for its end
    /// without reaping it (the watcher reaps).
    pub(super) leader: Option<OwnedFd>,
    pub(super) started: Instant,
    pub(super) deadline: Duration,
    pub(super) grace: Duration,
    pub(super) escalation: Option<Escalation>,
    pub(super) tail: Tail,
    /// Taken by whoever decides first: a deadline, a silence, or the watcher when the child
    /// ended by itself (then nothing is decided).
    pub(super) decide: Mutex<Option<oneshot::Sender<Decided>>>,
}

/// The timers of one watch; dropping it stops them.
pub(super) struct Outside {
    capture: Arc<Capture>,
    _deadline: Timer,
    _silence: Option<Watching>,
    pub(super) decided: oneshot::Receiver<Decided>,
}

impl Outside {
    /// Arms the deadline (and the silence threshold) of `capture`'s child.
    pub(super) fn arm(
        capture: Capture,
        decided: oneshot::Receiver<Decided>,
        silence: Option<&Watchdog>,
    ) -> Self {
        let capture = Arc::new(capture);
        let at = capture.started + capture.deadline;
        let deadline = timekeeper::at(at, {
            let capture = Arc::clone(&capture);
            move || begin(&capture, None)
        });
        let silence = silence.map(|watchdog| {
            let capture = Arc::clone(&capture);
            watchdog.on_wedged(move |wedged| begin(&capture, Some(wedged)))
        });
        Outside {
            capture,
            _deadline: deadline,
            _silence: silence,
            decided,
        }
    }

    /// The child ended (or the watch was cancelled): `true` when no decision had begun and
    /// none will; `false` when one is under way (await `decided`).
    pub(super) fn claim(&self) -> bool {
        take(&self.capture).is_some()
    }
}

fn take(capture: &Capture) -> Option<oneshot::Sender<Decided>> {
    capture
        .decide
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

/// On the timekeeper's thread: starts the capture thread, unless something decided first.
fn begin(capture: &Arc<Capture>, wedged: Option<Wedged>) {
    let Some(decide) = take(capture) else {
        return;
    };
    let on_thread = Arc::clone(capture);
    let wedged_on_thread = wedged.clone();
    let spawned = std::thread::Builder::new()
        .name("fixpoint-deadline".to_owned())
        .spawn(move || {
            let _ = decide.send(on_thread.decide(wedged_on_thread));
        });
    if let Err(_error) = spawned {
        // No thread to be had: the group is killed from here, undiagnosed, rather than late.
        #[cfg(feature = "tracing")]
        tracing::error!(key = %capture.key, error = %_error, "no thread for the deadline's capture: the group is killed without a diagnosis");
        capture.group.kill();
    }
}

impl Capture {
    /// Captures the stuck state, escalates if asked, and ends the group (or keeps it
    /// stopped). On a thread of its own: reading `/proc` and waiting out the grace block.
    fn decide(&self, wedged: Option<Wedged>) -> Decided {
        let tail = self.tail.snapshot();
        let ran_for = self.started.elapsed();
        let mut diagnosis =
            Diagnosis::capture(&self.key, self.group.id(), ran_for, self.deadline, tail);
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
            deepen(&mut diagnosis);
            self.announce(&diagnosis, level);
            if let Some(window) = level.inspect_for {
                self.group.stop();
                return Decided {
                    diagnosis,
                    ended_by: Ending::StoppedForInspection(window),
                    at: Instant::now(),
                };
            }
        }
        let ended_by = self.end_group();
        Decided {
            diagnosis,
            ended_by,
            at: Instant::now(),
        }
    }

    /// `SIGTERM` to the group, `SIGKILL` after the grace unless the leader ended.
    fn end_group(&self) -> Ending {
        self.group.terminate();
        if self.leader_ends_within(self.grace) {
            return Ending::Terminated;
        }
        self.group.kill();
        // Dies at once unless stuck in an uninterruptible sleep: the watcher reaps it.
        self.leader_ends_within(Duration::from_secs(5));
        Ending::KilledAfterGrace(self.grace)
    }

    /// Waits up to `limit` for the leader to end, without reaping it.
    fn leader_ends_within(&self, limit: Duration) -> bool {
        let Some(leader) = &self.leader else {
            // No pidfd (a kernel before 5.3): wait out the limit.
            std::thread::sleep(limit);
            return false;
        };
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let Ok(timeout) = rustix::event::Timespec::try_from(left) else {
                return false;
            };
            let mut fds = [PollFd::new(leader, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return false,
            }
        }
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
}

/// Every thread's stacks, on a runtime of this thread's own (`gdb` runs as a child process).
fn deepen(diagnosis: &mut Diagnosis) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(diagnosis.deepen()),
        Err(_error) => {
            #[cfg(feature = "tracing")]
            tracing::error!(error = %_error, "no runtime for the deep capture: stacks not taken");
        }
    }
}

/// The leader's pidfd, if the kernel has them.
pub(super) fn pidfd(group: Group) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(group.id()).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}
