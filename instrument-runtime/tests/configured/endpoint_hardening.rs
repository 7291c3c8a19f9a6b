//! Hardening of `/metrics/`, on the application's router (`metrics_router()`
//! merged, served by `axum::serve`) and on the standalone listener
//! (`Builder::listen`) alike: other methods get 405 with `Allow`, oversized
//! and malformed requests are refused without taking the service down, and
//! concurrent scrapes of a large page do not hold up other requests.

use crate::common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use common::{http_get, Page};
use instrument_runtime::{counted, metrics_router, Builder, CONTENT_TYPE};

/// The family of the large page; its label values come from the argument.
const SERIES: &str = "hardening_series_total";
/// Distinct label values of [`SERIES`], for the concurrent scrapes.
const SERIES_COUNT: u32 = 20_000;

#[counted(name = "hardening_series_total", labels(k = k))]
fn series(k: u32) {}

#[counted]
fn probe_fn() {}

/// The standalone listener's address; installs (once) with the listener,
/// and a cardinality limit above [`SERIES_COUNT`].
fn listener() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let addr = common::free_addr();
        common::install_once(|| Builder::new().cardinality_limit(100_000).listen(addr));
        // Data on the page, for the checks that a refusal carries none.
        probe_fn();
        addr
    })
}

/// Serve the application (its own routes plus the metrics router) on a
/// free loopback port, on the test's runtime.
async fn serve_app() -> SocketAddr {
    listener();
    let app: Router = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .merge(metrics_router());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = tcp.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(tcp, app).await.expect("serve") });
    addr
}

/// What came back for raw request bytes.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A response: its status, header fields (names lower-cased) and
    /// whatever body bytes followed.
    Response {
        status: u16,
        headers: BTreeMap<String, String>,
        body: String,
    },
    /// The server closed or reset the connection without a response.
    Closed,
}

impl Outcome {
    #[track_caller]
    fn status(&self) -> u16 {
        match self {
            Outcome::Response { status, .. } => *status,
            Outcome::Closed => panic!("no response, the connection was closed"),
        }
    }

    #[track_caller]
    fn header(&self, name: &str) -> Option<&str> {
        match self {
            Outcome::Response { headers, .. } => headers.get(name).map(String::as_str),
            Outcome::Closed => panic!("no response, the connection was closed"),
        }
    }

    #[track_caller]
    fn body(&self) -> &str {
        match self {
            Outcome::Response { body, .. } => body,
            Outcome::Closed => panic!("no response, the connection was closed"),
        }
    }
}

/// Send `request` (as much of it as the server takes before it closes the
/// connection), then read until the server closes the connection. The
/// request must make the server close it: `Connection: close`, or an
/// error.
fn exchange(addr: SocketAddr, request: &[u8]) -> Outcome {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    // A server that refuses a request early may close the connection while
    // the rest is being written: that is a refusal, not a test failure.
    // (No half-close after writing: hyper takes it for a client that left.)
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let mut chunk = [0; 64 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading from {addr}: {e}"),
        }
    }
    parse(&raw)
}

fn parse(raw: &[u8]) -> Outcome {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        assert!(
            raw.is_empty(),
            "a partial response: {:?}",
            String::from_utf8_lossy(raw)
        );
        return Outcome::Closed;
    };
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    Outcome::Response {
        status,
        headers,
        body: String::from_utf8_lossy(&raw[split + 4..]).into_owned(),
    }
}

/// A well-formed request for `path`, closing the connection after it.
fn request(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Run blocking client code without holding up the server's runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

/// The body holds nothing of the exposition.
#[track_caller]
fn assert_no_metric_data(body: &str) {
    for marker in [
        "# HELP",
        "# TYPE",
        "function_calls_total",
        SERIES,
        "probe_fn",
    ] {
        assert!(!body.contains(marker), "metric data ({marker}) in {body:?}");
    }
}

/// Both servers still answer: the exposition with the probe's series, and
/// the application's own route.
#[track_caller]
fn assert_serving(app: SocketAddr, listen: SocketAddr) {
    for addr in [app, listen] {
        let response = http_get(addr, "/metrics/");
        assert_eq!(response.status, 200, "{addr}: {response:?}");
        let page = Page::parse(&response.body);
        let probe = [
            ("function", "probe_fn"),
            ("module", "configured::endpoint_hardening"),
            ("result", "ok"),
        ];
        assert_eq!(page.count("function_calls_total", &probe), 1, "{addr}");
    }
    let response = http_get(app, "/ping");
    assert_eq!((response.status, response.body.as_str()), (200, "pong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_other_than_get_and_head_get_405_with_allow() {
    if !common::own_process() {
        return;
    }
    let app = serve_app().await;
    let listen = listener();
    blocking(move || {
        for addr in [app, listen] {
            for path in ["/metrics", "/metrics/"] {
                for method in [
                    "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO",
                ] {
                    let answer = exchange(addr, &request(method, path));
                    assert_eq!(
                        answer.status(),
                        405,
                        "{method} {path} on {addr}: {answer:?}"
                    );
                    assert_eq!(answer.header("allow"), Some("GET,HEAD"), "{method} {path}");
                    assert_eq!(answer.body(), "", "{method} {path}");
                }
                // A body changes nothing.
                let post = format!(
                    "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
                     Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello=world"
                );
                let answer = exchange(addr, post.as_bytes());
                assert_eq!(answer.status(), 405, "{answer:?}");
                assert_no_metric_data(answer.body());

                let head = exchange(addr, &request("HEAD", path));
                assert_eq!(head.status(), 200, "HEAD {path} on {addr}: {head:?}");
                assert_eq!(head.header("content-type"), Some(CONTENT_TYPE));
                assert_eq!(head.body(), "", "HEAD has no body");

                let get = exchange(addr, &request("GET", path));
                assert_eq!(get.status(), 200, "GET {path} on {addr}: {get:?}");
                assert_eq!(get.header("content-type"), Some(CONTENT_TYPE));
                assert!(get.body().contains("# TYPE function_calls_total counter"));
            }
        }
    })
    .await;
}

/// hyper's limits: a request head of at most ~400 KB with at most 100
/// header fields. Past them, 431 and the connection is closed (or reset,
/// when the client is still writing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused_and_the_service_keeps_serving() {
    if !common::own_process() {
        return;
    }
    let app = serve_app().await;
    let listen = listener();
    blocking(move || {
        let long_uri = format!(
            "GET /metrics/?q={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "a".repeat(10 << 20)
        );
        let big_header = format!(
            "GET /metrics/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
            "a".repeat(1 << 20)
        );
        // 100 KB of headers in 1,000 fields.
        let many_headers = format!(
            "GET /metrics/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{}\r\n",
            (0..1000)
                .map(|i| format!("X-Field-{i:04}: {}\r\n", "a".repeat(86)))
                .collect::<String>()
        );
        assert!(many_headers.len() > 100_000);
        for (name, request) in [
            ("a 10 MB URI", long_uri),
            ("a 1 MB header", big_header),
            ("1,000 header fields", many_headers),
        ] {
            for addr in [app, listen] {
                let answer = exchange(addr, request.as_bytes());
                if answer != Outcome::Closed {
                    assert_eq!(answer.status(), 431, "{name} on {addr}: {answer:?}");
                    assert_eq!(answer.header("connection"), Some("close"));
                    assert_no_metric_data(answer.body());
                }
                assert_serving(app, listen);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_the_service_keeps_serving() {
    if !common::own_process() {
        return;
    }
    let app = serve_app().await;
    let listen = listener();
    let get = |extra: &str| {
        format!("GET /metrics/ HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").into_bytes()
    };
    // Each answered 400 and closed, or closed without an answer (`None`).
    let cases: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        (
            "binary garbage",
            b"\x00\xff\xfe\x7f garbage \r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "a TLS ClientHello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            Some(400),
        ),
        (
            "no HTTP version",
            b"GET /metrics/\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "HTTP/9.9",
            b"GET /metrics/ HTTP/9.9\r\nHost: localhost\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "a NUL in the path",
            b"GET /metrics/\x00 HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            Some(400),
        ),
        (
            "a header without a colon",
            get("Host localhost\r\n"),
            Some(400),
        ),
        (
            "Content-Length: abc",
            get("Content-Length: abc\r\n"),
            Some(400),
        ),
        (
            "Content-Length: -1",
            get("Content-Length: -1\r\n"),
            Some(400),
        ),
        (
            "Content-Length past u64",
            get("Content-Length: 99999999999999999999999\r\n"),
            Some(400),
        ),
        (
            "two Content-Lengths",
            get("Content-Length: 5\r\nContent-Length: 6\r\n"),
            Some(400),
        ),
        // Only HTTP/1 is served.
        (
            "the HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            None,
        ),
    ];
    blocking(move || {
        for (name, request, expected) in cases {
            for addr in [app, listen] {
                let answer = exchange(addr, &request);
                match expected {
                    Some(status) => {
                        assert_eq!(answer.status(), status, "{name} on {addr}: {answer:?}");
                        assert_eq!(answer.header("connection"), Some("close"), "{name}");
                        assert_no_metric_data(answer.body());
                    }
                    None => assert_eq!(answer, Outcome::Closed, "{name} on {addr}"),
                }
            }
        }
        assert_serving(app, listen);
    })
    .await;
}

/// Scrape `addr`'s `/metrics/` from 20 threads at once while another thread
/// requests `other` in a loop; returns the latencies of those requests.
fn scrapes_and_requests(addr: SocketAddr, other: &'static str, other_status: u16) -> Vec<Duration> {
    let scraping = AtomicUsize::new(SCRAPERS);
    std::thread::scope(|scope| {
        let requests = scope.spawn(|| {
            let mut latencies = Vec::new();
            while scraping.load(Ordering::SeqCst) > 0 {
                let start = Instant::now();
                let response = http_get(addr, other);
                latencies.push(start.elapsed());
                assert_eq!(response.status, other_status, "{other}: {response:?}");
            }
            latencies
        });
        let scrapers: Vec<_> = (0..SCRAPERS)
            .map(|_| {
                scope.spawn(|| {
                    let response = http_get(addr, "/metrics/");
                    scraping.fetch_sub(1, Ordering::SeqCst);
                    assert_eq!(response.status, 200);
                    let prefix = format!("{SERIES}{{");
                    let series = response
                        .body
                        .lines()
                        .filter(|line| line.starts_with(&prefix))
                        .count();
                    assert_eq!(series, SERIES_COUNT as usize, "a complete page");
                })
            })
            .collect();
        for scraper in scrapers {
            scraper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        requests
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

const SCRAPERS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_of_a_large_page_do_not_hold_up_requests() {
    if !common::own_process() {
        return;
    }
    let app = serve_app().await;
    let listen = listener();
    blocking(move || {
        for k in 0..SERIES_COUNT {
            series(k);
        }
        for (addr, other, status) in [(app, "/ping", 200), (listen, "/other", 404)] {
            let start = Instant::now();
            let latencies = scrapes_and_requests(addr, other, status);
            let scraping = start.elapsed();
            let slowest = latencies.iter().max().copied().unwrap_or_default();
            eprintln!(
                "{SCRAPERS} scrapes of {SERIES_COUNT} series from {addr}: {scraping:?}; \
                 {} requests of {other} meanwhile, the slowest {slowest:?}",
                latencies.len()
            );
            // Requests kept being answered while the pages were rendered...
            assert!(
                latencies.len() >= 5,
                "{} requests in {scraping:?}",
                latencies.len()
            );
            // ... each promptly (a bound for a loaded 2-core machine in a
            // debug build, not a benchmark).
            assert!(
                slowest < Duration::from_secs(1),
                "a request took {slowest:?}"
            );
        }
    })
    .await;
}
