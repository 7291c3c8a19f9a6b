//! `install()` refuses objectives it cannot measure, naming the objective,
//! where it is attached and why, and installs nothing: a route that is not
//! `"METHOD /path"`, a latency threshold that is not a bucket boundary of
//! the family, a success target on a function without `#[counted]`. (One
//! binary of its own: its call site's objective is wrong on purpose, and
//! every `install()` of a binary sees every call site.)

use std::time::Duration;

use instrument_runtime::{timed, Builder, Error, Objective};

/// Both targets, but only `#[timed]` on the function.
const BOTH: Objective = Objective::new("both")
    .success(99.9)
    .latency(Duration::from_millis(250), 99.0);

#[timed(objective = BOTH)]
fn only_timed() {}

/// Sorts before `both`, so its error is the first found.
const A_ROUTE: Objective = Objective::new("a-route").latency(Duration::from_millis(500), 99.0);

#[track_caller]
fn objective_error(builder: Builder) -> (&'static str, String, String) {
    match builder.install() {
        Err(Error::Objective {
            objective,
            target,
            reason,
        }) => (objective, target, reason),
        other => panic!("expected an objective error, got {other:?}"),
    }
}

#[test]
fn objectives_that_cannot_be_measured_are_install_errors() {
    only_timed();

    let (objective, target, reason) =
        objective_error(Builder::new().http_objective("get /users", A_ROUTE));
    assert_eq!(
        (objective, target.as_str()),
        ("a-route", "route get /users")
    );
    assert!(reason.contains(r#"as in "GET /users/{id}""#), "{reason}");

    let (_, _, reason) = objective_error(Builder::new().http_objective("users", A_ROUTE));
    assert!(
        reason.contains(r#"a route is "METHOD /path" or "/path""#),
        "{reason}"
    );

    // The request latency buckets without 0.5: the boundaries around it.
    let (objective, target, reason) = objective_error(
        Builder::new()
            .namespace("shop")
            .family_buckets("http_requests_latency_seconds", &[0.1, 0.3, 1.0])
            .http_objective("GET /users", A_ROUTE),
    );
    assert_eq!(
        (objective, target.as_str()),
        ("a-route", "route GET /users")
    );
    assert_eq!(
        reason,
        "the latency threshold 0.5 s is not a bucket boundary of shop_http_requests_latency_seconds: it lies between 0.3 and 1"
    );

    let error = Builder::new().install().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "objective `both` (function {}::only_timed): its success target is measured by #[counted]: \
             add #[counted(objective = ..)] to the function",
            module_path!()
        )
    );

    // Nothing was installed by any of them.
    assert!(instrument_runtime::installed().is_none());
}
