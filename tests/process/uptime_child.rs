//! Watched child processes: the deadline is kept from outside the code that waits (the seed's
//! in-thread timeout shown failing beside it), the whole process group is killed and reaped
//! (`/proc` shows no survivor and no zombie), the stuck state is captured before the kill,
//! identical timeouts escalate (and a run that finishes ends their streak), and output lines
//! are liveness: they tick a progress, and a child that stops writing is killed as wedged.

#![cfg(target_os = "linux")]

use std::fs;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fixpoint::{
    process::{
        Ending, Escalated, Escalation, EscalationPolicy, Kill, ProcessStatus, StackSource,
        StartError, Stream, Watched, reap_orphans,
    },
    uptime::{Progress, Threshold},
};

const DEADLINE: Duration = Duration::from_millis(800);
const GRACE: Duration = Duration::from_millis(400);
/// What a loaded 2-core machine may add to deadline + grace (spawning, scheduling, reaping).
const SLACK: Duration = Duration::from_secs(2);

/// Each test's own time limit (see `common::time_limit`): far past its slowest honest run.
const LIMIT: Duration = Duration::from_secs(120);

/// `sh` blocked forever in a read of its piped stdin, with a grandchild (`sleep`) in its group.
fn stuck_with_grandchild() -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", "sleep 1000 & echo started; echo waiting >&2; read x"])
        .stdin(Stdio::piped());
    command
}

/// `(pid, state)` of every process in process group `pgid`, zombies included.
fn group_members(pgid: u32) -> Vec<(u32, char)> {
    let mut members = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields[2].parse::<u32>() == Ok(pgid) {
            let pid = stat.split_whitespace().next().unwrap().parse().unwrap();
            members.push((pid, fields[0].chars().next().unwrap()));
        }
    }
    members
}

fn killed(outcome: &fixpoint::process::RunOutcome) -> &Kill {
    match outcome.status() {
        ProcessStatus::Killed(kill) => kill,
        other => panic!("expected the child killed at its deadline, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_blocked_in_a_read_is_killed_with_its_grandchild_and_leaves_nothing_in_proc() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let started = Instant::now();
    let outcome = Watched::new(stuck_with_grandchild(), DEADLINE)
        .grace(GRACE)
        .key("stuck")
        .run()
        .await;
    let elapsed = started.elapsed();
    let kill = killed(&outcome);
    assert!(
        elapsed < DEADLINE + GRACE + SLACK,
        "the group outlived its deadline: {elapsed:?}"
    );
    assert!(
        elapsed >= DEADLINE,
        "killed before its deadline: {elapsed:?}"
    );
    assert_eq!(kill.ended_by, Ending::Terminated);

    let group = kill.diagnosis.group;
    assert_eq!(
        group_members(group),
        [],
        "survivors or zombies of process group {group}"
    );

    // The diagnosis was taken before the kill: both processes, each asleep somewhere.
    let names: Vec<&str> = kill
        .diagnosis
        .processes
        .iter()
        .map(|p| p.command.as_str())
        .collect();
    assert_eq!(names.len(), 2, "{kill}");
    assert!(names[0].starts_with("sh -c"), "{kill}");
    assert_eq!(names[1], "sleep 1000", "{kill}");
    assert_eq!(kill.diagnosis.processes[1].depth, 1);
    for process in &kill.diagnosis.processes {
        assert_eq!(process.state, 'S', "{kill}");
        assert!(!process.wait_channel.is_empty(), "{kill}");
        assert_eq!(process.threads, 1);
        assert!(
            process
                .fds
                .iter()
                .any(|(fd, target)| *fd == 1 && target.starts_with("pipe:")),
            "{kill}"
        );
    }
    assert!(kill.diagnosis.ran_for >= DEADLINE);
    let lines: Vec<(Stream, &str)> = kill
        .diagnosis
        .tail
        .iter()
        .map(|l| (l.stream, l.text.as_str()))
        .collect();
    assert!(
        lines.contains(&(Stream::Stdout, "started"))
            && lines.contains(&(Stream::Stderr, "waiting")),
        "{kill}"
    );
    let text = kill.to_string();
    assert!(text.starts_with("`stuck` ran for "), "{text}");
    assert!(
        text.contains("past its deadline of 800ms: process group"),
        "{text}"
    );
    assert!(text.contains("[stderr] waiting"), "{text}");
    assert!(
        text.ends_with(&format!("SIGTERM to process group {group} ended it")),
        "{text}"
    );
    assert_eq!(outcome.into_value().pid, Some(group));
}

/// The seed's bug: the timeout sits in the thread that blocks waiting on the child, so it
/// cannot fire until the child has ended by itself.
#[test]
fn the_seeds_bug_a_timeout_in_the_thread_that_waits_does_not_fire() {
    let _limit = crate::common::time_limit(LIMIT);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let result = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(100), async {
            Command::new("sleep").arg("1").output()
        })
        .await
    });
    assert!(result.is_ok(), "the in-thread timeout fired, it cannot");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the child was not left to run out"
    );
}

/// The fix, with the waiting thread blocked just the same: the watcher is elsewhere.
#[test]
fn the_watcher_keeps_the_deadline_while_the_waiting_thread_is_blocked() {
    let _limit = crate::common::time_limit(LIMIT);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut sleeper = Command::new("sleep");
    sleeper.arg("30");
    let watched = runtime.spawn(Watched::new(sleeper, DEADLINE).grace(GRACE).run());
    // The waiting side blocks its thread in a system call, as the seed's worker did.
    std::thread::sleep(DEADLINE + GRACE + Duration::from_millis(500));
    let outcome = runtime.block_on(watched).unwrap();
    let kill = killed(&outcome);
    assert!(
        kill.diagnosis.ran_for < DEADLINE + SLACK,
        "{:?}",
        kill.diagnosis.ran_for
    );
    assert_eq!(group_members(kill.diagnosis.group), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let mut stubborn = Command::new("sh");
    stubborn.args(["-c", "trap '' TERM; sleep 1000"]); // the ignored TERM is inherited by sleep
    let started = Instant::now();
    let outcome = Watched::new(stubborn, DEADLINE).grace(GRACE).run().await;
    let kill = killed(&outcome);
    assert_eq!(kill.ended_by, Ending::KilledAfterGrace(GRACE));
    assert!(started.elapsed() < DEADLINE + GRACE + SLACK);
    assert_eq!(group_members(kill.diagnosis.group), []);
    assert!(
        kill.to_string()
            .contains("it outlived SIGTERM by 400ms; SIGKILL to process group")
    );
}

#[tokio::test]
async fn a_child_that_exits_in_time_ends_exited_with_its_code_and_last_lines() {
    let _limit = crate::common::time_limit(LIMIT);
    let mut counting = Command::new("sh");
    counting.args(["-c", "seq 1 1000; echo done >&2; exit 3"]);
    let outcome = Watched::new(counting, Duration::from_secs(30))
        .tail_lines(3)
        .run()
        .await;
    let ProcessStatus::Exited(status) = outcome.status() else {
        panic!("{outcome:?}")
    };
    assert_eq!(status.code(), Some(3));
    let run = outcome.into_value();
    assert_eq!(run.key, "sh");
    let mut tail: Vec<&str> = run.tail.iter().map(|l| l.text.as_str()).collect();
    tail.sort_unstable(); // the two streams are read side by side
    assert_eq!(tail.len(), 3);
    assert!(tail.contains(&"1000") && tail.contains(&"done"), "{tail:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_job_left_behind_by_an_exited_child_is_killed_too() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let mut leaky = Command::new("sh");
    leaky.args(["-c", "sleep 1000 & echo $!"]);
    let outcome = Watched::new(leaky, Duration::from_secs(30))
        .grace(GRACE)
        .run()
        .await;
    assert!(
        matches!(outcome.status(), ProcessStatus::Exited(status) if status.success()),
        "{outcome:?}"
    );
    let run = outcome.into_value();
    assert_eq!(
        group_members(run.pid.unwrap()),
        [],
        "the background `sleep` survived"
    );
}

#[tokio::test]
async fn bad_input_is_a_typed_error() {
    let _limit = crate::common::time_limit(LIMIT);
    let missing = Watched::new(Command::new("no-such-program-fixpoint"), DEADLINE)
        .run()
        .await;
    let ProcessStatus::FailedToStart(error) = missing.status() else {
        panic!("{missing:?}")
    };
    assert!(
        matches!(error, StartError::NotFound { program } if program == "no-such-program-fixpoint")
    );
    assert_eq!(
        error.to_string(),
        "`no-such-program-fixpoint` was not found; check the name, or give its full path (PATH is searched)"
    );
    assert_eq!(missing.into_value().pid, None);

    let zero = Watched::new(Command::new("true"), Duration::ZERO)
        .key("instant")
        .run()
        .await;
    let ProcessStatus::FailedToStart(error) = zero.status() else {
        panic!("{zero:?}")
    };
    assert!(matches!(error, StartError::ZeroDeadline { .. }));
    assert!(
        error
            .to_string()
            .starts_with("`instant` was given a deadline of zero")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_run_ends_the_group() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let pid_file =
        std::env::temp_dir().join(format!("fixpoint-uptime-drop-{}", std::process::id()));
    let mut forever = Command::new("sh");
    forever
        .arg("-c")
        .arg(format!("echo $$ > {}; sleep 1000", pid_file.display()));
    let watched = Watched::new(forever, Duration::from_secs(60))
        .grace(GRACE)
        .run();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), watched)
            .await
            .is_err()
    );
    let group: u32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    fs::remove_file(&pid_file).unwrap();
    let gone = async {
        while !group_members(group).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(GRACE + SLACK, gone)
        .await
        .expect("the group outlived its dropped watcher");
}

fn escalation(
    after: u32,
    inspect_for: Option<Duration>,
) -> (Escalation, Arc<Mutex<Vec<Escalated>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let mut policy = EscalationPolicy::new().after(after);
    if let Some(window) = inspect_for {
        policy = policy.inspect_for(window);
    }
    let escalation =
        Escalation::new(policy).on_escalation(move |e| sink.lock().unwrap().push(e.clone()));
    (escalation, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_timeouts_escalate_to_every_threads_stack() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let (escalation, events) = escalation(1, None);
    let hang = || {
        Watched::new(stuck_with_grandchild(), DEADLINE)
            .grace(GRACE)
            .key("hang")
            .escalation(&escalation)
    };
    let first = hang().run().await;
    assert_eq!(killed(&first).diagnosis.stacks, []);
    assert_eq!(killed(&first).diagnosis.repeated, 1);
    assert!(events.lock().unwrap().is_empty());

    let second = hang().run().await;
    let kill = killed(&second);
    assert_eq!(kill.diagnosis.repeated, 2);
    assert_eq!(kill.diagnosis.stacks.len(), 2, "{kill}");
    for stacks in &kill.diagnosis.stacks {
        assert!(!stacks.text.is_empty(), "{kill}");
        match stacks.source {
            StackSource::Gdb => assert!(stacks.text.contains("#0"), "{kill}"),
            StackSource::Proc => assert!(stacks.text.starts_with("thread "), "{kill}"),
        }
    }
    assert!(kill.to_string().contains("the same hang 2 times in a row"));
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].key.as_str(),
            events[0].repeated,
            events[0].stopped
        ),
        ("hang", 2, None)
    );
    assert_eq!(group_members(kill.diagnosis.group), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_timeout_can_be_kept_stopped_for_inspection_then_reaped() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let window = Duration::from_millis(1500);
    let (escalation, events) = escalation(0, Some(window));
    let outcome = Watched::new(stuck_with_grandchild(), DEADLINE)
        .key("inspect")
        .escalation(&escalation)
        .run()
        .await;
    let kill = killed(&outcome);
    assert_eq!(kill.ended_by, Ending::StoppedForInspection(window));
    let group = kill.diagnosis.group;
    // SIGSTOP takes effect when each process next runs: on a loaded machine, some
    // milliseconds after it was sent.
    let stopped = |members: &[(u32, char)]| members.iter().all(|(_, state)| *state == 'T');
    let mut members = group_members(group);
    let patience = std::time::Instant::now() + SLACK;
    while !stopped(&members) && std::time::Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(10)).await;
        members = group_members(group);
    }
    assert_eq!(members.len(), 2);
    assert!(stopped(&members), "not stopped: {members:?}");
    let event = events.lock().unwrap()[0].to_string();
    assert!(event.contains(&format!("`gdb -p {group}`")), "{event}");
    assert!(
        event.contains("kept stopped for 1.5s for inspection"),
        "{event}"
    );

    let gone = async {
        while !group_members(group).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(window + SLACK, gone)
        .await
        .expect("the stopped group was not killed after its window");
}

/// How long a child may write nothing before it is wedged, in the tests of silence: far above
/// a loaded machine's scheduling delays between two lines.
const SILENCE: Duration = Duration::from_millis(1000);

fn silence() -> Threshold {
    Threshold::new(SILENCE).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_goes_silent_is_killed_as_wedged_naming_its_last_line() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    let mut silent = Command::new("sh");
    // Its connection dropped: it stays up, in its group with a grandchild, and writes nothing.
    silent.args([
        "-c",
        "sleep 1000 & echo starting >&2; echo connected; read x",
    ]);
    silent.stdin(Stdio::piped());
    let started = Instant::now();
    let outcome = Watched::new(silent, Duration::from_secs(3600))
        .grace(GRACE)
        .wedged_after(silence())
        .key("silent")
        .run()
        .await;
    let elapsed = started.elapsed();
    let kill = killed(&outcome);
    assert!(
        elapsed < SILENCE + GRACE + SLACK,
        "the silent group outlived its threshold: {elapsed:?}"
    );
    // The coarse clock that stamps the lines may be one kernel tick behind this one.
    assert!(
        elapsed + Threshold::TICK >= SILENCE,
        "killed before its silence reached the threshold: {elapsed:?}"
    );
    assert_eq!(kill.ended_by, Ending::Terminated);
    let wedged = kill
        .diagnosis
        .wedged
        .as_ref()
        .unwrap_or_else(|| panic!("killed at its deadline, not as wedged: {kill}"));
    assert!(wedged.for_ >= SILENCE, "{wedged:?}");
    // `connected` was written after `starting`, but the two streams are read side by side.
    let last = wedged.last_progress_note.as_deref().unwrap();
    assert!(
        ["[stdout] connected", "[stderr] starting"].contains(&last),
        "{kill}"
    );
    assert_eq!(kill.diagnosis.processes.len(), 2, "{kill}");
    let text = kill.to_string();
    assert!(
        text.starts_with("`silent` was wedged: no line of output for "),
        "{text}"
    );
    assert!(
        text.contains(&format!(" (last line: {last}), after running for ")),
        "{text}"
    );
    assert!(!text.contains("past its deadline"), "{text}");
    let group = kill.diagnosis.group;
    assert_eq!(
        group_members(group),
        [],
        "survivors or zombies of process group {group}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_keeps_writing_is_not_wedged() {
    let _limit = crate::common::time_limit(LIMIT);
    let mut chatty = Command::new("sh");
    // Twice the threshold or more of output, a line every 50 ms.
    chatty.args(["-c", "for i in $(seq 1 40); do echo $i; sleep 0.05; done"]);
    let outcome = Watched::new(chatty, Duration::from_secs(3600))
        .grace(GRACE)
        .wedged_after(silence())
        .run()
        .await;
    let ProcessStatus::Exited(status) = outcome.status() else {
        panic!("a child that kept writing was ended: {outcome:?}")
    };
    assert!(status.success());
    let run = outcome.into_value();
    assert!(run.ran_for >= 2 * SILENCE, "{:?}", run.ran_for);
    assert_eq!(run.tail.last().map(|l| l.text.as_str()), Some("40"));
}

#[tokio::test]
async fn output_lines_tick_the_progress() {
    let _limit = crate::common::time_limit(LIMIT);
    let progress = Progress::new();
    assert_eq!(progress.note(), None);
    let mut writer = Command::new("sh");
    writer.args(["-c", "echo first; echo 'last line'"]);
    let outcome = Watched::new(writer, Duration::from_secs(30))
        .progress(&progress)
        .run()
        .await;
    assert!(
        matches!(outcome.status(), ProcessStatus::Exited(_)),
        "{outcome:?}"
    );
    assert_eq!(progress.note().as_deref(), Some("[stdout] last line"));

    // Standard error ticks it too, and a line past 200 bytes is cut in the note (whole in
    // the tail).
    let mut complaining = Command::new("sh");
    complaining.args(["-c", "printf 'x%.0s' $(seq 1 300) >&2; echo >&2"]);
    let outcome = Watched::new(complaining, Duration::from_secs(30))
        .progress(&progress)
        .run()
        .await;
    assert_eq!(outcome.into_value().tail[0].text.len(), 300);
    let note = progress.note().unwrap();
    assert_eq!(note, format!("[stderr] {}…", "x".repeat(200)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_by_itself_ends_the_streak_of_timeouts() {
    let _limit = crate::common::time_limit(LIMIT);
    reap_orphans().unwrap();
    // Escalates at the second identical timeout in a row.
    let (escalation, events) = escalation(1, None);
    let hang = || {
        Watched::new(stuck_with_grandchild(), DEADLINE)
            .grace(GRACE)
            .key("flaky")
            .escalation(&escalation)
    };
    let first = hang().run().await;
    assert_eq!(killed(&first).diagnosis.repeated, 1);
    assert_eq!(escalation.streak("flaky"), 1);

    // The same key runs and finishes (with a failing code: it still ended by itself).
    let mut finishes = Command::new("sh");
    finishes.args(["-c", "exit 1"]);
    let fine = Watched::new(finishes, DEADLINE)
        .key("flaky")
        .escalation(&escalation)
        .run()
        .await;
    assert!(
        matches!(fine.status(), ProcessStatus::Exited(_)),
        "{fine:?}"
    );
    assert_eq!(
        escalation.streak("flaky"),
        0,
        "the finished run kept the streak"
    );

    let second = hang().run().await;
    let kill = killed(&second);
    assert_eq!(kill.diagnosis.repeated, 1, "{kill}");
    assert_eq!(kill.diagnosis.stacks, [], "escalated across a finished run");
    assert!(events.lock().unwrap().is_empty());

    // The same hang with nothing finished between: the signatures match, so it escalates.
    let third = hang().run().await;
    assert_eq!(killed(&third).diagnosis.repeated, 2);
    assert_eq!(events.lock().unwrap().len(), 1);
}
