//! The HTTP layer allocates nothing of its own per request once a route,
//! method and status have been seen: a router with `HttpMetricsLayer`
//! makes as many allocations per request as the same router with a layer
//! that does nothing (axum's own cost of `Router::layer`), with and
//! without the django-prometheus profile. Counted by allocation-counter's
//! global allocator, on the test's thread.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::http::Request;
use axum::routing::{get, post};
use axum::Router;
use instrument_runtime::{Builder, HttpMetricsLayer};
use tower_service::Service;

use crate::common;

/// Poll `future` to completion on this thread (the handlers never wait).
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn app() -> Router {
    Router::new()
        .route("/orders/{id}", get(|| async { "[]" }))
        .route(
            "/orders",
            post(|| async { (axum::http::StatusCode::CREATED, "{}") }),
        )
}

/// The allocations of 100 rounds of three requests (GET 200, POST 201, an
/// unmatched GET 404) through `router`, after a round that sees each
/// route, method and status first.
fn allocations(router: Router) -> u64 {
    // What `axum::serve` does for each connection.
    let mut router = router.with_state(());
    let mut round = || {
        for (method, uri) in [
            ("GET", "/orders/7"),
            ("POST", "/orders"),
            ("GET", "/nowhere"),
        ] {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", "application/json")
                .body(Body::empty())
                .expect("a request");
            let response = run(router.call(request)).expect("infallible");
            assert!([200, 201, 404].contains(&response.status().as_u16()));
        }
    };
    round();
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            round();
        }
    });
    info.count_total
}

fn compare(django_compat: bool) {
    let metrics = Builder::new()
        .django_compat(django_compat)
        .install()
        .expect("installed");
    let identity = allocations(app().layer(tower_layer::layer_fn(|route| route)));
    let layered = allocations(app().layer(HttpMetricsLayer::new()));
    assert!(identity > 0, "the counting allocator counts");
    assert_eq!(
        layered, identity,
        "allocations in 300 requests: with the layer {layered}, with a layer that does nothing {identity}"
    );
    // The layer did record them: 101 rounds each.
    let page = metrics.render();
    assert!(
        page.contains(r#"http_requests_total{method="GET",view="/orders/{id}"} 101"#),
        "{page}"
    );
    assert!(page.contains(
        r#"http_responses_total_by_status{status="201",method="POST",view="/orders"} 101"#
    ));
    assert!(page.contains(
        r#"http_responses_total_by_status{status="404",method="GET",view="<unmatched>"} 101"#
    ));
}

#[test]
fn the_layer_allocates_nothing_per_request() {
    common::isolated(|| compare(false));
}

#[test]
fn the_layer_allocates_nothing_per_request_with_the_django_profile() {
    common::isolated(|| compare(true));
}
