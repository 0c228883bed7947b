//! The trybuild driver: every rejection fixpoint promises, and every pattern it must accept.
//!
//! The `.stderr` files quote rustc 1.95.0 (pinned in `rust-toolchain.toml`); re-bless with
//! `TRYBUILD=overwrite` only after reading every changed file. The README's test command runs
//! with `--all-features`, which the `serde` cases need.
//!
//! Two environment variables serve `.ci/mutants` (a mutant of the macros costs the whole suite,
//! 100 s here, when it changes the expansion of a few cases at most):
//! - `FIXPOINT_UI_RECORD=FILE`: run every case, and write each case's expansion digest to FILE;
//! - `FIXPOINT_UI_CHANGED_SINCE=FILE`: run only the cases whose expansion differs from FILE's
//!   (see `expansion.rs` for why the others cannot change outcome).
//!
//! Without them, every case runs.

// The macro crate's own modules, compiled here by path (as the fuzz targets do), so that this
// driver can expand every case in-process. Only the three attributes' `expand` is used.
#[allow(dead_code, unused_imports)]
#[path = "../../fixpoint-macros/src/ctxt.rs"]
mod ctxt;
#[allow(dead_code, unused_imports)]
#[path = "../../fixpoint-macros/src/invariant/mod.rs"]
mod invariant;
#[allow(dead_code, unused_imports)]
#[path = "../../fixpoint-macros/src/lock_scope/mod.rs"]
mod lock_scope;
#[allow(dead_code, unused_imports)]
#[path = "../../fixpoint-macros/src/names.rs"]
mod names;
#[allow(dead_code, unused_imports)]
#[path = "../../fixpoint-macros/src/private.rs"]
mod private;
#[allow(dead_code, unused_imports)]
#[path = "../../fixpoint-macros/src/terminal_state/mod.rs"]
mod terminal_state;

extern crate proc_macro;

mod expansion;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every case directory, and whether its cases must compile.
fn case_dirs() -> Vec<(&'static str, bool)> {
    let mut dirs = vec![
        ("ui-tests/terminal_state", false),
        ("ui-tests/lock_scope", false),
        ("ui-tests/invariant", false),
        ("ui-tests/pubsub", false),
        ("ui-tests/supervisor", false),
        ("ui-tests/uptime", false),
        ("ui-tests/pass", true),
    ];
    if cfg!(feature = "serde") {
        dirs.push(("ui-tests/pass/serde", true));
    }
    dirs
}

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    let recorded = env_path("FIXPOINT_UI_CHANGED_SINCE");
    let Some(recorded) = recorded else {
        for (dir, pass) in case_dirs() {
            let glob = format!("{dir}/*.rs");
            if pass {
                cases.pass(glob)
            } else {
                cases.compile_fail(glob)
            }
        }
        if let Some(record) = env_path("FIXPOINT_UI_RECORD") {
            let digests = digests();
            let text: String = digests
                .iter()
                .map(|(case, digest)| format!("{case} {digest}\n"))
                .collect();
            std::fs::write(&record, text).expect("FIXPOINT_UI_RECORD names a writable file");
        }
        return;
    };
    let before = std::fs::read_to_string(&recorded).unwrap_or_else(|error| {
        panic!("FIXPOINT_UI_CHANGED_SINCE={}: {error}", recorded.display())
    });
    let before: BTreeMap<&str, &str> = before
        .lines()
        .filter_map(|line| line.split_once(' '))
        .collect();
    let now = digests();
    let mut changed = 0;
    for (dir, pass) in case_dirs() {
        for case in case_files(dir) {
            let digest = now.get(&case).map(String::as_str);
            if digest != Some(expansion::ALWAYS) && before.get(case.as_str()).copied() == digest {
                continue;
            }
            changed += 1;
            if pass {
                cases.pass(&case)
            } else {
                cases.compile_fail(&case)
            }
        }
    }
    eprintln!(
        "ui: {changed} of {} cases run: those that expand differently from {}, and those \
         this driver cannot expand as the compiler does",
        now.len(),
        recorded.display()
    );
}

/// The path an environment variable names; unset and empty are the same.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// The `.rs` files of a case directory, sorted.
fn case_files(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|error| panic!("{dir}: {error}"))
        .map(|entry| entry.expect("a readable case directory").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "rs"))
        .map(|path| format!("{dir}/{}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    files
}

/// Every case's expansion digest, by case path.
fn digests() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    case_dirs()
        .into_iter()
        .flat_map(|(dir, _)| case_files(dir))
        .map(|case| {
            let text = std::fs::read_to_string(root.join(&case)).expect("a readable case");
            let digest = expansion::digest(text);
            (case, digest)
        })
        .collect()
}
