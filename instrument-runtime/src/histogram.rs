//! Histograms as cumulative atomic buckets, and the recorder that serves
//! them next to the Prometheus exporter's counters and gauges.
//!
//! The exporter stores every histogram sample in a lock-free queue that a
//! periodic upkeep drains into buckets; recording costs an order of magnitude
//! more than a counter increment, and samples pile up between upkeeps. Here a
//! sample is one bucket increment and one add to the sum, rendered directly:
//! no upkeep, no queue, no summaries.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::PrometheusRecorder;

/// Label pairs in rendering order.
type Labels = Vec<(String, String)>;

/// One series: per-bucket counts (not cumulative) and the sum of samples.
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

/// Every histogram series, their bucket settings and descriptions.
#[derive(Debug)]
pub(crate) struct Histograms {
    default_bounds: Arc<[f64]>,
    /// Full family name -> bounds.
    family_bounds: HashMap<String, Arc<[f64]>>,
    global_labels: Vec<(String, String)>,
    series: RwLock<HashMap<Key, Arc<AtomicHistogram>>>,
    descriptions: RwLock<HashMap<String, SharedString>>,
}

impl Histograms {
    pub(crate) fn new(
        default_bounds: &[f64],
        family_bounds: impl IntoIterator<Item = (String, Vec<f64>)>,
        global_labels: Vec<(String, String)>,
    ) -> Self {
        Histograms {
            default_bounds: default_bounds.into(),
            family_bounds: family_bounds
                .into_iter()
                .map(|(name, bounds)| (name, bounds.into()))
                .collect(),
            global_labels,
            series: RwLock::default(),
            descriptions: RwLock::default(),
        }
    }

    fn register(&self, key: &Key) -> Arc<AtomicHistogram> {
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            return Arc::clone(series);
        }
        let mut series = self.series.write().unwrap_or_else(|e| e.into_inner());
        let entry = series.entry(key.clone()).or_insert_with(|| {
            let bounds = self
                .family_bounds
                .get(key.name())
                .unwrap_or(&self.default_bounds);
            Arc::new(AtomicHistogram::new(Arc::clone(bounds)))
        });
        Arc::clone(entry)
    }

    fn describe(&self, name: &str, description: SharedString) {
        let mut descriptions = self.descriptions.write().unwrap_or_else(|e| e.into_inner());
        descriptions.entry(name.to_owned()).or_insert(description);
    }

    /// The exposition of every histogram, families and series in a stable order.
    pub(crate) fn render(&self, out: &mut String) {
        let mut series: Vec<(String, Labels, Arc<AtomicHistogram>)> = {
            let series = self.series.read().unwrap_or_else(|e| e.into_inner());
            series
                .iter()
                .map(|(key, histogram)| {
                    (
                        key.name().to_owned(),
                        self.labels(key),
                        Arc::clone(histogram),
                    )
                })
                .collect()
        };
        series.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let descriptions = self.descriptions.read().unwrap_or_else(|e| e.into_inner());
        let mut family = None;
        for (name, labels, histogram) in &series {
            if family != Some(name) {
                family = Some(name);
                if let Some(help) = descriptions.get(name.as_str()) {
                    let _ = writeln!(out, "# HELP {name} {}", escape(help, false));
                }
                let _ = writeln!(out, "# TYPE {name} histogram");
            }
            let (cumulative, sum) = histogram.snapshot();
            let bounds = histogram
                .bounds
                .iter()
                .map(|bound| bound.to_string())
                .chain(["+Inf".to_owned()]);
            for (le, count) in bounds.zip(&cumulative) {
                write_sample(out, name, "_bucket", labels, Some(&le), *count as f64);
            }
            write_sample(out, name, "_sum", labels, None, sum);
            write_sample(
                out,
                name,
                "_count",
                labels,
                None,
                *cumulative.last().unwrap_or(&0) as f64,
            );
        }
        if !series.is_empty() {
            out.push('\n');
        }
    }

    /// Global labels first, then the key's (a key label wins over a global
    /// one of the same name), as the exporter orders them.
    fn labels(&self, key: &Key) -> Labels {
        let mut labels: Labels = self
            .global_labels
            .iter()
            .filter(|(name, _)| !key.labels().any(|label| label.key() == name))
            .cloned()
            .collect();
        labels.extend(
            key.labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned())),
        );
        labels
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    le: Option<&str>,
    value: f64,
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

/// The global recorder: counters and gauges in the Prometheus exporter,
/// histograms in [`Histograms`].
pub(crate) struct InstrumentRecorder {
    pub(crate) prometheus: PrometheusRecorder,
    pub(crate) histograms: Arc<Histograms>,
}

impl Recorder for InstrumentRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.histograms.describe(key.as_str(), description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.prometheus.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.prometheus.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.histograms.register(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(histograms: &Histograms) -> String {
        let mut out = String::new();
        histograms.render(&mut out);
        out
    }

    #[test]
    fn buckets_are_upper_inclusive_and_cumulative() {
        let histograms = Histograms::new(&[0.1, 1.0], [], vec![]);
        let series = histograms.register(&Key::from_name("h"));
        for value in [0.05, 0.1, 0.5, 1.0, 3.0] {
            series.record(value);
        }
        assert_eq!(
            page(&histograms),
            "# TYPE h histogram\n\
             h_bucket{le=\"0.1\"} 2\n\
             h_bucket{le=\"1\"} 4\n\
             h_bucket{le=\"+Inf\"} 5\n\
             h_sum 4.65\n\
             h_count 5\n\n"
        );
    }

    #[test]
    fn family_bounds_global_labels_help_and_escaping() {
        let histograms = Histograms::new(
            &[1.0],
            [("fast".to_owned(), vec![0.001])],
            vec![("svc".into(), "a\"b".into())],
        );
        histograms.describe("fast", "Fast\nthings \\ here".into());
        let key = Key::from_parts("fast", vec![metrics::Label::new("path", "C:\\x")]);
        histograms.register(&key).record(0.0005);
        assert_eq!(
            page(&histograms),
            "# HELP fast Fast\\nthings \\\\ here\n\
             # TYPE fast histogram\n\
             fast_bucket{svc=\"a\\\"b\",path=\"C:\\\\x\",le=\"0.001\"} 1\n\
             fast_bucket{svc=\"a\\\"b\",path=\"C:\\\\x\",le=\"+Inf\"} 1\n\
             fast_sum{svc=\"a\\\"b\",path=\"C:\\\\x\"} 0.0005\n\
             fast_count{svc=\"a\\\"b\",path=\"C:\\\\x\"} 1\n\n"
        );
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let histograms = Histograms::new(&[0.5], [], vec![]);
        let series = histograms.register(&Key::from_name("c"));
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| (0..50_000).for_each(|_| series.record(1.0)));
            }
        });
        let (cumulative, sum) = series.snapshot();
        assert_eq!(cumulative, vec![0, 200_000]);
        assert_eq!(sum, 200_000.0);
    }
}
