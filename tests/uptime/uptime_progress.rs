//! Liveness is a property of the output: a work that stops ticking its `Progress` is declared
//! wedged however alive it looks, and a watched supervised task is aborted with the reason (a
//! task running a watched child is alive while the child writes lines).
//! The watchdog measures the monotonic clock, so these run in real time, with thresholds
//! far above a loaded machine's scheduling delays.

use std::time::Duration;

use crate::common::project;
use fixpoint::{
    process::Watched,
    uptime::{Progress, Threshold, ThresholdError},
};
use fixpoint::{
    store::{MemoryStore, Retention, StatusStore},
    task::{Config, Outcome, Supervisor},
};
use project::*;

// The handle a work clones and ticks is one pointer.
static_assertions::assert_eq_size!(Progress, usize);

fn threshold(millis: u64) -> Threshold {
    Threshold::new(Duration::from_millis(millis)).unwrap()
}

#[tokio::test]
async fn a_silent_work_is_wedged_with_its_last_note() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let progress = Progress::new();
    progress.tick_with("claimed job 812");
    let wedged = progress.watchdog(threshold(50)).wedged().await;
    assert!(wedged.for_ >= Duration::from_millis(50), "{wedged:?}");
    assert_eq!(
        wedged.last_progress_note.as_deref(),
        Some("claimed job 812")
    );
    let reason = wedged.to_string();
    assert!(reason.starts_with("no progress for "), "{reason}");
    assert!(
        reason.ends_with("ms; last progress: claimed job 812"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_work_that_keeps_ticking_is_not_wedged_until_it_stops() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let progress = Progress::new();
    let watchdog = progress.watchdog(threshold(200));
    let work = {
        let progress = progress.clone();
        async move {
            for job in 0..40 {
                progress.tick_with(format!("claimed job {job}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    tokio::select! {
        () = work => {}
        wedged = watchdog.wedged() => panic!("a progressing work was declared wedged: {wedged}"),
    }
    // The work stops producing: the same watchdog now sees it.
    let wedged = watchdog.wedged().await;
    assert_eq!(wedged.last_progress_note.as_deref(), Some("claimed job 39"));
}

/// Counts the polls of the future it wraps.
struct Polls<F> {
    future: std::pin::Pin<Box<F>>,
    polls: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl<F: std::future::Future> std::future::Future for Polls<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.future.as_mut().poll(cx)
    }
}

#[tokio::test]
async fn the_watchdog_wakes_about_once_per_threshold_not_per_tick() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let progress = Progress::new();
    let watchdog = progress.watchdog(threshold(100));
    let polls = std::sync::Arc::default();
    // A task of its own: each poll is a wake of the watchdog, not of its neighbour.
    let watched = tokio::spawn(Polls {
        future: Box::pin(async move { watchdog.wedged().await }),
        polls: std::sync::Arc::clone(&polls),
    });
    for _ in 0..500 {
        progress.tick(); // 500 ticks over half a second or more
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!watched.is_finished(), "wedged while ticking");
    watched.abort();
    let polls = polls.load(std::sync::atomic::Ordering::Relaxed);
    // About one wake per 100 ms of healthy work (plus a short one when the coarse clock
    // lags the timer): a handful, where polling per tick would be hundreds.
    assert!(polls <= 30, "the watchdog was polled {polls} times");
}

#[test]
fn a_threshold_under_the_clock_tick_is_a_typed_error() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let error = Threshold::new(Duration::from_millis(1)).unwrap_err();
    assert_eq!(
        error,
        ThresholdError::ShorterThanTick {
            threshold: Duration::from_millis(1),
            tick: Threshold::TICK,
        }
    );
    assert!(
        error
            .to_string()
            .contains("use a threshold of at least 10ms")
    );
    assert!(Threshold::try_from(Threshold::TICK).is_ok());
}

/// The next task to end; a test that waits a minute has failed (a watchdog that never fired).
async fn next<S: StatusStore<ProjectStatus>>(
    supervisor: &mut Supervisor<ProjectStatus, S>,
) -> fixpoint::task::Finished<ProjectStatus> {
    tokio::time::timeout(Duration::from_secs(60), supervisor.join_next())
        .await
        .expect("no task ended within a minute")
        .unwrap()
}

fn config() -> Config {
    Config::new().retention(Retention::keep_all())
}

/// Runs `work` as a watched task with a `millis` threshold, and returns the reason its row was
/// ended with, once it was aborted as wedged (the test fails if it ended otherwise).
async fn wedged_reason<Fut>(millis: u64, work: impl FnOnce(Progress) -> Fut) -> String
where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let store = std::sync::Arc::new(MemoryStore::<ProjectStatus>::new());
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    supervisor
        .spawn_watched("worker", (), threshold(millis), |project, progress| {
            let work = work(progress);
            async move {
                let running = project.to_running();
                work.await;
                running.to_completed()
            }
        })
        .await
        .unwrap();
    let finished = next(&mut supervisor).await;
    assert_eq!(finished.outcome, Outcome::Aborted);
    supervisor.flush().await.unwrap();
    let row = &store.rows().await.unwrap()[0];
    assert_eq!(row.status, "Failed");
    let reason = row.reason.clone().unwrap();
    assert!(reason.starts_with("no progress for "), "{reason}");
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_task_is_aborted_and_its_row_says_why() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let reason = wedged_reason(100, |progress| async move {
        progress.tick_with("claimed job 812");
        // The queue connection dropped: the task is up, logs nothing, does nothing.
        std::future::pending::<()>().await;
    })
    .await;
    assert!(
        reason.ends_with("; last progress: claimed job 812"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progressing_task_runs_past_its_threshold_and_ends_as_it_chooses() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let store = std::sync::Arc::new(crate::common::Logged::new(
        MemoryStore::<ProjectStatus>::new(),
    ));
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    supervisor
        .spawn_watched(
            "worker",
            (),
            threshold(200),
            |project, progress| async move {
                let running = project.to_running();
                for _ in 0..40 {
                    progress.tick(); // 400 ms of work, twice the threshold, never 200 ms silent
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                running.to_completed()
            },
        )
        .await
        .unwrap();
    let finished = next(&mut supervisor).await;
    assert!(
        matches!(finished.outcome, Outcome::Finished(_)),
        "{finished:?}"
    );
    // Its watchdog stopped with it: long past the threshold, it wrote nothing more (the row,
    // being terminal, would refuse a write: the rows alone could not tell).
    let written = store.writes_to("worker");
    assert_eq!(
        written.last().map(String::as_str),
        Some("Running -> Completed"),
        "{written:?}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.writes_to("worker"),
        written,
        "a write after the task ended"
    );
    let report = supervisor.shutdown(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        (
            report.rows[0].status.as_str(),
            report.rows[0].reason.as_deref()
        ),
        ("Completed", None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_blocked_in_a_synchronous_call_is_ended_from_outside() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let store = std::sync::Arc::new(MemoryStore::<ProjectStatus>::new());
    let mut supervisor = Supervisor::start(store.clone(), config()).await.unwrap();
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    supervisor
        .spawn_watched(
            "worker",
            (),
            threshold(50),
            |project, _progress| async move {
                let running = project.to_running();
                let _ = blocked.recv(); // a synchronous call that never returns on its own
                running.to_completed()
            },
        )
        .await
        .unwrap();
    // The watchdog runs on the other worker thread and ends the row while the task blocks.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        supervisor.flush().await.unwrap();
        let row = &store.rows().await.unwrap()[0];
        if row.status == "Failed" {
            assert!(
                row.reason
                    .as_deref()
                    .unwrap()
                    .starts_with("no progress for ")
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the row was never ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release.send(()).unwrap();
    let finished = next(&mut supervisor).await;
    assert_eq!(finished.outcome, Outcome::Aborted);
    let report = supervisor.shutdown(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        report.rows[0].status, "Failed",
        "the task's own end was dropped"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_running_a_child_is_alive_while_the_child_prints_and_wedged_when_it_stops() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let reason = wedged_reason(1000, |progress| async move {
        let mut worker = std::process::Command::new("sh");
        // Two seconds or more of lines, then the queue connection drops: up, silent.
        worker.args([
            "-c",
            "for i in $(seq 1 40); do echo job $i; sleep 0.05; done; \
             echo waiting for the queue; sleep 1000",
        ]);
        Watched::new(worker, Duration::from_secs(3600))
            .progress(&progress)
            .run()
            .await;
    })
    .await;
    // Its last line came after twice the threshold of printing: the lines kept it alive.
    assert!(
        reason.ends_with("; last progress: [stdout] waiting for the queue"),
        "{reason}"
    );
}
