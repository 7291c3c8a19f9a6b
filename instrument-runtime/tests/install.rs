//! `install()`: once per process (a second call is an error, not a panic),
//! and right after it every family an annotated function declares has HELP
//! and TYPE and its statically known series at 0, before any call.

mod common;

use std::collections::BTreeSet;

use common::{family_of, scrape};
use instrument_runtime::{cache_lookup, counted, model_op, timed, Builder, Error};

// None of these is ever called: their series exist because install()
// registered their call sites.
#[allow(dead_code)]
mod never_called {
    use super::*;

    #[counted]
    pub(crate) fn idle_counted() -> Result<(), String> {
        Ok(())
    }

    #[timed]
    pub(crate) fn idle_timed() {}

    #[model_op(model = "idle", op = delete, alias = "idle", vendor = "sqlite")]
    pub(crate) fn idle_delete() {}

    #[cache_lookup(backend = "idle")]
    pub(crate) fn idle_lookup() -> Option<u8> {
        None
    }

    #[counted(
        name = "idle_custom_total",
        help = "A custom family nobody calls.",
        labels(kind = "static")
    )]
    #[timed(name = "idle_custom_seconds", help = "Its durations.")]
    pub(crate) fn idle_custom() {}

    #[counted(name = "idle_dynamic_total", labels(user = user))]
    pub(crate) fn idle_dynamic(user: &str) {
        let _ = user;
    }
}

#[counted]
fn after_second_install() -> u8 {
    7
}

#[test]
fn second_install_is_an_error_not_a_panic() {
    let metrics = common::metrics();
    let again = instrument_runtime::install();
    assert!(matches!(again, Err(Error::AlreadyInstalled)), "{again:?}");
    let with_settings = Builder::new()
        .namespace("other")
        .global_label("service", "x")
        .install();
    assert!(
        matches!(with_settings, Err(Error::AlreadyInstalled)),
        "{with_settings:?}"
    );
    assert_eq!(
        Error::AlreadyInstalled.to_string(),
        "a metrics recorder is already installed: call install() once, at start-up, \
         or attach() to the recorder another crate installed"
    );

    // The first install keeps working, with its settings.
    assert_eq!(after_second_install(), 7);
    let page = common::Page::parse(&metrics.render());
    assert_eq!(
        page.count(
            "function_calls_total",
            &[
                ("function", "after_second_install"),
                ("module", "install"),
                ("result", "ok")
            ]
        ),
        1
    );
    assert!(!page.has_family("other_function_calls_total"));
}

#[test]
fn families_have_help_type_and_zero_series_before_any_call() {
    common::metrics();
    let page = scrape();
    let m = "install::never_called";

    for result in ["ok", "error", "panic"] {
        let labels = [
            ("function", "idle_counted"),
            ("module", m),
            ("result", result),
        ];
        assert_eq!(page.count("function_calls_total", &labels), 0, "{result}");
    }
    // Cancellation is only possible for futures; its series appears with
    // the first cancelled call.
    assert_eq!(
        page.value(
            "function_calls_total",
            &[
                ("function", "idle_counted"),
                ("module", m),
                ("result", "cancelled")
            ]
        ),
        None
    );
    let timed = [("function", "idle_timed"), ("module", m)];
    assert_eq!(
        page.histogram("function_calls_duration_seconds", &timed),
        (0, 0.0)
    );
    assert!(page
        .buckets("function_calls_duration_seconds", &timed)
        .iter()
        .all(|&(_, n)| n == 0));

    let db = [("alias", "idle"), ("vendor", "sqlite")];
    assert_eq!(page.count("db_execute_total", &db), 0);
    assert_eq!(page.histogram("db_execute_latency_seconds", &db), (0, 0.0));
    for family in [
        "model_inserts_total",
        "model_updates_total",
        "model_deletes_total",
    ] {
        assert_eq!(page.count(family, &[("model", "idle")]), 0, "{family}");
    }
    assert_eq!(page.count("cache_hits_total", &[("backend", "idle")]), 0);
    assert_eq!(page.count("cache_misses_total", &[("backend", "idle")]), 0);

    assert_eq!(page.count("idle_custom_total", &[("kind", "static")]), 0);
    assert_eq!(page.histogram("idle_custom_seconds", &[]), (0, 0.0));
    // Labels computed from arguments have no series until a call.
    assert!(page.series("idle_dynamic_total").is_empty());

    let expected = [
        (
            "function_calls_total",
            "counter",
            "Calls of functions annotated with #[counted], by outcome.",
        ),
        (
            "function_calls_duration_seconds",
            "histogram",
            "Duration of calls of functions annotated with #[timed], in seconds.",
        ),
        (
            "db_execute_total",
            "counter",
            "Database executions, failed ones included.",
        ),
        (
            "db_execute_latency_seconds",
            "histogram",
            "Database execution latency in seconds.",
        ),
        (
            "model_inserts_total",
            "counter",
            "Model insert operations that succeeded.",
        ),
        (
            "model_updates_total",
            "counter",
            "Model update operations that succeeded.",
        ),
        (
            "model_deletes_total",
            "counter",
            "Model delete operations that succeeded.",
        ),
        (
            "cache_hits_total",
            "counter",
            "Cache lookups that found a value.",
        ),
        (
            "cache_misses_total",
            "counter",
            "Cache lookups that found no value.",
        ),
        (
            "idle_custom_total",
            "counter",
            "A custom family nobody calls.",
        ),
        ("idle_custom_seconds", "histogram", "Its durations."),
    ];
    for (family, kind, help) in expected {
        assert_eq!(
            page.types.get(family).map(String::as_str),
            Some(kind),
            "TYPE of {family}"
        );
        assert_eq!(
            page.help.get(family).map(String::as_str),
            Some(help),
            "HELP of {family}"
        );
    }
}

#[test]
fn page_is_well_formed() {
    common::metrics();
    let page = scrape();
    assert!(!page.samples.is_empty());
    let mut seen = BTreeSet::new();
    for sample in &page.samples {
        let family = family_of(&sample.name);
        assert!(
            page.types.contains_key(family),
            "no TYPE for {}",
            sample.name
        );
        assert!(
            page.help.contains_key(family),
            "no HELP for {}",
            sample.name
        );
        assert!(
            seen.insert((sample.name.clone(), sample.labels.clone())),
            "series {} {:?} is on the page twice:\n{}",
            sample.name,
            sample.labels,
            page.text
        );
    }
    // Every family with HELP and TYPE has at least one series, except the
    // ones whose label values come only from calls (an error's type): those
    // are listed with HELP and TYPE alone, as prometheus_client lists them.
    let empty: Vec<&str> = page
        .types
        .keys()
        .map(String::as_str)
        .filter(|family| !page.samples.iter().any(|s| family_of(&s.name) == *family))
        .collect();
    assert_eq!(
        empty,
        ["db_errors_total", "idle_dynamic_total"],
        "{}",
        page.text
    );
}

#[test]
fn installed_returns_the_same_metrics() {
    let metrics = common::metrics();
    let again = instrument_runtime::installed().expect("installed");
    #[counted]
    fn seen_by_both() {}
    seen_by_both();
    let labels = [
        ("function", "seen_by_both"),
        ("module", "install"),
        ("result", "ok"),
    ];
    let first = common::Page::parse(&metrics.render());
    let second = common::Page::parse(&again.render());
    assert_eq!(first.count("function_calls_total", &labels), 1);
    assert_eq!(second.count("function_calls_total", &labels), 1);
    assert_eq!(format!("{again:?}"), "Metrics { .. }");
}

#[test]
fn without_the_django_profile_none_of_its_families_appear() {
    let page = scrape();
    for family in [
        "db_query_duration_seconds",
        "db_new_connections_total",
        "db_new_connection_errors_total",
        "db_execute_many_total",
        "cache_get_total",
        "cache_get_hits_total",
        "cache_get_misses_total",
        "cache_get_fail_total",
        "http_requests_latency_seconds_by_view_method",
        "http_responses_total_by_status_view_method_total",
        "http_requests_before_middlewares_total",
    ] {
        assert!(
            !page.has_family(family),
            "{family} on the page:\n{}",
            page.text
        );
    }
    instrument_runtime::db::connection_opened();
    assert!(!scrape().has_family("db_new_connections_total"));
}
