//! A strict parser of the OpenMetrics 1.0 text format, the judge of the
//! OpenMetrics tests, written from the specification's ABNF and rules: it
//! accepts what the specification allows and the renderer writes, and
//! hands back label values and HELP texts unescaped.
//!
//! Checked: the page ends with `# EOF` and a newline, with nothing after;
//! no empty lines; a family's metadata comes once each, TYPE first, before
//! its samples; families are contiguous and not repeated; each sample name
//! belongs to its family (`_total` for a counter, no suffix for a gauge or
//! `unknown`, `_bucket`/`_sum`/`_count` for a histogram); no series twice;
//! counter totals are not negative; histogram bounds are canonical
//! numbers (`1.0`, `1e-05`, `+Inf`), increasing, with non-decreasing
//! counts, `_count` equal to the `+Inf` bucket; exemplars only on a
//! counter's total and a histogram's buckets, their label set at most 128
//! characters. Label values and HELP use the three escapes `\\`, `\"` and
//! `\n`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

// The name rules are the text format's.
use crate::text_format::{check_label_name, check_metric_name};

/// Label names and (unescaped) values, ordered by name.
pub(crate) type Labels = BTreeMap<String, String>;

/// Label names and (unescaped) values, in the order of the line.
pub(crate) type LabelList = Vec<(String, String)>;

/// An exemplar: its labels and value (no timestamp is written).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
    pub(crate) timestamp: Option<f64>,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    /// In the order of the line.
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
    pub(crate) exemplar: Option<Exemplar>,
}

impl Sample {
    pub(crate) fn label_map(&self) -> Labels {
        self.labels.iter().cloned().collect()
    }
}

/// One family: its name, TYPE, HELP (unescaped) and samples.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Family {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) help: Option<String>,
    pub(crate) samples: Vec<Sample>,
}

/// A page that passed every check.
#[derive(Clone, Debug)]
pub(crate) struct Exposition {
    pub(crate) families: Vec<Family>,
}

impl Exposition {
    pub(crate) fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// Every sample of every family, in page order.
    pub(crate) fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.iter().flat_map(|f| &f.samples)
    }

    /// The value of `name{labels}` (exactly these labels).
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples()
            .find(|s| s.name == name && s.label_map() == wanted)
            .map(|s| s.value)
    }
}

const TYPES: [&str; 8] = [
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "stateset",
    "info",
    "summary",
    "unknown",
];

/// Parse `text`, or say which line breaks which rule.
pub(crate) fn parse(text: &str) -> Result<Exposition, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or_else(|| "the page does not end with \"# EOF\\n\"".to_owned())?;
    if !body.is_empty() && !body.ends_with('\n') {
        return Err("the line before # EOF is not ended".to_owned());
    }
    let mut families: Vec<Family> = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();
    for (number, line) in body.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}: {line:?}", number + 1);
        if line.is_empty() {
            return Err(at("an empty line".into()));
        }
        if line.contains('\r') {
            return Err(at("a carriage return".into()));
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type".into()))?;
            check_metric_name(name).map_err(at)?;
            if !TYPES.contains(&kind) {
                return Err(at(format!("unknown type {kind:?}")));
            }
            if !names.insert(name.to_owned()) {
                return Err(at(format!("a second family {name}")));
            }
            families.push(Family {
                name: name.to_owned(),
                kind: kind.to_owned(),
                help: None,
                samples: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let family = families
                .last_mut()
                .filter(|f| f.name == name && f.samples.is_empty())
                .ok_or_else(|| at("HELP not after its family's TYPE, before its samples".into()))?;
            if family.help.is_some() {
                return Err(at("a second HELP".into()));
            }
            family.help = Some(unescape(help).map_err(at)?);
        } else if line.starts_with('#') {
            return Err(at("a comment line, which OpenMetrics forbids".into()));
        } else {
            let sample = parse_sample(line).map_err(at)?;
            let family = families
                .last_mut()
                .ok_or_else(|| at("a sample before any TYPE line".into()))?;
            check_membership(family, &sample).map_err(at)?;
            let mut key_labels = sample.labels.clone();
            key_labels.sort();
            if !seen.insert((sample.name.clone(), key_labels)) {
                return Err(at("the same series twice".into()));
            }
            family.samples.push(sample);
        }
    }
    for family in &families {
        if family.kind == "histogram" {
            check_histogram(family)?;
        }
    }
    Ok(Exposition { families })
}

/// An escaped string: `\\`, `\"` and `\n`; a bare `"` or newline is not
/// allowed.
fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') => out.push('"'),
                other => return Err(format!("an undefined escape \\{other:?}")),
            },
            '"' => return Err("an unescaped double quote".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `{name="value",...}` at the start of `text`: the labels and the rest.
fn parse_labels(text: &str) -> Result<(LabelList, &str), String> {
    let mut rest = text
        .strip_prefix('{')
        .ok_or_else(|| "no label set".to_owned())?;
    let mut labels = LabelList::new();
    if let Some(after) = rest.strip_prefix('}') {
        return Ok((labels, after));
    }
    loop {
        let (key, after) = rest
            .split_once("=\"")
            .ok_or_else(|| "a label without =\"".to_owned())?;
        check_label_name(key)?;
        // The value runs to the first double quote not escaped.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("the value of {key} is not closed"))?;
        let value = unescape(&after[..end])?;
        if labels.iter().any(|(k, _)| k == key) {
            return Err(format!("the label {key} twice"));
        }
        labels.push((key.to_owned(), value));
        rest = &after[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        } else {
            return Err(format!("{:?} after a label value", rest.chars().next()));
        }
    }
}

/// `name[{labels}] value[ # {labels} value [timestamp]]`, no sample
/// timestamp (the renderer writes none).
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| "no value".to_owned())?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let (labels, rest) = match line[name_end..].starts_with('{') {
        true => parse_labels(&line[name_end..])?,
        false => (Vec::new(), &line[name_end..]),
    };
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| "no single space before the value".to_owned())?;
    let (value, exemplar) = match rest.split_once(" # ") {
        Some((value, exemplar)) => (value, Some(parse_exemplar(exemplar)?)),
        None => (rest, None),
    };
    if value.contains(' ') {
        return Err(format!("a timestamp or more after the value {value:?}"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value: parse_number(value)?,
        exemplar,
    })
}

fn parse_exemplar(text: &str) -> Result<Exemplar, String> {
    let (labels, rest) = parse_labels(text)?;
    let written = text.len() - rest.len();
    let characters: usize = labels
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    if characters > 128 {
        return Err(format!(
            "an exemplar label set of {characters} characters (at most 128): {:?}",
            &text[..written]
        ));
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| "no space before the exemplar's value".to_owned())?;
    let (value, timestamp) = match rest.split_once(' ') {
        Some((value, timestamp)) => (value, Some(parse_number(timestamp)?)),
        None => (rest, None),
    };
    Ok(Exemplar {
        labels,
        value: parse_number(value)?,
        timestamp,
    })
}

/// A number of the ABNF: a real number, or (case-insensitive) an infinity
/// or NaN.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    let bad = || format!("invalid number {text:?}");
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    match unsigned.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => {
            return Ok(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" if unsigned.len() == text.len() => return Ok(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match unsigned.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// A bound written as the specification's canonical numbers: `+Inf`, or a
/// float with a point or an exponent, which reads back as itself.
fn check_canonical(le: &str) -> Result<f64, String> {
    if le == "+Inf" {
        return Ok(f64::INFINITY);
    }
    let value = parse_number(le)?;
    if !le.contains(['.', 'e']) {
        return Err(format!(
            "le={le:?} is not a canonical number (an integer form)"
        ));
    }
    let (mantissa, exponent) = le.split_once('e').unwrap_or((le, ""));
    let signed_two_digits = exponent.len() >= 3 && exponent.starts_with(['+', '-']);
    if !exponent.is_empty() && !signed_two_digits {
        return Err(format!(
            "le={le:?}: the exponent is not signed with two digits"
        ));
    }
    if mantissa.contains('.') && mantissa.ends_with('0') && !mantissa.ends_with(".0") {
        return Err(format!("le={le:?}: trailing zeros"));
    }
    Ok(value)
}

/// The sample belongs to `family`, with the labels its type requires.
fn check_membership(family: &Family, sample: &Sample) -> Result<(), String> {
    let suffix = sample
        .name
        .strip_prefix(family.name.as_str())
        .ok_or_else(|| format!("{} outside its family {}", sample.name, family.name))?;
    let has_le = sample.labels.iter().any(|(k, _)| k == "le");
    let exemplar = sample.exemplar.is_some();
    match (family.kind.as_str(), suffix) {
        ("counter", "_total") if !has_le && sample.value >= 0.0 => Ok(()),
        ("counter", "_total") if !has_le => Err(format!("a negative total {}", sample.value)),
        ("histogram", "_bucket") if has_le => Ok(()),
        ("histogram", "_bucket") => Err("a bucket without le".into()),
        ("histogram", "_sum" | "_count") if !has_le && !exemplar => Ok(()),
        ("gauge" | "unknown", "") if !has_le && !exemplar => Ok(()),
        (kind, suffix) => Err(format!(
            "{} does not belong to the {kind} {} (suffix {suffix:?}, le: {has_le}, \
             exemplar: {exemplar})",
            sample.name, family.name
        )),
    }
}

/// Every series of a histogram is whole and consistent.
fn check_histogram(family: &Family) -> Result<(), String> {
    let name = &family.name;
    type Parts = (Vec<(f64, f64)>, Option<f64>, Option<f64>);
    let mut series: BTreeMap<Labels, Parts> = BTreeMap::new();
    for sample in &family.samples {
        let mut labels = sample.label_map();
        let le = labels.remove("le");
        let entry = series.entry(labels).or_default();
        match (sample.name.strip_prefix(name.as_str()), le) {
            (Some("_bucket"), Some(le)) => entry.0.push((check_canonical(&le)?, sample.value)),
            (Some("_sum"), None) => entry.1 = Some(sample.value),
            (Some("_count"), None) => entry.2 = Some(sample.value),
            _ => return Err(format!("{name}: unexpected sample {sample:?}")),
        }
    }
    for (labels, (buckets, sum, count)) in series {
        if buckets
            .windows(2)
            .any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1)
        {
            return Err(format!(
                "{name}{labels:?}: buckets not increasing: {buckets:?}"
            ));
        }
        let last = buckets.last().copied();
        match (last, count, sum) {
            (Some((le, inf)), Some(count), Some(_)) if le == f64::INFINITY && inf == count => {}
            _ => {
                return Err(format!(
                    "{name}{labels:?}: +Inf bucket {last:?}, _count {count:?}, _sum {sum:?}"
                ))
            }
        }
    }
    Ok(())
}

#[test]
fn the_judge_rejects_what_the_specification_forbids() {
    let ok = "# TYPE a counter\n# HELP a say \\\"hi\\\"\na_total{x=\"1\"} 3\n# EOF\n";
    let page = parse(ok).expect("valid");
    assert_eq!(page.families[0].help.as_deref(), Some("say \"hi\""));
    assert_eq!(page.value("a_total", &[("x", "1")]), Some(3.0));
    let histogram = "# TYPE h histogram\nh_bucket{le=\"1.0\"} 1 # {trace_id=\"ab\"} 0.5\n\
                     h_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n# EOF\n";
    let page = parse(histogram).expect("valid");
    let exemplar = page.families[0].samples[0]
        .exemplar
        .clone()
        .expect("an exemplar");
    assert_eq!(
        exemplar.labels,
        vec![("trace_id".to_owned(), "ab".to_owned())]
    );
    assert_eq!(exemplar.value, 0.5);
    for bad in [
        "# TYPE a counter\na_total 1\n",
        "# TYPE a counter\na_total 1\n\n# EOF\n",
        "# TYPE a counter\na 1\n# EOF\n",
        "# TYPE a counter\na_total -1\n# EOF\n",
        "# TYPE a gauge\na 1 # {t=\"x\"} 1\n# EOF\n",
        "# HELP a x\n# TYPE a gauge\n# EOF\n",
        "# TYPE a gauge\n# HELP a \"x\"\n# EOF\n",
        "# TYPE a gauge\na 1\n# TYPE b gauge\n# TYPE a gauge\n# EOF\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n# EOF\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n# EOF\n",
        "# TYPE a unknown\na{x=\"1\"} 1\na{x=\"1\"} 2\n# EOF\n",
        "# unit a seconds\n# EOF\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
    let long = format!(
        "# TYPE a counter\na_total 1 # {{trace_id=\"{}\"}} 1\n# EOF\n",
        "x".repeat(121)
    );
    assert!(parse(&long).is_err(), "an exemplar over 128 characters");
}
