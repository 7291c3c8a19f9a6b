//! `/metrics` and `/metrics/` on the application's own axum router, served
//! over real TCP and read with a plain HTTP/1.1 client.

use crate::common;

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use common::{http_get, Page, Response};
use instrument_runtime::{counted, metrics_router, CONTENT_TYPE};

/// Serve the application (its own route plus the metrics router) on a free
/// loopback port.
async fn serve_app() -> SocketAddr {
    common::metrics();
    let app: Router = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/users/{id}", get(|| async { "user" }))
        .merge(metrics_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// GET on a blocking thread, so the server keeps running on the runtime.
async fn get_path(addr: SocketAddr, path: &'static str) -> Response {
    tokio::task::spawn_blocking(move || http_get(addr, path))
        .await
        .expect("client thread")
}

#[counted]
fn scraped_fn(ok: bool) -> Result<(), ()> {
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

#[test]
fn content_type_is_the_text_exposition_format() {
    assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_metrics_slash_serve_the_exposition() {
    let addr = serve_app().await;
    scraped_fn(true).unwrap();
    scraped_fn(true).unwrap();
    scraped_fn(false).unwrap_err();
    let labels = |result| {
        [
            ("function", "scraped_fn"),
            ("module", "defaults::endpoint"),
            ("result", result),
        ]
    };
    for path in ["/metrics", "/metrics/"] {
        let response = get_path(addr, path).await;
        assert_eq!(response.status, 200, "{path}: {response:?}");
        assert_eq!(
            response.headers.get("content-type").map(String::as_str),
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "{path}"
        );
        let page = Page::parse(&response.body);
        assert_eq!(
            page.count("function_calls_total", &labels("ok")),
            2,
            "{path}"
        );
        assert_eq!(
            page.count("function_calls_total", &labels("error")),
            1,
            "{path}"
        );
        assert_eq!(
            page.count("function_calls_total", &labels("panic")),
            0,
            "{path}"
        );
        assert_eq!(
            page.types.get("function_calls_total").map(String::as_str),
            Some("counter")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_the_calls_between_scrapes() {
    let addr = serve_app().await;
    #[counted]
    fn between_scrapes() {}
    let labels = [
        ("function", "between_scrapes"),
        ("module", "defaults::endpoint"),
        ("result", "ok"),
    ];
    let count =
        |response: Response| Page::parse(&response.body).count("function_calls_total", &labels);
    assert_eq!(count(get_path(addr, "/metrics/").await), 0);
    between_scrapes();
    assert_eq!(count(get_path(addr, "/metrics/").await), 1);
    for _ in 0..9 {
        between_scrapes();
    }
    assert_eq!(count(get_path(addr, "/metrics").await), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_routes_are_untouched() {
    let addr = serve_app().await;
    let root = get_path(addr, "/").await;
    assert_eq!((root.status, root.body.as_str()), (200, "hello"));
    let user = get_path(addr, "/users/7").await;
    assert_eq!((user.status, user.body.as_str()), (200, "user"));
    assert_eq!(get_path(addr, "/nope").await.status, 404);
    assert_eq!(get_path(addr, "/metrics/extra").await.status, 404);
    let post = tokio::task::spawn_blocking(move || common::http_request(addr, "POST", "/metrics/"))
        .await
        .expect("client thread");
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn handler_called_directly() {
    common::metrics();
    let response = instrument_runtime::metrics_handler(axum::extract::Request::default()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some(CONTENT_TYPE)
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    let page = Page::parse(std::str::from_utf8(&body).expect("UTF-8"));
    assert!(page.types.contains_key("function_calls_total"));
}
