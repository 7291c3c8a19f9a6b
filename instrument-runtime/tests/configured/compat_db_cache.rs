//! The django-prometheus profile's database and cache families: recorded by
//! `#[model_op]`, `#[cache_lookup]` and the `db` connection hooks, under the
//! package's names, next to the catalogue's families.

use crate::common;

use instrument_runtime::{cache_lookup, model_op, Builder};

fn page() -> common::Page {
    let metrics = common::install_once(|| {
        Builder::new()
            .namespace("django")
            .db_vendor("sqlite")
            .django_compat(true)
    });
    common::Page::parse(&metrics.render())
}

const DB: [(&str, &str); 2] = [("alias", "default"), ("vendor", "sqlite")];

#[model_op(model = "item", op = insert)]
fn insert_item(fail: bool) -> Result<(), String> {
    if fail {
        Err("constraint".into())
    } else {
        Ok(())
    }
}

#[model_op(model = "item", op = select, alias = "replica", vendor = "postgresql")]
fn select_item() -> Option<u32> {
    Some(1)
}

#[test]
fn every_execution_is_one_query_duration_observation() {
    common::isolated(|| {
        let before = page();
        assert_eq!(
            before.histogram("django_db_query_duration_seconds", &DB),
            (0, 0.0)
        );
        assert_eq!(before.get("django_db_new_connections_total", &DB), 0.0);
        assert_eq!(
            before.get("django_db_new_connection_errors_total", &DB),
            0.0
        );

        insert_item(false).unwrap();
        insert_item(true).unwrap_err();
        insert_item(false).unwrap();
        select_item();

        let page = page();
        assert_eq!(page.get("django_db_execute_total", &DB), 3.0);
        assert_eq!(page.histogram("django_db_query_duration_seconds", &DB).0, 3);
        assert_eq!(
            page.histogram("django_db_execute_latency_seconds", &DB).0,
            3
        );
        let replica = [("alias", "replica"), ("vendor", "postgresql")];
        assert_eq!(
            page.histogram("django_db_query_duration_seconds", &replica)
                .0,
            1
        );
        assert_eq!(
            page.get("django_model_inserts_total", &[("model", "item")]),
            2.0
        );
        let buckets: Vec<f64> = page
            .buckets("django_db_query_duration_seconds", &DB)
            .into_iter()
            .map(|(le, _)| le)
            .collect();
        assert_eq!(
            buckets,
            [
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.25,
                0.5,
                0.75,
                1.0,
                2.5,
                5.0,
                7.5,
                10.0,
                25.0,
                50.0,
                75.0,
                f64::INFINITY
            ]
        );
    });
}

#[test]
fn connection_hooks_count_per_database() {
    common::isolated(|| {
        page();
        instrument_runtime::db::connection_opened_on("hooks", "mysql");
        instrument_runtime::db::connection_opened_on("hooks", "mysql");
        instrument_runtime::db::connection_failed_on("hooks", "mysql");
        let page = page();
        let hooks = [("alias", "hooks"), ("vendor", "mysql")];
        assert_eq!(page.get("django_db_new_connections_total", &hooks), 2.0);
        assert_eq!(
            page.get("django_db_new_connection_errors_total", &hooks),
            1.0
        );
    });
}

struct Cache;

impl Cache {
    #[cache_lookup(backend = "locmem")]
    fn get(&self, key: u32) -> Option<u32> {
        (key % 2 == 0).then_some(key)
    }

    #[cache_lookup(backend = "redis")]
    fn get_or_fail(&self, key: u32) -> Result<Option<u32>, String> {
        match key {
            0 => Err("connection refused".into()),
            1 => Ok(None),
            key => Ok(Some(key)),
        }
    }
}

#[test]
fn cache_gets_hits_misses_and_failures() {
    common::isolated(|| {
        let before = page();
        for family in ["get", "get_hits", "get_misses", "get_fail"] {
            let name = format!("django_cache_{family}_total");
            assert_eq!(before.get(&name, &[("backend", "locmem")]), 0.0, "{name}");
        }
        let cache = Cache;
        cache.get(2);
        cache.get(3);
        cache.get(5);
        cache.get_or_fail(0).unwrap_err();
        cache.get_or_fail(1).unwrap();
        cache.get_or_fail(4).unwrap();
        cache.get_or_fail(6).unwrap();

        let page = page();
        let locmem = [("backend", "locmem")];
        assert_eq!(page.get("django_cache_get_total", &locmem), 3.0);
        assert_eq!(page.get("django_cache_get_hits_total", &locmem), 1.0);
        assert_eq!(page.get("django_cache_get_misses_total", &locmem), 2.0);
        assert_eq!(page.get("django_cache_get_fail_total", &locmem), 0.0);
        assert_eq!(page.get("django_cache_hits_total", &locmem), 1.0);
        assert_eq!(page.get("django_cache_misses_total", &locmem), 2.0);
        let redis = [("backend", "redis")];
        assert_eq!(page.get("django_cache_get_total", &redis), 4.0);
        assert_eq!(page.get("django_cache_get_hits_total", &redis), 2.0);
        assert_eq!(page.get("django_cache_get_misses_total", &redis), 1.0);
        assert_eq!(page.get("django_cache_get_fail_total", &redis), 1.0);
    });
}

#[test]
fn every_package_family_is_listed_with_help_and_type() {
    common::isolated(|| {
        let page = page();
        for (family, kind) in [
            ("django_db_execute_many_total", "counter"),
            (
                "django_http_responses_total_by_templatename_total",
                "counter",
            ),
            ("django_http_exceptions_total_by_type_total", "counter"),
            (
                "django_http_requests_latency_seconds_by_view_method",
                "histogram",
            ),
        ] {
            assert_eq!(
                page.types.get(family).map(String::as_str),
                Some(kind),
                "{family}"
            );
            assert!(page.help.contains_key(family), "HELP of {family}");
        }
        // The unlabelled HTTP series exist at 0 from install(), with no layer
        // built in this program.
        for counter in [
            "django_http_requests_before_middlewares_total",
            "django_http_responses_before_middlewares_total",
            "django_http_requests_unknown_latency_total",
            "django_http_ajax_requests_total",
            "django_http_responses_streaming_total",
        ] {
            assert_eq!(page.get(counter, &[]), 0.0, "{counter}");
        }
        assert_eq!(
            page.histogram(
                "django_http_requests_latency_including_middlewares_seconds",
                &[]
            ),
            (0, 0.0)
        );
    });
}

#[model_op(model = "bulk_item", op = insert, alias = "bulk", many = rows.len())]
fn insert_rows(rows: Vec<u32>) -> Result<usize, String> {
    if rows.contains(&0) {
        return Err("zero".into());
    }
    Ok(rows.len())
}

#[test]
fn a_bulk_execution_counts_every_statement() {
    common::isolated(|| {
        let bulk = [("alias", "bulk"), ("vendor", "sqlite")];
        assert_eq!(page().get("django_db_execute_many_total", &bulk), 0.0);
        assert_eq!(insert_rows(vec![1, 2, 3]), Ok(3));
        insert_rows(vec![4, 0]).unwrap_err();
        let page = page();
        assert_eq!(page.get("django_db_execute_total", &bulk), 5.0);
        assert_eq!(page.get("django_db_execute_many_total", &bulk), 5.0);
        assert_eq!(
            page.histogram("django_db_query_duration_seconds", &bulk).0,
            2
        );
        assert_eq!(
            page.get("django_model_inserts_total", &[("model", "bulk_item")]),
            3.0
        );
        let error = [
            ("alias", "bulk"),
            ("vendor", "sqlite"),
            ("type", "alloc::string::String"),
        ];
        assert_eq!(page.get("django_db_errors_total", &error), 1.0);
    });
}
