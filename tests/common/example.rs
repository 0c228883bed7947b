//! The examples that tests run, built by the test itself (through `cargo build --example`),
//! never a binary an earlier build left in `target/`: `cargo test` does not rebuild examples
//! for a single `--test`, and a stale binary proves nothing about the code under test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The features this test was built with: the example is built with the same, so that the
/// build reuses what `cargo test` compiled instead of resolving another feature set.
fn feature_args() -> Vec<String> {
    let enabled: Vec<&str> = [
        ("sqlite", cfg!(feature = "sqlite")),
        ("postgres", cfg!(feature = "postgres")),
        ("serde", cfg!(feature = "serde")),
        ("tokio", cfg!(feature = "tokio")),
        ("testing", cfg!(feature = "testing")),
        ("tracing", cfg!(feature = "tracing")),
        ("process", cfg!(feature = "process")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if enabled.len() == 7 {
        return vec!["--workspace".to_owned(), "--all-features".to_owned()];
    }
    vec![
        "--no-default-features".to_owned(),
        "--features".to_owned(),
        enabled.join(","),
    ]
}

/// Builds example `name` now (a no-op when it is up to date) and returns its executable.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(built, _)| built == name) {
        return path.clone();
    }
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--example",
            name,
        ])
        .args(feature_args())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable for example {name}"));
    built.push((name.to_owned(), path.clone()));
    path
}
