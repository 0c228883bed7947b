//! A child process whose deadline is kept by a watcher outside the code that waits for it.

use std::fmt;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fixpoint_macros::terminal_state;
use tokio::sync::oneshot;

use super::diagnosis::Diagnosis;
use super::escalation::Escalation;
use super::group::{Group, GroupGuard};
use super::outside::{self, Capture, Outside};
use super::tail::{Line, Stream, Tail};
use super::watcher::{End, Watcher};
use crate::uptime::progress::{Progress, Threshold};
use crate::{Terminal, Tracked};

/// The lifecycle of a watched child process. [`Watched::run`] ends it in one of the terminal
/// states, and its [`Terminal`] proof is the outcome.
#[terminal_state]
#[derive(Debug)]
pub enum ProcessStatus {
    /// Not spawned yet.
    #[initial]
    #[to(Spawned, FailedToStart)]
    Starting,
    /// Spawned as the process with this pid, leading its own process group.
    #[to(Exited, Killed, Abandoned)]
    Spawned(u32),
    /// It ended by itself before its deadline (with a code, or by a signal it did not get from
    /// its watcher).
    #[terminal]
    Exited(ExitStatus),
    /// It was still running at its deadline, or had written no line for its
    /// [`wedged_after`](Watched::wedged_after) threshold ([`Diagnosis::wedged`] says which): its
    /// group was killed, after its stuck state was captured.
    #[terminal]
    Killed(Box<Kill>),
    /// It never ran: the command could not be spawned, or the request was invalid.
    #[terminal]
    FailedToStart(StartError),
    /// Its watcher was lost (it panicked, or the child was reaped behind its back): its group was
    /// killed.
    #[terminal]
    #[abandoned]
    Abandoned,
}

/// The outcome of [`Watched::run`]: the terminal [`ProcessStatus`] (match on
/// [`status()`](Terminal::status)) and the [`Run`] record.
pub type RunOutcome = Terminal<ProcessStatus, Run>;

/// What is known of a watched child's run whatever its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Run {
    /// The key it ran under (its program's name unless [`Watched::key`] set one).
    pub key: String,
    /// Its pid, which is also its process group id, once spawned.
    pub pid: Option<u32>,
    /// How long it ran: from its spawn to its end (for a killed child, until the signal that
    /// ended it took effect, however late its watch reported).
    pub ran_for: Duration,
    /// The last lines of its output (standard output and error, in the order they were read).
    pub tail: Vec<Line>,
}

/// Why a watched child never ran: bad input, as a typed error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The deadline was zero.
    #[error(
        "`{key}` was given a deadline of zero, which no child can meet; give it the time it needs"
    )]
    ZeroDeadline {
        /// The key.
        key: String,
    },
    /// The program does not exist.
    #[error("`{program}` was not found; check the name, or give its full path (PATH is searched)")]
    NotFound {
        /// The program.
        program: String,
    },
    /// The program may not be run by this process.
    #[error("`{program}` may not be executed by this process; check its permissions")]
    PermissionDenied {
        /// The program.
        program: String,
    },
    /// Spawning failed otherwise.
    #[error("`{program}` could not be spawned: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The error of the spawn.
        source: io::Error,
    },
}

impl StartError {
    fn from_spawn(program: String, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::NotFound => StartError::NotFound { program },
            io::ErrorKind::PermissionDenied => StartError::PermissionDenied { program },
            _ => StartError::Spawn { program, source },
        }
    }
}

/// The record of a child killed at its deadline, or for its silence (see
/// [`Diagnosis::wedged`]): what it looked like, and what ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Kill {
    /// Its stuck state, captured before any signal.
    pub diagnosis: Diagnosis,
    /// What ended it.
    pub ended_by: Ending,
}

/// How the watcher ended a child at its deadline (or once it was wedged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `SIGTERM` to the group was enough.
    Terminated,
    /// It outlived `SIGTERM` by the grace; `SIGKILL` to the group ended it.
    KilledAfterGrace(Duration),
    /// An escalated timeout: the group is kept stopped (`SIGSTOP`) this long for inspection, and
    /// killed and reaped afterwards by a task of its own.
    StoppedForInspection(Duration),
}

impl fmt::Display for Kill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.diagnosis)?;
        let group = self.diagnosis.group;
        match self.ended_by {
            Ending::Terminated => write!(f, "SIGTERM to process group {group} ended it"),
            Ending::KilledAfterGrace(grace) => {
                write!(
                    f,
                    "it outlived SIGTERM by {grace:?}; SIGKILL to process group {group} ended it"
                )
            }
            Ending::StoppedForInspection(window) => write!(
                f,
                "process group {group} is kept stopped (SIGSTOP) for {window:?} for inspection, then killed"
            ),
        }
    }
}

/// A child process run with a deadline kept from outside.
///
/// The child is spawned in a process group of its own, and its deadline is kept outside the
/// runtime, by the [`timekeeper`](crate::uptime::timekeeper): at the deadline a thread of its own reads
/// the child's stuck state from `/proc` (a [`Diagnosis`]), then sends `SIGTERM` to the whole
/// group and `SIGKILL` after the grace, whether or not any runtime worker is free; a watcher
/// task reaps it and reports. An [`Escalation`] shared
/// between runs makes a hang that keeps recurring capture every thread's stack, or stay stopped
/// for inspection.
///
/// Standard output and error are read by the watcher, which keeps their last lines (the rest is
/// discarded). Standard input is what the command says (inherited unless set); a piped one stays
/// open, unwritten, until the child ends.
///
/// Liveness by output: each line the child writes can tick a [`Progress`]
/// ([`progress`](Watched::progress)), so a supervised task that runs the child is alive while
/// the child prints; and a child that writes no line for a [`Threshold`]
/// ([`wedged_after`](Watched::wedged_after)) is killed as wedged, the same way as at its
/// deadline.
///
/// If the future of `run` is dropped, the watcher ends the group the same way (without a
/// diagnosis); if the runtime itself goes, the group gets `SIGKILL`. The kill holds at the
/// deadline whatever the runtime does: every worker blocked, the awaiting task's own worker
/// blocked, a current-thread runtime blocked by its caller, a paused test clock. What a blocked
/// thread does delay is the *report*: `run` returns when its task runs again, with
/// [`Run::ran_for`] saying when the child really ended.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use fixpoint::{process::{ProcessStatus, Watched}};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut hang = Command::new("sh");
/// hang.args(["-c", "echo started; sleep 1000"]);
/// let outcome = Watched::new(hang, Duration::from_millis(300)).key("hang").run().await;
/// let ProcessStatus::Killed(kill) = outcome.status() else { panic!("{outcome:?}") };
/// assert_eq!(kill.diagnosis.processes.len(), 2); // sh and its sleep, both killed
/// assert!(kill.to_string().contains("[stdout] started"));
///
/// let outcome = Watched::new(Command::new("true"), Duration::from_secs(5)).run().await;
/// assert!(matches!(outcome.status(), ProcessStatus::Exited(status) if status.success()));
/// # });
/// ```
#[derive(Debug)]
#[must_use = "a watched child does nothing until it is `run`"]
pub struct Watched {
    command: std::process::Command,
    deadline: Duration,
    grace: Duration,
    key: Option<String>,
    escalation: Option<Escalation>,
    tail: usize,
    progress: Option<Progress>,
    wedged_after: Option<Threshold>,
}

impl Watched {
    /// The grace between `SIGTERM` and `SIGKILL` unless [`grace`](Watched::grace) sets one.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

    /// How many lines of output are kept unless [`tail_lines`](Watched::tail_lines) says.
    pub const DEFAULT_TAIL: usize = 50;

    /// `command`, to be killed with its whole process group if it runs longer than `deadline`.
    /// Its standard output and error are taken over by the watcher; everything else (arguments,
    /// environment, directory, standard input) is as the command says.
    pub fn new(command: std::process::Command, deadline: Duration) -> Self {
        Watched {
            command,
            deadline,
            grace: Self::DEFAULT_GRACE,
            key: None,
            escalation: None,
            tail: Self::DEFAULT_TAIL,
            progress: None,
            wedged_after: None,
        }
    }

    /// How long the group has between `SIGTERM` and `SIGKILL`.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The name its timeouts are compared under (default: the program's name).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Records its timeouts in `escalation`, which decides when one is escalated. A run that
    /// ends by itself (exits, whatever its code) ends its key's streak: timeouts separated by
    /// runs that finish do not escalate.
    pub fn escalation(mut self, escalation: &Escalation) -> Self {
        self.escalation = Some(escalation.clone());
        self
    }

    /// Keeps the last `lines` lines of its output.
    pub fn tail_lines(mut self, lines: usize) -> Self {
        self.tail = lines;
        self
    }

    /// Ticks `progress` for each line the child writes (standard output or error), with the
    /// line as its note: `[stdout] claimed job 812`, cut to 200 bytes and marked `…` past
    /// them. A task watched by [`Supervisor::spawn_watched`](crate::task::Supervisor::spawn_watched)
    /// that hands its `Progress` here is alive while its child prints, and wedged when the
    /// child stops.
    ///
    /// Each line costs a note's allocation and a lock, on the watcher's reader, not on the
    /// child. A line counts when its newline arrives (or the stream ends); a line longer than
    /// 4 KiB counts once, at its newline.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use fixpoint::{uptime::Progress, process::Watched};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let progress = Progress::new();
    /// let mut worker = Command::new("sh");
    /// worker.args(["-c", "echo claimed job 812"]);
    /// Watched::new(worker, Duration::from_secs(5)).progress(&progress).run().await;
    /// assert_eq!(progress.note().as_deref(), Some("[stdout] claimed job 812"));
    /// # });
    /// ```
    pub fn progress(mut self, progress: &Progress) -> Self {
        self.progress = Some(progress.clone());
        self
    }

    /// Kills it as wedged when it writes no line (standard output or error) for `threshold`,
    /// counted from its spawn and then from each line: the watcher captures its
    /// [`Diagnosis`] (with [`wedged`](Diagnosis::wedged) set: the silence and the last line),
    /// then `SIGTERM` to the group, `SIGKILL` after the grace, and reaps it, exactly as at the
    /// deadline (and records it in the [`Escalation`] as a timeout). The outcome is
    /// [`ProcessStatus::Killed`].
    ///
    /// The timekeeper looks at the earliest moment the child could be wedged, and again if it
    /// wrote meanwhile: one wake per threshold of healthy output, no polling, no runtime worker
    /// needed. The deadline still holds for a child that keeps writing.
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use fixpoint::{process::{ProcessStatus, Watched}, uptime::Threshold};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let mut silent = Command::new("sh");
    /// silent.args(["-c", "echo connected; sleep 1000"]); // the connection dropped, silently
    /// let outcome = Watched::new(silent, Duration::from_secs(3600))
    ///     .wedged_after(Threshold::new(Duration::from_millis(300)).unwrap())
    ///     .key("worker")
    ///     .run()
    ///     .await;
    /// let ProcessStatus::Killed(kill) = outcome.status() else { panic!("{outcome:?}") };
    /// let wedged = kill.diagnosis.wedged.as_ref().unwrap();
    /// assert_eq!(wedged.last_progress_note.as_deref(), Some("[stdout] connected"));
    /// assert!(kill.to_string().starts_with("`worker` was wedged: no line of output for "));
    /// # });
    /// ```
    pub fn wedged_after(mut self, threshold: Threshold) -> Self {
        self.wedged_after = Some(threshold);
        self
    }

    /// Spawns the child, watches it and ends in its terminal state. Must be called within a tokio
    /// runtime with IO and time enabled.
    pub async fn run(mut self) -> RunOutcome {
        let program = self.command.get_program().to_string_lossy().into_owned();
        let key = self
            .key
            .take()
            .unwrap_or_else(|| program.rsplit('/').next().unwrap_or(&program).to_owned());
        let run = Run {
            key: key.clone(),
            pid: None,
            ran_for: Duration::ZERO,
            tail: Vec::new(),
        };
        let machine = Tracked::<ProcessStatus, _, _>::new(run);
        if self.deadline.is_zero() {
            return machine.to_failed_to_start(StartError::ZeroDeadline { key });
        }
        let watcher = match self.spawn(key) {
            Ok(watcher) => watcher,
            Err(source) => {
                return machine.to_failed_to_start(StartError::from_spawn(program, source));
            }
        };
        let pid = watcher.group.id();
        let mut running = machine.to_spawned(pid);
        running.pid = Some(pid);
        // Dropping `_cancel` (this future dropped) tells the watcher to end the group.
        let (_cancel, cancelled) = oneshot::channel::<()>();
        let Ok(report) = tokio::spawn(watcher.watch(cancelled)).await else {
            return running.abandon();
        };
        running.ran_for = report.ran_for;
        running.tail = report.tail;
        match report.end {
            End::Exited(status) => running.to_exited(status),
            End::Killed(kill) => running.to_killed(kill),
            End::Lost | End::Cancelled => running.abandon(),
        }
    }

    fn spawn(mut self, key: String) -> io::Result<Watcher> {
        self.command
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut command = tokio::process::Command::from(self.command);
        command.kill_on_drop(true);
        let mut child = command.spawn()?;
        let group = child
            .id()
            .and_then(Group::led_by)
            .ok_or_else(|| io::Error::other("the child has no pid"))?;
        // The silence counts from the spawn.
        let heard = self.wedged_after.map(|_| Progress::new());
        let silence = heard
            .as_ref()
            .zip(self.wedged_after)
            .map(|(heard, threshold)| heard.watchdog(threshold));
        let tail = Tail::new(self.tail).ticking(heard, self.progress);
        let mut readers = Vec::with_capacity(2);
        if let Some(stdout) = child.stdout.take() {
            readers.push(tokio::spawn(tail.clone().follow(Stream::Stdout, stdout)));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(tokio::spawn(tail.clone().follow(Stream::Stderr, stderr)));
        }
        let started = Instant::now();
        let (decide, decided) = oneshot::channel();
        let capture = Capture {
            key: key.clone(),
            group,
            leader: outside::pidfd(group),
            started,
            deadline: self.deadline,
            grace: self.grace,
            escalation: self.escalation.clone(),
            tail: tail.clone(),
            decide: Mutex::new(Some(decide)),
        };
        Ok(Watcher {
            stdin: child.stdin.take(),
            child,
            group,
            guard: GroupGuard::new(group),
            key,
            grace: self.grace,
            escalation: self.escalation,
            outside: Outside::arm(capture, decided, silence.as_ref()),
            tail,
            readers,
            started,
        })
    }
}
