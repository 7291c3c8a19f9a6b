//! `Builder::buckets` replaces the default bucket bounds of every
//! histogram; `Builder::family_buckets` sets them for one family, built-in
//! or custom.

use crate::common;

use std::time::{Duration, Instant};

use common::Page;
use instrument_runtime::{model_op, timed, Builder};

fn scrape() -> Page {
    let metrics = common::install_once(|| {
        Builder::new()
            .buckets(&[0.005, 0.5])
            .family_buckets("db_execute_latency_seconds", &[0.001, 0.01, 0.1, 1.0])
            .family_buckets("render_seconds", &[0.02, 0.04, 0.08])
    });
    Page::parse(&metrics.render())
}

fn bounds(page: &Page, family: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    page.buckets(family, labels)
        .into_iter()
        .map(|(le, _)| le)
        .collect()
}

#[timed]
fn work(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[model_op(model = "row", op = select)]
fn query(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[timed(name = "render_seconds", labels(template = template))]
fn render(template: &str, ms: u64) {
    let _ = template;
    std::thread::sleep(Duration::from_millis(ms));
}

/// Run `f`, returning how long it took from outside.
fn outer(f: impl FnOnce()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64()
}

/// The cumulative bucket counts of one sample of at least `min` seconds
/// and at most `max` seconds: 0 below `min`, 1 from `max` on.
#[track_caller]
fn assert_one_sample(buckets: &[(f64, u64)], min: f64, max: f64) {
    for &(le, n) in buckets {
        if le < common::lower(min) {
            assert_eq!(n, 0, "le={le}: {buckets:?}");
        }
        if le >= common::upper(max) {
            assert_eq!(n, 1, "le={le}: {buckets:?}");
        }
    }
}

#[test]
fn default_bounds_are_replaced_for_every_histogram() {
    common::isolated(|| {
        scrape();
        let took = outer(|| work(10));
        let page = scrape();
        let labels = [
            ("function", "work"),
            ("module", "configured::settings_buckets"),
        ];
        let family = "function_calls_duration_seconds";
        assert_eq!(bounds(&page, family, &labels), [0.005, 0.5, f64::INFINITY]);
        assert_one_sample(&page.buckets(family, &labels), 0.010, took);
        assert_eq!(page.bucket(family, &labels, 0.005), 0);
    });
}

#[test]
fn family_bounds_for_a_builtin_family() {
    common::isolated(|| {
        scrape();
        let took = outer(|| query(20));
        let page = scrape();
        let db = [("alias", "default"), ("vendor", "unknown")];
        let family = "db_execute_latency_seconds";
        assert_eq!(
            bounds(&page, family, &db),
            [0.001, 0.01, 0.1, 1.0, f64::INFINITY]
        );
        assert_one_sample(&page.buckets(family, &db), 0.020, took);
        assert_eq!(page.bucket(family, &db, 0.01), 0);
    });
}

#[test]
fn family_bounds_for_a_custom_family() {
    common::isolated(|| {
        scrape();
        let took = outer(|| render("index.html", 50));
        render("tiny.html", 0);
        let page = scrape();
        let index = [("template", "index.html")];
        assert_eq!(
            bounds(&page, "render_seconds", &index),
            [0.02, 0.04, 0.08, f64::INFINITY]
        );
        assert_one_sample(&page.buckets("render_seconds", &index), 0.050, took);
        assert_eq!(page.bucket("render_seconds", &index, 0.04), 0);
        let tiny = [("template", "tiny.html")];
        assert_eq!(page.histogram("render_seconds", &tiny).0, 1);
        assert_eq!(page.bucket("render_seconds", &tiny, f64::INFINITY), 1);
    });
}
