//! The built-in metric families: names (without the namespace), types, help
//! texts and label names. Every name here is part of the public contract.

/// The latency buckets django-prometheus uses, and the default for every
/// histogram this crate records.
///
/// ```
/// // Finer buckets for one family, the defaults for the rest.
/// let mut fast = vec![0.001, 0.0025, 0.005];
/// fast.extend_from_slice(instrument_runtime::DEFAULT_BUCKETS);
/// instrument_runtime::Builder::new()
///     .family_buckets("db_execute_latency_seconds", &fast)
///     .install()?;
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0,
];

/// The label value that stands for every label set past a family's
/// cardinality limit ([`Builder::cardinality_limit`](crate::Builder::cardinality_limit)).
///
/// ```
/// #[instrument_runtime::counted(name = "lookups_total", labels(user = user))]
/// fn lookup(user: &str) {}
///
/// let metrics = instrument_runtime::Builder::new().cardinality_limit(2).install()?;
/// for user in ["ada", "bob", "cy", "dee"] {
///     lookup(user);
/// }
/// let page = metrics.render();
/// assert!(page.contains(&format!(r#"lookups_total{{user="{}"}} 2"#, instrument_runtime::OVERFLOW)));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub const OVERFLOW: &str = "__overflow__";

/// django-prometheus's body-size buckets: 0 and the powers of two up to 2^29.
pub(crate) const BYTES_BUCKETS: [f64; 31] = {
    let mut buckets = [0.0; 31];
    let mut i = 1;
    while i < 31 {
        buckets[i] = (1u64 << (i - 1)) as f64;
        i += 1;
    }
    buckets
};

/// A family's type, as the text format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram.
    Histogram,
}

impl Kind {
    /// The name in a `# TYPE` line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One built-in family.
#[derive(Debug)]
pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) help: &'static str,
}

macro_rules! families {
    ($($ident:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        $(pub(crate) const $ident: Family = Family { name: $name, kind: Kind::$kind, help: $help };)*
        /// Every family of this list, in its order.
        pub(crate) const ALL: &[Family] = &[$($ident),*];
    };
}

families! {
    HTTP_REQUESTS = "http_requests_total", Counter,
        "Total count of HTTP requests, by method and view.";
    HTTP_RESPONSES = "http_responses_total_by_status", Counter,
        "Count of HTTP responses by status, method and view.";
    HTTP_LATENCY = "http_requests_latency_seconds", Histogram,
        "Histogram of request latency in seconds, by method and view.";
    HTTP_EXCEPTIONS = "http_exceptions_total", Counter,
        "Count of exceptions raised during requests (handler panics, inner service errors), by type and view.";
    FUNCTION_CALLS = "function_calls_total", Counter,
        "Calls of functions annotated with #[counted], by outcome.";
    FUNCTION_DURATION = "function_calls_duration_seconds", Histogram,
        "Duration of calls of functions annotated with #[timed], in seconds.";
    DB_EXECUTE = "db_execute_total", Counter,
        "Database executions, failed ones included.";
    DB_EXECUTE_LATENCY = "db_execute_latency_seconds", Histogram,
        "Database execution latency in seconds.";
    DB_ERRORS = "db_errors_total", Counter,
        "Database executions that returned an error, by error type.";
    MIGRATIONS_APPLIED = "migrations_applied_total", Gauge,
        "Count of applied migrations by database connection";
    MIGRATIONS_UNAPPLIED = "migrations_unapplied_total", Gauge,
        "Count of unapplied migrations by database connection";
    CACHE_HITS = "cache_hits_total", Counter,
        "Cache lookups that found a value.";
    CACHE_MISSES = "cache_misses_total", Counter,
        "Cache lookups that found no value.";
    MODEL_INSERTS = "model_inserts_total", Counter,
        "Model insert operations that succeeded.";
    MODEL_UPDATES = "model_updates_total", Counter,
        "Model update operations that succeeded.";
    MODEL_DELETES = "model_deletes_total", Counter,
        "Model delete operations that succeeded.";
    CARDINALITY_OVERFLOW = "cardinality_overflow_total", Counter,
        "Calls whose runtime label values were folded into __overflow__ because their family reached its limit of label sets.";
}

/// The application's build, with [`Builder::build_info`](crate::Builder::build_info).
pub(crate) const BUILD_INFO: Family = Family {
    name: "build_info",
    kind: Kind::Gauge,
    help: "The build of the application: its version, commit, branch and service name; always 1.",
};

/// The families django-prometheus 2.5.0 exports under names of its own,
/// added by [`Builder::django_compat`](crate::Builder::django_compat). Names,
/// help texts and types are the package's.
pub(crate) mod compat {
    use super::{Family, Kind};

    families! {
        REQUESTS_BEFORE = "http_requests_before_middlewares_total", Counter,
            "Total count of requests before middlewares run.";
        RESPONSES_BEFORE = "http_responses_before_middlewares_total", Counter,
            "Total count of responses before middlewares run.";
        LATENCY_INCLUDING = "http_requests_latency_including_middlewares_seconds", Histogram,
            "Histogram of requests processing time (including middleware processing time).";
        UNKNOWN_LATENCY_INCLUDING = "http_requests_unknown_latency_including_middlewares_total", Counter,
            "Count of requests for which the latency was unknown (when computing django_http_requests_latency_including_middlewares_seconds).";
        LATENCY_BY_VIEW_METHOD = "http_requests_latency_seconds_by_view_method", Histogram,
            "Histogram of request processing time labelled by view.";
        UNKNOWN_LATENCY = "http_requests_unknown_latency_total", Counter,
            "Count of requests for which the latency was unknown.";
        AJAX_REQUESTS = "http_ajax_requests_total", Counter,
            "Count of AJAX requests.";
        REQUESTS_BY_METHOD = "http_requests_total_by_method_total", Counter,
            "Count of requests by method.";
        REQUESTS_BY_TRANSPORT = "http_requests_total_by_transport_total", Counter,
            "Count of requests by transport.";
        REQUESTS_BY_VIEW_TRANSPORT_METHOD = "http_requests_total_by_view_transport_method_total", Counter,
            "Count of requests by view, transport, method.";
        REQUEST_BODY_BYTES = "http_requests_body_total_bytes", Histogram,
            "Histogram of requests by body size.";
        RESPONSES_BY_TEMPLATENAME = "http_responses_total_by_templatename_total", Counter,
            "Count of responses by template name.";
        RESPONSES_BY_STATUS = "http_responses_total_by_status_total", Counter,
            "Count of responses by status.";
        RESPONSES_BY_STATUS_VIEW_METHOD = "http_responses_total_by_status_view_method_total", Counter,
            "Count of responses by status, view, method.";
        RESPONSE_BODY_BYTES = "http_responses_body_total_bytes", Histogram,
            "Histogram of responses by body size.";
        RESPONSES_BY_CHARSET = "http_responses_total_by_charset_total", Counter,
            "Count of responses by charset.";
        RESPONSES_STREAMING = "http_responses_streaming_total", Counter,
            "Count of streaming responses.";
        EXCEPTIONS_BY_TYPE = "http_exceptions_total_by_type_total", Counter,
            "Count of exceptions by object type.";
        EXCEPTIONS_BY_VIEW = "http_exceptions_total_by_view_total", Counter,
            "Count of exceptions by view.";
        DB_NEW_CONNECTIONS = "db_new_connections_total", Counter,
            "Counter of created connections by database and by vendor.";
        DB_NEW_CONNECTION_ERRORS = "db_new_connection_errors_total", Counter,
            "Counter of connection failures by database and by vendor.";
        DB_EXECUTE_MANY = "db_execute_many_total", Counter,
            "Counter of executed statements in bulk operations by database and by vendor.";
        DB_QUERY_DURATION = "db_query_duration_seconds", Histogram,
            "Histogram of query duration by database and vendor.";
        CACHE_GET = "cache_get_total", Counter,
            "Total get requests on cache";
        CACHE_GET_HITS = "cache_get_hits_total", Counter,
            "Total hits on cache";
        CACHE_GET_MISSES = "cache_get_misses_total", Counter,
            "Total misses on cache";
        CACHE_GET_FAIL = "cache_get_fail_total", Counter,
            "Total get request failures by cache";
    }
}

/// Is `name` a built-in family name (without namespace)?
pub(crate) fn is_builtin(name: &str) -> bool {
    ALL.iter()
        .chain(compat::ALL)
        .any(|family| family.name == name)
}

/// The full name of `family`: the namespace before a built-in family, a
/// family of the user's own as written.
pub(crate) fn full_name(namespace: &str, family: &str) -> String {
    if is_builtin(family) {
        prefixed(namespace, family)
    } else {
        family.to_owned()
    }
}

/// `name` under `namespace`.
pub(crate) fn prefixed(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}_{name}")
    }
}
