//! The installed state: the recorder that call sites register their
//! handles with, and the settings they read.
//!
//! The recorder is the one the application chose: this crate's store
//! ([`install`](crate::install)), a composition of it
//! ([`Builder::install_with`](crate::Builder::install_with)), a recorder of
//! another crate ([`Builder::install_recorder`](crate::Builder::install_recorder)),
//! or the global recorder another crate installed
//! ([`Builder::attach`](crate::Builder::attach)). Handles are registered
//! through the `metrics::Recorder` interface once per series; what a call
//! does after that is the handle's own atomic work.

mod cardinality;
mod databases;
mod registry;

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Label, SharedString};

pub(crate) use self::cardinality::Cardinality;
pub(crate) use self::databases::{Coverage, Databases, Traced};
pub(crate) use self::registry::Registry;
use crate::access::Access;
use crate::catalogue::{Family, Kind};
use crate::store::{Format, Store};
use crate::Error;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

pub(crate) struct Runtime {
    pub(crate) registry: Registry,
    /// What `/metrics/` serves, when the backend renders a page.
    pub(crate) metrics: Option<Metrics>,
    pub(crate) db_alias: SharedString,
    pub(crate) db_vendor: SharedString,
    /// Record django-prometheus's own families too.
    pub(crate) django_compat: bool,
    /// Limits on the label sets that runtime values create.
    pub(crate) cardinality: Cardinality,
    /// Who may read `/metrics/`.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) access: Access,
    /// The `service_name` label of the function families, if set.
    pub(crate) service_name: Option<SharedString>,
    /// The objectives of the program's call sites and routes, checked.
    pub(crate) objectives: Vec<crate::objective::Attached>,
    /// What the database integrations record, per alias.
    pub(crate) databases: Databases,
}

/// The installed runtime, if [`install`](crate::install) has succeeded.
#[inline]
pub(crate) fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// Make `runtime` the installed one.
pub(crate) fn set(runtime: Runtime) -> Result<&'static Runtime, Error> {
    RUNTIME.set(runtime).map_err(|_| Error::AlreadyInstalled)?;
    Ok(get().expect("set above"))
}

/// The installed metrics, if [`install`](crate::install) (or another way of
/// installing whose backend renders the page) has succeeded: for code far
/// from `main`, such as a health check that shows the page.
///
/// ```
/// assert!(instrument_runtime::installed().is_none());
/// instrument_runtime::install()?;
/// let page = instrument_runtime::installed().expect("installed above").render();
/// assert!(page.is_empty() || page.contains("# TYPE"));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn installed() -> Option<Metrics> {
    get().and_then(|rt| rt.metrics.clone())
}

impl Runtime {
    /// The full name of a built-in family, namespace included, described.
    pub(crate) fn builtin(&self, family: &Family) -> String {
        self.registry.builtin(family)
    }

    /// The namespace of the built-in families.
    pub(crate) fn namespace(&self) -> &str {
        self.registry.namespace()
    }

    /// A bucket bound as Prometheus stores the `le` of the page it scrapes:
    /// OpenMetrics' canonical number (`1.0`) with this crate's store, which
    /// Prometheus asks for OpenMetrics, the text format's (`1`) otherwise.
    pub(crate) fn le_value(&self, bound: f64) -> String {
        match self.metrics.as_ref().is_some_and(Metrics::is_store) {
            true => crate::store::Canonical(bound).to_string(),
            false => bound.to_string(),
        }
    }

    /// autometrics' labels of an objective on the function families:
    /// `objective_name`, `objective_percentile` (the target, `99.9`), and
    /// with a latency threshold `objective_latency_threshold` (seconds, as
    /// the bucket's `le`), so its rules and SLO dashboard find the calls.
    pub(crate) fn objective_labels(
        &self,
        name: &'static str,
        target: f64,
        threshold: Option<std::time::Duration>,
    ) -> Vec<Label> {
        let mut labels = vec![
            Label::from_static_parts("objective_name", name),
            Label::new("objective_percentile", target.to_string()),
        ];
        if let Some(threshold) = threshold {
            let le = self.le_value(threshold.as_secs_f64());
            labels.push(Label::new("objective_latency_threshold", le));
        }
        labels
    }

    /// Describe a family once: its HELP and TYPE lines.
    pub(crate) fn describe(&self, name: &str, kind: Kind, help: &'static str) {
        self.registry.describe(name, kind, help);
    }

    pub(crate) fn counter(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Counter {
        self.registry.counter(name, labels)
    }

    pub(crate) fn histogram(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Histogram {
        self.registry.histogram(name, labels)
    }

    /// `service_name=".."` for the function families, when a service name
    /// is set.
    pub(crate) fn service_name_label(&self) -> Option<Label> {
        let name = self.service_name.clone()?;
        Some(Label::new("service_name", name))
    }

    pub(crate) fn gauge(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Gauge {
        self.registry.gauge(name, labels)
    }
}

/// The page that `/metrics/` serves: the exposition of the installed
/// metrics.
///
/// Returned by [`install`](crate::install); cheap to clone. Serve it with
/// [`metrics_router`](crate::metrics_router), push it with
/// [`Metrics::push`], or render it yourself:
///
/// ```
/// #[instrument_runtime::timed]
/// fn report() {}
///
/// let metrics = instrument_runtime::install()?;
/// report();
/// let page = metrics.clone().render();
/// let module = module_path!();
/// assert!(page.contains(&format!(
///     r#"function_calls_duration_seconds_count{{function="report",module="{module}"}} 1"#
/// )));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
#[derive(Clone)]
pub struct Metrics {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Store(Arc<Store>),
    #[cfg(feature = "metrics-exporter-prometheus")]
    Prometheus(metrics_exporter_prometheus::PrometheusHandle),
}

impl Metrics {
    pub(crate) fn store(store: Arc<Store>) -> Self {
        Metrics {
            source: Source::Store(store),
        }
    }

    #[cfg(feature = "metrics-exporter-prometheus")]
    pub(crate) fn prometheus(handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        Metrics {
            source: Source::Prometheus(handle),
        }
    }

    /// The Prometheus text exposition of every series, as `/metrics/` serves it:
    /// families sorted by name, series by labels. A family that is described
    /// but has no series yet (its label values come from calls not made so
    /// far) is listed with HELP and TYPE only, as prometheus_client does.
    ///
    /// With metrics-exporter-prometheus as the backend, its own rendering.
    ///
    /// ```
    /// #[instrument_runtime::counted(name = "emails_sent_total")]
    /// fn send_email() {}
    ///
    /// let metrics = instrument_runtime::install()?;
    /// send_email();
    /// let page = metrics.render();
    /// assert!(page.contains("# TYPE emails_sent_total counter\nemails_sent_total 1\n"));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn render(&self) -> String {
        match &self.source {
            Source::Store(store) => store.render(Format::Text),
            #[cfg(feature = "metrics-exporter-prometheus")]
            Source::Prometheus(handle) => handle.render(),
        }
    }

    /// The OpenMetrics 1.0 exposition of every series (content type
    /// `application/openmetrics-text; version=1.0.0; charset=utf-8`), as
    /// `/metrics/` serves it to a scraper that asks for it (Prometheus does
    /// by default). `None` with metrics-exporter-prometheus as the
    /// backend, which renders the text format only.
    ///
    /// The series are named as on [`render`](Metrics::render)'s page. A
    /// counter's family is its name without `_total`; a counter whose name
    /// does not end in `_total` (`http_responses_total_by_status`) is
    /// `unknown` here, under its own name, so that no series is renamed.
    /// Histogram bounds are written as OpenMetrics' canonical numbers
    /// (`le="1.0"`), and the page ends with `# EOF`.
    ///
    /// ```
    /// #[instrument_runtime::counted(name = "emails_sent_total")]
    /// fn send_email() {}
    ///
    /// let metrics = instrument_runtime::install()?;
    /// send_email();
    /// let page = metrics.render_openmetrics().expect("this crate's store");
    /// // The family is `emails_sent`, its sample `emails_sent_total`.
    /// assert!(page.contains("# TYPE emails_sent counter\n"));
    /// assert!(page.contains("\nemails_sent_total 1\n"));
    /// assert!(page.ends_with("# EOF\n"));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn render_openmetrics(&self) -> Option<String> {
        match &self.source {
            Source::Store(store) => Some(store.render(Format::OpenMetrics)),
            #[cfg(feature = "metrics-exporter-prometheus")]
            Source::Prometheus(_) => None,
        }
    }

    /// Whether the page is this crate's store's.
    fn is_store(&self) -> bool {
        matches!(self.source, Source::Store(_))
    }

    /// Whether [`render_openmetrics`](Metrics::render_openmetrics) has a page.
    #[cfg(feature = "axum")]
    pub(crate) fn render_openmetrics_supported(&self) -> bool {
        match &self.source {
            Source::Store(_) => true,
            #[cfg(feature = "metrics-exporter-prometheus")]
            Source::Prometheus(_) => false,
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
