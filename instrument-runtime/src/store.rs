//! Every series, stored as atomics and rendered in the Prometheus text
//! format: the recorder behind the `metrics` facade once `install()` has run.
//!
//! A counter is one `AtomicU64`; a histogram is a cumulative set of atomic
//! buckets and an atomic sum, so a sample is one bucket increment and one
//! add: no queue, no upkeep, no summaries. Rendering is deterministic
//! (families and series sorted) and escapes label values and HELP texts as
//! the text format requires, so no value can break the page or be altered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Label pairs in rendering order.
type Labels = Vec<(String, String)>;

/// A counter series.
#[derive(Debug, Default)]
struct AtomicCounter(AtomicU64);

impl CounterFn for AtomicCounter {
    #[inline]
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

/// A gauge series: the bits of an `f64`.
#[derive(Debug)]
struct AtomicGauge(AtomicU64);

impl AtomicGauge {
    fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
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
    /// `bounds.len() + 1` slots; the last is `+Inf`.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl AtomicHistogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        AtomicHistogram {
            bounds,
            buckets,
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Cumulative bucket counts (the last is the total count) and the sum.
    fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|bucket| {
                total += bucket.load(Ordering::Relaxed);
                total
            })
            .collect();
        (cumulative, f64::from_bits(self.sum.load(Ordering::Relaxed)))
    }
}

impl HistogramFn for AtomicHistogram {
    #[inline]
    fn record(&self, value: f64) {
        // Prometheus buckets are upper-inclusive: `le="0.1"` holds 0.1.
        let index = self.bounds.partition_point(|bound| *bound < value);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
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
    descriptions: RwLock<HashMap<String, (Type, SharedString)>>,
}

/// A family's type as the text format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// Find or create the series of `key` in `map`.
fn series<T>(map: &RwLock<HashMap<Key, Arc<T>>>, key: &Key, new: impl FnOnce() -> T) -> Arc<T> {
    if let Some(series) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Arc::clone(series);
    }
    let mut map = map.write().unwrap_or_else(|e| e.into_inner());
    Arc::clone(map.entry(key.clone()).or_insert_with(|| Arc::new(new())))
}

/// One series of a family: its labels and its sample.
type Series = (Labels, Sample);

/// One sample of a family, ready to render.
enum Sample {
    Counter(u64),
    Gauge(f64),
    Histogram(Arc<AtomicHistogram>),
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
        }
    }

    fn histogram(&self, key: &Key) -> Arc<AtomicHistogram> {
        series(&self.histograms, key, || {
            let bounds = self
                .family_bounds
                .get(key.name())
                .unwrap_or(&self.default_bounds);
            AtomicHistogram::new(Arc::clone(bounds))
        })
    }

    fn describe(&self, name: &str, kind: Type, description: SharedString) {
        let mut descriptions = self.descriptions.write().unwrap_or_else(|e| e.into_inner());
        descriptions
            .entry(name.to_owned())
            .or_insert((kind, description));
    }

    /// Is `name` described already?
    pub(crate) fn is_described(&self, name: &str) -> bool {
        self.descriptions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }

    /// The exposition of every family, sorted by name, each series sorted
    /// by its labels. A described family without series is listed with HELP
    /// and TYPE only, as prometheus_client lists it.
    pub(crate) fn render(&self) -> String {
        let mut families: HashMap<&str, (Type, Vec<Series>)> = HashMap::new();
        let counters = self.counters.read().unwrap_or_else(|e| e.into_inner());
        let gauges = self.gauges.read().unwrap_or_else(|e| e.into_inner());
        let histograms = self.histograms.read().unwrap_or_else(|e| e.into_inner());
        let descriptions = self.descriptions.read().unwrap_or_else(|e| e.into_inner());
        let mut add = |name, kind, labels, sample| {
            let entry = families.entry(name).or_insert_with(|| (kind, Vec::new()));
            entry.1.push((labels, sample));
        };
        for (key, counter) in &*counters {
            let sample = Sample::Counter(counter.0.load(Ordering::Relaxed));
            add(key.name(), Type::Counter, self.labels(key), sample);
        }
        for (key, gauge) in &*gauges {
            let sample = Sample::Gauge(f64::from_bits(gauge.0.load(Ordering::Relaxed)));
            add(key.name(), Type::Gauge, self.labels(key), sample);
        }
        for (key, histogram) in &*histograms {
            let sample = Sample::Histogram(Arc::clone(histogram));
            add(key.name(), Type::Histogram, self.labels(key), sample);
        }
        for (name, (kind, _)) in &*descriptions {
            families
                .entry(name.as_str())
                .or_insert_with(|| (*kind, Vec::new()));
        }

        let mut names: Vec<&str> = families.keys().copied().collect();
        names.sort_unstable();
        let mut out = String::new();
        for name in names {
            let (kind, mut samples) = families.remove(name).expect("listed above");
            samples.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some((_, help)) = descriptions.get(name) {
                let _ = writeln!(out, "# HELP {name} {}", escape(help, false));
            }
            let _ = writeln!(out, "# TYPE {name} {}", kind.name());
            for (labels, sample) in samples {
                match sample {
                    Sample::Counter(value) => {
                        write_sample(&mut out, name, "", &labels, None, value)
                    }
                    Sample::Gauge(value) => {
                        write_sample(&mut out, name, "", &labels, None, Float(value))
                    }
                    Sample::Histogram(histogram) => {
                        let (cumulative, sum) = histogram.snapshot();
                        let bounds = histogram.bounds.iter().map(|b| Float(*b).to_string());
                        let les = bounds.chain(["+Inf".to_owned()]);
                        for (le, count) in les.zip(&cumulative) {
                            write_sample(&mut out, name, "_bucket", &labels, Some(&le), count);
                        }
                        write_sample(&mut out, name, "_sum", &labels, None, Float(sum));
                        let count = cumulative.last().copied().unwrap_or(0);
                        write_sample(&mut out, name, "_count", &labels, None, count);
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    /// Global labels first, then the key's (a key label wins over a global
    /// one of the same name).
    fn labels(&self, key: &Key) -> Labels {
        let mut labels: Labels = self
            .global_labels
            .iter()
            .filter(|(name, _)| !key.labels().any(|label| label.key() == name))
            .cloned()
            .collect();
        labels.extend(
            key.labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned())),
        );
        labels
    }
}

/// A float as the text format writes it: `+Inf`, `-Inf`, `NaN`, or the
/// shortest decimal that reads back as the same value.
struct Float(f64);

impl std::fmt::Display for Float {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    le: Option<&str>,
    value: impl std::fmt::Display,
) {
    out.push_str(name);
    out.push_str(suffix);
    let le = le.map(|le| ("le", le));
    let mut pairs = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(le)
        .peekable();
    if pairs.peek().is_some() {
        out.push('{');
        for (i, (key, value)) in pairs.enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape(value, true));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Escape a label value (`\`, `"`, newline) or a HELP text (`\`, newline).
pub(crate) fn escape(text: &str, quote: bool) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\\', '\n', '"']) {
        return text.into();
    }
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if quote => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped.into()
}

/// The global recorder: the facade's calls land in the [`Store`].
pub(crate) struct StoreRecorder(pub(crate) Arc<Store>);

impl Recorder for StoreRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.0.describe(key.as_str(), Type::Counter, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.0.describe(key.as_str(), Type::Gauge, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.0.describe(key.as_str(), Type::Histogram, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(series(&self.0.counters, key, AtomicCounter::default))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(series(&self.0.gauges, key, || {
            AtomicGauge(AtomicU64::new(0f64.to_bits()))
        }))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.histogram(key))
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
            store.render(),
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
            store.render(),
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
        let series = recorder.0.histogram(&Key::from_name("c"));
        assert_eq!(series.snapshot(), (vec![0, 200_000], 200_000.0));
        assert!(recorder.0.render().contains("n_total 200000\n"));
    }

    #[test]
    fn infinities_are_written_as_the_format_spells_them() {
        assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Float(0.25).to_string(), "0.25");
    }
}
