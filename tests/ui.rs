//! The trybuild driver: every rejection fixpoint promises, and every pattern it must accept.
//!
//! The `.stderr` files quote rustc 1.95.0 (pinned in `rust-toolchain.toml`); re-bless with
//! `TRYBUILD=overwrite` only after reading every changed file. The README's test command runs
//! with `--all-features`, which the `serde` cases need.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/terminal_state/*.rs");
    cases.compile_fail("ui-tests/lock_scope/*.rs");
    cases.compile_fail("ui-tests/invariant/*.rs");
    cases.compile_fail("ui-tests/pubsub/*.rs");
    cases.compile_fail("ui-tests/supervisor/*.rs");
    cases.compile_fail("ui-tests/uptime/*.rs");
    cases.pass("ui-tests/pass/*.rs");
    if cfg!(feature = "serde") {
        cases.pass("ui-tests/pass/serde/*.rs");
    }
}
