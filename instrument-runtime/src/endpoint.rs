//! `/metrics/` for axum: a router to merge into the application's, and the
//! optional standalone listener.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::Metrics;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The axum handler that serves the exposition of the installed metrics.
///
/// Rendering runs on tokio's blocking pool, so a large page does not hold up
/// request handling. Before [`install`](crate::install) it answers 503.
pub async fn metrics_handler() -> Response {
    match crate::runtime::installed() {
        Some(metrics) => render(metrics).await,
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not installed: call instrument_runtime::install() at start-up\n",
        )
            .into_response(),
    }
}

async fn render(metrics: Metrics) -> Response {
    match tokio::task::spawn_blocking(move || metrics.render()).await {
        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A router answering `GET /metrics` and `GET /metrics/` with the
/// exposition; merge it into the application's router.
///
/// ```
/// use axum::{routing::get, Router};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .merge(instrument_runtime::metrics_router());
/// ```
pub fn metrics_router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/metrics/", get(metrics_handler))
}

/// Serve `/metrics` and `/metrics/` (and 404 for everything else) on a
/// thread of its own, so it works whether or not the application runs tokio.
pub(crate) fn serve_standalone(listener: std::net::TcpListener, metrics: Metrics) {
    let serve = move || -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let page = move || render(metrics.clone());
            let app = Router::new()
                .route("/metrics", get(page.clone()))
                .route("/metrics/", get(page));
            axum::serve(listener, app).await
        })
    };
    std::thread::Builder::new()
        .name("instrument-metrics".into())
        .spawn(move || {
            if let Err(error) = serve() {
                eprintln!("instrument-runtime: the /metrics/ listener stopped: {error}");
            }
        })
        .expect("spawning the /metrics/ listener thread");
}
