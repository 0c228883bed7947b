//! The events of a failing periodic job, captured. A test binary of its own: a thread-local
//! subscriber sees every event only while no other test of the process emits the same ones
//! (tracing caches each call site's interest across threads).
#![cfg(feature = "tracing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fixpoint::uptime::Periodic;

const HOUR: Duration = Duration::from_secs(3600);

#[path = "common/capture.rs"]
mod capture;

/// The Nth identical failure in a row is an error-level event; the ones before it warnings.
#[test]
fn the_nth_identical_failure_is_an_error_event() {
    let capture = capture::Capture::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // One thread: the cycles run where the subscriber is the default.
    tracing::subscriber::with_default(capture.clone(), || {
        runtime.block_on(async {
            let run = Arc::new(AtomicU32::new(0));
            let counted = Arc::clone(&run);
            let _job = Periodic::every(HOUR)
                .named("fetch")
                .run(move || {
                    let first = counted.fetch_add(1, Ordering::Relaxed) == 0;
                    async move { if first { Ok(()) } else { Err("disk full") } }
                })
                .no_reaper("fetches into memory")
                .start()
                .await
                .unwrap();
            for _ in 0..3 {
                tokio::time::sleep(HOUR).await;
                tokio::task::yield_now().await; // the cycle due at this hour runs
            }
        });
    });
    let lines = capture.0.lock().unwrap().clone();
    let levels: Vec<&str> = lines
        .iter()
        .map(|line| line.split(' ').next().unwrap())
        .collect();
    assert_eq!(levels, ["WARN", "WARN", "ERROR"], "{lines:#?}");
    assert!(
        lines[2].contains("job=fetch") && lines[2].contains("runs=3"),
        "{lines:#?}"
    );
}
