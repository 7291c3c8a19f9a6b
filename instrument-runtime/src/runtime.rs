//! The installed state: the recorder that call sites resolve their handles
//! through, the resolved settings, and the registration of every annotated
//! call site.
//!
//! The recorder is the one the application chose: this crate's store
//! ([`install`](crate::install)), a composition of it
//! ([`Builder::install_with`]), a recorder of another crate
//! ([`Builder::install_recorder`]), or the global recorder another crate
//! installed ([`Builder::attach`]). Handles are registered through the
//! `metrics::Recorder` interface once per series; what a call does after
//! that is the handle's own atomic work.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString};

use crate::auth::Access;
use crate::cardinality::Cardinality;
use crate::catalogue::{self, Family, Kind};
use crate::store::Store;
use crate::{Builder, Error};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// What every handle is registered with.
static METADATA: Metadata<'static> =
    Metadata::new("instrument_runtime", Level::INFO, Some(module_path!()));

pub(crate) struct Runtime {
    backend: Backend,
    /// What `/metrics/` serves, when the backend renders a page.
    pub(crate) metrics: Option<Metrics>,
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
    /// The families described so far: each is described once.
    described: Mutex<HashSet<String>>,
    /// The HTTP layer's handles, resolved when a layer first needs them.
    #[cfg(feature = "axum")]
    pub(crate) http: OnceLock<crate::layer::State>,
}

/// The recorder that call sites register their handles with: the global
/// one, known by its address (a recorder installed through this crate is
/// installed as the global one too).
struct Backend(usize);

/// The address of a recorder, to tell the global one from a recorder local
/// to a thread.
fn address(recorder: &dyn Recorder) -> usize {
    std::ptr::from_ref(recorder).cast::<()>() as usize
}

impl Backend {
    /// The global recorder, if a crate has installed one. Looked up on a
    /// thread of its own: a recorder local to the calling thread (a test's
    /// `metrics::with_local_recorder`) is not the global one.
    fn global() -> Option<Backend> {
        std::thread::scope(|scope| {
            let found = scope.spawn(|| {
                // The facade's stand-in when none is installed is zero-sized.
                metrics::with_recorder(|r| (std::mem::size_of_val(r) != 0).then(|| address(r)))
            });
            found.join().ok().flatten().map(Backend)
        })
    }

    /// Run `register` on the global recorder.
    fn with<T: Send>(&self, register: impl Fn(&dyn Recorder) -> T + Sync) -> T {
        metrics::with_recorder(|current| {
            if address(current) == self.0 {
                return register(current);
            }
            // A recorder local to this thread must never capture a handle
            // that a call site keeps for the life of the process.
            std::thread::scope(|scope| {
                match scope.spawn(|| metrics::with_recorder(&register)).join() {
                    Ok(handle) => handle,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        })
    }
}

/// The page that `/metrics/` serves: the exposition of the installed
/// metrics.
///
/// Returned by [`install`](crate::install); cheap to clone.
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
    pub fn render(&self) -> String {
        match &self.source {
            Source::Store(store) => store.render(),
            #[cfg(feature = "metrics-exporter-prometheus")]
            Source::Prometheus(handle) => handle.render(),
        }
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

/// The installed metrics, if [`install`](crate::install) (or another way of
/// installing whose backend renders the page) has succeeded.
pub fn installed() -> Option<Metrics> {
    get().and_then(|rt| rt.metrics.clone())
}

/// The recorder the application chose, before it is installed.
pub(crate) enum Target {
    /// Install a recorder as the global one (`false` when one is installed
    /// already); the page it renders, if it does.
    Install(Box<dyn FnOnce() -> bool>, Option<Metrics>),
    /// The global recorder another crate has installed; the page it
    /// renders, if it does.
    Global(Option<Metrics>),
}

/// The store that `settings` describe: its buckets and global labels.
pub(crate) fn store(settings: &Builder) -> Store {
    Store::new(
        &settings.buckets,
        family_buckets(settings),
        settings.global_labels.clone(),
    )
}

/// The buckets of the families that do not have the default ones, by full
/// name: the package's body-size buckets with the profile, then the
/// settings' (later entries win).
pub(crate) fn family_buckets(settings: &Builder) -> Vec<(String, Vec<f64>)> {
    let compat_buckets = [
        &catalogue::compat::REQUEST_BODY_BYTES,
        &catalogue::compat::RESPONSE_BODY_BYTES,
    ]
    .into_iter()
    .filter(|_| settings.django_compat)
    .map(|family| (family.name.to_owned(), catalogue::BYTES_BUCKETS.to_vec()));
    compat_buckets
        .chain(settings.family_buckets.iter().cloned())
        .map(|(family, buckets)| (full_name(&settings.namespace, &family), buckets))
        .collect()
}

/// The full name of `family`: the namespace before a built-in family.
pub(crate) fn full_name(namespace: &str, family: &str) -> String {
    if catalogue::is_builtin(family) {
        prefixed(namespace, family)
    } else {
        family.to_owned()
    }
}

pub(crate) fn install(
    settings: Builder,
    access: Access,
    target: Target,
) -> Result<Option<Metrics>, Error> {
    if get().is_some() {
        return Err(Error::AlreadyInstalled);
    }
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
    let limits = limits.map(|(family, limit)| (full_name(&settings.namespace, family), *limit));
    let cardinality = Cardinality::new(settings.cardinality_limit, limits.collect());
    let (backend, metrics) = match target {
        Target::Install(install, metrics) => {
            if !install() {
                return Err(Error::AlreadyInstalled);
            }
            (Backend::global().ok_or(Error::NoRecorder)?, metrics)
        }
        Target::Global(metrics) => (Backend::global().ok_or(Error::NoRecorder)?, metrics),
    };

    let runtime = Runtime {
        backend,
        metrics,
        namespace: settings.namespace,
        db_alias: settings.db_alias.into(),
        db_vendor: settings.db_vendor.into(),
        django_compat: settings.django_compat,
        cardinality,
        access,
        described: Mutex::default(),
        #[cfg(feature = "axum")]
        http: OnceLock::new(),
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
            crate::diagnostics::listener_not_started(&error);
        }
    }
    Ok(runtime.metrics.clone())
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
        {
            let mut described = self
                .described
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if described.contains(name) {
                return;
            }
            described.insert(name.to_owned());
        }
        let help = SharedString::const_str(help);
        self.backend.with(|recorder| {
            let name = KeyName::from(name.to_owned());
            match kind {
                Kind::Counter => recorder.describe_counter(name, None, help.clone()),
                Kind::Histogram => recorder.describe_histogram(name, None, help.clone()),
            }
        });
    }

    pub(crate) fn counter(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Counter {
        let key = Key::from_parts(name.into(), labels);
        self.backend
            .with(|recorder| recorder.register_counter(&key, &METADATA))
    }

    pub(crate) fn histogram(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Histogram {
        let key = Key::from_parts(name.into(), labels);
        self.backend
            .with(|recorder| recorder.register_histogram(&key, &METADATA))
    }
}
