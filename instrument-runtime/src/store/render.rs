//! The expositions of the store, Prometheus text 0.0.4 and OpenMetrics
//! 1.0: deterministic (families and series sorted), with label values and
//! HELP texts escaped as the format requires, so no value can break the
//! page or be altered.
//!
//! Both formats name every series alike, so a Prometheus that switches
//! from one to the other keeps its series. OpenMetrics requires a
//! counter's sample to end in `_total`; a counter family whose name does
//! not (`http_responses_total_by_status`, from the names django-prometheus
//! users know) is exposed there as `unknown`, under its own name, rather
//! than renamed. The one difference is the `le` label: OpenMetrics writes
//! bounds in its canonical form (`1.0`, `1e-05`), the text format as it
//! always has (`1`, `0.00001`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use metrics::Key;

use super::{sanitized, AtomicHistogram, Exemplar, Labels, Store};
use crate::catalogue::Kind;

/// One series of a family: its labels and its sample.
type Series<'a> = (Labels, &'a Sample);

/// The formats of the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

/// One sample of a family, ready to render.
enum Sample {
    Counter(u64, Option<Exemplar>),
    Gauge(f64),
    Histogram(Arc<AtomicHistogram>),
}

impl Store {
    /// The exposition of every family, sorted by name, each series sorted
    /// by its labels. A described family without series is listed with HELP
    /// and TYPE only, as prometheus_client lists it.
    pub(crate) fn render(&self, format: Format) -> String {
        // Take the values under the locks, and format after releasing them,
        // so that a scrape never holds up the creation of a series.
        let mut taken: Vec<(Key, Kind, Sample)> = Vec::new();
        {
            let counters = self.counters.read().unwrap_or_else(|e| e.into_inner());
            taken.extend(counters.iter().map(|(key, counter)| {
                let value = counter.0.get();
                let sample = Sample::Counter(value, counter.exemplar());
                (key.clone(), Kind::Counter, sample)
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
        let open_metrics = format == Format::OpenMetrics;
        let mut out = String::new();
        for &name in &names {
            let (kind, mut samples) = families.remove(name).expect("listed above");
            samples.sort_by(|a, b| a.0.cmp(&b.0));
            let help = descriptions.get(name).map(|(_, help)| help);
            // OpenMetrics allows exemplars on counters and buckets only: a
            // counter exposed as `unknown` has none (Prometheus would
            // refuse the whole scrape).
            let mut counter_exemplars = false;
            match format {
                Format::Text => {
                    if let Some(help) = help {
                        let _ = writeln!(out, "# HELP {name} {}", escape(help, false));
                    }
                    let _ = writeln!(out, "# TYPE {name} {}", kind.name());
                }
                Format::OpenMetrics => {
                    let (family, kind) = match (kind, name.strip_suffix("_total")) {
                        // A counter's family is its name without `_total`,
                        // unless another family has that name.
                        (Kind::Counter, Some(family))
                            if !family.is_empty() && names.binary_search(&family).is_err() =>
                        {
                            (family, "counter")
                        }
                        (Kind::Counter, _) => (name, "unknown"),
                        (kind, _) => (name, kind.name()),
                    };
                    counter_exemplars = kind == "counter";
                    let _ = writeln!(out, "# TYPE {family} {kind}");
                    if let Some(help) = help.filter(|help| !help.is_empty()) {
                        let _ = writeln!(out, "# HELP {family} {}", escape(help, true));
                    }
                }
            }
            for (labels, sample) in samples {
                match sample {
                    Sample::Counter(value, exemplar) => {
                        let exemplar = exemplar.as_ref().filter(|_| counter_exemplars);
                        write_sample(&mut out, name, "", &labels, None, value, exemplar)
                    }
                    Sample::Gauge(value) => {
                        write_sample(&mut out, name, "", &labels, None, Float(*value), None)
                    }
                    Sample::Histogram(histogram) => {
                        let (cumulative, sum) = histogram.snapshot();
                        let bounds = histogram.bounds.iter().map(|&bound| match open_metrics {
                            true => Canonical(bound).to_string(),
                            false => Float(bound).to_string(),
                        });
                        let les = bounds.chain(["+Inf".to_owned()]);
                        for (index, (le, count)) in les.zip(&cumulative).enumerate() {
                            let exemplar = histogram.exemplar(index).filter(|_| open_metrics);
                            let (le, exemplar) = (Some(le.as_str()), exemplar.as_ref());
                            write_sample(&mut out, name, "_bucket", &labels, le, count, exemplar);
                        }
                        write_sample(&mut out, name, "_sum", &labels, None, Float(sum), None);
                        let count = cumulative.last().copied().unwrap_or(0);
                        write_sample(&mut out, name, "_count", &labels, None, count, None);
                    }
                }
            }
            // OpenMetrics allows no line between families.
            if !open_metrics {
                out.push('\n');
            }
        }
        if open_metrics {
            out.push_str("# EOF\n");
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

/// A bound as OpenMetrics' canonical numbers write it: Go's `%g` (shortest
/// digits, exponent below 1e-4 and from 1e+06 on, at least two exponent
/// digits), with `.0` added when there is neither point nor exponent:
/// `0.005`, `1.0`, `100000.0`, `1e+06`, `1e-05`.
pub(crate) struct Canonical(pub(crate) f64);

impl std::fmt::Display for Canonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if !v.is_finite() {
            return Float(v).fmt(f);
        }
        let scientific = format!("{v:e}");
        let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` has an exponent");
        let exponent: i32 = exponent.parse().expect("an integer exponent");
        if v != 0.0 && !(-4..6).contains(&exponent) {
            let sign = if exponent < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exponent.unsigned_abs())
        } else {
            let fixed = v.to_string();
            f.write_str(&fixed)?;
            if fixed.contains('.') {
                Ok(())
            } else {
                f.write_str(".0")
            }
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
    exemplar: Option<&Exemplar>,
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
    let _ = write!(out, " {value}");
    if let Some(exemplar) = exemplar {
        write_exemplar(out, exemplar);
    }
    out.push('\n');
}

/// ` # {trace_id="..",span_id=".."} value timestamp`: 63 characters of
/// labels, within OpenMetrics' 128.
#[cfg(feature = "exemplars")]
fn write_exemplar(out: &mut String, exemplar: &Exemplar) {
    let trace = &exemplar.trace;
    let _ = write!(
        out,
        " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {:.3}",
        trace.trace_id_hex(),
        trace.span_id_hex(),
        Float(exemplar.value),
        exemplar.at
    );
}

#[cfg(not(feature = "exemplars"))]
fn write_exemplar(_: &mut String, exemplar: &Exemplar) {
    match *exemplar {}
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
    use super::{Canonical, Float};

    #[test]
    fn bounds_in_openmetrics_are_canonical_numbers() {
        // The examples of the OpenMetrics specification.
        let cases = [
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
            (1e23, "1e+23"),
            (1.1e23, "1.1e+23"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "+Inf"),
        ];
        for (bound, written) in cases {
            assert_eq!(Canonical(bound).to_string(), written, "{bound:?}");
        }
    }

    #[test]
    fn infinities_are_written_as_the_format_spells_them() {
        assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Float(0.25).to_string(), "0.25");
    }
}
