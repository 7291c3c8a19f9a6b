//! A layer built and serving before `install()` records nothing until then
//! (it still answers a panic with 500), and counts every request after.

use crate::common;
use crate::http_layer_support;

use axum::routing::get;
use axum::Router;
use common::scrape;
use http_layer_support::{get as http_get, serve};
use instrument_runtime::HttpMetricsLayer;

async fn boom() -> &'static str {
    panic!("handler panicked")
}

#[test]
fn requests_before_install_are_not_recorded_and_later_ones_are() {
    common::isolated(|| {
        let addr = serve(
            Router::new()
                .route("/early", get(|| async { "early" }))
                .route("/boom", get(boom))
                .layer(HttpMetricsLayer::new()),
        );
        assert!(instrument_runtime::installed().is_none());
        assert_eq!(http_get(addr, "/early").status, 200);
        assert_eq!(http_get(addr, "/early").status, 200);
        assert_eq!(http_get(addr, "/boom").status, 500);

        let page = scrape(); // installs
        for family in [
            "http_requests_total",
            "http_responses_total_by_status",
            "http_exceptions_total",
        ] {
            assert!(
                page.series(family).is_empty(),
                "{family}: nothing recorded before install:\n{}",
                page.text
            );
        }
        assert!(page
            .series("http_requests_latency_seconds_count")
            .is_empty());

        assert_eq!(http_get(addr, "/early").status, 200);
        assert_eq!(http_get(addr, "/boom").status, 500);
        let page = scrape();
        let labels = [("method", "GET"), ("view", "/early")];
        assert_eq!(page.count("http_requests_total", &labels), 1);
        assert_eq!(
            page.count(
                "http_responses_total_by_status",
                &[("status", "200"), ("method", "GET"), ("view", "/early")]
            ),
            1
        );
        assert_eq!(
            page.histogram("http_requests_latency_seconds", &labels).0,
            1
        );
        assert_eq!(
            page.count(
                "http_exceptions_total",
                &[("type", "panic"), ("view", "/boom")]
            ),
            1
        );
    });
}
