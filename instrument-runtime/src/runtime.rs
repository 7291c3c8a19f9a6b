//! The installed state: the Prometheus recorder, the resolved settings, and
//! the registration of every annotated call site.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::catalogue::{self, Family, Kind};
use crate::{Builder, Error};

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

pub(crate) struct Runtime {
    handle: PrometheusHandle,
    namespace: String,
    pub(crate) db_alias: SharedString,
    pub(crate) db_vendor: SharedString,
    described: Mutex<BTreeSet<String>>,
}

/// The installed metrics: renders the exposition that `/metrics/` serves.
///
/// Returned by [`install`](crate::install); cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// The Prometheus text exposition of every series, as `/metrics/` serves it.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The installed runtime, if [`install`](crate::install) has succeeded.
#[inline]
pub(crate) fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// The installed metrics, if [`install`](crate::install) has succeeded.
pub fn installed() -> Option<Metrics> {
    get().map(|rt| Metrics {
        handle: rt.handle.clone(),
    })
}

pub(crate) fn install(settings: Builder) -> Result<Metrics, Error> {
    let namespace = settings.namespace.clone();
    let full_name = |family: &str| -> String {
        if catalogue::is_builtin(family) {
            prefixed(&namespace, family)
        } else {
            family.to_owned()
        }
    };
    let invalid = |reason: String| Error::InvalidSetting {
        setting: "buckets",
        reason,
    };
    let mut builder = PrometheusBuilder::new()
        .set_buckets(&settings.buckets)
        .map_err(|e| invalid(e.to_string()))?;
    for (family, buckets) in &settings.family_buckets {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(full_name(family)), buckets)
            .map_err(|e| invalid(e.to_string()))?;
    }
    for (name, value) in &settings.global_labels {
        builder = builder.add_global_label(name, value);
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    // Bind before installing, so a bad address leaves nothing installed.
    #[cfg(feature = "axum")]
    let listener = match settings.listen {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr).map_err(|source| Error::Listen { addr, source })?,
        ),
        None => None,
    };
    metrics::set_global_recorder(recorder).map_err(|_| Error::AlreadyInstalled)?;

    let runtime = Runtime {
        handle: handle.clone(),
        namespace,
        db_alias: settings.db_alias.into(),
        db_vendor: settings.db_vendor.into(),
        described: Mutex::new(BTreeSet::new()),
    };
    if RUNTIME.set(runtime).is_err() {
        return Err(Error::AlreadyInstalled);
    }
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("instrument-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            upkeep.run_upkeep();
        })
        .expect("spawning the histogram upkeep thread");

    for site in crate::__private::SITES {
        site.register();
    }
    let metrics = Metrics { handle };
    #[cfg(feature = "axum")]
    if let Some(listener) = listener {
        crate::endpoint::serve_standalone(listener, metrics.clone());
    }
    Ok(metrics)
}

fn prefixed(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}_{name}")
    }
}

impl Runtime {
    /// The full name of a built-in family, namespace included.
    pub(crate) fn builtin(&self, family: &Family) -> String {
        let name = prefixed(&self.namespace, family.name);
        self.describe(&name, family.kind, family.help);
        name
    }

    /// Describe a family once: its HELP and TYPE lines.
    pub(crate) fn describe(&self, name: &str, kind: Kind, help: &'static str) {
        let mut described = self.described.lock().unwrap_or_else(|e| e.into_inner());
        if !described.insert(name.to_owned()) {
            return;
        }
        let key = KeyName::from(name.to_owned());
        metrics::with_recorder(|recorder| match kind {
            Kind::Counter => recorder.describe_counter(key, None, help.into()),
            Kind::Histogram => recorder.describe_histogram(key, None, help.into()),
        });
    }

    pub(crate) fn counter(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Counter {
        let key = Key::from_parts(name.into(), labels);
        metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
    }

    pub(crate) fn histogram(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Histogram {
        let key = Key::from_parts(name.into(), labels);
        metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
    }
}
