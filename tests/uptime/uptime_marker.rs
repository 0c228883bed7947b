//! The cooldown marker answers one question, `is_active()`, and heals itself: a consumer in
//! another process sees the cooldown end without anyone deleting the file, and a garbled
//! marker does not stop the work.
//!
//! The other process is this test binary again, running the same test with `MARKER_CONSUMER`
//! set to the marker's path: the test then plays the worker that checks the cooldown.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fixpoint::uptime::{Cooldown, CooldownFile, MarkerError};

/// A fresh directory for one test's marker.
fn directory(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fixpoint-marker-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The variable that makes a test the consumer of the marker it names.
const CONSUMER: &str = "MARKER_CONSUMER";

/// Runs test `test` again in another process, as the consumer of the marker at `path`;
/// returns what it printed.
fn consumer_process(test: &str, path: &Path) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            &crate::common::test_name(module_path!(), test),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CONSUMER, path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "consumer failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The worker of another process: while the cooldown is active it waits (as long as the
/// marker says, then asks again), and then it works. It never looks at the file itself.
fn consume(path: std::ffi::OsString) {
    let cooldown = CooldownFile::open(PathBuf::from(path)).unwrap();
    println!("active at start: {}", cooldown.is_active());
    let give_up = Instant::now() + Duration::from_secs(60);
    while let Some(left) = cooldown.remaining() {
        assert!(Instant::now() < give_up, "the cooldown never ended");
        std::thread::sleep(left);
    }
    println!(
        "working; unreadable markers seen: {}",
        cooldown.unreadable()
    );
}

#[test]
fn another_process_sees_the_cooldown_end_without_anyone_deleting_the_file() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    if let Some(path) = std::env::var_os(CONSUMER) {
        return consume(path);
    }
    let path = directory("ends").join("queue.cooldown");
    let cooldown = CooldownFile::open(&path).unwrap();
    // Long enough that the consumer starts inside it even on a loaded machine.
    let started = Instant::now();
    cooldown.start(Duration::from_secs(2)).unwrap();
    let printed = consumer_process(
        "another_process_sees_the_cooldown_end_without_anyone_deleting_the_file",
        &path,
    );
    assert!(printed.contains("active at start: true"), "{printed}");
    assert!(
        printed.contains("working; unreadable markers seen: 0"),
        "{printed}"
    );
    // The marker keeps whole milliseconds of the wall clock: the end may come up to one of
    // them early by this process's monotonic clock (a few, should the wall clock be slewed).
    assert!(started.elapsed() >= Duration::from_millis(2000 - 5));
    assert!(
        path.exists(),
        "the cooldown ended by its time, with its file still there"
    );
    assert!(!cooldown.is_active());
}

#[test]
fn a_garbled_marker_does_not_stop_the_work() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    if let Some(path) = std::env::var_os(CONSUMER) {
        return consume(path);
    }
    let path = directory("garbled").join("queue.cooldown");
    std::fs::write(&path, "2099-01-01T00:00:00Z\n").unwrap(); // some other writer's format
    let printed = consumer_process("a_garbled_marker_does_not_stop_the_work", &path);
    assert!(printed.contains("active at start: false"), "{printed}");
    assert!(
        printed.contains("working; unreadable markers seen: 1"),
        "{printed}"
    );

    let cooldown = CooldownFile::open(&path).unwrap();
    assert!(!cooldown.is_active());
    assert_eq!(cooldown.unreadable(), 1, "an unreadable marker is counted");
    // A marker written over the garbled one works again.
    cooldown.start(Duration::from_secs(60)).unwrap();
    assert!(cooldown.is_active());
    assert_eq!(cooldown.unreadable(), 1);
}

#[test]
fn a_truncated_marker_is_expired_not_active_forever() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let dir = directory("truncated");
    let path = dir.join("queue.cooldown");
    let cooldown = CooldownFile::open(&path).unwrap();
    cooldown.start(Duration::from_secs(3600)).unwrap();
    let whole = std::fs::read(&path).unwrap();
    for cut in 0..whole.len() {
        std::fs::write(&path, &whole[..cut]).unwrap();
        assert!(
            !cooldown.is_active(),
            "a marker cut at byte {cut} read as active"
        );
    }
    std::fs::write(&path, &whole).unwrap();
    assert!(cooldown.is_active());
}

#[test]
fn the_marker_is_replaced_atomically() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let dir = directory("atomic");
    let path = dir.join("queue.cooldown");
    let writer = CooldownFile::open(&path).unwrap();
    let reader = CooldownFile::open(&path).unwrap();
    writer.start(Duration::from_secs(3600)).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for round in 0..500 {
                let length = Duration::from_secs(3600 + round);
                writer.start(length).unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        // Every read during the rewrites sees a whole marker: active, never unreadable.
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            assert!(reader.is_active());
        }
    });
    assert_eq!(reader.unreadable(), 0);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
}

#[test]
fn ending_the_cooldown_ends_it_for_every_reader() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = directory("end").join("queue.cooldown");
    let (one, other) = (
        CooldownFile::open(&path).unwrap(),
        CooldownFile::open(&path).unwrap(),
    );
    assert_eq!(other.remaining(), None, "no marker: not active");
    one.start(Duration::from_secs(60)).unwrap();
    let left = other.remaining().unwrap();
    assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
    one.end().unwrap();
    assert!(!other.is_active());
}

#[test]
fn a_marker_in_a_missing_directory_is_a_typed_error() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let path = directory("missing")
        .join("no-such-dir")
        .join("queue.cooldown");
    let error = CooldownFile::open(&path).unwrap_err();
    assert!(
        matches!(&error, MarkerError::MissingDirectory { directory, .. } if directory.ends_with("no-such-dir")),
        "{error:?}"
    );
    assert!(error.to_string().contains("create the directory first"));
}

#[test]
fn the_in_process_cooldown_ends_by_itself() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cooldown = Cooldown::new();
    assert!(!cooldown.is_active());
    cooldown.start(Duration::from_millis(30));
    assert!(cooldown.is_active());
    std::thread::sleep(cooldown.remaining().unwrap());
    assert!(!cooldown.is_active(), "nobody ended it: its time did");
    cooldown.start(Duration::from_secs(60));
    cooldown.end();
    assert_eq!(cooldown.remaining(), None);
}
