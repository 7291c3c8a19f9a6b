//! A strict parser of the Prometheus text format (version 0.0.4), the judge
//! of the exposition tests: it accepts exactly what the format allows and
//! the renderer writes, and hands back label values and HELP texts
//! unescaped, so that a test can compare them with what it recorded.
//!
//! Strict where the format is loose, because the renderer never needs the
//! looseness: lines end in `\n` only, tokens are separated by one space,
//! no timestamps, no trailing comma in a label set, no comment lines other
//! than `# HELP` and `# TYPE`. Checked beyond the syntax: a family's lines
//! are contiguous and follow its TYPE line, each sample name belongs to its
//! family (`_bucket`, `_sum` and `_count` for a histogram), no series
//! appears twice, counters are not negative, and every histogram series has
//! increasing `le` bounds ending in `+Inf`, non-decreasing cumulative
//! counts, a `_count` equal to its `+Inf` bucket, and a `_sum`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

/// Label names and (unescaped) values, ordered by name.
pub(crate) type Labels = BTreeMap<String, String>;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    /// In the order of the line.
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
}

impl Sample {
    pub(crate) fn label_map(&self) -> Labels {
        self.labels.iter().cloned().collect()
    }
}

/// One family: its HELP (unescaped), TYPE and samples.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Family {
    pub(crate) name: String,
    pub(crate) help: Option<String>,
    pub(crate) kind: String,
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

    /// Every series of the sample name `name`: labels and value.
    pub(crate) fn series(&self, name: &str) -> BTreeMap<Labels, f64> {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(|s| s.name == name)
            .map(|s| (s.label_map(), s.value))
            .collect()
    }

    /// The value of `name{labels}` (exactly these labels).
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.series(name).get(&wanted).copied()
    }
}

/// Parse `text`, or say which line breaks which rule.
pub(crate) fn parse(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the page does not end with a newline".to_owned());
    }
    let mut families: Vec<Family> = Vec::new();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut pending_help: Option<(String, String)> = None;
    let mut seen: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    for (number, line) in body.split('\n').enumerate() {
        let at = |why: String| format!("line {}: {why}: {line:?}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without a text".into()))?;
            check_metric_name(name).map_err(at)?;
            let help = unescape_help(help).map_err(at)?;
            if pending_help.is_some() || families.iter().any(|f| f.name == name) {
                return Err(at("HELP not directly before the family's TYPE".into()));
            }
            pending_help = Some((name.to_owned(), help));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type".into()))?;
            check_metric_name(name).map_err(at)?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind:?}")));
            }
            let help = match pending_help.take() {
                Some((help_name, help)) if help_name == name => Some(help),
                Some((help_name, _)) => {
                    return Err(at(format!("HELP of {help_name} before TYPE of {name}")))
                }
                None => None,
            };
            if closed.contains(name) || families.iter().any(|f| f.name == name) {
                return Err(at(format!("a second TYPE line for {name}")));
            }
            if let Some(previous) = families.last() {
                closed.insert(previous.name.clone());
            }
            families.push(Family {
                name: name.to_owned(),
                help,
                kind: kind.to_owned(),
                samples: Vec::new(),
            });
        } else if line.starts_with('#') {
            return Err(at("a comment the renderer never writes".into()));
        } else {
            if pending_help.is_some() {
                return Err(at("a sample between HELP and TYPE".into()));
            }
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
    if pending_help.is_some() {
        return Err("a HELP line without its TYPE at the end".to_owned());
    }
    for family in &families {
        if family.kind == "histogram" {
            check_histogram(family)?;
        }
    }
    Ok(Exposition { families })
}

pub(crate) fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("invalid metric name {name:?}"))
    }
}

pub(crate) fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("invalid label name {name:?}"))
    }
}

/// A HELP text: `\\` and `\n` are the only escapes.
fn unescape_help(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => return Err(format!("invalid escape \\{other:?} in HELP")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// `name{label="value",...} value`, exactly.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| "no value".to_owned())?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices();
        loop {
            let mut key = String::new();
            let mut closed_at = None;
            for (i, c) in chars.by_ref() {
                match c {
                    '=' => break,
                    '}' if key.is_empty() && labels.is_empty() => {
                        closed_at = Some(i);
                        break;
                    }
                    c => key.push(c),
                }
            }
            if let Some(i) = closed_at {
                return Err(format!("an empty label set at {i}"));
            }
            check_label_name(&key)?;
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("the value of {key} is not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("invalid escape {other:?} in {key}")),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("the value of {key} is not closed")),
                }
            }
            if labels.iter().any(|(k, _)| *k == key) {
                return Err(format!("the label {key} twice"));
            }
            labels.push((key, value));
            match chars.next() {
                Some((_, ',')) => {}
                Some((i, '}')) => {
                    rest = &after[i + 1..];
                    break;
                }
                other => return Err(format!("{other:?} after a label value")),
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| "no single space before the value".to_owned())?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value: parse_value(value)?,
    })
}

/// `+Inf`, `-Inf`, `NaN`, or a decimal number (what the renderer writes
/// and every parser of the format reads the same way).
pub(crate) fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let bad = || format!("invalid value {text:?}");
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !digits(whole) || !fraction.is_none_or(digits) || !exponent_ok {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// The sample belongs to `family`, with the labels its type requires.
fn check_membership(family: &Family, sample: &Sample) -> Result<(), String> {
    let suffix = sample
        .name
        .strip_prefix(family.name.as_str())
        .ok_or_else(|| format!("{} outside its family {}", sample.name, family.name))?;
    let has_le = sample.labels.iter().any(|(k, _)| k == "le");
    let has_quantile = sample.labels.iter().any(|(k, _)| k == "quantile");
    match (family.kind.as_str(), suffix) {
        ("histogram", "_bucket") if has_le => Ok(()),
        ("histogram", "_bucket") => Err("a bucket without le".into()),
        ("histogram", "_sum" | "_count") | ("summary", "_sum" | "_count") if !has_le => Ok(()),
        ("summary", "") if has_quantile => Ok(()),
        ("counter", "") if !has_le && sample.value >= 0.0 => Ok(()),
        ("counter", "") if !has_le => Err(format!("a negative counter {}", sample.value)),
        ("gauge" | "untyped", "") if !has_le => Ok(()),
        (kind, suffix) => Err(format!(
            "{} does not belong to the {kind} {} (suffix {suffix:?}, le: {has_le})",
            sample.name, family.name
        )),
    }
}

/// Every series of a histogram is whole and consistent.
fn check_histogram(family: &Family) -> Result<(), String> {
    let name = &family.name;
    // Series labels (without le) -> (bounds and counts in page order, sum, count).
    type Parts = (Vec<(f64, f64)>, Option<f64>, Option<f64>);
    let mut series: BTreeMap<Labels, Parts> = BTreeMap::new();
    for sample in &family.samples {
        let mut labels = sample.label_map();
        let le = labels.remove("le");
        let entry = series.entry(labels).or_default();
        match (sample.name.strip_prefix(name.as_str()), le) {
            (Some("_bucket"), Some(le)) => entry.0.push((parse_value(&le)?, sample.value)),
            (Some("_sum"), None) => entry.1 = Some(sample.value),
            (Some("_count"), None) => entry.2 = Some(sample.value),
            _ => return Err(format!("{name}: unexpected sample {sample:?}")),
        }
    }
    for (labels, (buckets, sum, count)) in series {
        let whole = |v: f64| v >= 0.0 && v.fract() == 0.0;
        if buckets
            .windows(2)
            .any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1)
        {
            return Err(format!(
                "{name}{labels:?}: buckets not increasing: {buckets:?}"
            ));
        }
        if buckets.iter().any(|(_, c)| !whole(*c)) {
            return Err(format!("{name}{labels:?}: a bucket count that is no count"));
        }
        let last = buckets.last().copied();
        match (last, count) {
            (Some((le, inf)), Some(count)) if le == f64::INFINITY && inf == count => {}
            _ => {
                return Err(format!(
                    "{name}{labels:?}: +Inf bucket {last:?} and _count {count:?} disagree"
                ))
            }
        }
        if sum.is_none() {
            return Err(format!("{name}{labels:?}: no _sum"));
        }
    }
    Ok(())
}
