//! Prometheus instrumentation for Rust web services, the way a well-run
//! Django deployment has it: attribute macros on handlers and repository
//! functions, one [`install`] at start-up, and a `/metrics/` endpoint.
//!
//! ```
//! use instrument_runtime::{counted, timed};
//!
//! #[counted]
//! #[timed]
//! fn checkout(items: u32) -> Result<u32, String> {
//!     if items == 0 {
//!         return Err("empty cart".into());
//!     }
//!     Ok(items * 100)
//! }
//!
//! let metrics = instrument_runtime::install().expect("installed once");
//! checkout(3).unwrap();
//! checkout(0).unwrap_err();
//!
//! let page = metrics.render();
//! // `module` is the module path of the function (`module_path!()`).
//! let module = module_path!();
//! assert!(page.contains(&format!(r#"function_calls_total{{function="checkout",module="{module}",result="ok"}} 1"#)));
//! assert!(page.contains(&format!(r#"function_calls_total{{function="checkout",module="{module}",result="error"}} 1"#)));
//! assert!(page.contains(&format!(r#"function_calls_duration_seconds_count{{function="checkout",module="{module}"}} 2"#)));
//! ```
//!
//! # A service
//!
//! ```toml
//! [dependencies]
//! instrument-runtime = "0.1"
//! axum = "0.8"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! The macros on the handlers, [`HttpMetricsLayer`] on the router for the
//! request families, [`metrics_router`] for `/metrics/`, and [`install`]
//! once at start-up:
//!
//! ```no_run
//! use axum::{extract::Path, routing::get, Router};
//! use instrument_runtime::{counted, timed, HttpMetricsLayer};
//!
//! #[counted]
//! #[timed]
//! async fn user(Path(id): Path<u64>) -> Result<String, axum::http::StatusCode> {
//!     if id == 0 {
//!         return Err(axum::http::StatusCode::NOT_FOUND);
//!     }
//!     Ok(format!("user {id}"))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // `django`: the names django-prometheus's dashboards and alerts query.
//!     instrument_runtime::Builder::new().namespace("django").install()?;
//!     let app = Router::new()
//!         .route("/users/{id}", get(user))
//!         .merge(instrument_runtime::metrics_router())
//!         .layer(HttpMetricsLayer::new());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # HTTP metrics
//!
//! [`HttpMetricsLayer`] on the router records the request and response
//! families of django-prometheus's middlewares:
//!
//! | family | type | labels | recorded |
//! |---|---|---|---|
//! | `http_requests_total` | counter | method, view | when the request arrives |
//! | `http_responses_total_by_status` | counter | status, method, view | when the response head is ready |
//! | `http_requests_latency_seconds` | histogram | method, view | until the response head, an inner `Err`, or the request being dropped |
//! | `http_exceptions_total` | counter | type, view | a handler panic (`panic`) or an inner service `Err` (its type name) |
//!
//! `view` is the route template (`/users/{id}`), never the raw path, so
//! the series are bounded by the routes whatever paths clients send; a
//! request no route matches is `<unmatched>`, a method outside the
//! standard nine `<invalid method>`. Put the layer on the `Router` with
//! `Router::layer`, where the route is known. A panicking handler is
//! answered with an empty 500 and counted; the server keeps serving.
//!
//! # Protecting `/metrics/`
//!
//! The page tells whoever reads it the routes, traffic and error rates. An
//! allow-list, a bearer token and basic credentials guard it, on
//! [`metrics_router`] and on the standalone listener ([`Builder::listen`])
//! alike: a client outside the networks gets 403, one without valid
//! credentials 401, and neither any metric data. Secrets are read at
//! [`install`] from a file or the environment ([`Secret`]); one that cannot
//! be read is an [`Error::InvalidSetting`] naming it, never showing it, and
//! nothing is installed.
//!
//! ```no_run
//! use std::net::SocketAddr;
//!
//! use instrument_runtime::{Builder, Secret};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     Builder::new()
//!         .allow_network("10.0.0.0/8")
//!         .bearer_token(Secret::from_file("/run/secrets/metrics_token"))
//!         .install()?;
//!     let app = axum::Router::new().merge(instrument_runtime::metrics_router());
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8000").await?;
//!     // The allow-list needs the client's address.
//!     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//!     Ok(())
//! }
//! ```
//!
//! With the `tls` feature the standalone listener speaks TLS and can ask
//! for client certificates (`Builder::listen_tls`, `Tls`), and reads
//! exporter-toolkit's `web-config.yml`, bcrypt users included
//! (`Builder::web_config_file`), as Prometheus's own exporters do.
//!
//! # The django-prometheus profile
//!
//! The Grafana dashboards made for django-prometheus (django-mixin) query
//! the package's own names. [`Builder::django_compat`] adds them, with the
//! package's labels, buckets and counting rules, next to the families
//! above: the HTTP layer's `http_requests_latency_seconds_by_view_method`
//! and its siblings, `db_query_duration_seconds` from [`model_op`],
//! `cache_get_total` and its hits, misses and failures from
//! [`cache_lookup`], and the connection counters of the [`db`] hooks.
//!
//! ```
//! instrument_runtime::Builder::new()
//!     .namespace("django") // the package's names exactly
//!     .db_vendor("sqlite")
//!     .django_compat(true)
//!     .install()?;
//! instrument_runtime::db::connection_opened(); // from the pool's connect hook
//! let page = instrument_runtime::installed().unwrap().render();
//! assert!(page.contains(r#"django_db_new_connections_total{alias="default",vendor="sqlite"} 1"#));
//! assert!(page.contains("# TYPE django_http_requests_latency_seconds_by_view_method histogram"));
//! # Ok::<(), instrument_runtime::Error>(())
//! ```
//!
//! # Batch jobs
//!
//! A job that ends before Prometheus could scrape it pushes its page to a
//! Pushgateway when it finishes ([`Metrics::push`], [`Push`] for grouping
//! labels, a timeout, credentials and `https://`). A push replaces what
//! the same job pushed before; a failure is a [`PushError`] naming the
//! URL and, for a refusal, the gateway's answer.
//!
//! ```no_run
//! #[instrument_runtime::counted]
//! fn run_import() -> Result<u32, std::io::Error> {
//!     Ok(42)
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let metrics = instrument_runtime::install()?;
//!     let outcome = run_import();
//!     // Push whatever happened: a failed run's counters are what an alert needs.
//!     metrics.push("http://pushgateway:9091", "order-import")?;
//!     outcome?;
//!     Ok(())
//! }
//! ```
//!
//! # The families
//!
//! | macro | family | labels |
//! |---|---|---|
//! | [`counted`] | `function_calls_total` | function, module, result |
//! | [`timed`] | `function_calls_duration_seconds` (histogram) | function, module |
//! | [`model_op`] | `db_execute_total`, `db_execute_latency_seconds`, `db_errors_total`, `model_{inserts,updates,deletes}_total` | alias, vendor (type); model |
//! | [`cache_lookup`] | `cache_hits_total`, `cache_misses_total` | backend |
//! | [`db::rusqlite::instrument`] | `db_execute_total`, `db_execute_latency_seconds` for every statement of a connection | alias, vendor |
//! | [`db::diesel::instrument_every_connection`] | the same for every diesel query, `db_errors_total` by diesel's kind of error, new connections | alias, vendor (type) |
//! | [`db::sqlx::SqlxLayer`] | the same for every query sqlx reports to `tracing` | alias, vendor |
//! | [`db::migrations`] | `migrations_applied_total`, `migrations_unapplied_total` (gauges) | connection |
//!
//! With a service name ([`Builder::service_name`], or `OTEL_SERVICE_NAME`
//! in the environment), the two function families also carry
//! `service_name`, after `module`. [`Builder::build_info`] adds the
//! `build_info` gauge (version, commit, branch, service name) that
//! dashboards mark deploys with.
//!
//! The [`Builder`]'s namespace prefixes them (`django_http_requests_total`).
//! Families a macro names itself (`#[counted(name = "api_requests_total")]`)
//! are used as written.
//!
//! # What the macros keep
//!
//! An annotated function compiles wherever the plain one does and behaves
//! the same: same value, early `return` and `?`, coercions of returned
//! values to the declared type, closures typed by the signature
//! (`-> impl Fn(&str) -> &str { |s| s.trim() }`), `#[track_caller]`,
//! arguments dropped after the body's locals in reverse order, panics
//! propagated, attributes and docs kept, no lint on generated code.
//!
//! How the outcome is found:
//!
//! - A body whose value cannot carry an outcome (`()`, `-> impl Trait`,
//!   `-> !`) runs in place, as written: the call is `ok` unless it panics
//!   (or, for an `async fn`, unless its future is dropped at an `.await`:
//!   each `.await` of the body tells the call it is suspended there, so a
//!   drop then is `cancelled`). A body with a macro call that might
//!   suspend unseen (`tokio::select!`, `join!`, a local `macro_rules!`: any
//!   but the standard macros, or one with an `.await` in its arguments)
//!   runs in an async block as below instead; there a closure returned as
//!   `impl Fn(&str) -> &str` needs its parameter types written.
//! - A synchronous body with no `?` and no macro that might return (any
//!   macro outside `std`'s `assert!`, `format!`, `vec!`, `println!`, ...)
//!   runs in place too; each `return` records the value it returns, and so
//!   does the tail expression.
//! - Otherwise the body runs in a closure (an async block for `async fn`)
//!   that every `return` and `?` leave, and the value is read there. The
//!   closure's return type is the declared one, and the arguments move into
//!   it in declaration order, so that it compiles and drops as the
//!   function does.
//! - A `#[track_caller]` body never moves into a closure (the caller's
//!   location would be lost): a `?` there, or a return inside a macro, is
//!   classified by the declared type alone, as an error for a `Result`
//!   (its `E`'s type name for [`model_op`]'s `type` label; an
//!   `error_type = ..` function cannot see a value that `?` took away).
//!
//! The value is classified by its type where the function is written:
//! `Result<T, E>` is `ok` or `error`, anything else `ok`. A generic
//! function returning `T` cannot tell that `T` is a `Result` on stable
//! Rust; name the outcome with `#[model_op(.., error_type = ..)]`, or
//! return `Result` from the instrumented function.
//!
//! # Renamed dependency, facade crates
//!
//! The generated code calls instrument-runtime by the name your Cargo.toml
//! gives it: `::instrument_runtime`, or `::instr` for
//! `instr = { package = "instrument-runtime" }` (read with
//! proc-macro-crate). Where the macros come through a crate of yours that
//! re-exports them, say where the runtime is with `crate = path`, as with
//! serde and tracing:
//!
//! ```
//! mod facade {
//!     pub mod instrument {
//!         pub use instrument_runtime::*;
//!     }
//! }
//!
//! #[facade::instrument::counted(crate = facade::instrument)]
//! fn through_a_facade() {}
//! # through_a_facade();
//! ```
//!
//! # Another recorder
//!
//! The macros and the HTTP layer record into the recorder the application
//! chose: this crate's store ([`install`]), a composition of it
//! ([`Builder::install_with`]), another crate's recorder
//! ([`Builder::install_recorder`]), the global recorder another crate has
//! installed ([`Builder::attach`]), or, with the feature
//! `metrics-exporter-prometheus`, that exporter (`Builder::install_prometheus`,
//! `Builder::attach_prometheus`). Diagnostics are `tracing` events with the
//! target `instrument_runtime`.
//!
//! # Features
//!
//! - `axum` (default): the HTTP layer, [`metrics_router`] and the
//!   standalone listener ([`Builder::listen`]).
//! - `tls`: TLS and client certificates on the standalone listener
//!   (`Builder::listen_tls`), exporter-toolkit's `web-config.yml` with
//!   bcrypt basic-auth users (`Builder::web_config_file`), and pushes to an
//!   `https://` Pushgateway; rustls with the ring provider, no system
//!   OpenSSL.
//! - `metrics-exporter-prometheus`: that exporter as the backend.
//! - `exemplars`: the trace of the newest value on each counter and
//!   histogram bucket of the OpenMetrics page, from a source of the
//!   current trace the application names ([`Builder::exemplars`]).
//! - `opentelemetry-0_33`: `exemplars`, with [`ExemplarLayer`], the source
//!   of the current trace for tracing-opentelemetry 0.34's spans.
//!
//! # Cost
//!
//! Each annotated function owns a `static` call site that resolves its
//! metric handles once, when [`install`] runs; a call then does an atomic
//! load and the handle's atomic update, nothing else. A site whose label
//! values come from arguments formats them and looks its series up on each
//! call (the cardinality guard sees every new label set). Calls made before
//! [`install`] are not recorded; they do not disable the call site.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod access;
#[cfg(test)]
mod architecture;
mod build_info;
mod catalogue;
pub mod db;
mod diagnostics;
mod error;
#[cfg(feature = "metrics-exporter-prometheus")]
mod exporter;
#[cfg(feature = "axum")]
mod http;
mod install;
mod names;
mod objective;
#[cfg(feature = "tls")]
mod pem;
mod push;
mod rules;
mod runtime;
mod secret;
mod settings;
mod sites;
mod store;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "exemplars")]
mod trace;
#[cfg(feature = "tls")]
mod web_config;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::build_info::BuildInfo;
pub use crate::catalogue::{DEFAULT_BUCKETS, OVERFLOW};
pub use crate::error::Error;
#[cfg(feature = "axum")]
pub use crate::http::{
    metrics_handler, metrics_router, HttpMetrics, HttpMetricsFuture, HttpMetricsLayer,
    CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE,
};
pub use crate::objective::Objective;
pub use crate::push::{Push, PushError};
pub use crate::rules::ObjectiveRules;
pub use crate::runtime::{installed, Metrics};
pub use crate::secret::Secret;
pub use crate::settings::Builder;
pub use crate::store::StoreRecorder;
#[cfg(feature = "tls")]
pub use crate::tls::{ClientAuth, Tls, TlsVersion};
#[cfg(feature = "opentelemetry-0_33")]
pub use crate::trace::ExemplarLayer;
#[cfg(feature = "exemplars")]
pub use crate::trace::TraceContext;

/// Count the calls of a function in `function_calls_total{function, module, result}`.
///
/// `result` is `ok`, `error` when the function returns an `Err`, `panic`
/// when it panics (the panic still propagates), and `cancelled` when an async
/// function's future is dropped before it completes. The `ok`, `error` and
/// `panic` series exist at 0 from [`install`] on.
///
/// `function` is the function's own name, and `module` its module path
/// (`module_path!()`). A method is named without its type: an attribute on
/// a method cannot see the `impl` it is in, so `TypeA::make` and
/// `TypeB::make` of one module count in one series. Where an ops team must
/// tell them apart, give each a family or a label of its own
/// (`#[counted(name = "make_calls_total", labels(kind = "a"))]`), or keep
/// the types in modules of their own. An `async fn`'s call
/// starts at the first poll of its future (none of its code runs before);
/// a `fn .. -> impl Future`'s at the call, so a panic while it builds the
/// future is a `panic` and its future dropped unpolled `cancelled`.
///
/// ```
/// use instrument_runtime::counted;
///
/// #[counted]
/// fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
///     input.parse()
/// }
///
/// let metrics = instrument_runtime::install().unwrap();
/// parse("12").unwrap();
/// parse("x").unwrap_err();
/// let page = metrics.render();
/// // `module` is the module path of the function (`module_path!()`).
/// let module = module_path!();
/// assert!(page.contains(&format!(r#"function_calls_total{{function="parse",module="{module}",result="ok"}} 1"#)));
/// assert!(page.contains(&format!(r#"function_calls_total{{function="parse",module="{module}",result="error"}} 1"#)));
/// assert!(page.contains(&format!(r#"function_calls_total{{function="parse",module="{module}",result="panic"}} 0"#)));
/// ```
///
/// # Arguments
///
/// - `name = ".."`: count in a family of your own instead, used as written
///   (no namespace), with exactly the labels given in `labels`.
/// - `help = ".."`: that family's HELP text.
/// - `labels(name = value, ..)`: that family's labels. A literal (`"GET"`,
///   `200`, `true`) is a fixed value; any other expression is evaluated
///   from the arguments before the body runs and formatted with `Display`.
///
/// ```
/// use instrument_runtime::counted;
///
/// #[counted(
///     name = "api_requests_total",
///     help = "Total count of API requests",
///     labels(endpoint = endpoint, method = method, status = 200)
/// )]
/// fn api_view(endpoint: &str, method: &str) -> &'static str {
///     "ok"
/// }
///
/// let metrics = instrument_runtime::install().unwrap();
/// api_view("orders", "GET");
/// assert!(metrics.render().contains(r#"api_requests_total{endpoint="orders",method="GET",status="200"} 1"#));
/// ```
#[doc(inline)]
pub use instrument_macros::counted;

/// Record the duration of every call in the histogram
/// `function_calls_duration_seconds{function, module}`, whether the call
/// returns, panics or (for a future) is dropped before it completes.
///
/// ```
/// use instrument_runtime::timed;
/// use std::future::Future;
///
/// #[timed]
/// async fn fetch(id: u32) -> u32 {
///     id
/// }
///
/// let metrics = instrument_runtime::install().unwrap();
/// let mut future = std::pin::pin!(fetch(7));
/// let mut context = std::task::Context::from_waker(std::task::Waker::noop());
/// assert_eq!(future.as_mut().poll(&mut context), std::task::Poll::Ready(7));
/// let page = metrics.render();
/// // `module` is the module path of the function (`module_path!()`).
/// let module = module_path!();
/// assert!(page.contains(&format!(r#"function_calls_duration_seconds_count{{function="fetch",module="{module}"}} 1"#)));
/// assert!(page.contains(&format!(r#"function_calls_duration_seconds_bucket{{function="fetch",module="{module}",le="0.01"}} 1"#)));
/// ```
///
/// # Arguments
///
/// The same as [`counted`]: `name = ".."`, `help = ".."` and
/// `labels(name = value, ..)` record into a histogram family of your own
/// (`le` is reserved for the buckets). Buckets come from the
/// [`Builder`]: [`Builder::buckets`] for all, [`Builder::family_buckets`]
/// for one family.
///
/// ```
/// use instrument_runtime::timed;
///
/// #[timed(
///     name = "api_request_latency_seconds",
///     help = "API request latency in seconds",
///     labels(endpoint = endpoint, method = "GET")
/// )]
/// fn api_view(endpoint: &str) {}
///
/// let metrics = instrument_runtime::install().unwrap();
/// api_view("orders");
/// assert!(metrics.render().contains(r#"api_request_latency_seconds_count{endpoint="orders",method="GET"} 1"#));
/// ```
#[doc(inline)]
pub use instrument_macros::timed;

/// Record a database operation of a model, as django-prometheus's model and
/// database instrumentation does.
///
/// Every call counts in `db_execute_total{alias, vendor}` before it runs,
/// failed ones included, and its latency in `db_execute_latency_seconds`.
/// An `Ok` (or any non-`Result` return) counts in
/// `model_inserts_total{model}`, `model_updates_total` or
/// `model_deletes_total` according to `op`; an `Err` counts in
/// `db_errors_total{alias, vendor, type}` with the error's type name; a
/// panic counts there with `type="panic"`. A model's three counters exist at
/// 0 from [`install`] on.
///
/// ```
/// use instrument_runtime::model_op;
///
/// #[model_op(model = "user", op = insert)]
/// fn insert_user(id: &str) -> Result<u64, std::num::ParseIntError> {
///     id.parse()
/// }
///
/// let metrics = instrument_runtime::Builder::new().db_vendor("sqlite").install().unwrap();
/// insert_user("1").unwrap();
/// insert_user("x").unwrap_err();
/// let page = metrics.render();
/// assert!(page.contains(r#"model_inserts_total{model="user"} 1"#));
/// assert!(page.contains(r#"model_deletes_total{model="user"} 0"#));
/// assert!(page.contains(r#"db_execute_total{alias="default",vendor="sqlite"} 2"#));
/// assert!(page.contains(r#"db_errors_total{alias="default",vendor="sqlite",type="core::num::error::ParseIntError"} 1"#));
/// ```
///
/// # Arguments
///
/// - `model = ".."` (required): the `model` label.
/// - `op = insert | update | delete | select` (required): which model
///   counter a success increments; `select` counts in the DB families only.
/// - `alias = ".."`, `vendor = ".."`: override [`Builder::db_alias`] and
///   [`Builder::db_vendor`] for this function.
/// - `error_type = path`: a function (or closure) from `&E` to a
///   `Display` value, used as the `type` label instead of the type name.
/// - `many = expr`: a bulk execution of `expr` statements (an integer,
///   evaluated from the arguments before the body runs). Each statement
///   counts in `db_execute_total` (and the profile's
///   `db_execute_many_total`) and, on success, in the model counter; the
///   latency is observed once.
///
/// ```
/// use instrument_runtime::model_op;
///
/// fn kind(error: &std::io::Error) -> String {
///     format!("{:?}", error.kind())
/// }
///
/// #[model_op(model = "order", op = delete, alias = "replica", vendor = "postgresql", error_type = kind)]
/// fn delete_order(id: u64) -> std::io::Result<()> {
///     Err(std::io::ErrorKind::NotFound.into())
/// }
///
/// let metrics = instrument_runtime::install().unwrap();
/// delete_order(1).unwrap_err();
/// let page = metrics.render();
/// assert!(page.contains(r#"db_errors_total{alias="replica",vendor="postgresql",type="NotFound"} 1"#));
/// ```
#[doc(inline)]
pub use instrument_macros::model_op;

/// Count the hits and misses of a cache lookup in
/// `cache_hits_total{backend}` and `cache_misses_total{backend}`.
///
/// The function returns `Option<T>` (`Some` is a hit, `None` a miss) or
/// `Result<Option<T>, E>` (`Err` is neither); any other return type is a
/// compile error. (The attribute is not called `cached`: that name belongs
/// to the `cached` crate's memoizing macro.)
///
/// ```
/// use instrument_runtime::cache_lookup;
/// use std::collections::HashMap;
///
/// struct Cache(HashMap<u32, String>);
///
/// impl Cache {
///     #[cache_lookup(backend = "locmem")]
///     fn get(&self, key: u32) -> Option<&String> {
///         self.0.get(&key)
///     }
/// }
///
/// let metrics = instrument_runtime::install().unwrap();
/// let cache = Cache(HashMap::from([(1, "one".to_owned())]));
/// cache.get(1);
/// cache.get(2);
/// cache.get(3);
/// let page = metrics.render();
/// assert!(page.contains(r#"cache_hits_total{backend="locmem"} 1"#));
/// assert!(page.contains(r#"cache_misses_total{backend="locmem"} 2"#));
/// ```
///
/// # Arguments
///
/// - `backend = ".."`: the `backend` label; `"default"` when left out.
#[doc(inline)]
pub use instrument_macros::cache_lookup;

/// Install the Prometheus recorder with the default settings.
///
/// Describes every family that an annotated function declares and creates
/// its statically known series at 0, and returns the [`Metrics`] that `/metrics/` renders.
/// Use [`Builder`] for a namespace, buckets, global labels or a standalone
/// listener.
///
/// ```
/// #[instrument_runtime::counted]
/// fn handle() {}
///
/// let metrics = instrument_runtime::install()?;
/// handle();
/// assert!(metrics.render().contains("# TYPE function_calls_total counter"));
///
/// // Once per process: a second call is an error, never a panic.
/// assert!(matches!(
///     instrument_runtime::install(),
///     Err(instrument_runtime::Error::AlreadyInstalled)
/// ));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::AlreadyInstalled`] when a recorder is already installed (a
/// second call returns it; it never panics).
pub fn install() -> Result<Metrics, Error> {
    Builder::new().install()
}
