//! Compile-pass and compile-fail cases for the attribute macros.
//!
//! Regenerate the expected compiler output with
//! `TRYBUILD=overwrite cargo test -p ui-tests --test ui`, then read every
//! changed `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
