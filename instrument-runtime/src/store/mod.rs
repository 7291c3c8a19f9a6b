//! Every series, stored as atomics and rendered in the Prometheus text
//! format: the recorder behind the `metrics` facade once `install()` has run.
//!
//! A counter is one `AtomicU64`; a histogram is a set of atomic buckets and
//! an atomic sum, so a sample is one bucket increment and one add: no
//! queue, no upkeep, no summaries. A series that threads contend on spreads
//! over a cache line per core (see `striped`), so cores do not queue on one
//! line. Rendering is deterministic
//! (families and series sorted) and escapes label values and HELP texts as
//! the text format requires, so no value can break the page or be altered.

#[cfg(feature = "exemplars")]
pub(crate) mod exemplar;
mod render;
mod striped;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

pub(crate) use self::render::{Canonical, Format};
use crate::catalogue::Kind;
use crate::names;

/// Label pairs in rendering order.
type Labels = Vec<(String, String)>;

/// A counter series.
#[derive(Debug, Default)]
struct AtomicCounter(
    striped::Counter,
    #[cfg(feature = "exemplars")] exemplar::Exemplars,
);

#[cfg(feature = "exemplars")]
use self::exemplar::Exemplar;

/// Without the `exemplars` feature there are none.
#[cfg(not(feature = "exemplars"))]
#[derive(Clone, Copy, Debug)]
enum Exemplar {}

impl AtomicCounter {
    /// The newest exemplar.
    fn exemplar(&self) -> Option<Exemplar> {
        #[cfg(feature = "exemplars")]
        return self.1.get(0);
        #[cfg(not(feature = "exemplars"))]
        None
    }
}

impl CounterFn for AtomicCounter {
    #[inline]
    fn increment(&self, value: u64) {
        self.0.add(value);
        #[cfg(feature = "exemplars")]
        self.1.record(1, 0, value as f64);
    }

    fn absolute(&self, value: u64) {
        self.0.raise_to(value);
    }
}

/// A gauge series: the bits of an `f64`.
#[derive(Debug)]
struct AtomicGauge(AtomicU64);

impl AtomicGauge {
    fn add(&self, delta: f64) {
        striped::add_f64(&self.0, delta);
    }
}

impl GaugeFn for AtomicGauge {
    fn increment(&self, value: f64) {
        self.add(value);
    }

    fn decrement(&self, value: f64) {
        self.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// A histogram series: per-bucket counts (not cumulative) and the sum.
#[derive(Debug)]
pub(crate) struct AtomicHistogram {
    bounds: Arc<[f64]>,
    /// `bounds.len() + 1` buckets; the last is `+Inf`.
    buckets: striped::Buckets,
    /// One per bucket.
    #[cfg(feature = "exemplars")]
    exemplars: exemplar::Exemplars,
}

impl AtomicHistogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let buckets = striped::Buckets::new(bounds.len() + 1);
        AtomicHistogram {
            bounds,
            buckets,
            #[cfg(feature = "exemplars")]
            exemplars: exemplar::Exemplars::default(),
        }
    }

    /// The newest exemplar of bucket `index`.
    fn exemplar(&self, index: usize) -> Option<Exemplar> {
        #[cfg(feature = "exemplars")]
        return self.exemplars.get(index);
        #[cfg(not(feature = "exemplars"))]
        {
            let _ = index;
            None
        }
    }

    /// Cumulative bucket counts (the last is the total count) and the sum.
    fn snapshot(&self) -> (Vec<u64>, f64) {
        let (mut counts, sum) = self.buckets.read();
        let mut total = 0u64;
        for count in &mut counts {
            total = total.wrapping_add(*count);
            *count = total;
        }
        (counts, sum)
    }
}

impl HistogramFn for AtomicHistogram {
    #[inline]
    fn record(&self, value: f64) {
        // Prometheus buckets are upper-inclusive: `le="0.1"` holds 0.1.
        let index = self.bounds.partition_point(|bound| *bound < value);
        self.buckets.record(index, value);
        #[cfg(feature = "exemplars")]
        self.exemplars.record(self.bounds.len() + 1, index, value);
    }
}

/// Every series, the bucket settings, and the families' descriptions.
#[derive(Debug)]
pub(crate) struct Store {
    default_bounds: Arc<[f64]>,
    /// Full family name -> bounds.
    family_bounds: HashMap<String, Arc<[f64]>>,
    global_labels: Vec<(String, String)>,
    counters: RwLock<HashMap<Key, Arc<AtomicCounter>>>,
    gauges: RwLock<HashMap<Key, Arc<AtomicGauge>>>,
    histograms: RwLock<HashMap<Key, Arc<AtomicHistogram>>>,
    /// Family name -> type and HELP text, first description wins.
    descriptions: RwLock<HashMap<String, (Kind, SharedString)>>,
    /// Family name -> the type of its series: a name keeps the type of its
    /// first series, so one family never mixes counter and histogram lines.
    types: RwLock<HashMap<String, Kind>>,
}

/// The series of `key` if it exists: the path of every registration of a
/// known series (a hand-written `counter!` registers on each call), so the
/// names are checked only when a key is not found.
fn existing<T>(map: &RwLock<HashMap<Key, Arc<T>>>, key: &Key) -> Option<Arc<T>> {
    map.read()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        .map(Arc::clone)
}

/// Keep a key whose names had to be made valid next to its valid form, so
/// that the next registration of the same key (a library's `counter!` with
/// a dotted name, on every call) finds it at once. Such keys are never
/// rendered.
fn remember<T>(
    map: &RwLock<HashMap<Key, Arc<T>>>,
    given: &Key,
    changed: bool,
    found: Option<&Arc<T>>,
) {
    if let (true, Some(series)) = (changed, found) {
        let mut map = map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(given.clone())
            .or_insert_with(|| Arc::clone(series));
    }
}

/// Find or create the series of `key` in `map`; `admit` is asked before a
/// new series is created.
fn series<T>(
    map: &RwLock<HashMap<Key, Arc<T>>>,
    key: &Key,
    admit: impl FnOnce() -> bool,
    new: impl FnOnce() -> T,
) -> Option<Arc<T>> {
    if let Some(series) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Some(Arc::clone(series));
    }
    let mut map = map.write().unwrap_or_else(|e| e.into_inner());
    if let Some(series) = map.get(key) {
        return Some(Arc::clone(series));
    }
    if !admit() {
        return None;
    }
    Some(Arc::clone(
        map.entry(key.clone()).or_insert_with(|| Arc::new(new())),
    ))
}

/// `key` with its metric and label names made valid for the text format,
/// as other Prometheus exporters do with the names of libraries that use
/// dots or dashes: any other character becomes `_`, a leading digit gets a
/// `_` before it, a reserved `__` prefix loses one `_`, a histogram's own
/// `le` label becomes `_le`, and of two labels that end up with the same
/// name the first is kept. Borrowed when nothing needs to change.
fn sanitized(key: &Key, histogram: bool) -> std::borrow::Cow<'_, Key> {
    let label_ok = names::is_user_label_name;
    let mut names = key.labels().map(metrics::Label::key);
    let unique = key.labels().enumerate().all(|(i, label)| {
        key.labels()
            .take(i)
            .all(|earlier| earlier.key() != label.key())
    });
    let valid = names::is_metric_name(key.name())
        && names.all(|name| label_ok(name) && !(histogram && name == "le"))
        && unique;
    if valid {
        return std::borrow::Cow::Borrowed(key);
    }
    let mut labels: Vec<metrics::Label> = Vec::new();
    for label in key.labels() {
        let mut name = names::to_user_label_name(label.key());
        if histogram && name == "le" {
            name.insert(0, '_');
        }
        if labels.iter().all(|kept| kept.key() != name) {
            labels.push(metrics::Label::new(name, label.value().to_owned()));
        }
    }
    std::borrow::Cow::Owned(Key::from_parts(names::to_metric_name(key.name()), labels))
}

impl Store {
    pub(crate) fn new(
        default_bounds: &[f64],
        family_bounds: impl IntoIterator<Item = (String, Vec<f64>)>,
        global_labels: Vec<(String, String)>,
    ) -> Self {
        Store {
            default_bounds: default_bounds.into(),
            family_bounds: family_bounds
                .into_iter()
                .map(|(name, bounds)| (name, bounds.into()))
                .collect(),
            global_labels,
            counters: RwLock::default(),
            gauges: RwLock::default(),
            histograms: RwLock::default(),
            descriptions: RwLock::default(),
            types: RwLock::default(),
        }
    }

    /// May `name` have a new series of type `kind`? No when the family
    /// already holds series of another type, or when its lines would be
    /// taken for a histogram's (`x_count` next to histogram `x`, or the
    /// other way round); reported once (a `tracing` event).
    fn admit(&self, name: &str, kind: Kind) -> bool {
        const SAMPLES: [&str; 3] = ["_bucket", "_sum", "_count"];
        let mut types = self.types.write().unwrap_or_else(|e| e.into_inner());
        let clash = match types.get(name) {
            Some(family) if *family != kind => Some(format!("{name} is a {}", family.name())),
            Some(_) => None,
            None if kind == Kind::Histogram => SAMPLES
                .iter()
                .map(|suffix| format!("{name}{suffix}"))
                .find(|sample| types.contains_key(sample))
                .map(|sample| format!("{sample} is a family of its own")),
            None => SAMPLES
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|base| types.get(*base) == Some(&Kind::Histogram))
                .map(|base| format!("{base} is a histogram")),
        };
        let Some(clash) = clash else {
            types.insert(name.to_owned(), kind);
            return true;
        };
        // Said once per name and type: the entry under the marked name
        // remembers it.
        if types
            .insert(format!("{name}\0{}", kind.name()), kind)
            .is_none()
        {
            crate::diagnostics::name_clash(name, kind.name(), &clash);
        }
        false
    }

    pub(crate) fn counter(&self, key: &Key) -> Counter {
        if let Some(counter) = existing(&self.counters, key) {
            return Counter::from_arc(counter);
        }
        let valid = sanitized(key, false);
        let admit = || self.admit(valid.name(), Kind::Counter);
        let found = series(&self.counters, &valid, admit, AtomicCounter::default);
        remember(
            &self.counters,
            key,
            matches!(valid, Cow::Owned(_)),
            found.as_ref(),
        );
        found.map_or_else(Counter::noop, Counter::from_arc)
    }

    pub(crate) fn gauge(&self, key: &Key) -> Gauge {
        if let Some(gauge) = existing(&self.gauges, key) {
            return Gauge::from_arc(gauge);
        }
        let valid = sanitized(key, false);
        let admit = || self.admit(valid.name(), Kind::Gauge);
        let new = || AtomicGauge(AtomicU64::new(0f64.to_bits()));
        let found = series(&self.gauges, &valid, admit, new);
        remember(
            &self.gauges,
            key,
            matches!(valid, Cow::Owned(_)),
            found.as_ref(),
        );
        found.map_or_else(Gauge::noop, Gauge::from_arc)
    }

    pub(crate) fn histogram(&self, key: &Key) -> Histogram {
        self.histogram_series(key)
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }

    fn histogram_series(&self, key: &Key) -> Option<Arc<AtomicHistogram>> {
        if let Some(histogram) = existing(&self.histograms, key) {
            return Some(histogram);
        }
        let valid = sanitized(key, true);
        let admit = || self.admit(valid.name(), Kind::Histogram);
        let found = series(&self.histograms, &valid, admit, || {
            let bounds = self
                .family_bounds
                .get(valid.name())
                .unwrap_or(&self.default_bounds);
            AtomicHistogram::new(Arc::clone(bounds))
        });
        remember(
            &self.histograms,
            key,
            matches!(valid, Cow::Owned(_)),
            found.as_ref(),
        );
        found
    }

    pub(crate) fn describe(&self, name: &str, kind: Kind, description: SharedString) {
        let name = match names::is_metric_name(name) {
            true => std::borrow::Cow::Borrowed(name),
            false => std::borrow::Cow::Owned(names::to_metric_name(name)),
        };
        let mut descriptions = self.descriptions.write().unwrap_or_else(|e| e.into_inner());
        descriptions
            .entry(name.into_owned())
            .or_insert((kind, description));
    }
}

/// This crate's store as a `metrics::Recorder`, for a composition of
/// recorders (metrics-util's fanout or layers) that
/// [`Builder::install_with`](crate::Builder::install_with) installs.
///
/// Every series is an atomic counter, gauge or set of histogram buckets,
/// rendered in the Prometheus text format by the [`Metrics`](crate::Metrics)
/// that `install_with` returns.
///
/// ```
/// use metrics_util::layers::{Layer, PrefixLayer};
///
/// // Every series, hand-written ones included, under one prefix.
/// let metrics = instrument_runtime::Builder::new()
///     .install_with(|store| PrefixLayer::new("billing").layer(store))
///     .unwrap();
/// metrics::counter!("invoices_total").increment(3);
/// assert!(metrics.render().contains("billing_invoices_total 3\n"));
/// ```
#[derive(Clone)]
pub struct StoreRecorder(Arc<Store>);

impl StoreRecorder {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        StoreRecorder(store)
    }
}

impl std::fmt::Debug for StoreRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreRecorder").finish_non_exhaustive()
    }
}

impl Recorder for StoreRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.0.describe(key.as_str(), Kind::Counter, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.0.describe(key.as_str(), Kind::Gauge, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.0.describe(key.as_str(), Kind::Histogram, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        self.0.counter(key)
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        self.0.gauge(key)
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        self.0.histogram(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(bounds: &[f64]) -> (Arc<Store>, StoreRecorder) {
        let store = Arc::new(Store::new(bounds, [], vec![]));
        (Arc::clone(&store), StoreRecorder(store))
    }

    const META: Metadata<'static> = Metadata::new("t", metrics::Level::INFO, None);

    #[test]
    fn buckets_are_upper_inclusive_and_cumulative() {
        let (store, recorder) = store(&[0.1, 1.0]);
        let histogram = recorder.register_histogram(&Key::from_name("h"), &META);
        for value in [0.05, 0.1, 0.5, 1.0, 3.0] {
            histogram.record(value);
        }
        assert_eq!(
            store.render(Format::Text),
            "# TYPE h histogram\n\
             h_bucket{le=\"0.1\"} 2\n\
             h_bucket{le=\"1\"} 4\n\
             h_bucket{le=\"+Inf\"} 5\n\
             h_sum 4.65\n\
             h_count 5\n\n"
        );
    }

    #[test]
    fn families_and_series_are_sorted_and_values_escaped() {
        let store = Arc::new(Store::new(
            &[1.0],
            [("fast".to_owned(), vec![0.001])],
            vec![("svc".into(), "a\"b".into())],
        ));
        let recorder = StoreRecorder(Arc::clone(&store));
        recorder.describe_histogram("fast".into(), None, "Fast\nthings \\ here".into());
        recorder.describe_counter("calls_total".into(), None, "Calls.".into());
        recorder.describe_counter("empty_total".into(), None, "Nothing yet.".into());
        let key = Key::from_parts("fast", vec![metrics::Label::new("path", "C:\\x\n\"y\"")]);
        recorder.register_histogram(&key, &META).record(0.0005);
        for user in ["b", "a"] {
            let key = Key::from_parts("calls_total", vec![metrics::Label::new("user", user)]);
            recorder.register_counter(&key, &META).increment(2);
        }
        recorder
            .register_gauge(&Key::from_name("temperature"), &META)
            .set(-1.5);
        assert_eq!(
            store.render(Format::Text),
            "# HELP calls_total Calls.\n\
             # TYPE calls_total counter\n\
             calls_total{svc=\"a\\\"b\",user=\"a\"} 2\n\
             calls_total{svc=\"a\\\"b\",user=\"b\"} 2\n\
             \n\
             # HELP empty_total Nothing yet.\n\
             # TYPE empty_total counter\n\
             \n\
             # HELP fast Fast\\nthings \\\\ here\n\
             # TYPE fast histogram\n\
             fast_bucket{svc=\"a\\\"b\",path=\"C:\\\\x\\n\\\"y\\\"\",le=\"0.001\"} 1\n\
             fast_bucket{svc=\"a\\\"b\",path=\"C:\\\\x\\n\\\"y\\\"\",le=\"+Inf\"} 1\n\
             fast_sum{svc=\"a\\\"b\",path=\"C:\\\\x\\n\\\"y\\\"\"} 0.0005\n\
             fast_count{svc=\"a\\\"b\",path=\"C:\\\\x\\n\\\"y\\\"\"} 1\n\
             \n\
             # TYPE temperature gauge\n\
             temperature{svc=\"a\\\"b\"} -1.5\n\n"
        );
    }

    #[test]
    fn concurrent_updates_are_all_counted() {
        let (_, recorder) = store(&[0.5]);
        let histogram = recorder.register_histogram(&Key::from_name("c"), &META);
        let counter = recorder.register_counter(&Key::from_name("n_total"), &META);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    (0..50_000).for_each(|_| {
                        histogram.record(1.0);
                        counter.increment(1);
                    })
                });
            }
        });
        let series = recorder.0.histogram_series(&Key::from_name("c")).unwrap();
        assert_eq!(series.snapshot(), (vec![0, 200_000], 200_000.0));
        assert!(recorder.0.render(Format::Text).contains("n_total 200000\n"));
    }

    #[test]
    fn names_of_other_libraries_are_made_valid() {
        let (store, recorder) = store(&[1.0]);
        recorder.describe_counter("tokio.tasks-spawned".into(), None, "Tasks.".into());
        let key = Key::from_parts(
            "tokio.tasks-spawned",
            vec![metrics::Label::new("worker-id", "1")],
        );
        recorder.register_counter(&key, &META).increment(1);
        // Registered again under the name as given: the same series.
        recorder.register_counter(&key, &META).increment(2);
        recorder
            .register_counter(&Key::from_name("9lives"), &META)
            .increment(1);
        assert_eq!(
            store.render(Format::Text),
            "# TYPE _9lives counter\n_9lives 1\n\n\
             # HELP tokio_tasks_spawned Tasks.\n\
             # TYPE tokio_tasks_spawned counter\n\
             tokio_tasks_spawned{worker_id=\"1\"} 3\n\n"
        );
    }

    #[test]
    fn a_family_keeps_the_type_of_its_first_series() {
        let (store, recorder) = store(&[1.0]);
        let first = Key::from_parts("shared", vec![metrics::Label::new("k", "a")]);
        recorder.register_counter(&first, &META).increment(1);
        let second = Key::from_parts("shared", vec![metrics::Label::new("k", "b")]);
        recorder.register_histogram(&second, &META).record(0.5);
        recorder
            .register_gauge(&Key::from_name("shared"), &META)
            .set(1.0);
        assert_eq!(
            store.render(Format::Text),
            "# TYPE shared counter\nshared{k=\"a\"} 1\n\n"
        );
    }
}
