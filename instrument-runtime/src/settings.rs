//! The settings [`Builder`] and their validation.

use std::net::SocketAddr;
use std::time::Duration;

use crate::catalogue::DEFAULT_BUCKETS;
use crate::names::{is_metric_name, is_user_label_name};
use crate::{Error, Secret};

/// Settings for [`install`](crate::install), built step by step.
///
/// ```
/// # fn main() -> Result<(), instrument_runtime::Error> {
/// #[instrument_runtime::model_op(model = "user", op = insert)]
/// fn insert_user() {}
///
/// let metrics = instrument_runtime::Builder::new()
///     .namespace("django")
///     .global_label("service", "billing")
///     .db_alias("default")
///     .db_vendor("sqlite")
///     .family_buckets("db_execute_latency_seconds", &[0.001, 0.01, 0.1, 1.0])
///     .install()?;
/// insert_user();
/// let page = metrics.render();
/// assert!(page.contains(r#"django_model_inserts_total{service="billing",model="user"} 1"#));
/// assert!(page.contains(r#"django_db_execute_latency_seconds_bucket{service="billing",alias="default",vendor="sqlite",le="0.001"} 1"#));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Builder does nothing until `.install()` is called"]
pub struct Builder {
    pub(crate) namespace: String,
    pub(crate) buckets: Vec<f64>,
    pub(crate) family_buckets: Vec<(String, Vec<f64>)>,
    pub(crate) global_labels: Vec<(String, String)>,
    pub(crate) db_alias: String,
    pub(crate) db_vendor: String,
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) listen: Option<SocketAddr>,
    #[cfg(feature = "axum")]
    pub(crate) listen_limits: Limits,
    pub(crate) django_compat: bool,
    pub(crate) bearer_token: Option<Secret>,
    pub(crate) basic_auth: Option<(String, Secret)>,
    pub(crate) allow_networks: Vec<String>,
    #[cfg(feature = "tls")]
    pub(crate) listen_tls: Option<crate::Tls>,
    #[cfg(feature = "tls")]
    pub(crate) web_config_file: Option<std::path::PathBuf>,
    pub(crate) cardinality_limit: usize,
    pub(crate) build_info: Option<crate::BuildInfo>,
    pub(crate) service_name: Option<String>,
    pub(crate) family_cardinality_limits: Vec<(String, usize)>,
    #[cfg(feature = "exemplars")]
    pub(crate) exemplars: Option<fn() -> Option<crate::TraceContext>>,
    pub(crate) http_objectives: Vec<(String, crate::Objective)>,
}

/// The default limit on distinct runtime label sets per family.
const DEFAULT_CARDINALITY_LIMIT: usize = 1000;

impl Default for Builder {
    fn default() -> Self {
        Builder {
            namespace: String::new(),
            buckets: DEFAULT_BUCKETS.to_vec(),
            family_buckets: Vec::new(),
            global_labels: Vec::new(),
            db_alias: "default".to_owned(),
            db_vendor: "unknown".to_owned(),
            listen: None,
            #[cfg(feature = "axum")]
            listen_limits: Limits::default(),
            django_compat: false,
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            build_info: None,
            service_name: None,
            family_cardinality_limits: Vec::new(),
            #[cfg(feature = "exemplars")]
            exemplars: None,
            http_objectives: Vec::new(),
            bearer_token: None,
            basic_auth: None,
            allow_networks: Vec::new(),
            #[cfg(feature = "tls")]
            listen_tls: None,
            #[cfg(feature = "tls")]
            web_config_file: None,
        }
    }
}

impl Builder {
    /// The default settings: no namespace, django-prometheus's latency
    /// buckets, DB alias `default` and vendor `unknown`, no listener, and
    /// `/metrics/` open to every client.
    ///
    /// ```
    /// let metrics = instrument_runtime::Builder::new().install()?;
    /// # let _ = metrics;
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Prefix every built-in family with `namespace` and an underscore.
    /// With `"django"`, `http_requests_total` becomes
    /// `django_http_requests_total`. Families named in a macro's `name = ".."`
    /// are used as written.
    ///
    /// ```
    /// #[instrument_runtime::counted]
    /// fn ship() {}
    ///
    /// let metrics = instrument_runtime::Builder::new().namespace("shop").install()?;
    /// ship();
    /// assert!(metrics.render().contains("# TYPE shop_function_calls_total counter"));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The bucket upper bounds for every histogram without its own buckets.
    /// `+Inf` is always added. The bounds must be finite, not negative and
    /// strictly increasing, or `install()` returns `Error::InvalidSetting`.
    ///
    /// ```
    /// #[instrument_runtime::timed]
    /// fn batch() {}
    ///
    /// let metrics = instrument_runtime::Builder::new().buckets(&[0.5, 5.0, 60.0]).install()?;
    /// batch();
    /// let page = metrics.render();
    /// assert!(page.contains(r#"le="60"} 1"#) && page.contains(r#"le="+Inf"} 1"#));
    /// assert!(!page.contains(r#"le="0.01""#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn buckets(mut self, buckets: &[f64]) -> Self {
        self.buckets = buckets.to_vec();
        self
    }

    /// The bucket upper bounds for one family, named without the namespace
    /// (`"db_execute_latency_seconds"`) or, for a custom family, as the
    /// macro names it. The bounds are checked as those of [`buckets`](Self::buckets).
    ///
    /// ```
    /// #[instrument_runtime::timed(name = "export_seconds")]
    /// fn export() {}
    ///
    /// let metrics = instrument_runtime::Builder::new()
    ///     .family_buckets("export_seconds", &[1.0, 10.0, 100.0])
    ///     .install()?;
    /// export();
    /// assert!(metrics.render().contains(r#"export_seconds_bucket{le="100"} 1"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn family_buckets(mut self, family: impl Into<String>, buckets: &[f64]) -> Self {
        self.family_buckets.push((family.into(), buckets.to_vec()));
        self
    }

    /// A label added to every series, e.g. the service or region. Setting
    /// the same name again replaces its value. A label of the series itself
    /// wins over a global label of the same name.
    ///
    /// ```
    /// #[instrument_runtime::counted(name = "jobs_total")]
    /// fn job() {}
    ///
    /// let metrics = instrument_runtime::Builder::new()
    ///     .global_label("region", "eu")
    ///     .global_label("region", "us") // replaces "eu"
    ///     .install()?;
    /// job();
    /// assert!(metrics.render().contains(r#"jobs_total{region="us"} 1"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn global_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        // One entry per name: a label twice in a series makes Prometheus
        // reject the whole scrape.
        match self.global_labels.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.global_labels.push((name, value)),
        }
        self
    }

    /// The `alias` label of the DB families, unless `#[model_op(alias = "..")]` says otherwise.
    ///
    /// ```
    /// #[instrument_runtime::model_op(model = "order", op = insert)]
    /// fn insert_order() {}
    ///
    /// let metrics = instrument_runtime::Builder::new()
    ///     .db_alias("orders")
    ///     .db_vendor("postgresql")
    ///     .install()?;
    /// insert_order();
    /// assert!(metrics.render().contains(r#"db_execute_total{alias="orders",vendor="postgresql"} 1"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn db_alias(mut self, alias: impl Into<String>) -> Self {
        self.db_alias = alias.into();
        self
    }

    /// The `vendor` label of the DB families (`sqlite`, `postgresql`,
    /// `mysql`, ...), unless `#[model_op(vendor = "..")]` says otherwise.
    ///
    /// ```
    /// let builder = instrument_runtime::Builder::new().db_vendor("sqlite");
    /// # let _ = builder;
    /// ```
    pub fn db_vendor(mut self, vendor: impl Into<String>) -> Self {
        self.db_vendor = vendor.into();
        self
    }

    /// Also serve `/metrics` and `/metrics/` on a listener of their own, on
    /// its own thread. Every other path there answers 404. The protection
    /// settings apply here as on the mounted route; the listener passes
    /// the client's address itself.
    ///
    /// ```no_run
    /// // /metrics/ on port 9464 for Prometheus, the application elsewhere.
    /// instrument_runtime::Builder::new()
    ///     .listen("0.0.0.0:9464".parse().unwrap())
    ///     .install()?;
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    #[cfg(feature = "axum")]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// How long the [`listen`](Builder::listen) listener waits on a client
    /// for a request head (default 10 s): from the moment the connection is
    /// accepted or, on a kept-alive connection, the previous response was
    /// sent, until the head has arrived in full. A client slower than that
    /// is disconnected, so idle or slow clients cannot hold connections.
    /// Prometheus reconnects by itself when a kept-alive connection was
    /// closed between two scrapes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = instrument_runtime::Builder::new()
    ///     .listen("127.0.0.1:9464".parse().unwrap())
    ///     .listen_timeout(Duration::from_secs(5));
    /// ```
    #[cfg(feature = "axum")]
    pub fn listen_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.listen_limits.timeout = timeout;
        self
    }

    /// How long a write of a response by the [`listen`](Builder::listen)
    /// listener may make no progress (default 30 s, like nginx's
    /// `send_timeout`): a client that stops reading its response is then
    /// disconnected. A slow reader that keeps reading is served in full,
    /// however long the page takes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = instrument_runtime::Builder::new()
    ///     .listen("127.0.0.1:9464".parse().unwrap())
    ///     .listen_write_timeout(Duration::from_secs(60));
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "axum")]
    pub fn listen_write_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.listen_limits.write_timeout = timeout;
        self
    }

    /// How many connections the [`listen`](Builder::listen) listener serves
    /// at once (default 1024). Further clients wait in the kernel's accept
    /// backlog until a connection closes, which [`listen_timeout`]
    /// bounds. With [`listen_max_head_bytes`], it bounds the memory that
    /// clients can hold before their credentials are checked.
    ///
    /// [`listen_timeout`]: Builder::listen_timeout
    /// [`listen_max_head_bytes`]: Builder::listen_max_head_bytes
    ///
    /// ```
    /// let builder = instrument_runtime::Builder::new()
    ///     .listen("127.0.0.1:9464".parse().unwrap())
    ///     .listen_max_connections(64);
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "axum")]
    pub fn listen_max_connections(mut self, connections: usize) -> Self {
        self.listen_limits.max_connections = connections;
        self
    }

    /// The largest request head (request line and header fields) the
    /// [`listen`](Builder::listen) listener reads (default 16 KiB, at least
    /// 8 KiB). A larger head is answered with 431 and the connection is
    /// closed. A scrape's head, with its `Authorization` header, is a few
    /// hundred bytes.
    ///
    /// ```
    /// let refused = instrument_runtime::Builder::new()
    ///     .listen("127.0.0.1:0".parse().unwrap())
    ///     .listen_max_head_bytes(1024)
    ///     .install();
    /// assert!(refused.unwrap_err().to_string().contains("at least 8192 bytes"));
    /// ```
    #[cfg(feature = "axum")]
    pub fn listen_max_head_bytes(mut self, bytes: usize) -> Self {
        self.listen_limits.max_head_bytes = bytes;
        self
    }

    /// Also record the families that the django-prometheus 2.5.0 package
    /// exports under its own names (`http_requests_latency_seconds_by_view_method`,
    /// `http_responses_total_by_status_view_method_total`,
    /// `cache_get_hits_total`, `db_query_duration_seconds`, ...), with its
    /// labels, buckets and counting rules, so that dashboards built for it
    /// (django-mixin 17617, 17616, 17613) work unchanged. With
    /// `.namespace("django")` the names are the package's. Off by default:
    /// none of these families appear.
    ///
    /// ```
    /// let metrics = instrument_runtime::Builder::new()
    ///     .namespace("django")
    ///     .django_compat(true)
    ///     .install()?;
    /// assert!(metrics.render().contains("# TYPE django_http_requests_before_middlewares_total counter"));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn django_compat(mut self, enabled: bool) -> Self {
        self.django_compat = enabled;
        self
    }

    /// Require `Authorization: Bearer <token>` to read `/metrics/`, on
    /// the mounted route and the standalone listener alike. With
    /// [`basic_auth`](Builder::basic_auth) too, either is accepted. A
    /// request without it, or with another token, gets 401 and no metric
    /// data. Setting it again replaces the token.
    ///
    /// The token is read at install: a variable that is not set, a file
    /// that cannot be read, or an empty token is an
    /// [`Error::InvalidSetting`] for `"bearer_token"`, and nothing is
    /// installed.
    ///
    /// ```no_run
    /// use instrument_runtime::{Builder, Secret};
    ///
    /// Builder::new()
    ///     .bearer_token(Secret::from_file("/run/secrets/metrics_token"))
    ///     .install()
    ///     .expect("the token file is readable");
    /// ```
    pub fn bearer_token(mut self, token: Secret) -> Self {
        self.bearer_token = Some(token);
        self
    }

    /// Require HTTP basic credentials (`Authorization: Basic ..`) to read
    /// `/metrics/`; with a [`bearer_token`](Builder::bearer_token) too,
    /// either is accepted. Setting it again replaces the credentials.
    ///
    /// Read at install: an empty username, a username with `:`, or a
    /// password that cannot be read or is empty is an
    /// [`Error::InvalidSetting`] for `"basic_auth"`.
    ///
    /// ```no_run
    /// use instrument_runtime::{Builder, Secret};
    ///
    /// Builder::new()
    ///     .basic_auth("prometheus", Secret::from_env("METRICS_PASSWORD"))
    ///     .install()?;
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn basic_auth(mut self, username: impl Into<String>, password: Secret) -> Self {
        self.basic_auth = Some((username.into(), password));
        self
    }

    /// Let only clients from this network read `/metrics/`: a CIDR network
    /// (`"10.0.0.0/8"`, `"fd00::/8"`) or one address (`"192.168.1.5"`,
    /// `"::1"`). Call it once per network; a client in any of them passes,
    /// any other gets 403. Checked before the credentials, when both are
    /// set. IPv4 networks match IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`)
    /// too.
    ///
    /// The address is the TCP peer's, never a forwarded header (which any
    /// client can write). On the application's router it comes from axum's
    /// `ConnectInfo`, so serve the router with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without it
    /// every scrape gets 403.
    ///
    /// An entry that does not parse, or has bits set after its prefix
    /// (`10.1.2.3/8`), is an [`Error::InvalidSetting`] for
    /// `"allow_network"` at install.
    ///
    /// ```
    /// let refused = instrument_runtime::Builder::new().allow_network("10.1.2.3/8").install();
    /// assert!(refused.unwrap_err().to_string().contains("write 10.0.0.0/8 for the network"));
    /// ```
    pub fn allow_network(mut self, network: impl Into<String>) -> Self {
        self.allow_networks.push(network.into());
        self
    }

    /// Serve the standalone listener ([`listen`](Builder::listen)) over
    /// TLS, optionally asking for client certificates (mTLS); [`Tls`] says
    /// what it reads and when. Needs the `tls` feature.
    ///
    /// ```no_run
    /// use instrument_runtime::{Builder, Tls};
    ///
    /// // https://<host>:9100/metrics/ (and /metrics), and nothing else.
    /// let metrics = Builder::new()
    ///     .listen("0.0.0.0:9100".parse().unwrap())
    ///     .listen_tls(Tls::new("/etc/metrics/tls.crt", "/etc/metrics/tls.key"))
    ///     .install()?;
    /// # drop(metrics);
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    ///
    /// [`Tls`]: crate::Tls
    #[cfg(feature = "tls")]
    pub fn listen_tls(mut self, tls: crate::Tls) -> Self {
        self.listen_tls = Some(tls);
        self
    }

    /// Read exporter-toolkit's `web-config.yml`, the file node_exporter and
    /// the other Prometheus exporters take with `--web.config.file`:
    /// `tls_server_config` for the standalone listener's TLS and client
    /// certificates, `basic_auth_users` (bcrypt hashes) for `/metrics/`
    /// wherever it is served, `http_server_config.headers` and
    /// `rate_limit`. Needs the `tls` feature.
    ///
    /// Read and checked at install: an unreadable file, an unknown field, a
    /// value that cannot be used, a certificate that cannot be read or does
    /// not match its key, or a bad bcrypt hash is an
    /// [`Error::InvalidSetting`] for `"web_config_file"` naming the file
    /// and the field (never a key or a hash), and nothing is installed.
    /// Relative file names are taken from the file's directory. The
    /// certificate files are read again when they change; the rest of the
    /// file is read once.
    ///
    /// ```no_run
    /// // web-config.yml:
    /// //   tls_server_config:
    /// //     cert_file: tls.crt
    /// //     key_file: tls.key
    /// //   basic_auth_users:
    /// //     prometheus: $2y$10$...   # htpasswd -nbBC 10 "" "$PASSWORD" | tr -d ':\n'
    /// instrument_runtime::Builder::new()
    ///     .listen("0.0.0.0:9100".parse().unwrap())
    ///     .web_config_file("/etc/billing/web-config.yml")
    ///     .install()?;
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    ///
    /// What exporter-toolkit takes and this crate does not (each an error
    /// naming it): `client_allowed_sans`, a `max_version` below TLS 1.2
    /// (rustls speaks 1.2 and 1.3; a `min_version` of `TLS10` or `TLS11` is
    /// met by 1.2), CBC `cipher_suites`, `curve_preferences` `CurveP521`,
    /// and a verifying `client_auth_type` without `client_ca_file` (Go
    /// would use the system roots). `http2` is accepted; the listener
    /// speaks HTTP/1.1.
    #[cfg(feature = "tls")]
    pub fn web_config_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.web_config_file = Some(path.into());
        self
    }

    /// The most distinct label sets that runtime values (labels taken from
    /// arguments, `error_type` values) may create in one family; 1000 by
    /// default. Past it, new label values are counted under
    /// `"__overflow__"`, `cardinality_overflow_total{family}` counts the
    /// folded calls, and a warning is written once per family.
    ///
    /// ```
    /// #[instrument_runtime::counted(name = "downloads_total", labels(file = file))]
    /// fn download(file: &str) {}
    ///
    /// let metrics = instrument_runtime::Builder::new().cardinality_limit(3).install()?;
    /// for file in ["a.zip", "b.zip", "c.zip", "d.zip", "e.zip", "a.zip"] {
    ///     download(file);
    /// }
    /// let page = metrics.render();
    /// assert!(page.contains(r#"downloads_total{file="a.zip"} 2"#));
    /// assert!(page.contains(r#"downloads_total{file="__overflow__"} 2"#));
    /// assert!(page.contains(r#"cardinality_overflow_total{family="downloads_total"} 2"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit;
        self
    }

    /// Add the `build_info` gauge (always 1) with the version, commit,
    /// branch and service name of `info`, usually
    /// [`build_info!()`](crate::build_info!), so that dashboards can show
    /// which build served the other series and mark each deploy. The
    /// `service_name` is [`service_name`](Self::service_name)'s where set,
    /// else `OTEL_SERVICE_NAME` where the environment has it at install (as
    /// OpenTelemetry's SDKs read it), else `info`'s. The namespace prefixes
    /// the family as any other.
    ///
    /// ```
    /// let metrics = instrument_runtime::Builder::new()
    ///     .namespace("django")
    ///     .build_info(instrument_runtime::BuildInfo::new("shop", "1.0.0"))
    ///     .install()?;
    /// let page = metrics.render();
    /// assert!(page.contains("# TYPE django_build_info gauge\n"));
    /// assert!(page.contains(r#"version="1.0.0",commit="",branch="""#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn build_info(mut self, info: crate::BuildInfo) -> Self {
        self.build_info = Some(info);
        self
    }

    /// Label the function families (`function_calls_total`,
    /// `function_calls_duration_seconds`) with `service_name`, as
    /// autometrics' dashboards and OpenTelemetry name a service, and name
    /// the service so in `build_info`. Without it, `OTEL_SERVICE_NAME` at
    /// install sets it where the environment has one; with neither, the
    /// families have no `service_name` label.
    ///
    /// ```
    /// #[instrument_runtime::counted]
    /// fn charge() {}
    ///
    /// let metrics = instrument_runtime::Builder::new().service_name("billing").install()?;
    /// charge();
    /// let module = module_path!();
    /// assert!(metrics.render().contains(&format!(
    ///     r#"function_calls_total{{function="charge",module="{module}",service_name="billing",result="ok"}} 1"#
    /// )));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Attach exemplars to the store's counters and histogram buckets:
    /// `current` names the trace of the call being recorded (or `None`
    /// outside a trace), and each counter and bucket keeps the trace of the
    /// newest value recorded in one. They appear on the OpenMetrics page
    /// (which Prometheus scrapes by default; it stores them with
    /// `--enable-feature=exemplar-storage`), as
    /// `# {trace_id="..",span_id=".."} value timestamp`; the text page has
    /// none. `current` runs on every increment and observation, so it
    /// should be as cheap as a thread-local read. With the `exemplars`
    /// feature; only this crate's store keeps them.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use instrument_runtime::{timed, TraceContext};
    ///
    /// thread_local! {
    ///     // Set by the application's tracer around each request.
    ///     static TRACE: Cell<Option<TraceContext>> = const { Cell::new(None) };
    /// }
    ///
    /// #[timed]
    /// fn render_invoice() {}
    ///
    /// let metrics = instrument_runtime::Builder::new()
    ///     .exemplars(|| TRACE.with(Cell::get))
    ///     .install()?;
    /// TRACE.with(|t| t.set(TraceContext::new(0xabc, 0x12)));
    /// render_invoice();
    /// let page = metrics.render_openmetrics().unwrap();
    /// assert!(page.contains(r#"# {trace_id="00000000000000000000000000000abc",span_id="0000000000000012"}"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    #[cfg(feature = "exemplars")]
    pub fn exemplars(mut self, current: fn() -> Option<crate::TraceContext>) -> Self {
        self.exemplars = Some(current);
        self
    }

    /// [`cardinality_limit`](Self::cardinality_limit) for one family, named
    /// as in [`family_buckets`](Self::family_buckets).
    ///
    /// ```
    /// let builder = instrument_runtime::Builder::new()
    ///     .cardinality_limit(500)
    ///     .family_cardinality_limit("api_requests_total", 5000);
    /// # let _ = builder;
    /// ```
    pub fn family_cardinality_limit(mut self, family: impl Into<String>, limit: usize) -> Self {
        self.family_cardinality_limits.push((family.into(), limit));
        self
    }

    /// Hold the requests of an HTTP route of
    /// [`HttpMetricsLayer`](crate::HttpMetricsLayer) to `objective`: its
    /// success target counts 5xx responses as failures, its latency target
    /// reads the request latency buckets. `route` is `"METHOD /path"` or
    /// `"/path"` (every method), the path as the router declares it (the
    /// `view` label). An objective may hold several routes, and a route
    /// several objectives.
    ///
    /// ```
    /// use std::time::Duration;
    /// use instrument_runtime::{Builder, Objective};
    ///
    /// const USERS: Objective = Objective::new("users")
    ///     .success(99.5)
    ///     .latency(Duration::from_millis(250), 99.0);
    ///
    /// let metrics = Builder::new()
    ///     .http_objective("GET /users/{id}", USERS)
    ///     .http_objective("/users", USERS)
    ///     .install()?;
    /// let rules = metrics.objective_rules().to_string();
    /// assert!(rules.contains(r#"http_responses_total_by_status{view="/users/{id}",method="GET",status=~"5.."}"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    ///
    /// `install()` fails with [`Error::Objective`] for a route written
    /// otherwise, or a latency threshold that is not a boundary of the
    /// request latency buckets.
    pub fn http_objective(mut self, route: impl Into<String>, objective: crate::Objective) -> Self {
        self.http_objectives.push((route.into(), objective));
        self
    }

    /// Settings a recorder of another crate cannot take from here.
    pub(crate) fn validate_foreign(&self) -> Result<(), Error> {
        let foreign = |setting| {
            Err(Error::InvalidSetting {
                setting,
                reason: "the recorder of another crate has its own; set it there".to_owned(),
            })
        };
        if self.buckets != DEFAULT_BUCKETS {
            return foreign("buckets");
        }
        if !self.family_buckets.is_empty() {
            return foreign("family_buckets");
        }
        if !self.global_labels.is_empty() {
            return foreign("global_label");
        }
        if self.listen.is_some() {
            return Err(Error::InvalidSetting {
                setting: "listen",
                reason:
                    "the recorder of another crate renders no page here; serve its own endpoint"
                        .to_owned(),
            });
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |setting, reason: String| Err(Error::InvalidSetting { setting, reason });
        if !self.namespace.is_empty() && !is_metric_name(&self.namespace) {
            return invalid(
                "namespace",
                format!(
                    "{:?} is not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                    self.namespace
                ),
            );
        }
        check_buckets("buckets", &self.buckets)?;
        #[cfg(feature = "axum")]
        self.validate_listen_limits()?;
        if self.cardinality_limit == 0 {
            return invalid(
                "cardinality_limit",
                "the limit must be at least 1".to_owned(),
            );
        }
        for (family, limit) in &self.family_cardinality_limits {
            if !is_metric_name(family) {
                return invalid(
                    "family_cardinality_limit",
                    format!("{family:?} is not a valid metric name"),
                );
            }
            if *limit == 0 {
                return invalid(
                    "family_cardinality_limit",
                    format!("the limit of {family} must be at least 1"),
                );
            }
        }
        for (family, buckets) in &self.family_buckets {
            if !is_metric_name(family) {
                return invalid(
                    "family_buckets",
                    format!("{family:?} is not a valid metric name"),
                );
            }
            check_buckets("family_buckets", buckets)?;
        }
        for (name, _) in &self.global_labels {
            if !is_user_label_name(name) {
                return invalid(
                    "global_label",
                    format!("{name:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"),
                );
            }
            if name == "le" {
                return invalid(
                    "global_label",
                    "\"le\" is the bucket label of every histogram; choose another name".to_owned(),
                );
            }
        }
        Ok(())
    }
}

impl Builder {
    #[cfg(feature = "axum")]
    fn validate_listen_limits(&self) -> Result<(), Error> {
        let limits = &self.listen_limits;
        let (setting, reason) = if limits.timeout.is_zero() {
            ("listen_timeout", "the timeout must be longer than zero")
        } else if limits.write_timeout.is_zero() {
            (
                "listen_write_timeout",
                "the timeout must be longer than zero",
            )
        } else if limits.max_connections == 0 {
            (
                "listen_max_connections",
                "at least one connection is needed",
            )
        } else if limits.max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            ("listen_max_connections", "the number is too large")
        } else if limits.max_head_bytes < Limits::MIN_HEAD_BYTES {
            (
                "listen_max_head_bytes",
                "the limit must be at least 8192 bytes",
            )
        } else {
            return Ok(());
        };
        Err(Error::InvalidSetting {
            setting,
            reason: reason.to_owned(),
        })
    }
}

fn check_buckets(setting: &'static str, buckets: &[f64]) -> Result<(), Error> {
    let reason = if buckets.is_empty() {
        Some("at least one bucket bound is needed".to_owned())
    } else if let Some(bad) = buckets.iter().find(|b| !b.is_finite()) {
        Some(format!(
            "{bad} is not a finite number (+Inf is added by itself)"
        ))
    } else if let Some(bad) = buckets.iter().find(|b| b.is_sign_negative()) {
        // Every histogram here measures a duration or a size; `-0.0` too,
        // which would be rendered as `le="-0"`.
        Some(format!(
            "{bad} is negative: bucket bounds are durations in seconds or sizes in bytes"
        ))
    } else if buckets.windows(2).any(|w| w[0] >= w[1]) {
        Some(format!("{buckets:?} is not strictly increasing"))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidSetting { setting, reason }),
        None => Ok(()),
    }
}

/// The limits of the standalone listener; see the `Builder::listen_*`
/// methods for what each means.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_head_bytes: usize,
}

#[cfg_attr(not(feature = "axum"), allow(dead_code))]
impl Limits {
    /// The smallest head limit hyper accepts.
    pub(crate) const MIN_HEAD_BYTES: usize = 8192;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_head_bytes: 16 * 1024,
        }
    }
}
