//! A watched child's process group: signals to all of it, and reaping what of it this process
//! inherits.

use std::io;
use std::time::Duration;

use rustix::process::{Pid, Signal, WaitOptions};
use tokio::signal::unix::{SignalKind, signal};

/// The process group a watched child leads (its pgid is the child's pid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group(Pid);

impl Group {
    /// The group led by the process `pid`.
    pub(crate) fn led_by(pid: u32) -> Option<Self> {
        Pid::from_raw(i32::try_from(pid).ok()?).map(Group)
    }

    pub(crate) fn id(self) -> u32 {
        self.0.as_raw_nonzero().get().unsigned_abs()
    }

    /// Sends `signal` to every process of the group; a group with no process left is not an error.
    pub(crate) fn signal(self, signal: Signal) {
        // ESRCH: nobody is left in the group. EPERM: a member changed its credentials (setuid)
        // and no signal of ours reaches it. Neither leaves anything to do here.
        let _ = rustix::process::kill_process_group(self.0, signal);
    }

    pub(crate) fn terminate(self) {
        self.signal(Signal::TERM);
    }

    pub(crate) fn kill(self) {
        self.signal(Signal::KILL);
    }

    pub(crate) fn stop(self) {
        self.signal(Signal::STOP);
    }

    /// Reaps the members of the group that became this process's children (when it is a child
    /// subreaper, see [`reap_orphans`], or PID 1), after the leader itself was reaped. Waits on
    /// `SIGCHLD`, never on a polling loop, and at most `limit` for members still dying.
    pub(crate) async fn reap(self, limit: Duration) {
        let Ok(mut sigchld) = signal(SignalKind::child()) else {
            return;
        };
        let give_up = crate::uptime::timekeeper::sleep(limit);
        tokio::pin!(give_up);
        loop {
            match rustix::process::waitpgid(self.0, WaitOptions::NOHANG) {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                // ECHILD: no child of ours is left in the group.
                Err(_) => return,
            }
            tokio::select! {
                _ = sigchld.recv() => {}
                () = &mut give_up => return,
            }
        }
    }
}

/// Kills the whole group with `SIGKILL` when dropped, unless [`disarm`](GroupGuard::disarm)ed: a
/// watcher dropped with its runtime leaves no process of the group behind.
pub(crate) struct GroupGuard(Option<Group>);

impl GroupGuard {
    pub(crate) fn new(group: Group) -> Self {
        GroupGuard(Some(group))
    }

    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            group.kill();
        }
    }
}

/// Makes this process the reaper of its orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`).
///
/// Killing a watched child's process group orphans its grandchildren; the kernel hands orphans
/// to the nearest subreaper, else to PID 1. Where PID 1 does not reap (a container whose first
/// process is not an init), every killed grandchild would stay a zombie. Once this is called,
/// they come to this process instead and each watcher reaps the members of its own group.
///
/// It is process-wide and cannot be scoped: orphans of children this process started in other
/// ways come to it too, and are then its to reap. Call it once, at start-up, when your PID 1 does
/// not reap (`ps -o stat= -p <orphan>` shows `Z` under PID 1).
///
/// ```
/// fixpoint::process::reap_orphans().unwrap();
/// ```
///
/// # Errors
///
/// The `prctl` error, on a kernel without subreapers (before Linux 3.4).
pub fn reap_orphans() -> io::Result<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(io::Error::from)
}
