//! `Periodic`: the first run is the caller's error, every cycle reaps what it accumulates,
//! and the same failure on the cadence escalates. Driven on tokio's paused clock.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fixpoint::uptime::{Periodic, PeriodicError};

const HOUR: Duration = Duration::from_secs(3600);

/// Lets the cadence run `cycles` more times.
async fn cycles(cycles: u32) {
    for _ in 0..cycles {
        tokio::time::sleep(HOUR).await;
    }
    tokio::task::yield_now().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_first_run_is_returned_and_nothing_keeps_running() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let runs = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&runs);
    let started = Periodic::every(HOUR)
        .run(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>("config file missing") }
        })
        .no_reaper("the job writes nothing")
        .start()
        .await;
    let Err(error) = started else {
        panic!("a failing first run must be an error")
    };
    assert!(matches!(
        error,
        PeriodicError::FirstRun("config file missing")
    ));
    assert_eq!(
        error.to_string(),
        "the first run of the periodic job failed: config file missing"
    );
    cycles(5).await;
    assert_eq!(
        runs.load(Ordering::Relaxed),
        1,
        "a job that failed to start ran again"
    );
}

#[tokio::test(start_paused = true)]
async fn every_cycle_reaps_what_it_accumulates() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let images = Arc::new(Mutex::new(Vec::new()));
    let (deployed, reaped) = (Arc::clone(&images), Arc::clone(&images));
    let deploys = Periodic::every(HOUR)
        .run(move || {
            let images = Arc::clone(&deployed);
            async move {
                let mut images = images.lock().unwrap();
                let next = images.len();
                images.push(next); // each deploy leaves an image behind
                Ok::<_, String>(())
            }
        })
        .reap(move || {
            let images = Arc::clone(&reaped);
            async move {
                let mut images = images.lock().unwrap();
                let keep = images.len().saturating_sub(1);
                images.drain(..keep); // keep the running image only
                Ok(())
            }
        })
        .start()
        .await
        .unwrap();
    cycles(50).await;
    assert_eq!(deploys.status().runs, 51);
    assert_eq!(images.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn identical_failures_escalate_and_the_status_says_since_when() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let run = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&run);
    let job = Periodic::every(HOUR)
        .named("fetch")
        .escalate_after(NonZeroU32::new(3).unwrap())
        .run(move || {
            let run = counted.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                match run {
                    1 => Ok(()),
                    2 => Err("timeout".to_owned()),
                    _ => Err("disk full".to_owned()),
                }
            }
        })
        .no_reaper("fetches into memory")
        .start()
        .await
        .unwrap();
    assert_eq!(job.status().to_string(), "healthy: 1 runs, 0 failed");
    cycles(3).await; // runs 2 (timeout), 3 and 4 (disk full)
    let status = job.status();
    assert_eq!(
        (status.runs, status.failures, status.escalations),
        (4, 3, 0)
    );
    let failing = status.failing.clone().unwrap();
    assert_eq!((failing.identical_runs, failing.since_run), (2, 3));
    cycles(1).await; // the third identical failure escalates
    let status = job.status();
    assert_eq!(status.escalations, 1);
    assert!(
        status
            .to_string()
            .starts_with("failing identically for 3 runs since run 3 ("),
        "{status}"
    );
    assert!(status.to_string().ends_with("ago): disk full"), "{status}");
    cycles(4).await; // the same streak goes on: escalated once
    let status = job.status();
    assert_eq!(
        (status.escalations, status.failing.unwrap().identical_runs),
        (1, 7)
    );
}

#[tokio::test(start_paused = true)]
async fn a_recovery_ends_the_streak() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let run = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&run);
    let job = Periodic::every(HOUR)
        .run(move || {
            let run = counted.fetch_add(1, Ordering::Relaxed) + 1;
            async move { if run == 2 { Err("flaky") } else { Ok(()) } }
        })
        .no_reaper("nothing accumulates")
        .start()
        .await
        .unwrap();
    cycles(1).await;
    assert!(job.status().failing.is_some());
    cycles(1).await;
    let status = job.status();
    assert_eq!(status.to_string(), "healthy: 3 runs, 1 failed");
}

#[tokio::test(start_paused = true)]
async fn a_period_under_the_timer_tick_is_a_typed_error() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let started = Periodic::every(Duration::ZERO)
        .run(|| async { Ok::<_, String>(()) })
        .no_reaper("nothing accumulates")
        .start()
        .await;
    assert!(matches!(
        started,
        Err(PeriodicError::PeriodTooShort {
            period: Duration::ZERO,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_stopped_job_runs_no_more() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let runs = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&runs);
    let job = Periodic::every(HOUR)
        .run(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, String>(()) }
        })
        .no_reaper("nothing accumulates")
        .start()
        .await
        .unwrap();
    cycles(2).await;
    job.stop();
    cycles(5).await;
    assert_eq!(runs.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn a_start_cancelled_before_it_returns_leaves_no_cycles_behind() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let runs = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&runs);
    let start = Periodic::every(HOUR)
        .run(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Ok::<(), String>(()) }
        })
        .no_reaper("the job writes nothing")
        .start();
    let mut start = Box::pin(start);
    // Polled once: the first cycle runs and the cycles' task is being handed over; then the
    // caller gives up on the start (a `select!` or a timeout elsewhere).
    tokio::select! {
        biased;
        _ = &mut start => panic!("the start waits for its task to be spawned"),
        () = std::future::ready(()) => {}
    }
    drop(start);
    assert_eq!(runs.load(Ordering::Relaxed), 1, "the first run ran");
    cycles(3).await;
    assert_eq!(
        runs.load(Ordering::Relaxed),
        1,
        "a start dropped before it returned its task keeps no cadence running"
    );
}
