//! The HTTP metrics [`Layer`]: django-prometheus's request/response
//! middleware for axum and any tower service.
//!
//! Handles are resolved once per (view, method) and kept in a process-wide
//! table, so a request costs a table lookup (skipped entirely when the
//! route's service has seen its view before), a few atomic increments and
//! two clock reads. Views come only from axum's [`MatchedPath`] (route
//! templates), so the table and every label set are bounded by the routes
//! of the application, whatever paths clients send.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use metrics::{Counter, Histogram, Label, SharedString};
use quanta::Instant;
use tower_layer::Layer;
use tower_service::Service;

use crate::catalogue::{self, compat};
use crate::runtime::{self, Runtime};

/// The `view` of a request that matched no route.
const UNMATCHED: &str = "<unmatched>";
/// django-prometheus's `view` of a request that resolved to no view; the
/// django-mixin dashboards filter it out.
const COMPAT_UNMATCHED: &str = "<unnamed view>";
/// django-prometheus's URL name of its own `/metrics` view; the django-mixin
/// dashboards filter it out, so the scrapes of `/metrics` and `/metrics/`
/// carry it in the compatibility families.
const COMPAT_METRICS_VIEW: &str = "prometheus-django-metrics";
/// The paths of [`metrics_router`](crate::metrics_router).
const METRICS_PATHS: [&str; 2] = ["/metrics", "/metrics/"];

/// The `method` label: the standard methods, then everything else.
const METHODS: [&str; 10] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "TRACE",
    "OPTIONS",
    "CONNECT",
    "PATCH",
    "<invalid method>",
];
const TRANSPORTS: [&str; 2] = ["http", "https"];

/// The layer's handles, resolved from the installed runtime when a layer
/// first needs them (never by building a layer).
static STATE: OnceLock<State> = OnceLock::new();

#[inline]
fn state() -> Option<&'static State> {
    match STATE.get() {
        Some(state) => Some(state),
        None => state_cold(),
    }
}

#[cold]
#[inline(never)]
fn state_cold() -> Option<&'static State> {
    let rt = runtime::get()?;
    Some(STATE.get_or_init(|| State::new(rt)))
}

/// Resolve the layer's state at `install()` with the profile on: the
/// package's unlabelled HTTP series exist at 0, and the families have HELP
/// and TYPE, from the start.
pub(crate) fn register(django_compat: bool) {
    if django_compat {
        state();
    }
}

/// A tower [`Layer`] recording the HTTP families of every request: one
/// `.layer(HttpMetricsLayer::new())` on an axum `Router`.
///
/// | family | type | labels | when |
/// |---|---|---|---|
/// | `http_requests_total` | counter | method, view | the request arrives |
/// | `http_responses_total_by_status` | counter | status, method, view | the response head is ready |
/// | `http_requests_latency_seconds` | histogram | method, view | the response head is ready, the inner service fails, or the request is dropped unfinished |
/// | `http_exceptions_total` | counter | type, view | the handler panics (`type="panic"`) or the inner service returns `Err` (its type name) |
///
/// `view` is axum's [`MatchedPath`], the route template (`/users/{id}`,
/// the full template for nested routers), never the raw path; a request
/// that matches no route (a fallback, a 404, a `nest_service`) is
/// `<unmatched>`. `method` is one of GET HEAD POST PUT DELETE TRACE OPTIONS
/// CONNECT PATCH, else `<invalid method>`. Put the layer on the router with
/// [`Router::layer`](axum::Router::layer), where the route is known; around
/// the whole router every request would be `<unmatched>`.
///
/// A handler that panics is answered with an empty 500 (counted as such),
/// and the server keeps serving. An `Err` of the inner service is counted
/// and passed on. A request whose future is dropped before its response
/// (the client went away) keeps its count and has its duration recorded.
///
/// With [`Builder::django_compat`](crate::Builder::django_compat) the layer
/// records django-prometheus's HTTP families too. Before
/// [`install`](crate::install) it records nothing (it still answers a panic
/// with 500). The layer's families have HELP and TYPE from the moment a
/// layer is applied to a service after `install()` (with the profile, from
/// `install()` on), or else from its first request. Building a layer
/// changes no state of its own outside the layer.
///
/// ```
/// use axum::{routing::get, Router};
/// use instrument_runtime::HttpMetricsLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .merge(instrument_runtime::metrics_router())
///     .layer(HttpMetricsLayer::new().exclude_path_prefix("/health"));
/// ```
#[derive(Clone, Debug)]
pub struct HttpMetricsLayer {
    settings: Arc<Settings>,
}

#[derive(Clone, Debug, Default)]
struct Settings {
    excluded_prefixes: Vec<Box<str>>,
    exclude_metrics_endpoint: bool,
}

impl Settings {
    /// Whether any request could be left out: the path is looked at only
    /// then.
    fn excludes_any(&self) -> bool {
        self.exclude_metrics_endpoint || !self.excluded_prefixes.is_empty()
    }

    fn excludes(&self, path: &str) -> bool {
        (self.exclude_metrics_endpoint && METRICS_PATHS.contains(&path))
            || self
                .excluded_prefixes
                .iter()
                .any(|prefix| path.starts_with(&**prefix))
    }
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetricsLayer {
    /// A layer recording every request, `/metrics` scrapes included (as
    /// django-prometheus does).
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use instrument_runtime::HttpMetricsLayer;
    ///
    /// let app: Router = Router::new()
    ///     .route("/orders/{id}", get(|| async { "{}" }))
    ///     .layer(HttpMetricsLayer::new());
    /// ```
    pub fn new() -> Self {
        HttpMetricsLayer {
            settings: Arc::default(),
        }
    }

    /// Record nothing for requests whose path starts with `prefix` (a plain
    /// string prefix of the path the layer sees: `"/health"` also leaves
    /// out `/healthz`). May be called any number of times.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use instrument_runtime::HttpMetricsLayer;
    ///
    /// let app: Router = Router::new()
    ///     .route("/health", get(|| async { "ok" }))
    ///     .route("/orders", get(|| async { "[]" }))
    ///     .merge(instrument_runtime::metrics_router())
    ///     .layer(
    ///         HttpMetricsLayer::new()
    ///             .exclude_path_prefix("/health")
    ///             .exclude_metrics_endpoint(true),
    ///     );
    /// ```
    pub fn exclude_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings)
            .excluded_prefixes
            .push(prefix.into().into_boxed_str());
        self
    }

    /// Record nothing for requests to `/metrics` and `/metrics/` (the
    /// scrapes), when `exclude` is true. Off by default.
    ///
    /// ```
    /// use axum::Router;
    /// use instrument_runtime::HttpMetricsLayer;
    ///
    /// // Scrapes every 15 s would otherwise be most of a quiet service's traffic.
    /// let app: Router = instrument_runtime::metrics_router()
    ///     .layer(HttpMetricsLayer::new().exclude_metrics_endpoint(true));
    /// ```
    pub fn exclude_metrics_endpoint(mut self, exclude: bool) -> Self {
        Arc::make_mut(&mut self.settings).exclude_metrics_endpoint = exclude;
        self
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        // Installed already: the families have HELP and TYPE from now on;
        // otherwise from the first request after `install()`.
        state();
        HttpMetrics {
            inner,
            route: Arc::new(RouteState {
                settings: Arc::clone(&self.settings),
                last: OnceLock::new(),
            }),
        }
    }
}

/// The service of [`HttpMetricsLayer`]: the inner service, with each
/// request recorded. Its future is an [`HttpMetricsFuture`].
///
/// ```
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use instrument_runtime::{HttpMetrics, HttpMetricsFuture, HttpMetricsLayer};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let metrics = instrument_runtime::install().unwrap();
/// let router = Router::new().route("/orders", get(|| async { "[]" }));
/// let mut service: HttpMetrics<Router> = HttpMetricsLayer::new().layer(router);
/// let request = Request::get("/orders").body(Body::empty()).unwrap();
/// let future: HttpMetricsFuture<_> = service.call(request);
/// assert_eq!(future.await.unwrap().status(), 200);
/// // Around a whole router the layer runs before routing, so it sees no
/// // route pattern; inside it (`Router::layer`) the view is `/orders`.
/// assert!(metrics.render().contains(r#"http_requests_total{method="GET",view="<unmatched>"} 1"#));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct HttpMetrics<S> {
    inner: S,
    /// One allocation shared by the clones of this service (axum clones a
    /// route's service for every request).
    route: Arc<RouteState>,
}

#[derive(Debug)]
struct RouteState {
    settings: Arc<Settings>,
    /// The view this service resolved first: with `Router::layer` each
    /// route has a service of its own, which then skips the table lookup.
    /// Its `MatchedPath` is kept, so the one axum puts on each request to
    /// the route is recognised by its address.
    last: OnceLock<(MatchedPath, &'static View)>,
}

impl<S> HttpMetrics<S> {
    /// Count the request and start its clock, unless nothing is recorded.
    #[inline]
    fn start<B>(&self, request: &Request<B>) -> Option<Guard> {
        let state = state()?;
        let route = &*self.route;
        let settings = &route.settings;
        if settings.excludes_any() && settings.excludes(request.uri().path()) {
            return None;
        }
        let view = match request.extensions().get::<MatchedPath>() {
            Some(matched) => route.view(state, matched),
            None => state.unmatched,
        };
        let handles = view.handles(state, method_index(request.method()));
        handles.requests.increment(1);
        if let (Some(compat), Some(compat_handles)) = (&state.compat, &handles.compat) {
            compat.request(state.rt, view, handles.method, compat_handles, request);
        }
        Some(Guard {
            handles,
            start: Instant::now(),
        })
    }
}

impl RouteState {
    #[inline]
    fn view(&self, state: &'static State, matched: &MatchedPath) -> &'static View {
        if let Some((last, view)) = self.last.get() {
            if std::ptr::eq(last.as_str(), matched.as_str()) || last.as_str() == matched.as_str() {
                return view;
            }
        }
        let view = state.view(matched.as_str());
        let _ = self.last.set((matched.clone(), view));
        view
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body + Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = HttpMetricsFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let guard = self.start(&request);
        // A service may panic in `call` as well as in its future.
        let state = match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => FutureState::Running { future },
            Err(_panic) => FutureState::Panicked,
        };
        HttpMetricsFuture { state, guard }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`HttpMetrics`]: the inner service's, with
    /// the request's latency and status recorded when it completes, or
    /// the request counted and answered 500 when the inner service panics.
    ///
    /// ```
    /// use axum::{body::Body, http::Request, routing::get, Router};
    /// use instrument_runtime::{HttpMetricsFuture, HttpMetricsLayer};
    /// use tower_layer::Layer;
    /// use tower_service::Service;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let metrics = instrument_runtime::install().unwrap();
    /// let router = Router::new().route("/missing", get(|| async {
    ///     (axum::http::StatusCode::NOT_FOUND, "no such thing")
    /// }));
    /// let mut service = HttpMetricsLayer::new().layer(router);
    /// let future: HttpMetricsFuture<_> = service.call(Request::get("/missing").body(Body::empty()).unwrap());
    /// let response = future.await.unwrap();
    /// assert_eq!(response.status(), 404);
    /// assert!(metrics.render().contains(
    ///     r#"http_responses_total_by_status{status="404",method="GET",view="<unmatched>"} 1"#
    /// ));
    /// # }
    /// ```
    pub struct HttpMetricsFuture<F> {
        #[pin]
        state: FutureState<F>,
        guard: Option<Guard>,
    }
}

pin_project_lite::pin_project! {
    #[project = FutureStateProj]
    enum FutureState<F> {
        Running { #[pin] future: F },
        /// `call` panicked: answer 500 on the first poll.
        Panicked,
        Done,
    }
}

impl<F> std::fmt::Debug for HttpMetricsFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetricsFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for HttpMetricsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body + Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let output = match this.state.as_mut().project() {
            FutureStateProj::Running { future } => {
                match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(output)) => Some(output),
                    Err(_panic) => None,
                }
            }
            FutureStateProj::Panicked => None,
            FutureStateProj::Done => panic!("HttpMetricsFuture polled after completion"),
        };
        // Drops the inner future now, a panicked one included.
        this.state.set(FutureState::Done);
        let output = output.unwrap_or_else(|| {
            if let Some(guard) = this.guard {
                guard.panicked();
            }
            let mut response = Response::new(B::default());
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            Ok(response)
        });
        if let Some(guard) = this.guard.take() {
            match &output {
                Ok(response) => guard.responded(response),
                Err(_) => guard.failed(std::any::type_name::<E>()),
            }
        }
        Poll::Ready(output)
    }
}

/// One request in flight: records its outcome, or its duration alone when
/// dropped unfinished.
struct Guard {
    handles: &'static Handles,
    start: Instant,
}

impl Guard {
    /// Records the duration; the guard has then done its work.
    fn finish(self) -> (&'static Handles, f64) {
        let this = std::mem::ManuallyDrop::new(self);
        (this.handles, this.record())
    }

    fn record(&self) -> f64 {
        let seconds = self.start.elapsed().as_secs_f64();
        self.handles.latency.record(seconds);
        seconds
    }

    fn responded<B: http_body::Body>(self, response: &Response<B>) {
        let (handles, seconds) = self.finish();
        let status = response.status().as_u16();
        let (state, view, method) = (handles.state, handles.view, handles.method);
        match handles.responses.get_or_insert(
            |&s| s == status,
            || (status, state.response_counter(view, method, status)),
        ) {
            Some(counter) => counter.increment(1),
            None => state.response_counter(view, method, status).increment(1),
        }
        if let (Some(compat), Some(compat_handles)) = (&state.compat, &handles.compat) {
            compat.response(state, view, method, compat_handles, response, seconds);
        }
    }

    fn failed(self, error_type: &'static str) {
        let (handles, seconds) = self.finish();
        exception(handles, error_type, seconds);
    }

    /// Counted before the 500 is; like a Django view's exception, which
    /// `process_exception` sees before `process_response` sees the 500.
    fn panicked(&self) {
        let seconds = self.start.elapsed().as_secs_f64();
        exception(self.handles, "panic", seconds);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.record();
    }
}

#[cold]
fn exception(handles: &Handles, error_type: &'static str, seconds: f64) {
    let (state, view) = (handles.state, handles.view);
    let labels = vec![
        Label::from_static_parts("type", error_type),
        Label::new("view", view.label.clone()),
    ];
    state
        .rt
        .counter(state.names.exceptions.clone(), labels)
        .increment(1);
    if let (Some(compat), Some(compat_handles)) = (&state.compat, &handles.compat) {
        compat.exception(
            state,
            view,
            handles.method,
            compat_handles,
            error_type,
            seconds,
        );
    }
}

#[inline]
fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::TRACE => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::PATCH => 8,
        _ => 9,
    }
}

/// Up to `N` entries added once each and never removed, found without a
/// lock. Full: `get_or_insert` returns `None` and the caller registers
/// the series on its cold path.
struct Slots<K, V, const N: usize> {
    slots: [OnceLock<(K, V)>; N],
}

impl<K, V, const N: usize> Slots<K, V, N> {
    fn new() -> Self {
        Slots {
            slots: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    #[inline]
    fn get_or_insert(
        &self,
        matches: impl Fn(&K) -> bool,
        make: impl FnOnce() -> (K, V),
    ) -> Option<&V> {
        let mut make = Some(make);
        for slot in &self.slots {
            // Every thread scans in the same order and a slot is filled
            // once, so a key never lands in two slots.
            let (key, value) = match slot.get() {
                Some(entry) => entry,
                None => slot.get_or_init(|| (make.take().expect("one insertion"))()),
            };
            if matches(key) {
                return Some(value);
            }
        }
        None
    }
}

/// Everything the layer records into, resolved after `install()`.
struct State {
    rt: &'static Runtime,
    names: Names,
    /// Route template -> its handles. Bounded by the application's routes.
    views: RwLock<HashMap<Box<str>, &'static View>>,
    unmatched: &'static View,
    compat: Option<Compat>,
}

struct Names {
    requests: String,
    responses: String,
    latency: String,
    exceptions: String,
}

impl State {
    fn new(rt: &'static Runtime) -> Self {
        State {
            rt,
            names: Names {
                requests: rt.builtin(&catalogue::HTTP_REQUESTS),
                responses: rt.builtin(&catalogue::HTTP_RESPONSES),
                latency: rt.builtin(&catalogue::HTTP_LATENCY),
                exceptions: rt.builtin(&catalogue::HTTP_EXCEPTIONS),
            },
            views: RwLock::default(),
            unmatched: View::leak(UNMATCHED, false),
            compat: rt.django_compat.then(|| Compat::new(rt)),
        }
    }

    fn view(&self, template: &str) -> &'static View {
        if let Some(view) = self
            .views
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(template)
        {
            return view;
        }
        self.view_cold(template)
    }

    #[cold]
    #[inline(never)]
    fn view_cold(&self, template: &str) -> &'static View {
        let mut views = self.views.write().unwrap_or_else(|e| e.into_inner());
        views
            .entry(template.into())
            .or_insert_with(|| View::leak(template, true))
    }

    fn labels(&self, view: &View, method: usize) -> Vec<Label> {
        vec![
            Label::from_static_parts("method", METHODS[method]),
            Label::new("view", view.label.clone()),
        ]
    }

    fn response_counter(&self, view: &View, method: usize, status: u16) -> Counter {
        let mut labels = vec![Label::new("status", status.to_string())];
        labels.extend(self.labels(view, method));
        self.rt.counter(self.names.responses.clone(), labels)
    }
}

/// One view (route template): its handles per method, made on first use.
/// Leaked: views live as long as the process, and there are as many as
/// the application has routes.
struct View {
    /// The route template.
    label: SharedString,
    /// The `view` of the compatibility families.
    compat_label: SharedString,
    /// A route matched (django-prometheus: the URL resolved).
    matched: bool,
    methods: [OnceLock<Handles>; METHODS.len()],
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("View").field(&&*self.label).finish()
    }
}

impl View {
    fn leak(template: &str, matched: bool) -> &'static View {
        let label = SharedString::from(Arc::<str>::from(template));
        let compat_label = if !matched {
            SharedString::const_str(COMPAT_UNMATCHED)
        } else if METRICS_PATHS.contains(&template) {
            SharedString::const_str(COMPAT_METRICS_VIEW)
        } else {
            label.clone()
        };
        Box::leak(Box::new(View {
            label,
            compat_label,
            matched,
            methods: std::array::from_fn(|_| OnceLock::new()),
        }))
    }

    #[inline]
    fn handles(&'static self, state: &'static State, method: usize) -> &'static Handles {
        self.methods[method].get_or_init(|| Handles::new(state, self, method))
    }
}

/// The series of one (view, method).
struct Handles {
    state: &'static State,
    view: &'static View,
    method: usize,
    requests: Counter,
    latency: Histogram,
    responses: Slots<u16, Counter, 8>,
    compat: Option<CompatHandles>,
}

impl Handles {
    fn new(state: &'static State, view: &'static View, method: usize) -> Self {
        let rt = state.rt;
        Handles {
            state,
            view,
            method,
            requests: rt.counter(state.names.requests.clone(), state.labels(view, method)),
            latency: rt.histogram(state.names.latency.clone(), state.labels(view, method)),
            responses: Slots::new(),
            compat: state.compat.as_ref().map(|_| CompatHandles::new()),
        }
    }
}

// ------------------------------------------------- django-prometheus compat

/// django-prometheus's HTTP families that are not per (view, method).
struct Compat {
    names: CompatNames,
    requests_before: Counter,
    responses_before: Counter,
    latency_including: Histogram,
    ajax: Counter,
    by_method: [OnceLock<Counter>; METHODS.len()],
    by_transport: [OnceLock<Counter>; TRANSPORTS.len()],
    request_body: Histogram,
    by_status: Slots<u16, Counter, 32>,
    by_charset: Slots<Box<str>, Counter, 8>,
    streaming: Counter,
    response_body: Histogram,
}

struct CompatNames {
    by_method: String,
    by_transport: String,
    by_view_transport_method: String,
    latency_by_view_method: String,
    by_status: String,
    by_status_view_method: String,
    by_charset: String,
    exceptions_by_type: String,
    exceptions_by_view: String,
}

/// django-prometheus's series of one (view, method).
struct CompatHandles {
    /// Made at the first observation, as the package's series appear.
    latency: OnceLock<Histogram>,
    by_transport: [OnceLock<Counter>; TRANSPORTS.len()],
    by_status: Slots<u16, Counter, 8>,
}

impl Compat {
    fn new(rt: &Runtime) -> Self {
        // The unlabelled families exist at 0 from the start, as the
        // package's do. The two "unknown latency" counters stay at 0: the
        // layer always knows when a request started.
        let counter = |family| rt.counter(rt.builtin(family), vec![]);
        let histogram = |family| rt.histogram(rt.builtin(family), vec![]);
        // Registering creates the series; the store keeps it.
        let _ = counter(&compat::UNKNOWN_LATENCY_INCLUDING);
        let _ = counter(&compat::UNKNOWN_LATENCY);
        Compat {
            names: CompatNames {
                by_method: rt.builtin(&compat::REQUESTS_BY_METHOD),
                by_transport: rt.builtin(&compat::REQUESTS_BY_TRANSPORT),
                by_view_transport_method: rt.builtin(&compat::REQUESTS_BY_VIEW_TRANSPORT_METHOD),
                latency_by_view_method: rt.builtin(&compat::LATENCY_BY_VIEW_METHOD),
                by_status: rt.builtin(&compat::RESPONSES_BY_STATUS),
                by_status_view_method: rt.builtin(&compat::RESPONSES_BY_STATUS_VIEW_METHOD),
                by_charset: rt.builtin(&compat::RESPONSES_BY_CHARSET),
                exceptions_by_type: rt.builtin(&compat::EXCEPTIONS_BY_TYPE),
                exceptions_by_view: rt.builtin(&compat::EXCEPTIONS_BY_VIEW),
            },
            requests_before: counter(&compat::REQUESTS_BEFORE),
            responses_before: counter(&compat::RESPONSES_BEFORE),
            latency_including: histogram(&compat::LATENCY_INCLUDING),
            ajax: counter(&compat::AJAX_REQUESTS),
            by_method: std::array::from_fn(|_| OnceLock::new()),
            by_transport: std::array::from_fn(|_| OnceLock::new()),
            request_body: histogram(&compat::REQUEST_BODY_BYTES),
            by_status: Slots::new(),
            by_charset: Slots::new(),
            streaming: counter(&compat::RESPONSES_STREAMING),
            response_body: histogram(&compat::RESPONSE_BODY_BYTES),
        }
    }

    /// `PrometheusBeforeMiddleware.process_request` and
    /// `PrometheusAfterMiddleware.process_request`.
    fn request<B>(
        &self,
        rt: &Runtime,
        view: &View,
        method: usize,
        handles: &CompatHandles,
        request: &Request<B>,
    ) {
        self.requests_before.increment(1);
        let headers = request.headers();
        if headers
            .get("x-requested-with")
            .is_some_and(|value| value == "XMLHttpRequest")
        {
            self.ajax.increment(1);
        }
        self.by_method[method]
            .get_or_init(|| {
                let labels = vec![Label::from_static_parts("method", METHODS[method])];
                rt.counter(self.names.by_method.clone(), labels)
            })
            .increment(1);
        let transport = usize::from(is_secure(request));
        self.by_transport[transport]
            .get_or_init(|| {
                let labels = vec![Label::from_static_parts("transport", TRANSPORTS[transport])];
                rt.counter(self.names.by_transport.clone(), labels)
            })
            .increment(1);
        // Only a request that resolved to a view, as the package counts it.
        if view.matched {
            handles.by_transport[transport]
                .get_or_init(|| {
                    let labels = vec![
                        Label::new("view", view.compat_label.clone()),
                        Label::from_static_parts("transport", TRANSPORTS[transport]),
                        Label::from_static_parts("method", METHODS[method]),
                    ];
                    rt.counter(self.names.by_view_transport_method.clone(), labels)
                })
                .increment(1);
        }
        self.request_body.record(content_length(headers) as f64);
    }

    /// `process_response` of both middlewares.
    fn response<B: http_body::Body>(
        &self,
        state: &State,
        view: &View,
        method: usize,
        handles: &CompatHandles,
        response: &Response<B>,
        seconds: f64,
    ) {
        let rt = state.rt;
        let status = response.status().as_u16();
        let by_status = || {
            let labels = vec![Label::new("status", status.to_string())];
            (status, rt.counter(self.names.by_status.clone(), labels))
        };
        match self.by_status.get_or_insert(|&s| s == status, by_status) {
            Some(counter) => counter.increment(1),
            None => by_status().1.increment(1),
        }
        let by_status_view_method = || {
            let labels = vec![
                Label::new("status", status.to_string()),
                Label::new("view", view.compat_label.clone()),
                Label::from_static_parts("method", METHODS[method]),
            ];
            (
                status,
                rt.counter(self.names.by_status_view_method.clone(), labels),
            )
        };
        match handles
            .by_status
            .get_or_insert(|&s| s == status, by_status_view_method)
        {
            Some(counter) => counter.increment(1),
            None => by_status_view_method().1.increment(1),
        }
        let charset = charset(response.headers());
        let by_charset = || {
            let charset = charset.to_ascii_lowercase();
            let labels = vec![Label::new("charset", charset.clone())];
            let counter = rt.counter(self.names.by_charset.clone(), labels);
            (charset.into_boxed_str(), counter)
        };
        match self
            .by_charset
            .get_or_insert(|c| c.eq_ignore_ascii_case(charset), by_charset)
        {
            Some(counter) => counter.increment(1),
            None => by_charset().1.increment(1),
        }
        match response.body().size_hint().exact() {
            Some(bytes) => self.response_body.record(bytes as f64),
            None => self.streaming.increment(1),
        }
        self.observe(rt, view, method, handles, seconds);
        self.responses_before.increment(1);
        self.latency_including.record(seconds);
    }

    /// `PrometheusAfterMiddleware.process_exception`.
    fn exception(
        &self,
        state: &State,
        view: &View,
        method: usize,
        handles: &CompatHandles,
        error_type: &'static str,
        seconds: f64,
    ) {
        let rt = state.rt;
        let labels = vec![Label::from_static_parts("type", error_type)];
        rt.counter(self.names.exceptions_by_type.clone(), labels)
            .increment(1);
        let labels = vec![Label::new("view", view.compat_label.clone())];
        rt.counter(self.names.exceptions_by_view.clone(), labels)
            .increment(1);
        self.observe(rt, view, method, handles, seconds);
    }

    /// `http_requests_latency_seconds_by_view_method`.
    fn observe(
        &self,
        rt: &Runtime,
        view: &View,
        method: usize,
        handles: &CompatHandles,
        seconds: f64,
    ) {
        handles
            .latency
            .get_or_init(|| {
                let labels = vec![
                    Label::new("view", view.compat_label.clone()),
                    Label::from_static_parts("method", METHODS[method]),
                ];
                rt.histogram(self.names.latency_by_view_method.clone(), labels)
            })
            .record(seconds);
    }
}

impl CompatHandles {
    fn new() -> Self {
        CompatHandles {
            latency: OnceLock::new(),
            by_transport: std::array::from_fn(|_| OnceLock::new()),
            by_status: Slots::new(),
        }
    }
}

/// `https` when the URI says so or a proxy's `X-Forwarded-Proto` does.
fn is_secure<B>(request: &Request<B>) -> bool {
    request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The request's `Content-Length`, 0 when absent or malformed.
fn content_length(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// The `charset` parameter of the response's `Content-Type`, as Django's
/// `HttpResponse.charset` reads it (quotes removed); Django's default
/// `utf-8` when there is none.
fn charset(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value.split(';').skip(1).find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| value.trim().trim_matches('"'))
            })
        })
        .filter(|charset| !charset.is_empty())
        .unwrap_or("utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    header::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn charset_is_the_content_type_parameter_or_utf_8() {
        let charset_of = |value| charset(&headers(&[("content-type", value)])).to_owned();
        assert_eq!(charset_of("text/html; charset=ISO-8859-1"), "ISO-8859-1");
        assert_eq!(charset_of("text/plain;Charset=\"latin1\""), "latin1");
        assert_eq!(charset_of("application/json"), "utf-8");
        assert_eq!(charset_of("text/plain; charset="), "utf-8");
        assert_eq!(charset(&HeaderMap::new()), "utf-8");
    }

    #[test]
    fn content_length_or_zero() {
        assert_eq!(content_length(&headers(&[("content-length", "42")])), 42);
        assert_eq!(content_length(&headers(&[("content-length", "x")])), 0);
        assert_eq!(content_length(&HeaderMap::new()), 0);
    }

    #[test]
    fn secure_by_scheme_or_forwarded_proto() {
        let request = |uri: &str, proto: Option<&'static str>| {
            let mut builder = Request::builder().uri(uri);
            if let Some(proto) = proto {
                builder = builder.header("x-forwarded-proto", proto);
            }
            builder.body(()).unwrap()
        };
        assert!(!is_secure(&request("/a", None)));
        assert!(is_secure(&request("https://example.com/a", None)));
        assert!(is_secure(&request("/a", Some("HTTPS, http"))));
        assert!(!is_secure(&request("/a", Some("http"))));
    }

    #[test]
    fn methods_outside_the_standard_set_are_invalid() {
        let index = |method: &str| method_index(&Method::from_bytes(method.as_bytes()).unwrap());
        assert_eq!(METHODS[index("PATCH")], "PATCH");
        assert_eq!(METHODS[index("get")], "<invalid method>");
        assert_eq!(METHODS[index("PROPFIND")], "<invalid method>");
    }

    #[test]
    fn the_response_future_adds_its_guard_and_a_state_word_to_the_inner_one() {
        type Inner = std::future::Ready<Result<Response<String>, std::io::Error>>;
        // The guard: the series' handles and the start instant.
        assert_eq!(std::mem::size_of::<Option<Guard>>(), 16);
        let added = std::mem::size_of::<HttpMetricsFuture<Inner>>() - std::mem::size_of::<Inner>();
        assert!(added <= 24, "{added} bytes more than the inner future");
    }

    #[test]
    fn slots_hold_each_key_once_and_report_when_full() {
        let slots: Slots<u16, u32, 2> = Slots::new();
        assert_eq!(slots.get_or_insert(|&k| k == 200, || (200, 1)), Some(&1));
        assert_eq!(slots.get_or_insert(|&k| k == 200, || (200, 9)), Some(&1));
        assert_eq!(slots.get_or_insert(|&k| k == 404, || (404, 2)), Some(&2));
        assert_eq!(slots.get_or_insert(|&k| k == 500, || (500, 3)), None);
    }

    #[test]
    fn exclusions() {
        let settings = Settings {
            excluded_prefixes: vec!["/health".into()],
            exclude_metrics_endpoint: true,
        };
        assert!(settings.excludes("/health"));
        assert!(settings.excludes("/healthz"));
        assert!(settings.excludes("/metrics"));
        assert!(settings.excludes("/metrics/"));
        assert!(!settings.excludes("/metrics/x"));
        assert!(!settings.excludes("/users"));
        assert!(!Settings::default().excludes("/metrics"));
    }
}
