//! What the benches' reports share: criterion's medians read back from
//! its `estimates.json`, and the table of ratios against their targets.

use std::path::Path;

/// A median and its 95% confidence interval, in nanoseconds.
#[derive(Clone, Copy)]
pub(crate) struct Estimate {
    pub(crate) median: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
}

/// The median of one benchmark, from criterion's `estimates.json`.
pub(crate) fn estimate(dir: &Path, group: &str, id: &str) -> Option<Estimate> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let median = &json["median"];
    Some(Estimate {
        median: median["point_estimate"].as_f64()?,
        low: median["confidence_interval"]["lower_bound"].as_f64()?,
        high: median["confidence_interval"]["upper_bound"].as_f64()?,
    })
}

/// A target on a ratio.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    AtMost(f64),
    AtLeast(f64),
    None,
}

impl Target {
    pub(crate) fn show(self) -> String {
        match self {
            Target::AtMost(x) => format!("<= {x}"),
            Target::AtLeast(x) => format!(">= {x}"),
            Target::None => "-".into(),
        }
    }

    pub(crate) fn verdict(self, ratio: f64) -> String {
        match self {
            Target::AtMost(x) if ratio <= x => "met".into(),
            Target::AtMost(x) => format!("MISSED by {:.0}%", (ratio / x - 1.0) * 100.0),
            Target::AtLeast(x) if ratio >= x => "met".into(),
            Target::AtLeast(x) => format!("MISSED by {:.0}%", (1.0 - ratio / x) * 100.0),
            Target::None => String::new(),
        }
    }
}

/// The head of the ratio table.
pub(crate) fn ratios_header() {
    println!("\n## Ratios (targets in brackets)\n");
    println!(
        "  {:<50} {:>9}  {:<17} {:<10} range from the intervals",
        "ratio", "measured", "[target]", "verdict"
    );
}

/// One row: `a / b`, its verdict against `target`, and the range the two
/// confidence intervals allow.
pub(crate) fn ratio_line(what: &str, a: Estimate, b: Estimate, target: Target) {
    let value = a.median / b.median;
    println!(
        "  {what:<50} {value:>8.2}x  {:<17} {:<10} {:.2}..{:.2}",
        format!("[{}]", target.show()),
        target.verdict(value),
        a.low / b.high,
        a.high / b.low,
    );
}
