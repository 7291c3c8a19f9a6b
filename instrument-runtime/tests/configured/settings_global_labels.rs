//! `Builder::global_label`: every series carries the global labels, once
//! each; a label of the series itself wins over a global one.

use crate::common;

use common::Page;
use instrument_runtime::{cache_lookup, counted, model_op, timed, Builder};

fn scrape() -> Page {
    let metrics = common::install_once(|| {
        Builder::new()
            .global_label("service", "billing")
            .global_label("region", "us")
            // Set again: the last value wins, and the label is there once.
            .global_label("region", "eu")
    });
    Page::parse(&metrics.render())
}

#[counted]
#[timed]
fn charge(cents: u64) -> Result<u64, String> {
    if cents == 0 {
        return Err("nothing to charge".to_owned());
    }
    Ok(cents)
}

#[model_op(model = "invoice", op = insert)]
fn insert_invoice() {}

#[cache_lookup(backend = "redis")]
fn lookup() -> Option<u8> {
    Some(1)
}

#[counted(name = "tenant_calls_total", labels(service = "tenant-api", tenant = tenant))]
#[timed(name = "tenant_call_seconds", labels(service = "tenant-api"))]
fn tenant_call(tenant: &str) {
    let _ = tenant;
}

#[counted]
#[timed]
fn ping() {}

const GLOBAL: [(&str, &str); 2] = [("service", "billing"), ("region", "eu")];

/// `pairs` plus the global labels.
fn with_global<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = pairs.to_vec();
    all.extend(GLOBAL);
    all
}

#[test]
fn counters_and_histograms_carry_the_global_labels() {
    common::isolated(|| {
        scrape();
        assert_eq!(charge(5), Ok(5));
        assert!(charge(0).is_err());
        insert_invoice();
        lookup();
        let page = scrape();
        let calls = |result| {
            page.count(
                "function_calls_total",
                &with_global(&[
                    ("function", "charge"),
                    ("module", "configured::settings_global_labels"),
                    ("result", result),
                ]),
            )
        };
        assert_eq!((calls("ok"), calls("error")), (1, 1));
        let timed = with_global(&[
            ("function", "charge"),
            ("module", "configured::settings_global_labels"),
        ]);
        assert_eq!(
            page.histogram("function_calls_duration_seconds", &timed).0,
            2
        );
        assert_eq!(
            page.bucket("function_calls_duration_seconds", &timed, f64::INFINITY),
            2
        );
        let db = with_global(&[("alias", "default"), ("vendor", "unknown")]);
        assert_eq!(page.count("db_execute_total", &db), 1);
        assert_eq!(page.histogram("db_execute_latency_seconds", &db).0, 1);
        assert_eq!(
            page.count("model_inserts_total", &with_global(&[("model", "invoice")])),
            1
        );
        assert_eq!(
            page.count("cache_hits_total", &with_global(&[("backend", "redis")])),
            1
        );
    });
}

#[test]
fn every_series_has_each_global_label_once() {
    common::isolated(|| {
        scrape();
        ping();
        let page = scrape();
        assert!(!page.samples.is_empty());
        // Page::parse rejects a label that appears twice in one series.
        for sample in &page.samples {
            if sample.name.starts_with("tenant_") {
                continue;
            }
            for (name, value) in GLOBAL {
                assert_eq!(
                    sample.labels.get(name).map(String::as_str),
                    Some(value),
                    "{} {:?}",
                    sample.name,
                    sample.labels
                );
            }
        }
    });
}

#[test]
fn series_label_wins_over_a_global_label_of_the_same_name() {
    common::isolated(|| {
        scrape();
        tenant_call("acme");
        let page = scrape();
        assert_eq!(
            page.count(
                "tenant_calls_total",
                &[
                    ("service", "tenant-api"),
                    ("tenant", "acme"),
                    ("region", "eu")
                ]
            ),
            1
        );
        assert_eq!(
            page.histogram(
                "tenant_call_seconds",
                &[("service", "tenant-api"), ("region", "eu")]
            )
            .0,
            1
        );
    });
}
