//! `HttpMetricsLayer` with the django-prometheus profile and namespace
//! `django`: the package's HTTP families, with its names, HELP texts,
//! types, label names and buckets, and exact values for known traffic
//! (modelled on the traffic of the reference exposition).
//!
//! One test: the profile's unlabelled counters are shared by every request
//! of this binary, so the traffic runs in one sequence.

use crate::common;
use crate::http_layer_support;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use axum::body::{Body, Bytes};
use axum::http::{header, Request, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use common::Page;
use http_layer_support::{serve, Client};
use instrument_runtime::{metrics_router, Builder, HttpMetricsLayer, DEFAULT_BUCKETS};
use tower_service::Service;

fn metrics() -> &'static instrument_runtime::Metrics {
    common::install_once(|| Builder::new().namespace("django").django_compat(true))
}

fn render() -> Page {
    Page::parse(&metrics().render())
}

/// The package's HTTP families as its 2.5.0 exposition shows them: name,
/// type, HELP, label names (besides `le`).
const FAMILIES: &[(&str, &str, &str, &[&str])] = &[
    ("django_http_requests_before_middlewares_total", "counter", "Total count of requests before middlewares run.", &[]),
    ("django_http_responses_before_middlewares_total", "counter", "Total count of responses before middlewares run.", &[]),
    ("django_http_requests_latency_including_middlewares_seconds", "histogram", "Histogram of requests processing time (including middleware processing time).", &[]),
    ("django_http_requests_unknown_latency_including_middlewares_total", "counter", "Count of requests for which the latency was unknown (when computing django_http_requests_latency_including_middlewares_seconds).", &[]),
    ("django_http_requests_latency_seconds_by_view_method", "histogram", "Histogram of request processing time labelled by view.", &["method", "view"]),
    ("django_http_requests_unknown_latency_total", "counter", "Count of requests for which the latency was unknown.", &[]),
    ("django_http_ajax_requests_total", "counter", "Count of AJAX requests.", &[]),
    ("django_http_requests_total_by_method_total", "counter", "Count of requests by method.", &["method"]),
    ("django_http_requests_total_by_transport_total", "counter", "Count of requests by transport.", &["transport"]),
    ("django_http_requests_total_by_view_transport_method_total", "counter", "Count of requests by view, transport, method.", &["method", "transport", "view"]),
    ("django_http_requests_body_total_bytes", "histogram", "Histogram of requests by body size.", &[]),
    ("django_http_responses_total_by_status_total", "counter", "Count of responses by status.", &["status"]),
    ("django_http_responses_total_by_status_view_method_total", "counter", "Count of responses by status, view, method.", &["method", "status", "view"]),
    ("django_http_responses_body_total_bytes", "histogram", "Histogram of responses by body size.", &[]),
    ("django_http_responses_total_by_charset_total", "counter", "Count of responses by charset.", &["charset"]),
    ("django_http_responses_streaming_total", "counter", "Count of streaming responses.", &[]),
    ("django_http_exceptions_total_by_type_total", "counter", "Count of exceptions by object type.", &["type"]),
    ("django_http_exceptions_total_by_view_total", "counter", "Count of exceptions by view.", &["view"]),
];

/// The families that hold a single unlabelled series.
const UNLABELLED_COUNTERS: [&str; 6] = [
    "django_http_requests_before_middlewares_total",
    "django_http_responses_before_middlewares_total",
    "django_http_requests_unknown_latency_including_middlewares_total",
    "django_http_requests_unknown_latency_total",
    "django_http_ajax_requests_total",
    "django_http_responses_streaming_total",
];
const UNLABELLED_HISTOGRAMS: [&str; 3] = [
    "django_http_requests_latency_including_middlewares_seconds",
    "django_http_requests_body_total_bytes",
    "django_http_responses_body_total_bytes",
];

async fn boom() -> &'static str {
    panic!("view raised")
}

/// A body of unknown length: a streaming response.
struct Chunks(Vec<&'static str>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let chunk = self.get_mut().0.pop();
        Poll::Ready(
            chunk.map(|chunk| Ok(http_body::Frame::data(Bytes::from_static(chunk.as_bytes())))),
        )
    }
}

#[derive(Debug)]
struct BackendDown;

/// A service outside axum that fails.
#[derive(Clone)]
struct Failing;

impl Service<Request<()>> for Failing {
    type Response = Response<String>;
    type Error = BackendDown;
    type Future = std::future::Ready<Result<Response<String>, BackendDown>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BackendDown>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Err(BackendDown))
    }
}

fn fail_once() {
    let mut service = tower_layer::Layer::layer(&HttpMetricsLayer::new(), Failing);
    let request = Request::builder()
        .method("DELETE")
        .uri("/gone")
        .body(())
        .unwrap();
    let mut future = pin!(service.call(request));
    let output = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(matches!(output, Poll::Ready(Err(BackendDown))));
}

fn count(page: &Page, name: &str, labels: &[(&str, &str)]) -> u64 {
    page.count(name, labels)
}

#[test]
fn the_profile_records_the_package_families_exactly() {
    common::isolated(|| {
        metrics();
        let layer = HttpMetricsLayer::new();

        // Built after install: the unlabelled families exist at 0 already.
        let page = render();
        for name in UNLABELLED_COUNTERS {
            assert_eq!(count(&page, name, &[]), 0, "{name}");
        }
        for name in UNLABELLED_HISTOGRAMS {
            assert_eq!(page.histogram(name, &[]), (0, 0.0), "{name}");
        }

        let app = Router::new()
            .route("/ok/", get(|| async { "ok" }).post(|| async { "ok" }))
            .route("/boom/", get(boom))
            .route(
                "/err/",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") }),
            )
            .route(
                "/latin/",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; Charset=ISO-8859-1")],
                        vec![b'c', b'a', b'f', 0xe9],
                    )
                }),
            )
            .route(
                "/stream/",
                get(|| async { Body::new(Chunks(vec!["b", "a"])) }),
            )
            .merge(metrics_router())
            .layer(layer);
        let addr = serve(app);
        let mut client = Client::connect(addr);
        assert_eq!(client.get("/ok/").status, 200);
        assert_eq!(client.get("/ok/").status, 200);
        assert_eq!(client.get("/boom/").status, 500);
        assert_eq!(client.get("/err/").status, 503);
        assert_eq!(client.get("/nope/").status, 404);
        assert_eq!(
            client.request("POST", "/ok/", &[], "name=rex&age=3").status,
            200
        );
        let latin = client.get("/latin/");
        assert_eq!((latin.status, latin.body.len()), (200, 4));
        let stream = client.get("/stream/");
        assert_eq!(
            stream.headers.get("transfer-encoding").map(String::as_str),
            Some("chunked")
        );
        assert_eq!(stream.body, b"ab");
        let headers = [
            ("X-Requested-With", "XMLHttpRequest"),
            ("X-Forwarded-Proto", "https"),
        ];
        assert_eq!(client.request("GET", "/ok/", &headers, "").status, 200);
        fail_once();
        // The scrape: counted on arrival, so on its own page, as the package's
        // own view is; its response is not.
        let scrape = client.get("/metrics/");
        assert_eq!(scrape.status, 200);
        let page = Page::parse(std::str::from_utf8(&scrape.body).unwrap());

        // Names, types, HELP and label names are the package's.
        for (name, kind, help, labels) in FAMILIES {
            assert_eq!(
                page.types.get(*name).map(String::as_str),
                Some(*kind),
                "TYPE of {name}"
            );
            assert_eq!(
                page.help.get(*name).map(String::as_str),
                Some(*help),
                "HELP of {name}"
            );
            let sample = if *kind == "histogram" {
                format!("{name}_count")
            } else {
                (*name).to_owned()
            };
            let expected: BTreeSet<&str> = labels.iter().copied().collect();
            let series = page.series(&sample);
            assert!(!series.is_empty(), "no series of {name}");
            for labels in series {
                let names: BTreeSet<&str> = labels.keys().map(String::as_str).collect();
                assert_eq!(names, expected, "label names of {name}");
            }
        }
        // Rust has no template responses: the family is listed (HELP and TYPE,
        // as the package lists it before its first template response) and
        // never has a series.
        let templatename = "django_http_responses_total_by_templatename_total";
        assert_eq!(page.types[templatename], "counter");
        assert_eq!(
            page.help[templatename],
            "Count of responses by template name."
        );
        assert!(page.series(templatename).is_empty());

        // Requests: 9 through the router, 1 to the failing service, the scrape.
        assert_eq!(
            count(&page, "django_http_requests_before_middlewares_total", &[]),
            11
        );
        assert_eq!(
            count(&page, "django_http_responses_before_middlewares_total", &[]),
            9
        );
        assert_eq!(
            page.histogram(
                "django_http_requests_latency_including_middlewares_seconds",
                &[]
            )
            .0,
            9
        );
        assert_eq!(
            count(
                &page,
                "django_http_requests_unknown_latency_including_middlewares_total",
                &[]
            ),
            0
        );
        assert_eq!(
            count(&page, "django_http_requests_unknown_latency_total", &[]),
            0
        );
        assert_eq!(count(&page, "django_http_ajax_requests_total", &[]), 1);
        let by_method = "django_http_requests_total_by_method_total";
        assert_eq!(count(&page, by_method, &[("method", "GET")]), 9);
        assert_eq!(count(&page, by_method, &[("method", "POST")]), 1);
        assert_eq!(count(&page, by_method, &[("method", "DELETE")]), 1);
        assert_eq!(page.series(by_method).len(), 3);
        let by_transport = "django_http_requests_total_by_transport_total";
        assert_eq!(count(&page, by_transport, &[("transport", "http")]), 10);
        assert_eq!(count(&page, by_transport, &[("transport", "https")]), 1);

        // Only requests that matched a route, the scrape under the package's
        // name for its view.
        let by_view = "django_http_requests_total_by_view_transport_method_total";
        let expected = [
            ("/ok/", "http", "GET", 2),
            ("/ok/", "https", "GET", 1),
            ("/ok/", "http", "POST", 1),
            ("/boom/", "http", "GET", 1),
            ("/err/", "http", "GET", 1),
            ("/latin/", "http", "GET", 1),
            ("/stream/", "http", "GET", 1),
            ("prometheus-django-metrics", "http", "GET", 1),
        ];
        for (view, transport, method, n) in expected {
            let labels = [("view", view), ("transport", transport), ("method", method)];
            assert_eq!(count(&page, by_view, &labels), n, "{labels:?}");
        }
        assert_eq!(page.series(by_view).len(), expected.len());

        let body = "django_http_requests_body_total_bytes";
        assert_eq!(page.histogram(body, &[]), (11, 14.0));
        assert_eq!(page.bucket(body, &[], 0.0), 10);
        assert_eq!(page.bucket(body, &[], 8.0), 10);
        assert_eq!(page.bucket(body, &[], 16.0), 11);
        let mut bytes_bounds = vec![0.0];
        bytes_bounds.extend((0..30).map(|i| f64::from(1u32 << i)));
        bytes_bounds.push(f64::INFINITY);
        for family in [body, "django_http_responses_body_total_bytes"] {
            let bounds: Vec<f64> = page
                .buckets(family, &[])
                .into_iter()
                .map(|(b, _)| b)
                .collect();
            assert_eq!(bounds, bytes_bounds, "{family}");
        }

        // Responses.
        let by_status = "django_http_responses_total_by_status_total";
        for (status, n) in [("200", 6), ("500", 1), ("503", 1), ("404", 1)] {
            assert_eq!(
                count(&page, by_status, &[("status", status)]),
                n,
                "{status}"
            );
        }
        assert_eq!(page.series(by_status).len(), 4);
        let by_svm = "django_http_responses_total_by_status_view_method_total";
        let expected = [
            ("200", "/ok/", "GET", 3),
            ("200", "/ok/", "POST", 1),
            ("500", "/boom/", "GET", 1),
            ("503", "/err/", "GET", 1),
            ("404", "<unnamed view>", "GET", 1),
            ("200", "/latin/", "GET", 1),
            ("200", "/stream/", "GET", 1),
        ];
        for (status, view, method, n) in expected {
            let labels = [("status", status), ("view", view), ("method", method)];
            assert_eq!(count(&page, by_svm, &labels), n, "{labels:?}");
        }
        assert_eq!(page.series(by_svm).len(), expected.len());
        let charset = "django_http_responses_total_by_charset_total";
        assert_eq!(count(&page, charset, &[("charset", "utf-8")]), 8);
        assert_eq!(count(&page, charset, &[("charset", "iso-8859-1")]), 1);
        assert_eq!(page.series(charset).len(), 2);
        assert_eq!(
            count(&page, "django_http_responses_streaming_total", &[]),
            1
        );
        // Every response but the streaming one: "ok" x4, the empty 500 and
        // 404, "unavailable", and the 4 bytes of /latin/.
        let response_body = "django_http_responses_body_total_bytes";
        assert_eq!(page.histogram(response_body, &[]), (8, 23.0));
        assert_eq!(page.bucket(response_body, &[], 0.0), 2);
        assert_eq!(page.bucket(response_body, &[], 2.0), 6);
        assert_eq!(page.bucket(response_body, &[], 4.0), 7);
        assert_eq!(page.bucket(response_body, &[], 16.0), 8);

        // Exceptions: the panic and the failing service's error.
        let by_type = "django_http_exceptions_total_by_type_total";
        assert_eq!(count(&page, by_type, &[("type", "panic")]), 1);
        assert_eq!(
            count(
                &page,
                by_type,
                &[("type", "configured::http_layer_django::BackendDown")]
            ),
            1
        );
        assert_eq!(page.series(by_type).len(), 2);
        let by_view_exc = "django_http_exceptions_total_by_view_total";
        assert_eq!(count(&page, by_view_exc, &[("view", "/boom/")]), 1);
        assert_eq!(count(&page, by_view_exc, &[("view", "<unnamed view>")]), 1);

        // Latency by view and method: once per response, once more for a view
        // that panicked (as for a Django view that raised), once for an error.
        let latency = "django_http_requests_latency_seconds_by_view_method";
        let expected = [
            ("/ok/", "GET", 3),
            ("/ok/", "POST", 1),
            ("/boom/", "GET", 2),
            ("/err/", "GET", 1),
            ("<unnamed view>", "GET", 1),
            ("<unnamed view>", "DELETE", 1),
            ("/latin/", "GET", 1),
            ("/stream/", "GET", 1),
        ];
        for (view, method, n) in expected {
            let labels = [("view", view), ("method", method)];
            assert_eq!(page.histogram(latency, &labels).0, n, "{labels:?}");
            let bounds: Vec<f64> = page
                .buckets(latency, &labels)
                .into_iter()
                .map(|(b, _)| b)
                .collect();
            assert_eq!(bounds[..bounds.len() - 1], *DEFAULT_BUCKETS);
        }
        // The scrape in flight has no observation yet, hence no series.
        assert_eq!(
            page.series(&format!("{latency}_count")).len(),
            expected.len()
        );

        // The profile adds to the namespaced SPEC families; it replaces nothing.
        let get_ok = [("method", "GET"), ("view", "/ok/")];
        assert_eq!(count(&page, "django_http_requests_total", &get_ok), 3);
        assert_eq!(
            count(
                &page,
                "django_http_responses_total_by_status",
                &[("status", "500"), ("method", "GET"), ("view", "/boom/")]
            ),
            1
        );
        assert_eq!(
            page.histogram(
                "django_http_requests_latency_seconds",
                &[("method", "GET"), ("view", "/boom/")]
            )
            .0,
            1
        );
        assert_eq!(
            count(
                &page,
                "django_http_exceptions_total",
                &[("type", "panic"), ("view", "/boom/")]
            ),
            1
        );
        assert_eq!(
            count(
                &page,
                "django_http_requests_total",
                &[("method", "GET"), ("view", "<unmatched>")]
            ),
            1
        );

        // After the scrape's own response.
        let page = render();
        assert_eq!(
            count(&page, "django_http_responses_before_middlewares_total", &[]),
            10
        );
        assert_eq!(
            page.histogram(
                latency,
                &[("view", "prometheus-django-metrics"), ("method", "GET")]
            )
            .0,
            1
        );
    });
}
