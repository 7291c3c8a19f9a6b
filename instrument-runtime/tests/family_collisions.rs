//! Call sites whose families would collide on the page make `install()`
//! fail, naming both families and where each is declared; nothing is
//! installed. (A binary of its own: every call site of a binary takes part
//! in its `install()`.)

use instrument_runtime::{counted, timed, Builder, Error};

#[timed(name = "probe_hist")]
fn histogram() {}

#[counted(name = "probe_hist_count")]
fn its_count() {}

#[timed(name = "latency_seconds")]
fn latency() {}

#[timed(name = "latency_seconds_bucket")]
fn its_buckets() {}

#[counted(name = "dual")]
fn dual_counter() {}

#[timed(name = "dual")]
fn dual_histogram() {}

#[counted(name = "function_calls_duration_seconds_sum")]
fn against_a_builtin() {}

// Two sites sharing one family of one type: no collision.
#[counted(name = "shared_total", labels(kind = "a"))]
fn shared_a() {}

#[counted(name = "shared_total", labels(kind = "b"))]
fn shared_b() {}

/// `file:line` of the line of this file that holds `needle`.
fn location(needle: &str) -> String {
    let source = include_str!("family_collisions.rs");
    let line = source
        .lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle} is in this file"));
    format!("instrument-runtime/tests/family_collisions.rs:{}", line + 1)
}

#[test]
fn colliding_families_are_an_install_error_naming_both_sites() {
    let error = Builder::new().install().expect_err("the families collide");
    let Error::FamilyCollision { collisions } = &error else {
        panic!("{error:?}");
    };
    let expected = [
        format!(
            "the histogram `probe_hist` of #[timed] at {} and the counter `probe_hist_count` of #[counted] at {}: `probe_hist_count` is also a sample of the histogram `probe_hist` (probe_hist_count)",
            location(r#"name = "probe_hist")"#),
            location(r#"name = "probe_hist_count""#),
        ),
        format!(
            "the histogram `latency_seconds` of #[timed] at {} and the histogram `latency_seconds_bucket` of #[timed] at {}: `latency_seconds_bucket` is also a sample of the histogram `latency_seconds` (latency_seconds_bucket)",
            location(r#"name = "latency_seconds")"#),
            location(r#"name = "latency_seconds_bucket""#),
        ),
        format!(
            "the counter `dual` of #[counted] at {} and the histogram `dual` of #[timed] at {}: one name, two types",
            location(r#"#[counted(name = "dual")]"#),
            location(r#"#[timed(name = "dual")]"#),
        ),
        "the built-in histogram `function_calls_duration_seconds` and the counter `function_calls_duration_seconds_sum` of #[counted] at ".to_owned()
            + &location(r#"name = "function_calls_duration_seconds_sum""#)
            + ": `function_calls_duration_seconds_sum` is also a sample of the histogram `function_calls_duration_seconds` (function_calls_duration_seconds_sum)",
    ];
    let mut found = collisions.clone();
    found.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(found, expected);
    let message = error.to_string();
    assert!(
        message.starts_with("families would collide on the page"),
        "{message}"
    );
    assert!(!message.contains("shared_total"), "{message}");

    // Nothing is installed, with the namespace either.
    assert!(instrument_runtime::installed().is_none());
    let namespaced = Builder::new().namespace("app").install();
    assert!(
        matches!(namespaced, Err(Error::FamilyCollision { .. })),
        "{namespaced:?}"
    );
    assert!(instrument_runtime::installed().is_none());
    // The functions still run as written.
    histogram();
    its_count();
    latency();
    its_buckets();
    dual_counter();
    dual_histogram();
    against_a_builtin();
    shared_a();
    shared_b();
}
