//! The OpenMetrics page: valid by the strict parser in `openmetrics/`, with
//! every family of the runtime (the django-prometheus profile on, build
//! info, the HTTP layer, the four macros, the facade's own calls), the same
//! series as the text page; and `/metrics/` choosing the format from the
//! scraper's `Accept`.

use std::collections::BTreeSet;

use axum::routing::get;
use axum::Router;
use instrument_runtime::{
    cache_lookup, counted, metrics_router, model_op, timed, BuildInfo, Builder, HttpMetricsLayer,
    CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE,
};

use crate::common;
use crate::http_layer_support::{serve, Client};
use crate::openmetrics;
use crate::text_format;

#[counted]
#[timed]
fn checkout() -> Result<(), String> {
    Err("declined".to_owned())
}

#[model_op(model = "order", op = insert)]
fn insert_order() -> Result<(), std::io::Error> {
    Ok(())
}

#[cache_lookup(backend = "sessions")]
fn session(key: u32) -> Option<u32> {
    (key % 2 == 0).then_some(key)
}

/// Everything the runtime records, once each, and a server with the
/// layer and `/metrics/`.
fn record_everything() -> std::net::SocketAddr {
    let _ = checkout();
    let _ = insert_order();
    session(2);
    session(3);
    metrics::describe_counter!("jobs_done", "Jobs \"done\", with a \\ and\na newline.");
    metrics::counter!("jobs_done", "queue" => "a \"quoted\"\nvalue").increment(4);
    metrics::counter!("retries_total").increment(2);
    metrics::gauge!("queue_depth").set(2.5);
    metrics::histogram!("payload_bytes").record(1_500.0);
    let app = Router::new()
        .route("/orders/{id}", get(|| async { "order" }))
        .merge(metrics_router())
        .layer(HttpMetricsLayer::new());
    let addr = serve(app);
    let mut client = Client::connect(addr);
    assert_eq!(client.get("/orders/7").status, 200);
    assert_eq!(client.get("/missing").status, 404);
    addr
}

/// A sample as both formats name it: the bound as a number.
type Series = (String, Vec<(String, String)>, u64);

fn text_series(page: &str) -> BTreeSet<Series> {
    let page = text_format::parse(page).unwrap_or_else(|why| panic!("{why}\n{page}"));
    page.families
        .iter()
        .flat_map(|family| &family.samples)
        .map(|s| series(&s.name, &s.labels, s.value, text_format::parse_value))
        .collect()
}

fn openmetrics_series(page: &str) -> BTreeSet<Series> {
    let page = openmetrics::parse(page).unwrap_or_else(|why| panic!("{why}\n{page}"));
    page.samples()
        .map(|s| series(&s.name, &s.labels, s.value, openmetrics::parse_number))
        .collect()
}

fn series(
    name: &str,
    labels: &[(String, String)],
    value: f64,
    number: fn(&str) -> Result<f64, String>,
) -> Series {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(key, value)| match key.as_str() {
            "le" => (key.clone(), number(value).expect("a bound").to_string()),
            _ => (key.clone(), value.clone()),
        })
        .collect();
    labels.sort();
    (name.to_owned(), labels, value.to_bits())
}

#[test]
fn every_family_is_valid_openmetrics_with_the_series_of_the_text_page() {
    common::isolated(|| {
        let metrics = Builder::new()
            .django_compat(true)
            .build_info(BuildInfo::new("shop", "1.2.3").commit("abc123"))
            .install()
            .expect("installed");
        record_everything();
        let (text, open) = (
            metrics.render(),
            metrics.render_openmetrics().expect("this crate's store"),
        );
        // Sampled one after the other: nothing records in between.
        assert_eq!(text_series(&text), openmetrics_series(&open));

        let page = openmetrics::parse(&open).expect("valid");
        let kind = |name: &str| {
            let family = page
                .family(name)
                .unwrap_or_else(|| panic!("{name}\n{open}"));
            family.kind.clone()
        };
        // Counters are families without `_total`; those whose name does not
        // end in it keep their name as `unknown`.
        assert_eq!(kind("function_calls"), "counter");
        assert_eq!(kind("retries"), "counter");
        assert_eq!(kind("http_responses_total_by_status"), "unknown");
        assert_eq!(kind("jobs_done"), "unknown");
        // django-prometheus's `http_responses_total_by_status_total` would
        // be the family `http_responses_total_by_status`, the name of the
        // layer's own family: it is `unknown` too, under its own name.
        assert_eq!(kind("http_responses_total_by_status_total"), "unknown");
        assert_eq!(kind("http_requests_total_by_method"), "counter");
        assert_eq!(kind("function_calls_duration_seconds"), "histogram");
        assert_eq!(kind("build_info"), "gauge");
        assert_eq!(kind("queue_depth"), "gauge");
        assert_eq!(
            page.value("jobs_done", &[("queue", "a \"quoted\"\nvalue")]),
            Some(4.0)
        );
        assert_eq!(
            page.family("jobs_done")
                .and_then(|f| f.help.clone())
                .as_deref(),
            Some("Jobs \"done\", with a \\ and\na newline.")
        );
        // The bounds as canonical numbers; the text page keeps its own.
        assert!(open.contains(r#"http_requests_latency_seconds_by_view_method_bucket{view="/orders/{id}",method="GET",le="1.0"} 1"#), "{open}");
        assert!(text.contains(r#"http_requests_latency_seconds_by_view_method_bucket{view="/orders/{id}",method="GET",le="1"} 1"#), "{text}");
        assert!(open.contains("payload_bytes_bucket{le=\"+Inf\"} 1\n"));
        assert!(open.ends_with("\n# EOF\n") && !open.contains("\n\n"));
    });
}

#[test]
fn the_page_follows_the_scrapers_accept_header() {
    common::isolated(|| {
        let _ = Builder::new().install().expect("installed");
        let addr = record_everything();
        let mut client = Client::connect(addr);
        let prometheus = "application/openmetrics-text;version=1.0.0,\
                          application/openmetrics-text;version=0.0.1;q=0.75,\
                          text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let cases: [(Option<&str>, &str); 10] = [
            (None, CONTENT_TYPE),
            (Some(prometheus), OPENMETRICS_CONTENT_TYPE),
            (Some("text/plain;version=0.0.4"), CONTENT_TYPE),
            (
                Some("application/openmetrics-text"),
                OPENMETRICS_CONTENT_TYPE,
            ),
            (
                Some("application/openmetrics-text; version=0.0.1"),
                OPENMETRICS_CONTENT_TYPE,
            ),
            (Some("*/*"), CONTENT_TYPE),
            (
                Some("application/openmetrics-text;version=1.0.0;q=0.4, text/plain;q=0.9"),
                CONTENT_TYPE,
            ),
            (
                Some("application/openmetrics-text;version=2.0.0"),
                CONTENT_TYPE,
            ),
            (
                Some("application/openmetrics-text;q=0, text/plain"),
                CONTENT_TYPE,
            ),
            (
                Some("text/html, nonsense;;, application/openmetrics-text"),
                OPENMETRICS_CONTENT_TYPE,
            ),
        ];
        for (accept, content_type) in cases {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
            let reply = client.request("GET", "/metrics/", &headers, "");
            assert_eq!(reply.status, 200, "{accept:?}");
            assert_eq!(reply.headers["content-type"], content_type, "{accept:?}");
            assert_eq!(reply.headers["vary"], "accept", "{accept:?}");
            let body = String::from_utf8(reply.body).expect("UTF-8");
            if content_type == OPENMETRICS_CONTENT_TYPE {
                openmetrics::parse(&body).unwrap_or_else(|why| panic!("{accept:?}: {why}"));
            } else {
                text_format::parse(&body).unwrap_or_else(|why| panic!("{accept:?}: {why}"));
                assert!(!body.contains("# EOF"));
            }
        }
    });
}
