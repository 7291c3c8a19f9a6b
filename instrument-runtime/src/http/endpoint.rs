//! `/metrics/` for axum: a router to merge into the application's, and the
//! optional standalone listener, both behind the same protection.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, MockConnectInfo};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::access::{Access, Denied};
use crate::store::Format;
use crate::Metrics;

/// The content type of the Prometheus text exposition format, for a
/// handler of the application's own that serves [`Metrics::render`].
///
/// ```
/// use axum::{http::header, response::IntoResponse, routing::get, Router};
///
/// async fn page() -> impl IntoResponse {
///     let page = instrument_runtime::installed().map(|m| m.render()).unwrap_or_default();
///     ([(header::CONTENT_TYPE, instrument_runtime::CONTENT_TYPE)], page)
/// }
///
/// let app: Router = Router::new().route("/internal/metrics", get(page));
/// assert_eq!(instrument_runtime::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
/// ```
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type of the OpenMetrics 1.0 text exposition, for a handler
/// of the application's own that serves [`Metrics::render_openmetrics`].
///
/// ```
/// use axum::{http::header, response::IntoResponse, routing::get, Router};
///
/// async fn page() -> impl IntoResponse {
///     let page = instrument_runtime::installed().and_then(|m| m.render_openmetrics());
///     (
///         [(header::CONTENT_TYPE, instrument_runtime::OPENMETRICS_CONTENT_TYPE)],
///         page.unwrap_or_else(|| "# EOF\n".to_owned()),
///     )
/// }
///
/// let app: Router = Router::new().route("/internal/openmetrics", get(page));
/// assert_eq!(
///     instrument_runtime::OPENMETRICS_CONTENT_TYPE,
///     "application/openmetrics-text; version=1.0.0; charset=utf-8"
/// );
/// ```
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The axum handler that serves the exposition of the installed metrics.
///
/// It applies the protection settings ([`Builder::bearer_token`],
/// [`Builder::basic_auth`], [`Builder::allow_network`]): a client outside
/// the allow-list gets 403, one without valid credentials 401 with a
/// `WWW-Authenticate` header, and neither gets any metric data. The
/// allow-list needs the client's address, which axum hands over when the
/// application is served with
/// `into_make_service_with_connect_info::<SocketAddr>()` (or, in tests, with
/// the `MockConnectInfo` layer); without it the handler cannot check the
/// address and answers 403.
///
/// The page is OpenMetrics 1.0 ([`Metrics::render_openmetrics`]) when the
/// scraper's `Accept` header prefers it to the text format (Prometheus asks
/// for it first by default), and the text format 0.0.4 otherwise: without
/// an `Accept` header, for `*/*`, and with metrics-exporter-prometheus as
/// the backend. The highest `q` wins, the earlier entry on a tie;
/// OpenMetrics `version=1.0.0`, its draft `0.0.1` or no version are
/// OpenMetrics, `text/plain` with `version=0.0.4` or none is the text
/// format. The answer carries `Vary: Accept`.
///
/// Rendering runs on tokio's blocking pool, so a large page does not hold up
/// request handling. Before [`install`](crate::install) it answers 503.
///
/// ```
/// use axum::{routing::get, Router};
///
/// // The page on a path of the application's choice.
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .route("/internal/metrics", get(instrument_runtime::metrics_handler));
/// ```
///
/// [`Builder::bearer_token`]: crate::Builder::bearer_token
/// [`Builder::basic_auth`]: crate::Builder::basic_auth
/// [`Builder::allow_network`]: crate::Builder::allow_network
pub async fn metrics_handler(request: Request) -> Response {
    let Some(runtime) = crate::runtime::get() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not installed: call instrument_runtime::install() at start-up\n",
        )
            .into_response();
    };
    // Taken out before any await: a body is not `Sync`, so the future may
    // not hold a reference to the request.
    let peer = peer(&request);
    let headers = request.headers();
    let authorization = headers.get(header::AUTHORIZATION).cloned();
    let format = match prefers_openmetrics(headers.get(header::ACCEPT)) {
        true => Format::OpenMetrics,
        false => Format::Text,
    };
    drop(request);
    let authorization = authorization.as_ref().map(|v| v.as_bytes());
    let answer = answer(runtime, peer, authorization, format).await;
    #[cfg(feature = "tls")]
    let answer = with_headers(answer, &runtime.access.web.headers);
    answer
}

async fn answer(
    runtime: &'static crate::runtime::Runtime,
    peer: Option<IpAddr>,
    authorization: Option<&[u8]>,
    format: Format,
) -> Response {
    // The allow-list first: clients outside it spend no rate-limit token.
    if let Err(denied) = runtime.access.check_peer(peer) {
        return refuse(denied, &runtime.access);
    }
    #[cfg(feature = "tls")]
    if !runtime.access.web.allow() {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "429 Too Many Requests: the rate limit of /metrics/ is reached\n",
        )
            .into_response();
    }
    let checked = match runtime.access.check_credentials(authorization) {
        #[cfg(feature = "tls")]
        Err(Denied::Verify(candidate)) => {
            if runtime.access.web.verify(candidate).await {
                Ok(())
            } else {
                Err(Denied::Unauthorized)
            }
        }
        checked => checked,
    };
    match checked {
        Ok(()) => match runtime.metrics.clone() {
            Some(metrics) => render(metrics, format).await,
            None => (
                StatusCode::NOT_IMPLEMENTED,
                "501 Not Implemented: this program's metrics go to the recorder of another crate; \
                 scrape that exporter's own endpoint\n",
            )
                .into_response(),
        },
        Err(denied) => refuse(denied, &runtime.access),
    }
}

/// The web config's `http_server_config.headers`, on every answer.
#[cfg(feature = "tls")]
fn with_headers(
    mut response: Response,
    headers: &[(header::HeaderName, header::HeaderValue)],
) -> Response {
    for (name, value) in headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// The client's address, as `axum::serve` passes it with connect info.
fn peer(request: &Request) -> Option<IpAddr> {
    let extensions = request.extensions();
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .or_else(|| {
            extensions
                .get::<MockConnectInfo<SocketAddr>>()
                .map(|MockConnectInfo(addr)| addr.ip())
        })
}

/// A short text answer, with nothing of the metrics in it.
fn refuse(denied: Denied, access: &Access) -> Response {
    match denied {
        #[cfg(feature = "tls")]
        Denied::Verify(_) => refuse(Denied::Unauthorized, access),
        Denied::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, access.challenge())],
            format!(
                "401 Unauthorized: /metrics/ needs {} in the Authorization header\n",
                access.wanted()
            ),
        )
            .into_response(),
        Denied::Outside(peer) => (
            StatusCode::FORBIDDEN,
            format!("403 Forbidden: {peer} is not in the allow-list of /metrics/\n"),
        )
            .into_response(),
        Denied::NoPeer => (
            StatusCode::FORBIDDEN,
            "403 Forbidden: /metrics/ has an IP allow-list but cannot see the client's address; \
             serve the application with `app.into_make_service_with_connect_info::<SocketAddr>()`\n",
        )
            .into_response(),
    }
}

/// Whether the scraper's `Accept` header prefers OpenMetrics to the text
/// format; see [`metrics_handler`].
fn prefers_openmetrics(accept: Option<&header::HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    // (quality, OpenMetrics) of the best range so far.
    let mut best: Option<(f32, bool)> = None;
    for range in accept.split(',') {
        let Ok(range) = range.trim().parse::<mime::Mime>() else {
            continue;
        };
        let quality = match range.get_param("q") {
            Some(q) => match q.as_str().parse::<f32>() {
                Ok(q) if (0.0..=1.0).contains(&q) => q,
                _ => continue,
            },
            None => 1.0,
        };
        let version = range.get_param("version");
        let version = version.as_ref().map(|version| version.as_str());
        let open_metrics = match (range.type_().as_str(), range.subtype().as_str()) {
            ("application", "openmetrics-text") => match version {
                None | Some("1.0.0" | "0.0.1") => true,
                Some(_) => continue,
            },
            ("text", "plain") => match version {
                None | Some("0.0.4") => false,
                Some(_) => continue,
            },
            ("text", "*") | ("*", "*") => false,
            _ => continue,
        };
        // `q=0` is "not acceptable".
        if quality > 0.0 && best.is_none_or(|(best, _)| quality > best) {
            best = Some((quality, open_metrics));
        }
    }
    best.is_some_and(|(_, open_metrics)| open_metrics)
}

async fn render(metrics: Metrics, format: Format) -> Response {
    // The exporter's backend renders the text format only.
    let format = match metrics.render_openmetrics_supported() {
        true => format,
        false => Format::Text,
    };
    let content_type = match format {
        Format::Text => CONTENT_TYPE,
        Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
    };
    match shared_render(metrics, format).await {
        Some(body) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::VARY, "accept"),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The page for a scrape, rendered after the scrape arrived, and shared with
/// every other scrape that arrived before that rendering started.
///
/// One rendering runs at a time. The scrapes that arrive meanwhile form the
/// next batch, rendered once when the current rendering ends, and share its
/// page: concurrent scrapes cost one rendering and one copy of the page per
/// batch, not one each, and no scrape sees values older than its arrival.
async fn shared_render(metrics: Metrics, format: Format) -> Option<Bytes> {
    type Batch = Arc<tokio::sync::OnceCell<Option<Bytes>>>;
    /// The batch of each format that has not started rendering yet.
    static NEXT: [Mutex<Option<Batch>>; 2] = [Mutex::new(None), Mutex::new(None)];
    /// Held by the rendering under way.
    static RENDERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let next = || {
        NEXT[format as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    let batch = Arc::clone(next().get_or_insert_with(Batch::default));
    let render = || async {
        let _rendering = RENDERING.lock().await;
        {
            // Closed: later scrapes form the next batch.
            let mut next = next();
            if next.as_ref().is_some_and(|open| Arc::ptr_eq(open, &batch)) {
                *next = None;
            }
        }
        let page = move || match format {
            Format::OpenMetrics => metrics
                .render_openmetrics()
                .unwrap_or_else(|| metrics.render()),
            Format::Text => metrics.render(),
        };
        tokio::task::spawn_blocking(move || Bytes::from(page()))
            .await
            .ok()
    };
    batch.get_or_init(render).await.clone()
}

/// A router answering `GET /metrics` and `GET /metrics/` (and `HEAD`) with
/// the exposition, through [`metrics_handler`] and its protection; merge it
/// into the application's router.
///
/// ```
/// use axum::{routing::get, Router};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .merge(instrument_runtime::metrics_router());
/// ```
///
/// With an allow-list ([`Builder::allow_network`](crate::Builder::allow_network)),
/// serve the application with the client's address:
///
/// ```no_run
/// # async fn serve(app: axum::Router) -> std::io::Result<()> {
/// use std::net::SocketAddr;
///
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8000").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
/// # }
/// ```
pub fn metrics_router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/metrics/", get(metrics_handler))
}
