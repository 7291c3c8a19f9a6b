//! The Prometheus text exposition of the store: deterministic (families
//! and series sorted), with label values and HELP texts escaped as the
//! format requires, so no value can break the page or be altered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use metrics::Key;

use super::{sanitized, AtomicHistogram, Labels, Store};
use crate::catalogue::Kind;

/// One series of a family: its labels and its sample.
type Series<'a> = (Labels, &'a Sample);

/// One sample of a family, ready to render.
enum Sample {
    Counter(u64),
    Gauge(f64),
    Histogram(Arc<AtomicHistogram>),
}

impl Store {
    /// The exposition of every family, sorted by name, each series sorted
    /// by its labels. A described family without series is listed with HELP
    /// and TYPE only, as prometheus_client lists it.
    pub(crate) fn render(&self) -> String {
        // Take the values under the locks, and format after releasing them,
        // so that a scrape never holds up the creation of a series.
        let mut taken: Vec<(Key, Kind, Sample)> = Vec::new();
        {
            let counters = self.counters.read().unwrap_or_else(|e| e.into_inner());
            taken.extend(counters.iter().map(|(key, counter)| {
                let value = counter.0.get();
                (key.clone(), Kind::Counter, Sample::Counter(value))
            }));
        }
        {
            let gauges = self.gauges.read().unwrap_or_else(|e| e.into_inner());
            taken.extend(gauges.iter().map(|(key, gauge)| {
                let value = f64::from_bits(gauge.0.load(Ordering::Relaxed));
                (key.clone(), Kind::Gauge, Sample::Gauge(value))
            }));
        }
        {
            let histograms = self.histograms.read().unwrap_or_else(|e| e.into_inner());
            taken.extend(histograms.iter().map(|(key, histogram)| {
                let sample = Sample::Histogram(Arc::clone(histogram));
                (key.clone(), Kind::Histogram, sample)
            }));
        }
        let descriptions = self
            .descriptions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();

        let mut families: HashMap<&str, (Kind, Vec<Series>)> = HashMap::new();
        // Keys kept by `remember` under the names their caller gave.
        let given = |key: &Key, kind: &Kind| {
            matches!(
                sanitized(key, *kind == Kind::Histogram),
                std::borrow::Cow::Owned(_)
            )
        };
        for (key, kind, sample) in taken.iter().filter(|(key, kind, _)| !given(key, kind)) {
            let entry = families
                .entry(key.name())
                .or_insert_with(|| (*kind, Vec::new()));
            entry.1.push((self.labels(key), sample));
        }
        for (name, (kind, _)) in &descriptions {
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
                        write_sample(&mut out, name, "", &labels, None, Float(*value))
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

#[cfg(test)]
mod tests {
    use super::Float;

    #[test]
    fn infinities_are_written_as_the_format_spells_them() {
        assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Float(0.25).to_string(), "0.25");
    }
}
