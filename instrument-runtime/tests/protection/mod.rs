//! Helpers of the protection tests (`protection_*.rs`, one install
//! configuration each): install with a standalone listener, serve the
//! application's router over real TCP (with and without axum's
//! `ConnectInfo`), send credentials, and check that a refusal carries no
//! metric data.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use instrument_runtime::{counted, metrics_router, Builder, Metrics, CONTENT_TYPE};

use crate::common::{free_addr, http_request_with_headers, Page, Response};

/// The installed metrics and the three servers that serve them.
pub(crate) struct Setup {
    pub(crate) metrics: &'static Metrics,
    /// `Builder::listen`'s standalone listener.
    pub(crate) listener: SocketAddr,
    /// The application's router with `metrics_router()` merged, served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub(crate) app: SocketAddr,
    /// The same router served without connect info.
    pub(crate) plain_app: SocketAddr,
}

/// Install once with `builder()` plus a standalone listener, record one
/// call of the marker function, and start the applications.
pub(crate) fn setup(builder: impl FnOnce() -> Builder) -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let listener = free_addr();
        let metrics = crate::common::install_once(|| builder().listen(listener));
        protected_page_marker();
        Setup {
            metrics,
            listener,
            app: serve_app(true),
            plain_app: serve_app(false),
        }
    })
}

/// The function whose series shows that a page is the real exposition; a
/// refusal must not contain its name.
#[counted]
fn protected_page_marker() {}

/// Serve an application with the metrics router merged on a free loopback
/// port, on a thread and runtime of its own.
fn serve_app(connect_info: bool) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let app: Router = Router::new()
                .route("/", get(|| async { "hello" }))
                .merge(metrics_router());
            if connect_info {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
            } else {
                axum::serve(listener, app).await
            }
            .expect("serve")
        });
    });
    addr
}

/// `GET path` with an optional `Authorization` header value.
pub(crate) fn scrape(addr: SocketAddr, path: &str, authorization: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("Authorization", value))
        .into_iter()
        .collect();
    http_request_with_headers(addr, "GET", path, &headers)
}

/// Both paths of `/metrics/`.
pub(crate) const PATHS: [&str; 2] = ["/metrics", "/metrics/"];

/// Assert that `response` is the exposition: 200, the exposition's content
/// type, and the marker function's series.
#[track_caller]
pub(crate) fn assert_served(response: &Response, what: &str) {
    assert_eq!(response.status, 200, "{what}: {response:?}");
    assert_eq!(
        response.headers.get("content-type").map(String::as_str),
        Some(CONTENT_TYPE),
        "{what}"
    );
    let page = Page::parse(&response.body);
    let marker = page
        .samples
        .iter()
        .find(|s| {
            s.name == "function_calls_total"
                && s.labels.get("function").map(String::as_str) == Some("protected_page_marker")
                && s.labels.get("result").map(String::as_str) == Some("ok")
        })
        .unwrap_or_else(|| panic!("{what}: no marker series on the page:\n{}", response.body));
    assert_eq!(marker.value, 1.0, "{what}");
}

/// Assert that `response` is a refusal with `status` and a short text body
/// holding no metric data: no HELP/TYPE line, no sample line, and no name
/// of any family the real page has.
#[track_caller]
pub(crate) fn assert_refused(response: &Response, status: u16, metrics: &Metrics, what: &str) {
    assert_eq!(response.status, status, "{what}: {response:?}");
    assert_ne!(
        response.headers.get("content-type").map(String::as_str),
        Some(CONTENT_TYPE),
        "{what}: a refusal is not an exposition"
    );
    let body = &response.body;
    assert!(
        !body.is_empty() && body.len() < 300 && body.lines().count() == 1,
        "{what}: not a short text: {body:?}"
    );
    let real = Page::parse(&metrics.render());
    assert!(
        real.types.contains_key("function_calls_total"),
        "the real page has data to leak"
    );
    let mut names: Vec<&str> = real.types.keys().map(String::as_str).collect();
    names.extend(real.samples.iter().map(|s| s.name.as_str()));
    names.push("protected_page_marker");
    for name in names {
        assert!(
            !body.contains(name),
            "{what}: the body names {name}: {body:?}"
        );
    }
    assert!(
        !body.contains("# HELP") && !body.contains("# TYPE") && !body.contains('{'),
        "{what}: metric data in {body:?}"
    );
}

/// `HEAD path`: the status and the bytes after the response head (none,
/// for HEAD). The shared client cannot read a HEAD response, whose
/// `content-length` announces a body that never comes.
pub(crate) fn head(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Connection: close\r\n\r\n"
    )
    .expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let status = std::str::from_utf8(&raw[9..12])
        .expect("status")
        .parse()
        .expect("numeric status");
    (status, raw[end + 4..].to_vec())
}

/// A file in the temporary directory holding `content`, named for this
/// test process.
pub(crate) fn secret_file(name: &str, content: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("instrument-runtime-{}-{name}", std::process::id()));
    std::fs::write(&path, content).expect("write the secret file");
    path
}
