//! What a stuck child looked like at its deadline, read from `/proc` before anything was killed.

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use super::procfs::{proc_stacks, state_name, tree};
use super::tail::Line;
use crate::uptime::progress::Wedged;

/// How many lines of one process's stacks a deep diagnosis keeps.
pub(super) const STACK_LINES: usize = 400;
/// How many processes of a group get their stacks read (each costs a debugger attach).
const STACKS_OF: usize = 8;
/// The longest a debugger may take over one process before the `/proc` fallback is used.
const DEBUGGER_LIMIT: Duration = Duration::from_secs(20);

/// The stuck state of a watched child, captured at its deadline before it was signalled: its
/// process tree with each process's state, wait channel, threads and open descriptors, the last
/// lines of its output and how long it ran; on an escalated timeout, every thread's stack too.
///
/// `Display` writes it for a human (a log line, an incident note):
///
/// ```text
/// `render` ran for 2.00s, past its deadline of 2s: process group 4242 (2 processes)
///   4242 sh -c 'sleep 1000 & read x': S (sleeping) in anon_pipe_read, 1 thread, 3 fds: 0 pipe:[81], 1 pipe:[82], 2 pipe:[83]
///     4243 sleep 1000: S (sleeping) in hrtimer_nanosleep, 1 thread, 3 fds: 0 /dev/null, 1 pipe:[82], 2 pipe:[83]
/// last 1 line of output:
///   [stdout] waiting for input
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The watched child's key (its escalation key).
    pub key: String,
    /// How long it ran before the capture.
    pub ran_for: Duration,
    /// Its deadline: the one it missed, unless [`wedged`](Diagnosis::wedged) says it was killed
    /// for its silence before.
    pub deadline: Duration,
    /// Set when it was killed for writing no line for its `Watched::wedged_after` threshold,
    /// not at its deadline: how long it had been silent, and its last line (the note, as
    /// `[stdout] text`; none when it wrote none, or keeps no tail).
    pub wedged: Option<Wedged>,
    /// Its process group id (the pid of the child itself).
    pub group: u32,
    /// The processes of the group and the leader's descendants, in tree order.
    pub processes: Vec<Process>,
    /// The last lines of its output, oldest first.
    pub tail: Vec<Line>,
    /// Every thread's stacks, when the timeout was escalated (see `Escalation`); else empty.
    pub stacks: Vec<Stacks>,
    /// How many timeouts of this key in a row showed this same signature, this one included (1
    /// without an `Escalation`).
    pub repeated: u32,
}

/// One process of a stuck child's tree, as `/proc` showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Its depth in the tree (0: the child, or an orphan of the group).
    pub depth: usize,
    /// Its command line (its name in parentheses when the command line is empty, as for a zombie).
    pub command: String,
    /// Its state letter (`R` running, `S` sleeping, `D` uninterruptible, `T` stopped, `Z` zombie...).
    pub state: char,
    /// The kernel function it sleeps in (`/proc/<pid>/wchan`), empty when running.
    pub wait_channel: String,
    /// Its number of threads.
    pub threads: u32,
    /// Its open descriptors, up to 16, as `(fd, target)`.
    pub fds: Vec<(u32, String)>,
    /// How many descriptors it has open.
    pub fd_count: usize,
}

/// The stacks of every thread of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stacks {
    /// The process.
    pub pid: u32,
    /// Where they were read.
    pub source: StackSource,
    /// The text, one line per frame or thread (at most 400 lines).
    pub text: String,
}

/// Where a process's stacks were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSource {
    /// `gdb -batch -ex 'thread apply all bt'`: user-space frames of every thread.
    Gdb,
    /// `/proc/<pid>/task/*/{stat,wchan,syscall,stack}`: each thread's state, wait channel and
    /// system call (and kernel stack where readable); used when `gdb` is missing or fails.
    Proc,
}

impl Diagnosis {
    /// The signature that makes two timeouts identical: each process's name and wait channel,
    /// sorted (pids and timings differ from one run to the next; where it is stuck does not).
    #[must_use]
    pub fn signature(&self) -> String {
        let mut parts: Vec<String> = self
            .processes
            .iter()
            .map(|p| format!("{}@{}", program_name(&p.command), p.wait_channel))
            .collect();
        parts.sort();
        parts.join(",")
    }

    /// Reads the group `group` (and the descendants of its leader) from `/proc`. Blocking: the
    /// watcher calls it on tokio's blocking pool.
    pub(crate) fn capture(
        key: &str,
        group: u32,
        ran_for: Duration,
        deadline: Duration,
        tail: Vec<Line>,
    ) -> Self {
        Diagnosis {
            key: key.to_owned(),
            ran_for,
            deadline,
            wedged: None,
            group,
            processes: tree(group),
            tail,
            stacks: Vec::new(),
            repeated: 1,
        }
    }

    /// Adds every thread's stacks of the first processes of the tree: `gdb` where it runs, else
    /// `/proc`.
    pub(crate) async fn deepen(&mut self) {
        for process in self.processes.iter().take(STACKS_OF) {
            let pid = process.pid;
            let stacks = match gdb_stacks(pid).await {
                Some(text) => Stacks {
                    pid,
                    source: StackSource::Gdb,
                    text,
                },
                None => {
                    let text = tokio::task::spawn_blocking(move || proc_stacks(pid))
                        .await
                        .unwrap_or_default();
                    Stacks {
                        pid,
                        source: StackSource::Proc,
                        text,
                    }
                }
            };
            self.stacks.push(stacks);
        }
    }
}

/// `sleep` for `sleep 1000`, `sh` for `/bin/sh -c ..`.
fn program_name(command: &str) -> &str {
    let first = command.split_whitespace().next().unwrap_or(command);
    first.rsplit('/').next().unwrap_or(first)
}

/// `gdb -batch` on `pid`: `None` when gdb is missing, fails, takes too long or prints no frame.
async fn gdb_stacks(pid: u32) -> Option<String> {
    let run = tokio::process::Command::new("gdb")
        .args([
            "-batch",
            "-nx",
            "-p",
            &pid.to_string(),
            "-ex",
            "thread apply all bt",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DEBUGGER_LIMIT, run).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let frames: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Thread ") || l.starts_with('#'))
        .take(STACK_LINES)
        .collect();
    frames
        .iter()
        .any(|l| l.starts_with('#'))
        .then(|| frames.join("\n"))
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indent = "  ".repeat(self.depth + 1);
        write!(
            f,
            "{indent}{} {}: {} ({})",
            self.pid,
            self.command,
            self.state,
            state_name(self.state)
        )?;
        if !self.wait_channel.is_empty() {
            write!(f, " in {}", self.wait_channel)?;
        }
        let s = if self.threads == 1 { "" } else { "s" };
        write!(f, ", {} thread{s}, {} fds", self.threads, self.fd_count)?;
        for (i, (fd, target)) in self.fds.iter().enumerate() {
            write!(f, "{}{fd} {target}", if i == 0 { ": " } else { ", " })?;
        }
        if self.fd_count > self.fds.len() {
            write!(f, ", ...")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.processes.len();
        match &self.wedged {
            None => write!(
                f,
                "`{}` ran for {:.2?}, past its deadline of {:?}",
                self.key, self.ran_for, self.deadline
            )?,
            Some(wedged) => {
                // Whole milliseconds: the resolution of the clock that measured the silence.
                let silent = Duration::from_millis(
                    u64::try_from(wedged.for_.as_millis()).unwrap_or(u64::MAX),
                );
                write!(
                    f,
                    "`{}` was wedged: no line of output for {silent:?} (",
                    self.key
                )?;
                match &wedged.last_progress_note {
                    Some(line) => write!(f, "last line: {line}")?,
                    None => f.write_str("no line kept")?,
                }
                write!(
                    f,
                    "), after running for {:.2?} of its deadline of {:?}",
                    self.ran_for, self.deadline
                )?;
            }
        }
        write!(
            f,
            ": process group {} ({n} process{})",
            self.group,
            if n == 1 { "" } else { "es" }
        )?;
        if self.repeated > 1 {
            write!(f, "; the same hang {} times in a row", self.repeated)?;
        }
        for process in &self.processes {
            write!(f, "\n{process}")?;
        }
        if self.tail.is_empty() {
            write!(f, "\nno output")?;
        } else {
            let s = if self.tail.len() == 1 { "" } else { "s" };
            write!(f, "\nlast {} line{s} of output:", self.tail.len())?;
            for line in &self.tail {
                write!(f, "\n  {line}")?;
            }
        }
        for stacks in &self.stacks {
            let source = match stacks.source {
                StackSource::Gdb => "gdb",
                StackSource::Proc => "/proc",
            };
            write!(f, "\nthreads of {} ({source}):", stacks.pid)?;
            for line in stacks.text.lines() {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_named_by_its_file() {
        assert_eq!(program_name("/usr/bin/sleep 1000"), "sleep");
        assert_eq!(program_name("/bin/sh -c 'read x'"), "sh");
    }
}
