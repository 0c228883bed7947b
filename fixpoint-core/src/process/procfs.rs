//! The `/proc` readers of a [`Diagnosis`](super::Diagnosis): a process group's tree, each
//! process's state, command line, descriptors and threads, and the stacks `/proc` shows when no
//! debugger can attach.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::diagnosis::{Process, STACK_LINES};

/// How many descriptors of a process a diagnosis names (it counts them all).
const FDS_NAMED: usize = 16;

/// The fields of `/proc/<pid>/stat` this module reads.
pub(crate) struct Stat {
    pub(crate) pid: u32,
    pub(crate) name: String,
    pub(crate) state: char,
    ppid: u32,
    pgid: u32,
    threads: u32,
}

fn read_stat(path: &Path) -> Option<Stat> {
    parse_stat(&fs::read_to_string(path).ok()?)
}

pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    // The name may hold spaces and parentheses: it ends at the last `)`.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let name = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    Some(Stat {
        pid,
        name,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        threads: fields.get(17)?.parse().ok()?,
    })
}

/// Every process on the machine, by pid.
fn all_processes() -> BTreeMap<u32, Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| read_stat(&e.path().join("stat")))
        .map(|s| (s.pid, s))
        .collect()
}

/// The members of group `group` and the descendants of its leader, depth-first from the leader;
/// members whose parent is outside (orphans) follow as roots of their own.
pub(super) fn tree(group: u32) -> Vec<Process> {
    let all = all_processes();
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for stat in all.values() {
        children.entry(stat.ppid).or_default().push(stat.pid);
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let roots =
        std::iter::once(group).chain(all.values().filter(|s| s.pgid == group).map(|s| s.pid));
    for root in roots.collect::<Vec<_>>() {
        if !seen.contains(&root) {
            walk(root, 0, &all, &children, &mut seen, &mut out);
        }
    }
    out
}

fn walk(
    pid: u32,
    depth: usize,
    all: &BTreeMap<u32, Stat>,
    children: &BTreeMap<u32, Vec<u32>>,
    seen: &mut Vec<u32>,
    out: &mut Vec<Process>,
) {
    let Some(stat) = all.get(&pid) else { return };
    seen.push(pid);
    out.push(process(stat, depth));
    for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
        if !seen.contains(&child) {
            walk(child, depth + 1, all, children, seen, out);
        }
    }
}

fn process(stat: &Stat, depth: usize) -> Process {
    let dir = Path::new("/proc").join(stat.pid.to_string());
    let command =
        fs::read(dir.join("cmdline")).map_or_else(|_| String::new(), |raw| command_line(&raw));
    let wait_channel = fs::read_to_string(dir.join("wchan")).unwrap_or_default();
    let (fds, fd_count) = descriptors(&dir);
    Process {
        pid: stat.pid,
        ppid: stat.ppid,
        pgid: stat.pgid,
        depth,
        command: if command.is_empty() {
            format!("({})", stat.name)
        } else {
            command
        },
        state: stat.state,
        wait_channel: if wait_channel == "0" {
            String::new()
        } else {
            wait_channel
        },
        threads: stat.threads,
        fds,
        fd_count,
    }
}

/// `sh -c 'sleep 1000 & read x'` from the NUL-separated `/proc/<pid>/cmdline`.
pub(crate) fn command_line(raw: &[u8]) -> String {
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let word = String::from_utf8_lossy(w);
            if word.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", word.replace('\'', r"'\''"))
            } else {
                word.into_owned()
            }
        })
        .collect();
    words.join(" ")
}

fn descriptors(dir: &Path) -> (Vec<(u32, String)>, usize) {
    let Ok(entries) = fs::read_dir(dir.join("fd")) else {
        return (Vec::new(), 0);
    };
    let mut fds: Vec<(u32, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort_unstable();
    let count = fds.len();
    fds.truncate(FDS_NAMED);
    (fds, count)
}

/// Each thread's name, state, wait channel, system call and (where readable) kernel stack.
pub(super) fn proc_stacks(pid: u32) -> String {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let Ok(entries) = fs::read_dir(&tasks) else {
        return String::new();
    };
    let mut lines = Vec::new();
    for task in entries.filter_map(Result::ok) {
        let dir = task.path();
        let Some(stat) = read_stat(&dir.join("stat")) else {
            continue;
        };
        let read = |file: &str| fs::read_to_string(dir.join(file)).unwrap_or_default();
        let syscall = read("syscall");
        lines.push(format!(
            "thread {} ({}): {} in {}, syscall {}",
            stat.pid,
            stat.name,
            stat.state,
            read("wchan"),
            syscall.split_whitespace().next().unwrap_or("?")
        ));
        lines.extend(read("stack").lines().map(|l| format!("  {l}")));
    }
    lines.truncate(STACK_LINES);
    lines.join("\n")
}

pub(super) fn state_name(state: char) -> &'static str {
    match state {
        'R' => "running",
        'S' => "sleeping",
        'D' => "uninterruptible",
        'T' => "stopped",
        't' => "traced",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_stat_line_is_read_past_a_name_with_spaces_and_parentheses() {
        let line = "4242 (my (odd) name) S 4241 4240 4240 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 3 0 \
                    8137 2514944 221 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(
            (stat.pid, stat.name.as_str(), stat.state),
            (4242, "my (odd) name", 'S')
        );
        assert_eq!((stat.ppid, stat.pgid, stat.threads), (4241, 4240, 3));
    }

    #[test]
    fn the_proc_fallback_reads_every_thread() {
        let helper = std::thread::spawn(|| std::thread::park_timeout(Duration::from_secs(5)));
        let text = proc_stacks(std::process::id());
        assert!(
            text.lines().filter(|l| l.starts_with("thread ")).count() >= 2,
            "{text}"
        );
        helper.thread().unpark();
        helper.join().unwrap();
    }

    #[test]
    fn a_command_line_is_quoted_as_a_shell_would_read_it() {
        assert_eq!(
            command_line(b"sh\0-c\0echo 'hi'; read x\0"),
            r"sh -c 'echo '\''hi'\''; read x'"
        );
    }
}
