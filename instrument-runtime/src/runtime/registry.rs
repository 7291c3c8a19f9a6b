//! Where handles come from: the recorder the application chose, through
//! the `metrics::Recorder` interface, once per series.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString,
};

use crate::catalogue::{self, Family, Kind};

/// What every handle is registered with.
static METADATA: Metadata<'static> =
    Metadata::new("instrument_runtime", Level::INFO, Some(module_path!()));

/// The families' names under the namespace, described once each, and the
/// recorder their handles are registered with.
pub(crate) struct Registry {
    backend: Backend,
    namespace: String,
    /// The families described so far.
    described: Mutex<HashSet<String>>,
}

/// The global recorder, known by its address (a recorder installed through
/// this crate is installed as the global one too).
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

impl Registry {
    /// Registering with the global recorder, if one is installed.
    pub(crate) fn global(namespace: String) -> Option<Registry> {
        Some(Registry {
            backend: Backend::global()?,
            namespace,
            described: Mutex::default(),
        })
    }

    /// The namespace of the built-in families.
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The full name of a built-in family, namespace included, described.
    pub(crate) fn builtin(&self, family: &Family) -> String {
        let name = catalogue::prefixed(&self.namespace, family.name);
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
                Kind::Gauge => recorder.describe_gauge(name, None, help.clone()),
                Kind::Histogram => recorder.describe_histogram(name, None, help.clone()),
            }
        });
    }

    pub(crate) fn counter(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Counter {
        let key = Key::from_parts(name.into(), labels);
        self.backend
            .with(|recorder| recorder.register_counter(&key, &METADATA))
    }

    pub(crate) fn gauge(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Gauge {
        let key = Key::from_parts(name.into(), labels);
        self.backend
            .with(|recorder| recorder.register_gauge(&key, &METADATA))
    }

    pub(crate) fn histogram(&self, name: impl Into<SharedString>, labels: Vec<Label>) -> Histogram {
        let key = Key::from_parts(name.into(), labels);
        self.backend
            .with(|recorder| recorder.register_histogram(&key, &METADATA))
    }
}
