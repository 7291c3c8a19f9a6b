//! `Builder::namespace`: prefixes every built-in family, never a family a
//! macro names itself; `family_buckets` names built-ins without the
//! namespace.

use crate::common;

use common::Page;
use instrument_runtime::{cache_lookup, counted, model_op, timed, Builder};

fn scrape() -> Page {
    let metrics = common::install_once(|| {
        Builder::new()
            .namespace("django")
            .family_buckets("db_execute_latency_seconds", &[0.001, 0.01])
    });
    Page::parse(&metrics.render())
}

#[counted]
#[timed]
fn handler(fail: bool) -> Result<(), String> {
    if fail {
        Err("failed".to_owned())
    } else {
        Ok(())
    }
}

#[model_op(model = "user", op = insert)]
fn insert_user() {}

#[cache_lookup(backend = "redis")]
fn lookup(hit: bool) -> Option<()> {
    hit.then_some(())
}

#[counted(name = "api_requests_total", labels(endpoint = "users"))]
#[timed(name = "api_request_latency_seconds", labels(endpoint = "users"))]
fn api() {}

#[test]
fn builtin_families_are_prefixed() {
    common::isolated(|| {
        scrape();
        assert!(handler(false).is_ok());
        assert!(handler(true).is_err());
        insert_user();
        lookup(true);
        lookup(false);
        lookup(false);
        let page = scrape();

        let calls = |result| {
            page.count(
                "django_function_calls_total",
                &[
                    ("function", "handler"),
                    ("module", "configured::settings_namespace"),
                    ("result", result),
                ],
            )
        };
        assert_eq!((calls("ok"), calls("error"), calls("panic")), (1, 1, 0));
        let timed = [
            ("function", "handler"),
            ("module", "configured::settings_namespace"),
        ];
        assert_eq!(
            page.histogram("django_function_calls_duration_seconds", &timed)
                .0,
            2
        );
        let db = [("alias", "default"), ("vendor", "unknown")];
        assert_eq!(page.count("django_db_execute_total", &db), 1);
        assert_eq!(
            page.histogram("django_db_execute_latency_seconds", &db).0,
            1
        );
        assert_eq!(
            page.count("django_model_inserts_total", &[("model", "user")]),
            1
        );
        assert_eq!(
            page.count("django_model_updates_total", &[("model", "user")]),
            0
        );
        assert_eq!(
            page.count("django_model_deletes_total", &[("model", "user")]),
            0
        );
        assert_eq!(
            page.count("django_cache_hits_total", &[("backend", "redis")]),
            1
        );
        assert_eq!(
            page.count("django_cache_misses_total", &[("backend", "redis")]),
            2
        );

        for family in [
            "function_calls_total",
            "function_calls_duration_seconds",
            "db_execute_total",
            "db_execute_latency_seconds",
            "model_inserts_total",
            "model_updates_total",
            "model_deletes_total",
            "cache_hits_total",
            "cache_misses_total",
        ] {
            let prefixed = format!("django_{family}");
            assert!(!page.has_family(family), "{family} is not prefixed");
            assert!(page.types.contains_key(&prefixed), "no TYPE for {prefixed}");
            assert!(page.help.contains_key(&prefixed), "no HELP for {prefixed}");
        }
    });
}

#[test]
fn custom_families_are_used_as_written() {
    common::isolated(|| {
        scrape();
        api();
        let page = scrape();
        assert_eq!(
            page.count("api_requests_total", &[("endpoint", "users")]),
            1
        );
        assert_eq!(
            page.histogram("api_request_latency_seconds", &[("endpoint", "users")])
                .0,
            1
        );
        assert!(!page.has_family("django_api_requests_total"));
        assert!(!page.has_family("django_api_request_latency_seconds"));
    });
}

#[test]
fn family_buckets_name_builtins_without_the_namespace() {
    common::isolated(|| {
        let page = scrape();
        let db = [("alias", "default"), ("vendor", "unknown")];
        let bounds: Vec<f64> = page
            .buckets("django_db_execute_latency_seconds", &db)
            .into_iter()
            .map(|(le, _)| le)
            .collect();
        assert_eq!(bounds, [0.001, 0.01, f64::INFINITY]);
        // Other histograms keep the default buckets.
        let timed = [
            ("function", "handler"),
            ("module", "configured::settings_namespace"),
        ];
        assert_eq!(
            page.buckets("django_function_calls_duration_seconds", &timed)
                .len(),
            instrument_runtime::DEFAULT_BUCKETS.len() + 1
        );
    });
}
