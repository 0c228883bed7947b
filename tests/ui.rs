//! The trybuild driver: every rejection fixpoint promises, and every pattern it must accept.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/terminal_state/*.rs");
    cases.pass("ui-tests/pass/*.rs");
}
