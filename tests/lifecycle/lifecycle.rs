//! `#[terminal_state]` at run time: type-level facts, the runtime view, and abandonment recorded
//! whatever ends the owner (panic, early return, cancellation), at scale.

use crate::common;

use common::{XorShift, quiet_injected_panics};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fixpoint::{
    Abandonment, Active, Edge, Event, EventKind, Final, Lifecycle, NoRecorder, Recorded, Resume,
    State, Terminal, Tracked, View, terminal_state,
};
use static_assertions::{assert_eq_size, assert_impl_all, assert_not_impl_any};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpId(pub u64);

/// The README's lifecycle, with a state that carries data (`InputNeeded(FollowUpId)`): the
/// typestate tests need one; `common::project::ProjectStatus` (the fleet example's stored
/// lifecycle) has none.
#[terminal_state(resume)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectStatus {
    #[initial]
    #[to(Running, Failed)]
    Initialized,
    #[to(InputNeeded, Completed, Failed)]
    Running,
    #[to(Running, Failed)]
    InputNeeded(FollowUpId),
    #[terminal]
    Completed,
    #[terminal]
    #[abandoned]
    Failed,
}

pub struct Socket;

impl Socket {
    pub fn send(&self, bytes: &[u8]) -> usize {
        bytes.len()
    }
}

#[terminal_state(resume)]
pub enum Conn {
    #[initial]
    #[to(Open, Closed)]
    Connecting,
    #[to(Closed)]
    Open,
    #[terminal]
    #[abandoned]
    Closed,
}

type OpenConn = Tracked<Conn, conn::Open, Socket>;

// With no recorder, the wrapper is exactly its data: the value plus the state's own data.
assert_eq_size!(Tracked<ProjectStatus, project_status::Running, u64>, u64);
assert_eq_size!(Tracked<ProjectStatus, project_status::Running, [u8; 3]>, [u8; 3]);
assert_eq_size!(Tracked<ProjectStatus, project_status::Running, ()>, ());
assert_eq_size!(Tracked<ProjectStatus, project_status::InputNeeded, u64>, (u64, FollowUpId));
assert_eq_size!(project_status::Running, ());
// A shared recorder costs one pointer.
assert_eq_size!(
    Tracked<ProjectStatus, project_status::Running, u64, Recorded<Arc<dyn fixpoint::Recorder<ProjectStatus> + Send + Sync>>>,
    (u64, Arc<dyn fixpoint::Recorder<ProjectStatus> + Send + Sync>)
);

// Terminal states have no transition out, in any form.
assert_not_impl_any!(
    project_status::Completed: Active,
    Edge<project_status::Initialized>,
    Edge<project_status::Running>,
    Edge<project_status::InputNeeded>,
    Edge<project_status::Completed>,
    Edge<project_status::Failed>,
);
assert_not_impl_any!(
    project_status::Failed: Active,
    Edge<project_status::Initialized>,
    Edge<project_status::Running>,
    Edge<project_status::InputNeeded>,
    Edge<project_status::Completed>,
    Edge<project_status::Failed>,
);
assert_impl_all!(project_status::Completed: Final);
assert_impl_all!(project_status::Running: Active, Edge<project_status::Completed>);
assert_not_impl_any!(project_status::Initialized: Edge<project_status::Completed>);

// Only the owner can close: the transitions are implemented for the owned machine alone.
assert_impl_all!(OpenConn: ConnTransitions<conn::Open, Socket, NoRecorder>);
assert_not_impl_any!(&'static OpenConn: ConnTransitions<conn::Open, Socket, NoRecorder>);
assert_not_impl_any!(Arc<OpenConn>: ConnTransitions<conn::Open, Socket, NoRecorder>);
assert_not_impl_any!(View<'static, Conn, conn::Open, Socket>: ConnTransitions<conn::Open, Socket, NoRecorder>);
assert_not_impl_any!(Terminal<Conn, Socket>: ConnTransitions<conn::Open, Socket, NoRecorder>);
// A tracked value is as thread-safe as what it holds.
assert_impl_all!(OpenConn: Send, Sync);
assert_not_impl_any!(Tracked<Conn, conn::Open, std::rc::Rc<u8>>: Send, Sync);

/// Collects events; shared between machines.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl fixpoint::Recorder<ProjectStatus> for Log {
    fn record(&self, event: Event<ProjectStatus>) {
        self.0.lock().unwrap().push(event.to_string());
    }
}

#[test]
fn runtime_view_matches_the_declaration() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let state = |name| State::<ProjectStatus>::parse(name).unwrap();
    assert_eq!(ProjectStatus::name(), "ProjectStatus");
    assert_eq!(ProjectStatus::initial(), state("Initialized"));
    assert_eq!(ProjectStatus::abandoned(), state("Failed"));
    let names: Vec<_> = ProjectStatus::states().map(State::name).collect();
    assert_eq!(
        names,
        [
            "Initialized",
            "Running",
            "InputNeeded",
            "Completed",
            "Failed"
        ]
    );
    let edges: Vec<_> = ProjectStatus::transitions()
        .map(|(from, to)| format!("{from}->{to}"))
        .collect();
    assert_eq!(
        edges,
        [
            "Initialized->Running",
            "Initialized->Failed",
            "Running->InputNeeded",
            "Running->Completed",
            "Running->Failed",
            "InputNeeded->Running",
            "InputNeeded->Failed",
        ]
    );
    for from in ProjectStatus::states() {
        for to in ProjectStatus::states() {
            let declared = edges.contains(&format!("{from}->{to}"));
            assert_eq!(
                ProjectStatus::can_transition(from, to),
                declared,
                "{from} -> {to}"
            );
        }
    }
    assert!(ProjectStatus::Completed.is_terminal());
    assert!(!ProjectStatus::InputNeeded(FollowUpId(1)).is_terminal());
    assert!(state("InputNeeded").carries_data());
    assert!(state("Initialized").is_initial() && state("Failed").is_abandoned());
    assert_eq!(format!("{:?}", state("Running")), "ProjectStatus::Running");
}

#[test]
fn storage_checks_name_the_illegal_status() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let state = |name| ProjectStatus::parse_state(name).unwrap();
    let err = ProjectStatus::parse_state("Paused").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`Paused` is not a state of lifecycle `ProjectStatus`; its states are `Initialized`, \
         `Running`, `InputNeeded`, `Completed`, `Failed`"
    );
    let err =
        ProjectStatus::check_transition(state("Initialized"), state("Completed")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "illegal transition `Initialized -> Completed` in lifecycle `ProjectStatus`: \
         `Initialized` may go to `Running`, `Failed`"
    );
    let err = ProjectStatus::check_transition(state("Completed"), state("Running")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("`Completed` is terminal and may not go anywhere"),
        "{err}"
    );
    // Abandonment is legal from every non-terminal state, declared or not.
    assert!(ProjectStatus::check_transition(state("InputNeeded"), state("Failed")).is_ok());
    assert!(ProjectStatus::check_transition(state("Completed"), state("Failed")).is_err());
    let err = ProjectStatus::resume_named("InputNeeded", ()).unwrap_err();
    assert!(err.to_string().contains("carries data"), "{err}");
}

#[test]
fn mermaid_diagram_lists_every_edge() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    assert_eq!(
        ProjectStatus::mermaid(),
        "stateDiagram-v2
    [*] --> Initialized
    Initialized --> Running
    Initialized --> Failed
    Running --> InputNeeded
    Running --> Completed
    Running --> Failed
    InputNeeded --> Running
    InputNeeded --> Failed
    Completed --> [*]
    Failed --> [*]
    note right of Failed : abandoned (recorded when an owner is lost)
"
    );
}

#[test]
fn transitions_are_recorded_in_order_and_terminal_status_holds_data() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let log = Arc::new(Log::default());
    let project = Tracked::<ProjectStatus, _, _>::new("site").with_recorder(log.clone());
    let waiting = project.to_running().to_input_needed(FollowUpId(4));
    assert_eq!(
        Tracked::status(&waiting),
        ProjectStatus::InputNeeded(FollowUpId(4))
    );
    assert_eq!(Tracked::state(&waiting).name(), "InputNeeded");
    let done = waiting.to_running().to_completed();
    assert_eq!(done.status(), &ProjectStatus::Completed);
    assert!(!done.is_abandoned());
    assert_eq!(
        log.take(),
        [
            "ProjectStatus: Initialized -> Running",
            "ProjectStatus: Running -> InputNeeded",
            "ProjectStatus: InputNeeded -> Running",
            "ProjectStatus: Running -> Completed",
        ]
    );
    assert_eq!(done.into_parts(), (ProjectStatus::Completed, "site"));
}

#[test]
fn abandonment_is_recorded_on_panic() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let log = Arc::new(Log::default());
    let recorder = log.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(move || {
        let project = Tracked::<ProjectStatus, _, _>::new(()).with_recorder(recorder);
        let _running = project.to_running();
        panic!("workspace preparation failed");
    }));
    assert!(result.is_err());
    assert_eq!(
        log.take(),
        [
            "ProjectStatus: Initialized -> Running",
            "ProjectStatus: Running -> Failed (abandoned: panicked)",
        ]
    );
}

#[test]
fn abandonment_is_recorded_on_early_return() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    fn prepare(log: Arc<Log>) -> Result<Terminal<ProjectStatus, ()>, String> {
        let project = Tracked::<ProjectStatus, _, _>::new(()).with_recorder(log);
        let waiting = project.to_running().to_input_needed(FollowUpId(9));
        let answer: Result<(), String> = Err("the user closed the tab".into());
        answer?; // `waiting` is dropped here, before any terminal state
        Ok(waiting.to_running().to_completed())
    }
    let log = Arc::new(Log::default());
    assert!(prepare(log.clone()).is_err());
    assert_eq!(
        log.take().last().map(String::as_str),
        Some("ProjectStatus: InputNeeded -> Failed (abandoned: dropped)")
    );
}

#[tokio::test]
async fn abandonment_is_recorded_when_a_future_is_cancelled() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let log = Arc::new(Log::default());
    let recorder = log.clone();
    let wait_for_answer = async move {
        let project = Tracked::<ProjectStatus, _, _>::new(()).with_recorder(recorder);
        let waiting = project.to_running().to_input_needed(FollowUpId(1));
        std::future::pending::<()>().await; // the answer never comes
        waiting.to_running().to_completed()
    };
    let timed_out =
        tokio::time::timeout(std::time::Duration::from_millis(10), wait_for_answer).await;
    assert!(timed_out.is_err());
    assert_eq!(
        log.take().last().map(String::as_str),
        Some("ProjectStatus: InputNeeded -> Failed (abandoned: dropped)")
    );
}

#[test]
fn explicit_abandon_records_and_proves_termination() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let log = Arc::new(Log::default());
    let project = Tracked::<ProjectStatus, _, _>::new(7).with_recorder(log.clone());
    let failed = project.to_running().abandon();
    assert!(failed.is_abandoned());
    assert_eq!(failed.into_value(), 7);
    assert_eq!(
        log.take().last().map(String::as_str),
        Some("ProjectStatus: Running -> Failed (abandoned: explicit)")
    );
    // Without a recorder nothing is reported, and the proof still says what happened.
    let silent = Tracked::<ProjectStatus, _, _>::new(()).abandon();
    assert_eq!(silent.status(), &ProjectStatus::Failed);
}

#[test]
fn resumed_machine_keeps_its_data_and_records_later_steps() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let log = Arc::new(Log::default());
    let resumed = ProjectStatus::InputNeeded(FollowUpId(3)).resume_recorded("row 17", log.clone());
    let ProjectStatusResumed::InputNeeded(waiting) = resumed else {
        panic!("resumed in the wrong state: {resumed:?}");
    };
    assert_eq!(Tracked::data(&waiting), &FollowUpId(3));
    assert_eq!(*waiting, "row 17");
    drop(waiting); // a restarted process that loses the row again
    assert_eq!(
        log.take(),
        ["ProjectStatus: InputNeeded -> Failed (abandoned: dropped)"]
    );
    let done = ProjectStatus::Completed.resume(());
    assert!(
        matches!(done, ProjectStatusResumed::Completed(ref t) if !t.is_abandoned()),
        "{done:?}"
    );
}

#[test]
fn handle_is_used_through_shared_access_and_closed_by_its_owner() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let owner: OpenConn = Tracked::<Conn, _, _>::new(Socket).to_open();
    let shared = Arc::new(owner);
    let sent: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let conn = Arc::clone(&shared);
                scope.spawn(move || conn.send(b"ping"))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(sent, 16);
    let view = Tracked::view(&*shared);
    assert_eq!(View::state(&view).name(), "Open");
    assert_eq!(view.send(b"hi"), 2);
    let owner = Arc::into_inner(shared).expect("the owner is the last holder");
    let closed = owner.to_closed();
    assert_eq!(closed.state().name(), "Closed");
}

/// Counts, per machine, how it ended: the terminal state entered and, if abandoned, why.
#[derive(Default)]
struct Tally {
    completed: AtomicUsize,
    failed: AtomicUsize,
    panicked: AtomicUsize,
    dropped: AtomicUsize,
    transitions: AtomicUsize,
}

impl fixpoint::Recorder<ProjectStatus> for Tally {
    fn record(&self, event: Event<ProjectStatus>) {
        let counter = match (event.kind, event.to.name()) {
            (EventKind::Abandoned(Abandonment::Panicked), _) => &self.panicked,
            (EventKind::Abandoned(_), _) => &self.dropped,
            (_, "Completed") => &self.completed,
            (_, "Failed") => &self.failed,
            _ => &self.transitions,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Ten thousand machines on a multi-threaded runtime, each ended by a random fault or outcome:
/// every one is accounted for by exactly one terminal event that matches what was injected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_machine_ends_terminal_under_random_faults() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    const MACHINES: usize = 10_000;
    quiet_injected_panics();
    let tally = Arc::new(Tally::default());
    let mut expected = [0_usize; 5]; // completed, failed, panicked, dropped (return), dropped (abort)
    let mut rng = XorShift(0x5eed_f1c5);
    let mut tasks = Vec::with_capacity(MACHINES);
    let mut aborted = Vec::new();
    for _ in 0..MACHINES {
        let outcome = rng.below(5) as usize;
        expected[outcome] += 1;
        // The machine exists before its task does: a task aborted before its first poll
        // still drops (and so abandons) it.
        let project = Tracked::<ProjectStatus, _, _>::new(()).with_recorder(Arc::clone(&tally));
        let running = project.to_running();
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            match outcome {
                0 => Some(running.to_completed()),
                1 => Some(running.to_failed()),
                2 => panic!("injected panic"),
                3 => None, // early return: the machine is dropped
                _ => {
                    std::future::pending::<()>().await; // aborted while waiting
                    None
                }
            }
        });
        if outcome == 4 {
            aborted.push(task.abort_handle());
        }
        tasks.push(task);
    }
    for handle in aborted {
        handle.abort();
    }
    for task in tasks {
        let _ = task.await; // panics and cancellations surface as JoinErrors
    }
    let count = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    assert_eq!(
        count(&tally.transitions),
        MACHINES,
        "one Initialized -> Running each"
    );
    assert_eq!(count(&tally.completed), expected[0]);
    assert_eq!(count(&tally.failed), expected[1]);
    assert_eq!(count(&tally.panicked), expected[2]);
    assert_eq!(count(&tally.dropped), expected[3] + expected[4]);
    assert!(
        expected.iter().all(|&n| n > 1_000),
        "every outcome was exercised: {expected:?}"
    );
}

/// A lifecycle past the 64 state indices the runtime names as plain types (`I0` to `I63`): the
/// markers beyond them take the const-generic form (`Ix<64>`), and every one keeps its index.
#[terminal_state(resume)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Long {
    #[initial]
    #[to(S1, Lost)]
    S0,
    #[to(S2, Lost)]
    S1,
    #[to(S3, Lost)]
    S2,
    #[to(S4, Lost)]
    S3,
    #[to(S5, Lost)]
    S4,
    #[to(S6, Lost)]
    S5,
    #[to(S7, Lost)]
    S6,
    #[to(S8, Lost)]
    S7,
    #[to(S9, Lost)]
    S8,
    #[to(S10, Lost)]
    S9,
    #[to(S11, Lost)]
    S10,
    #[to(S12, Lost)]
    S11,
    #[to(S13, Lost)]
    S12,
    #[to(S14, Lost)]
    S13,
    #[to(S15, Lost)]
    S14,
    #[to(S16, Lost)]
    S15,
    #[to(S17, Lost)]
    S16,
    #[to(S18, Lost)]
    S17,
    #[to(S19, Lost)]
    S18,
    #[to(S20, Lost)]
    S19,
    #[to(S21, Lost)]
    S20,
    #[to(S22, Lost)]
    S21,
    #[to(S23, Lost)]
    S22,
    #[to(S24, Lost)]
    S23,
    #[to(S25, Lost)]
    S24,
    #[to(S26, Lost)]
    S25,
    #[to(S27, Lost)]
    S26,
    #[to(S28, Lost)]
    S27,
    #[to(S29, Lost)]
    S28,
    #[to(S30, Lost)]
    S29,
    #[to(S31, Lost)]
    S30,
    #[to(S32, Lost)]
    S31,
    #[to(S33, Lost)]
    S32,
    #[to(S34, Lost)]
    S33,
    #[to(S35, Lost)]
    S34,
    #[to(S36, Lost)]
    S35,
    #[to(S37, Lost)]
    S36,
    #[to(S38, Lost)]
    S37,
    #[to(S39, Lost)]
    S38,
    #[to(S40, Lost)]
    S39,
    #[to(S41, Lost)]
    S40,
    #[to(S42, Lost)]
    S41,
    #[to(S43, Lost)]
    S42,
    #[to(S44, Lost)]
    S43,
    #[to(S45, Lost)]
    S44,
    #[to(S46, Lost)]
    S45,
    #[to(S47, Lost)]
    S46,
    #[to(S48, Lost)]
    S47,
    #[to(S49, Lost)]
    S48,
    #[to(S50, Lost)]
    S49,
    #[to(S51, Lost)]
    S50,
    #[to(S52, Lost)]
    S51,
    #[to(S53, Lost)]
    S52,
    #[to(S54, Lost)]
    S53,
    #[to(S55, Lost)]
    S54,
    #[to(S56, Lost)]
    S55,
    #[to(S57, Lost)]
    S56,
    #[to(S58, Lost)]
    S57,
    #[to(S59, Lost)]
    S58,
    #[to(S60, Lost)]
    S59,
    #[to(S61, Lost)]
    S60,
    #[to(S62, Lost)]
    S61,
    #[to(S63, Lost)]
    S62,
    #[to(S64, Lost)]
    S63,
    #[to(S65, Lost)]
    S64,
    #[terminal]
    S65,
    #[terminal]
    #[abandoned]
    Lost,
}

#[test]
fn markers_past_the_64th_keep_their_index() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    use fixpoint::StateMarker;
    assert_eq!(<long::S63 as StateMarker>::STATE.name(), "S63");
    assert_eq!(<long::S64 as StateMarker>::STATE.name(), "S64");
    assert_eq!(<long::S65 as StateMarker>::STATE, Long::S65.state());
    assert_eq!(<long::Lost as StateMarker>::STATE, Long::abandoned());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let machine = Tracked::<Long, _, _>::new(())
        .with_recorder(move |event: Event<Long>| sink.lock().unwrap().push(event));
    let at_64 = machine
        .to_s1()
        .to_s2()
        .to_s3()
        .to_s4()
        .to_s5()
        .to_s6()
        .to_s7()
        .to_s8()
        .to_s9()
        .to_s10()
        .to_s11()
        .to_s12()
        .to_s13()
        .to_s14()
        .to_s15()
        .to_s16()
        .to_s17()
        .to_s18()
        .to_s19()
        .to_s20()
        .to_s21()
        .to_s22()
        .to_s23()
        .to_s24()
        .to_s25()
        .to_s26()
        .to_s27()
        .to_s28()
        .to_s29()
        .to_s30()
        .to_s31()
        .to_s32()
        .to_s33()
        .to_s34()
        .to_s35()
        .to_s36()
        .to_s37()
        .to_s38()
        .to_s39()
        .to_s40()
        .to_s41()
        .to_s42()
        .to_s43()
        .to_s44()
        .to_s45()
        .to_s46()
        .to_s47()
        .to_s48()
        .to_s49()
        .to_s50()
        .to_s51()
        .to_s52()
        .to_s53()
        .to_s54()
        .to_s55()
        .to_s56()
        .to_s57()
        .to_s58()
        .to_s59()
        .to_s60()
        .to_s61()
        .to_s62()
        .to_s63()
        .to_s64();
    assert_eq!(Tracked::state(&at_64), Long::S64.state());
    let done = at_64.to_s65();
    assert_eq!(done.state(), Long::S65.state());
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 65);
    let last = events.last().unwrap();
    assert_eq!((last.from.name(), last.to.name()), ("S64", "S65"));
}
