//! Guards fixpoint does not wrap (tokio's, std's) are held to the same rule by clippy, with
//! the configuration the README gives: this runs clippy on `tests/clippy-foreign-guards`,
//! a crate holding each kind across an `.await`, and checks that each is rejected, with the
//! configured reason, and that a guard released before the wait is not.

use std::path::PathBuf;
use std::process::Command;

fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<test>
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    target.join("clippy-foreign-guards")
}

#[test]
fn clippy_rejects_foreign_guards_held_across_an_await() {
    let _limit = crate::common::time_limit(crate::common::TEST_LIMIT);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "clippy",
            "--locked",
            "--quiet",
            "--",
            "-D",
            "clippy::await_holding_invalid_type",
        ])
        .args(["-D", "clippy::await_holding_lock"])
        .current_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clippy-foreign-guards"
        ))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo clippy runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "clippy accepted held guards:\n{stderr}"
    );
    let flagged = |line: u32| stderr.contains(&format!("src/lib.rs:{line}:"));
    assert!(
        stderr
            .contains("holding a disallowed type across an await point `tokio::sync::MutexGuard`")
            && stderr
                .contains("release tokio's mutex before awaiting, or use fixpoint::lock::Mutex"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`tokio::sync::SemaphorePermit`")
            && stderr.contains("release the permit before awaiting"),
        "{stderr}"
    );
    assert!(
        stderr.contains("this `MutexGuard` is held across an await point"),
        "{stderr}"
    );
    assert!(flagged(7) && flagged(14) && flagged(20), "{stderr}");
    assert!(
        !flagged(27),
        "a guard released before the wait is fine:\n{stderr}"
    );
    assert_eq!(stderr.matches("error: ").count() - 1, 3, "{stderr}");
}
