//! The events of the uptime primitives, captured. A test binary of its own, every test of
//! which captures: a thread-local subscriber sees every event only while no thread of the
//! process without one emits the same ones (tracing caches each call site's interest across
//! threads).
#![cfg(feature = "tracing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fixpoint::uptime::{CooldownFile, Periodic};

const HOUR: Duration = Duration::from_secs(3600);

use crate::common::capture;

/// The Nth identical failure in a row is an error-level event; the ones before it warnings.
#[test]
fn the_nth_identical_failure_is_an_error_event() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
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

/// An unreadable marker is loud: a warning that names it, once per bad content.
#[test]
fn an_unreadable_marker_is_a_warning_once() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let dir = std::env::temp_dir().join(format!("fixpoint-marker-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("queue.backoff");
    std::fs::write(&path, "not a marker").unwrap();
    let capture = capture::Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let backoff = CooldownFile::open(&path).unwrap();
        for _ in 0..10 {
            assert!(!backoff.is_active());
        }
    });
    let lines = capture.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("WARN") && lines[0].contains("queue.backoff"),
        "{lines:#?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
