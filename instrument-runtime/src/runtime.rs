//! The installed state: the recorder and its store, the resolved settings, and
//! the registration of every annotated call site.

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Histogram, Key, Label, SharedString};

use crate::auth::Access;
use crate::cardinality::Cardinality;
use crate::catalogue::{self, Family, Kind};
use crate::store::{Store, StoreRecorder, Type};
use crate::{Builder, Error};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

pub(crate) struct Runtime {
    pub(crate) metrics: Metrics,
    namespace: String,
    pub(crate) db_alias: SharedString,
    pub(crate) db_vendor: SharedString,
    /// Record django-prometheus's own families too.
    pub(crate) django_compat: bool,
    /// Limits on the label sets that runtime values create.
    pub(crate) cardinality: Cardinality,
    /// Who may read `/metrics/`.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) access: Access,
}

/// The installed metrics: renders the exposition that `/metrics/` serves.
///
/// Returned by [`install`](crate::install); cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    store: Arc<Store>,
}

impl Metrics {
    /// The Prometheus text exposition of every series, as `/metrics/` serves it:
    /// families sorted by name, series by labels. A family that is described
    /// but has no series yet (its label values come from calls not made so
    /// far) is listed with HELP and TYPE only, as prometheus_client does.
    pub fn render(&self) -> String {
        self.store.render()
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
    get().map(|rt| rt.metrics.clone())
}

pub(crate) fn install(settings: Builder, access: Access) -> Result<Metrics, Error> {
    let namespace = settings.namespace.clone();
    let full_name = |family: &str| -> String {
        if catalogue::is_builtin(family) {
            prefixed(&namespace, family)
        } else {
            family.to_owned()
        }
    };
    // The package's body-size buckets, unless the settings name others
    // (later entries win).
    let compat_buckets = [
        &catalogue::compat::REQUEST_BODY_BYTES,
        &catalogue::compat::RESPONSE_BODY_BYTES,
    ]
    .into_iter()
    .filter(|_| settings.django_compat)
    .map(|family| (family.name.to_owned(), catalogue::BYTES_BUCKETS.to_vec()));
    let family_buckets = compat_buckets
        .chain(settings.family_buckets.iter().cloned())
        .map(|(family, buckets)| (full_name(&family), buckets));
    let store = Arc::new(Store::new(
        &settings.buckets,
        family_buckets,
        settings.global_labels.clone(),
    ));
    let metrics = Metrics {
        store: Arc::clone(&store),
    };
    // Bind before installing, so a bad address leaves nothing installed.
    #[cfg(feature = "axum")]
    let listener = match settings.listen {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr)
                .and_then(|tcp| crate::listener::Standalone::prepare(tcp, settings.listen_limits))
                .map_err(|source| Error::Listen { addr, source })?,
        ),
        None => None,
    };
    let limits = settings.family_cardinality_limits.iter();
    let limits = limits.map(|(family, limit)| (full_name(family), *limit));
    let cardinality = Cardinality::new(settings.cardinality_limit, limits.collect());
    metrics::set_global_recorder(StoreRecorder(store)).map_err(|_| Error::AlreadyInstalled)?;

    let runtime = Runtime {
        metrics: metrics.clone(),
        namespace,
        db_alias: settings.db_alias.into(),
        db_vendor: settings.db_vendor.into(),
        django_compat: settings.django_compat,
        cardinality,
        access,
    };
    if RUNTIME.set(runtime).is_err() {
        return Err(Error::AlreadyInstalled);
    }
    let runtime = get().expect("set above");
    if runtime.django_compat {
        // The package lists all its families, with HELP and TYPE, from the start.
        for family in catalogue::compat::ALL {
            runtime.builtin(family);
        }
    }
    // The layer's families have HELP and TYPE from the start when a layer is
    // built already, and with the profile (the package's unlabelled HTTP
    // series exist from the start) even before one is.
    #[cfg(feature = "axum")]
    crate::layer::register(runtime.django_compat);
    for site in crate::__private::SITES {
        site.register();
    }
    #[cfg(feature = "axum")]
    if let Some(listener) = listener {
        // Only a failure to spawn a thread is left; metrics work without it.
        if let Err(error) = listener.spawn() {
            eprintln!("instrument-runtime: cannot start the /metrics/ listener: {error}");
        }
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
        if self.metrics.store.is_described(name) {
            return;
        }
        let kind = match kind {
            Kind::Counter => Type::Counter,
            Kind::Histogram => Type::Histogram,
        };
        self.metrics.store.describe(name, kind, help.into());
    }

    // Registered in the store itself, not through `metrics::with_recorder`:
    // a thread-local recorder of a test or another crate must never capture
    // a handle that a call site keeps for the life of the process.

    pub(crate) fn counter(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Counter {
        self.metrics
            .store
            .counter(&Key::from_parts(name.into(), labels))
    }

    pub(crate) fn histogram(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Histogram {
        self.metrics
            .store
            .histogram(&Key::from_parts(name.into(), labels))
    }
}
