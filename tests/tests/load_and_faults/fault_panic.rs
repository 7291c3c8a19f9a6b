//! A handler that panics on every request, under `wrk` load next to a
//! route that works: the server keeps serving both, every panic is
//! answered with a 500 and counted as an exception, and the healthy route
//! loses nothing. The example service has no panicking route, so the
//! server is a small axum application behind the same layer, in this test
//! process; `wrk` loads it from outside.
//!
//! As in `load_http.rs`, each `wrk` run goes through a [`Gate`] that stops
//! letting requests through a second before the run ends, so that `wrk`'s
//! completed counts and the server's counts must be equal.
//!
//! About 12 s (10 s of load).

use std::net::SocketAddr;
use std::time::Duration;

use crate::count;
use axum::routing::get;
use axum::Router;
use e2e::{http, Gate, Wrk};
use instrument_runtime::{counted, metrics_router, HttpMetricsLayer};

const RUN: Duration = Duration::from_secs(10);
const QUIET_END: Duration = Duration::from_secs(1);
const CONNECTIONS: u32 = 8;
const PANIC: &str = "deliberate panic under load";

#[counted]
async fn healthy() -> &'static str {
    "fine\n"
}

#[counted]
async fn explode() -> &'static str {
    panic!("{}", PANIC)
}

/// The application on a free loopback port, on a tokio runtime of its
/// own; dropping it shuts the runtime and the listener down.
struct App {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl App {
    fn start() -> App {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("its address");
        let app = Router::new()
            .route("/healthy", get(healthy))
            .route("/explode", get(explode))
            .merge(metrics_router())
            .layer(HttpMetricsLayer::new());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            axum::serve(listener, app).await.expect("serving");
        });
        App {
            addr,
            runtime: Some(runtime),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Leave out the default hook's report of the deliberate panics (one per
/// request); report every other panic as usual.
fn quiet_deliberate_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if message != Some(PANIC) {
            report(info);
        }
    }));
}

/// Everything recorded about one route: requests, responses by status
/// (200, 500), latency observations, exceptions of type `panic`, and the
/// handler's `#[counted]` calls (ok, panic).
#[derive(Debug, PartialEq)]
struct Route {
    requests: u64,
    ok_responses: u64,
    error_responses: u64,
    latencies: u64,
    panics: u64,
    calls_ok: u64,
    calls_panicked: u64,
}

fn route(page: &str, view: &str, function: &str) -> Route {
    let get = [("method", "GET"), ("view", view)];
    let status = |code| [("status", code), ("method", "GET"), ("view", view)];
    let calls = |result| {
        [
            ("function", function),
            ("module", module_path!()),
            ("result", result),
        ]
    };
    Route {
        requests: count(page, "http_requests_total", &get),
        ok_responses: count(page, "http_responses_total_by_status", &status("200")),
        error_responses: count(page, "http_responses_total_by_status", &status("500")),
        latencies: count(page, "http_requests_latency_seconds_count", &get),
        panics: count(
            page,
            "http_exceptions_total",
            &[("type", "panic"), ("view", view)],
        ),
        calls_ok: count(page, "function_calls_total", &calls("ok")),
        calls_panicked: count(page, "function_calls_total", &calls("panic")),
    }
}

#[test]
fn a_panicking_handler_under_load_is_counted_and_the_server_keeps_serving() {
    instrument_runtime::install().expect("the only install of this test binary");
    quiet_deliberate_panics();
    let app = App::start();
    let healthy_gate = Gate::start(app.addr);
    let explode_gate = Gate::start(app.addr);

    let healthy_run = Wrk::start(&healthy_gate.url("/healthy"), 1, CONNECTIONS, RUN);
    let explode_run = Wrk::start(&explode_gate.url("/explode"), 1, CONNECTIONS, RUN);
    std::thread::sleep(RUN - QUIET_END);
    healthy_gate.close();
    explode_gate.close();
    let healthy_report = healthy_run.finish();
    let explode_report = explode_run.finish();

    let (status, page) = http(app.addr, "GET", "/metrics/", None);
    assert_eq!(status, 200);
    let healthy_counts = route(&page, "/healthy", "healthy");
    let explode_counts = route(&page, "/explode", "explode");
    eprintln!(
        "/healthy: {} completed by wrk, {} passed on; /explode: {} completed ({} error \
         statuses), {} passed on\n/healthy {healthy_counts:?}\n/explode {explode_counts:?}",
        healthy_report.completed,
        healthy_gate.forwarded(),
        explode_report.completed,
        explode_report.error_statuses,
        explode_gate.forwarded(),
    );

    // No socket errors: a panic does not cost its connection.
    assert_eq!(
        healthy_report.socket_errors(),
        0,
        "{}",
        healthy_report.output
    );
    assert_eq!(
        explode_report.socket_errors(),
        0,
        "{}",
        explode_report.output
    );
    assert!(
        explode_report.completed > 1_000,
        "{}",
        explode_report.output
    );
    assert!(
        healthy_report.completed > 1_000,
        "{}",
        healthy_report.output
    );
    assert_eq!(healthy_gate.forwarded(), healthy_report.completed);
    assert_eq!(explode_gate.forwarded(), explode_report.completed);

    // Every panic: a 500, an exception, an observed latency, a panicked call.
    let panics = explode_report.completed;
    assert_eq!(explode_report.error_statuses, panics);
    assert_eq!(
        explode_counts,
        Route {
            requests: panics,
            ok_responses: 0,
            error_responses: panics,
            latencies: panics,
            panics,
            calls_ok: 0,
            calls_panicked: panics,
        }
    );
    // The healthy route next to it: every request a 200, nothing lost.
    let served = healthy_report.completed;
    assert_eq!(
        healthy_report.error_statuses, 0,
        "{}",
        healthy_report.output
    );
    assert_eq!(
        healthy_counts,
        Route {
            requests: served,
            ok_responses: served,
            error_responses: 0,
            latencies: served,
            panics: 0,
            calls_ok: served,
            calls_panicked: 0,
        }
    );

    // After all that, the server still answers both routes as before.
    assert_eq!(
        http(app.addr, "GET", "/healthy", None),
        (200, "fine\n".to_owned())
    );
    assert_eq!(http(app.addr, "GET", "/explode", None).0, 500);
    let (_, page) = http(app.addr, "GET", "/metrics/", None);
    assert_eq!(route(&page, "/healthy", "healthy").requests, served + 1);
    assert_eq!(route(&page, "/explode", "explode").panics, panics + 1);
}
