//! `HttpMetricsLayer` on real axum servers over TCP, default settings: the
//! four HTTP families, exact values per (status, method, view).
//!
//! The tests of this binary share one recorder; each serves routes of its
//! own, so the series it reads back are its own. Only `<unmatched>` is
//! shared, and only `unmatched_paths_are_one_view` sends GETs there.

use crate::common;
use crate::http_layer_support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::routing::{any, get, post};
use axum::Router;
use common::{scrape, Page};
use http_layer_support::{eventually, get as http_get, request, serve, Client};
use instrument_runtime::{metrics_router, HttpMetricsLayer, DEFAULT_BUCKETS};
use tower_service::Service;

const REQUESTS: &str = "http_requests_total";
const RESPONSES: &str = "http_responses_total_by_status";
const LATENCY: &str = "http_requests_latency_seconds";
const EXCEPTIONS: &str = "http_exceptions_total";

fn requests(page: &Page, method: &str, view: &str) -> Option<f64> {
    page.value(REQUESTS, &[("method", method), ("view", view)])
}

fn responses(page: &Page, status: &str, method: &str, view: &str) -> Option<f64> {
    page.value(
        RESPONSES,
        &[("status", status), ("method", method), ("view", view)],
    )
}

fn latency(page: &Page, method: &str, view: &str) -> (u64, f64) {
    page.histogram(LATENCY, &[("method", method), ("view", view)])
}

fn exceptions(page: &Page, kind: &str, view: &str) -> Option<f64> {
    page.value(EXCEPTIONS, &[("type", kind), ("view", view)])
}

/// Every `view` label value of the HTTP families on the page.
fn views(page: &Page) -> Vec<String> {
    let mut views: Vec<String> = page
        .samples
        .iter()
        .filter(|s| s.name.starts_with("http_"))
        .filter_map(|s| s.labels.get("view").cloned())
        .collect();
    views.sort();
    views.dedup();
    views
}

fn app(router: Router) -> std::net::SocketAddr {
    common::metrics();
    serve(router.layer(HttpMetricsLayer::new()))
}

#[test]
fn statuses_methods_and_views_are_counted_exactly() {
    let addr = app(Router::new()
        .route("/s/ok", get(|| async { "ok" }))
        .route(
            "/s/items",
            post(|| async { (StatusCode::CREATED, "created") }),
        )
        .route(
            "/s/items/{id}",
            get(|| async { (StatusCode::NOT_FOUND, "no such item") }),
        )
        .route(
            "/s/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        ));
    let mut client = Client::connect(addr);
    assert_eq!(client.get("/s/ok").status, 200);
    assert_eq!(client.get("/s/ok").status, 200);
    assert_eq!(client.request("POST", "/s/items", &[], "{}").status, 201);
    assert_eq!(client.get("/s/items/1").status, 404);
    assert_eq!(client.get("/s/items/2").status, 404);
    assert_eq!(client.get("/s/items/3").status, 404);
    assert_eq!(client.get("/s/down").status, 503);
    let page = scrape();

    let expected = [
        ("GET", "/s/ok", "200", 2),
        ("POST", "/s/items", "201", 1),
        ("GET", "/s/items/{id}", "404", 3),
        ("GET", "/s/down", "503", 1),
    ];
    for (method, view, status, count) in expected {
        assert_eq!(
            requests(&page, method, view),
            Some(count as f64),
            "{method} {view}"
        );
        assert_eq!(
            responses(&page, status, method, view),
            Some(count as f64),
            "{method} {view}"
        );
        assert_eq!(latency(&page, method, view).0, count, "{method} {view}");
        assert_eq!(
            exceptions(&page, "panic", view),
            None,
            "{method} {view}: no exception series"
        );
    }
    // One status per route: no other status series for them.
    let statuses: Vec<_> = page
        .series(RESPONSES)
        .into_iter()
        .filter(|labels| labels["view"].starts_with("/s/"))
        .collect();
    assert_eq!(statuses.len(), 4, "{statuses:?}");

    // Buckets are django-prometheus's, as a real histogram.
    let bounds: Vec<f64> = page
        .buckets(LATENCY, &[("method", "GET"), ("view", "/s/ok")])
        .into_iter()
        .map(|(bound, _)| bound)
        .collect();
    let mut expected_bounds = DEFAULT_BUCKETS.to_vec();
    expected_bounds.push(f64::INFINITY);
    assert_eq!(bounds, expected_bounds);
    assert_eq!(page.types[REQUESTS], "counter");
    assert_eq!(page.types[RESPONSES], "counter");
    assert_eq!(page.types[LATENCY], "histogram");
    assert!(page.help.contains_key(REQUESTS), "HELP of {REQUESTS}");
    assert!(page.help.contains_key(RESPONSES), "HELP of {RESPONSES}");
    assert!(page.help.contains_key(LATENCY), "HELP of {LATENCY}");
}

#[test]
fn a_request_is_counted_when_it_arrives() {
    // The handler reads the page while its own request is in flight.
    let addr = app(Router::new().route(
        "/arrival",
        get(|| async {
            let page = scrape();
            format!(
                "{:?} {:?}",
                requests(&page, "GET", "/arrival"),
                responses(&page, "200", "GET", "/arrival")
            )
        }),
    ));
    let reply = http_get(addr, "/arrival");
    assert_eq!(String::from_utf8(reply.body).unwrap(), "Some(1.0) None");
    let page = scrape();
    assert_eq!(responses(&page, "200", "GET", "/arrival"), Some(1.0));
}

#[test]
fn latency_lasts_until_the_response_head_is_ready() {
    let addr = app(Router::new().route(
        "/sleepy",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(120)).await;
            "rested"
        }),
    ));
    let started = Instant::now();
    assert_eq!(http_get(addr, "/sleepy").status, 200);
    let outside = started.elapsed().as_secs_f64();
    let page = scrape();
    let (count, sum) = latency(&page, "GET", "/sleepy");
    assert_eq!(count, 1);
    common::assert_between(sum, 0.120, outside);
    let labels = [("method", "GET"), ("view", "/sleepy")];
    assert_eq!(page.bucket(LATENCY, &labels, 0.1), 0);
    assert_eq!(page.bucket(LATENCY, &labels, f64::INFINITY), 1);
}

async fn boom() -> &'static str {
    panic!("handler panicked")
}

/// A service whose `call` itself panics (not its future).
#[derive(Clone)]
struct PanicsInCall;

impl Service<Request<Body>> for PanicsInCall {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        panic!("call panicked")
    }
}

#[test]
fn a_panicking_handler_is_answered_500_counted_and_the_server_keeps_serving() {
    let addr = app(Router::new()
        .route("/p/boom", get(boom))
        .route("/p/ok", get(|| async { "fine" }))
        .route_service("/p/sync", PanicsInCall));
    let mut client = Client::connect(addr);
    let reply = client.get("/p/boom");
    assert_eq!(reply.status, 500);
    assert!(reply.body.is_empty());
    // The same connection still serves.
    assert_eq!(client.get("/p/ok").status, 200);
    assert_eq!(http_get(addr, "/p/boom").status, 500);
    assert_eq!(http_get(addr, "/p/sync").status, 500);
    assert_eq!(http_get(addr, "/p/ok").status, 200);

    let page = scrape();
    assert_eq!(exceptions(&page, "panic", "/p/boom"), Some(2.0));
    assert_eq!(exceptions(&page, "panic", "/p/sync"), Some(1.0));
    assert_eq!(exceptions(&page, "panic", "/p/ok"), None);
    assert_eq!(requests(&page, "GET", "/p/boom"), Some(2.0));
    assert_eq!(responses(&page, "500", "GET", "/p/boom"), Some(2.0));
    assert_eq!(responses(&page, "500", "GET", "/p/sync"), Some(1.0));
    assert_eq!(responses(&page, "200", "GET", "/p/ok"), Some(2.0));
    assert_eq!(latency(&page, "GET", "/p/boom").0, 2);
    assert_eq!(latency(&page, "GET", "/p/sync").0, 1);
    assert_eq!(page.types[EXCEPTIONS], "counter");
    assert!(page.help.contains_key(EXCEPTIONS));
}

#[test]
fn unmatched_paths_are_one_view() {
    // The default 404 fallback, and a fallback of the application's own.
    let addr = app(Router::new().route("/u/known", get(|| async { "known" })));
    let custom = app(Router::new()
        .route("/u/other", get(|| async { "other" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "nothing here") }));
    for path in ["/nowhere", "/nowhere/else/123", "/u/known/deeper"] {
        assert_eq!(http_get(addr, path).status, 404, "{path}");
    }
    for path in ["/u/missing", "/?q=1"] {
        assert_eq!(http_get(custom, path).status, 404, "{path}");
    }
    let page = scrape();
    assert_eq!(requests(&page, "GET", "<unmatched>"), Some(5.0));
    assert_eq!(responses(&page, "404", "GET", "<unmatched>"), Some(5.0));
    assert_eq!(latency(&page, "GET", "<unmatched>").0, 5);
    for view in views(&page) {
        assert!(
            view == "<unmatched>" || (view.starts_with('/') && !view.contains("nowhere")),
            "raw path as a view: {view:?}"
        );
    }
}

#[test]
fn nested_routers_report_the_full_template() {
    // The layer on the outer router, after nesting.
    let users = Router::new().route("/users/{id}", get(|| async { "user" }));
    let outer = app(Router::new().nest("/api", Router::new().nest("/v1", users)));
    // The layer on the inner router, before nesting.
    common::metrics();
    let items = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .layer(HttpMetricsLayer::new());
    let inner = serve(Router::new().nest("/shop", items));
    assert_eq!(http_get(outer, "/api/v1/users/7").status, 200);
    assert_eq!(http_get(outer, "/api/v1/users/8").status, 200);
    assert_eq!(http_get(inner, "/shop/items/9").status, 200);
    let page = scrape();
    assert_eq!(requests(&page, "GET", "/api/v1/users/{id}"), Some(2.0));
    assert_eq!(
        responses(&page, "200", "GET", "/api/v1/users/{id}"),
        Some(2.0)
    );
    assert_eq!(requests(&page, "GET", "/shop/items/{id}"), Some(1.0));
    assert_eq!(requests(&page, "GET", "/users/{id}"), None);
    assert_eq!(requests(&page, "GET", "/items/{id}"), None);
}

static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);
static SLOW_FINISHED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_client_that_disconnects_leaves_its_request_counted_and_timed() {
    let addr = app(Router::new().route(
        "/slow",
        get(|| async {
            SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(5)).await;
            SLOW_FINISHED.store(true, Ordering::SeqCst);
            "too late"
        }),
    ));
    let started = Instant::now();
    let mut client = Client::connect(addr);
    client.send("GET", "/slow", &[], "");
    eventually("the handler to start", || {
        SLOW_STARTED.load(Ordering::SeqCst) == 1
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(client);
    // The server notices the closed connection and drops the request.
    eventually("the duration of the dropped request", || {
        scrape()
            .value(
                &format!("{LATENCY}_count"),
                &[("method", "GET"), ("view", "/slow")],
            )
            .is_some_and(|count| count == 1.0)
    });
    let bound = started.elapsed().as_secs_f64();
    let page = scrape();
    assert_eq!(requests(&page, "GET", "/slow"), Some(1.0));
    let (count, sum) = latency(&page, "GET", "/slow");
    assert_eq!(count, 1);
    common::assert_between(sum, 0.05, bound);
    assert!(
        sum < 5.0,
        "recorded at the drop, not after the handler: {sum}"
    );
    assert!(
        !SLOW_FINISHED.load(Ordering::SeqCst),
        "the handler was dropped"
    );
    // No response, no exception: nothing else about it, and nothing left
    // in flight to record later.
    assert!(
        page.series(RESPONSES)
            .iter()
            .all(|labels| labels["view"] != "/slow"),
        "no response series for /slow"
    );
    assert_eq!(exceptions(&page, "panic", "/slow"), None);
    std::thread::sleep(Duration::from_millis(100));
    let later = scrape();
    assert_eq!(latency(&later, "GET", "/slow"), (count, sum));
    assert_eq!(requests(&later, "GET", "/slow"), Some(1.0));
}

#[test]
fn excluded_prefixes_and_the_metrics_endpoint() {
    common::metrics();
    let routes = || {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/healthz", get(|| async { "ok" }))
            .route("/internal/{job}", get(|| async { "ok" }))
            .route("/counted", get(|| async { "ok" }))
            .merge(metrics_router())
    };
    // By default the scrapes are counted (as django-prometheus counts its
    // own view), the scrape itself already on its page.
    let default = serve(routes().layer(HttpMetricsLayer::new()));
    let reply = http_get(default, "/metrics/");
    let own = Page::parse(std::str::from_utf8(&reply.body).unwrap());
    assert_eq!(requests(&own, "GET", "/metrics/"), Some(1.0));
    assert_eq!(http_get(default, "/metrics").status, 200);
    let page = scrape();
    assert_eq!(requests(&page, "GET", "/metrics/"), Some(1.0));
    assert_eq!(requests(&page, "GET", "/metrics"), Some(1.0));
    assert_eq!(responses(&page, "200", "GET", "/metrics"), Some(1.0));

    let excluding = serve(
        routes().layer(
            HttpMetricsLayer::new()
                .exclude_path_prefix("/health")
                .exclude_path_prefix("/internal/")
                .exclude_metrics_endpoint(true),
        ),
    );
    for path in [
        "/health",
        "/healthz",
        "/internal/a",
        "/metrics",
        "/metrics/",
        "/counted",
    ] {
        assert_eq!(http_get(excluding, path).status, 200, "{path}");
    }
    let page = scrape();
    assert_eq!(requests(&page, "GET", "/counted"), Some(1.0));
    assert_eq!(requests(&page, "GET", "/metrics/"), Some(1.0), "unchanged");
    assert_eq!(requests(&page, "GET", "/metrics"), Some(1.0), "unchanged");
    for view in ["/health", "/healthz", "/internal/{job}"] {
        assert_eq!(requests(&page, "GET", view), None, "{view}");
    }
}

#[test]
fn methods_outside_the_standard_set_are_invalid_method() {
    let addr = app(Router::new()
        .route("/m/get", get(|| async { "get" }))
        .route("/m/any", any(|| async { "any" })));
    assert_eq!(request(addr, "FOO", "/m/get").status, 405);
    assert_eq!(request(addr, "PROPFIND", "/m/get").status, 405);
    assert_eq!(request(addr, "PATCH", "/m/get").status, 405);
    assert_eq!(request(addr, "FOO", "/m/any").status, 200);
    assert_eq!(request(addr, "OPTIONS", "/m/any").status, 200);
    let page = scrape();
    assert_eq!(requests(&page, "<invalid method>", "/m/get"), Some(2.0));
    assert_eq!(
        responses(&page, "405", "<invalid method>", "/m/get"),
        Some(2.0)
    );
    assert_eq!(responses(&page, "405", "PATCH", "/m/get"), Some(1.0));
    assert_eq!(
        responses(&page, "200", "<invalid method>", "/m/any"),
        Some(1.0)
    );
    assert_eq!(responses(&page, "200", "OPTIONS", "/m/any"), Some(1.0));
    assert!(
        page.samples
            .iter()
            .all(|s| !s.labels.values().any(|v| v == "FOO" || v == "PROPFIND")),
        "a raw method in a label"
    );
}

#[derive(Debug)]
struct BackendDown;

/// A service (outside axum) that fails, or panics, by request method.
#[derive(Clone)]
struct Failing;

impl Service<Request<()>> for Failing {
    type Response = Response<String>;
    type Error = BackendDown;
    type Future = std::future::Ready<Result<Response<String>, BackendDown>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BackendDown>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        match request.method().as_str() {
            "DELETE" => std::future::ready(Err(BackendDown)),
            "PUT" => panic!("service panicked"),
            _ => std::future::ready(Ok(Response::new("fine".to_owned()))),
        }
    }
}

fn call<S: Service<Request<()>>>(service: &mut S, method: &str) -> Result<S::Response, S::Error> {
    let request = Request::builder()
        .method(method)
        .uri("/anything")
        .body(())
        .unwrap();
    let mut future = pin!(service.call(request));
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("ready futures only"),
    }
}

#[test]
fn an_inner_service_error_is_counted_with_its_type_and_passed_on() {
    common::metrics();
    let mut service = tower_layer::Layer::layer(&HttpMetricsLayer::new(), Failing);
    assert!(matches!(call(&mut service, "DELETE"), Err(BackendDown)));
    assert!(matches!(call(&mut service, "DELETE"), Err(BackendDown)));
    // Any body type with a `Default` gets the 500 of a panic.
    let response = call(&mut service, "PUT").unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.body(), "");
    let page = scrape();
    // Outside axum's router there is no route template.
    assert_eq!(
        exceptions(&page, "defaults::http_layer::BackendDown", "<unmatched>"),
        Some(2.0)
    );
    assert_eq!(requests(&page, "DELETE", "<unmatched>"), Some(2.0));
    assert_eq!(latency(&page, "DELETE", "<unmatched>").0, 2);
    assert!(
        page.series(RESPONSES)
            .iter()
            .all(|labels| labels["method"] != "DELETE"),
        "an error is not a response"
    );
    assert_eq!(responses(&page, "500", "PUT", "<unmatched>"), Some(1.0));
    assert_eq!(requests(&page, "PUT", "<unmatched>"), Some(1.0));
}

#[test]
fn the_profile_families_are_absent_without_the_profile() {
    let addr = app(Router::new().route("/plain", get(|| async { "plain" })));
    assert_eq!(http_get(addr, "/plain").status, 200);
    let page = scrape();
    assert_eq!(requests(&page, "GET", "/plain"), Some(1.0));
    for family in [
        "http_requests_before_middlewares_total",
        "http_requests_total_by_method_total",
        "http_requests_latency_seconds_by_view_method",
        "http_responses_total_by_status_total",
        "http_requests_body_total_bytes",
    ] {
        assert!(!page.has_family(family), "{family} is on the page");
    }
}
