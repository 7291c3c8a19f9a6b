//! The Prometheus rules of the program's objectives: recording rules for
//! the ratio of bad calls over the windows of Google's SRE workbook, the
//! error budget left, and the workbook's multiwindow, multi-burn-rate
//! alerts.

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::catalogue;
use crate::objective::{Attached, Subject};
use crate::sites::Indicator;
use crate::store::Canonical;
use crate::Metrics;

/// The windows the ratio of bad calls is recorded over.
const WINDOWS: [Duration; 7] = [
    minutes(5),
    minutes(30),
    hours(1),
    hours(2),
    hours(6),
    hours(24),
    hours(72),
];

const fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

const fn hours(n: u64) -> Duration {
    Duration::from_secs(3600 * n)
}

/// One alert of the workbook: it fires when the ratio of bad calls over
/// both windows is `rate` times the budget, for `for_`.
struct Burn {
    severity: &'static str,
    long: Duration,
    short: Duration,
    /// The burn rate, in tenths: 144 is 14.4.
    rate_tenths: u128,
    for_: Duration,
}

/// The workbook's table: over 30 days, 2% of the budget in 1h, 5% in 6h,
/// 10% in 1d and in 3d.
const BURNS: [Burn; 4] = [
    Burn {
        severity: "page",
        long: hours(1),
        short: minutes(5),
        rate_tenths: 144,
        for_: minutes(2),
    },
    Burn {
        severity: "page",
        long: hours(6),
        short: minutes(30),
        rate_tenths: 60,
        for_: minutes(15),
    },
    Burn {
        severity: "ticket",
        long: hours(24),
        short: hours(2),
        rate_tenths: 30,
        for_: hours(1),
    },
    Burn {
        severity: "ticket",
        long: hours(72),
        short: hours(6),
        rate_tenths: 10,
        for_: hours(3),
    },
];

impl Burn {
    fn rate(&self) -> Decimal {
        Decimal {
            digits: self.rate_tenths,
            scale: 1,
        }
    }

    /// The share of `window`'s budget, in percent, the burn spends within
    /// its long window: 2 for the first over 30 days.
    fn budget_percent(&self, window: Duration) -> String {
        let percent =
            self.rate_tenths as f64 / 10.0 * self.long.as_secs_f64() / window.as_secs_f64() * 100.0;
        let text = format!("{percent:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The recording rules and alerts of every objective the program declares,
/// as a Prometheus rule file (YAML): [`Metrics::objective_rules`] gives them,
/// `Display` writes the file.
///
/// Each objective is one group, `objective-<name>`. For every function or
/// route it holds, and each of its targets (`sli="success"` or
/// `sli="latency"`), the group records:
///
/// - `objective:error_ratio:rate5m` ... `rate3d`: the ratio of bad calls
///   (an `Err` or a panic, a 5xx response, or a call slower than the
///   threshold) over 5m, 30m, 1h, 2h, 6h, 1d and 3d, and over the
///   objective's window (`rate30d`), per `job`;
/// - `objective:calls:rate5m` and `objective:bad_calls:rate5m`: calls and
///   bad calls a second, over 5m; the ratio over the objective's window
///   sums them over it;
/// - `objective:error_budget_remaining:ratio`: the share of the window's
///   error budget not spent (1 untouched, 0 spent, negative overspent; no
///   value before the first call);
/// - `objective:target:ratio`: the target, 0.999 for 99.9%;
///
/// and the alert `ErrorBudgetBurn` four times, as Google's SRE workbook
/// sets it for 30 days: `severity="page"` when 2% of the budget goes in an
/// hour (burn rate 14.4 over 1h and 5m) or 5% in six hours (6 over 6h and
/// 30m), `severity="ticket"` for 10% in a day (3 over 1d and 2h) or in
/// three days (1 over 3d and 6h). The burn rates and windows are the same
/// for an objective over another window (as Sloth's and autometrics'
/// rules keep them); the annotations say what share of its budget they
/// spend. The series and alerts carry `objective`, `sli`, and `function`
/// and `module` or `view` (and `method`), for Alertmanager routes.
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::{counted, Builder, Objective};
///
/// const CHECKOUT: Objective = Objective::new("checkout").success(99.9);
///
/// #[counted(objective = CHECKOUT)]
/// fn checkout() -> Result<(), std::io::Error> {
///     Ok(())
/// }
///
/// let metrics = Builder::new().namespace("shop").install()?;
/// let rules = metrics.objective_rules().to_string();
/// assert!(rules.contains("  - name: objective-checkout\n"));
/// assert!(rules.contains(
///     "expr: 'objective:error_ratio:rate1h{objective=\"checkout\",sli=\"success\",function=\"checkout\","
/// ));
/// assert!(rules.contains("> (14.4 * 0.001)"));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ObjectiveRules {
    namespace: String,
    attached: Vec<Attached>,
    divisor: u32,
}

impl Metrics {
    /// The Prometheus rules of every objective of the program's call sites
    /// and HTTP routes: see [`ObjectiveRules`].
    ///
    /// ```
    /// let metrics = instrument_runtime::Builder::new().install()?;
    /// // No objectives, no groups.
    /// assert!(metrics.objective_rules().to_string().ends_with("groups: []\n"));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn objective_rules(&self) -> ObjectiveRules {
        let (namespace, attached) = match crate::runtime::get() {
            Some(rt) => (rt.namespace().to_owned(), rt.objectives.clone()),
            None => (String::new(), Vec::new()),
        };
        ObjectiveRules {
            namespace,
            attached,
            divisor: 1,
        }
    }
}

impl ObjectiveRules {
    /// The same rules on a timeline `divisor` times shorter: every window
    /// and `for` divided by it (5m becomes 5s with 60), burn rates and
    /// names unchanged. For trying the alerts on a test Prometheus in
    /// minutes rather than days.
    ///
    /// ```
    /// # #[instrument_runtime::counted(objective = API)]
    /// # fn get() {}
    /// const API: instrument_runtime::Objective = instrument_runtime::Objective::new("api").success(99.0);
    /// let metrics = instrument_runtime::Builder::new().install()?;
    /// let rules = metrics.objective_rules().time_scale(60).to_string();
    /// assert!(rules.contains("- record: objective:error_ratio:rate1h\n"));
    /// assert!(rules.contains("[1m]))"));
    /// assert!(rules.contains("for: 2s\n"));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When `divisor` is 0.
    pub fn time_scale(mut self, divisor: u32) -> ObjectiveRules {
        assert!(divisor > 0, "a time scale divides by at least 1");
        self.divisor = divisor;
        self
    }

    fn scaled(&self, window: Duration) -> String {
        duration(window / self.divisor)
    }
}

impl fmt::Display for ObjectiveRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "# The recording rules and burn-rate alerts of the program's service-level\n\
             # objectives (multiwindow, multi-burn-rate, as Google's SRE workbook sets\n\
             # them), from instrument-runtime's Metrics::objective_rules.\n",
        )?;
        if self.divisor > 1 {
            writeln!(
                f,
                "# Every window and `for` divided by {}, for a test.",
                self.divisor
            )?;
        }
        if self.attached.is_empty() {
            return f.write_str("groups: []\n");
        }
        f.write_str("groups:\n")?;
        let mut names: Vec<&str> = self.attached.iter().map(|a| a.objective.name).collect();
        names.dedup();
        for name in names {
            writeln!(f, "  - name: objective-{name}\n    rules:")?;
            for attached in self.attached.iter().filter(|a| a.objective.name == name) {
                for indicator in [Indicator::Success, Indicator::Latency] {
                    if let Some(sli) = Sli::new(attached, indicator) {
                        self.write_sli(f, &sli)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The bad calls of an SLI: counted by a series of their own (failed
/// calls, 5xx responses), or every call but those of a bucket (calls
/// slower than the threshold).
enum Bad {
    Counted(String),
    Slower(String),
}

/// One target of one objective where it is measured.
struct Sli<'a> {
    attached: &'a Attached,
    indicator: Indicator,
    /// The target in percent.
    target: f64,
    threshold: Option<Duration>,
}

impl Sli<'_> {
    /// `{objective="..",sli="..",..}`: its recorded series, and only
    /// them: a route of every method also says `method=""`, so that it
    /// does not select the series of the same path with one method.
    fn selector(&self) -> String {
        let labels = self.labels();
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let every_method = matches!(self.attached.subject, Subject::Route { method: None, .. });
        matchers(&pairs, if every_method { r#"method="""# } else { "" })
    }
}

impl<'a> Sli<'a> {
    fn new(attached: &'a Attached, indicator: Indicator) -> Option<Sli<'a>> {
        let objective = &attached.objective;
        let (target, threshold) = match indicator {
            Indicator::Success => (objective.success?, None),
            Indicator::Latency => {
                let latency = objective.latency?;
                (latency.target, Some(latency.threshold))
            }
        };
        Some(Sli {
            attached,
            indicator,
            target,
            threshold,
        })
    }

    /// The labels of its recorded series, in order.
    fn labels(&self) -> Vec<(&'static str, String)> {
        let mut labels = vec![
            ("objective", self.attached.objective.name.to_owned()),
            (
                "sli",
                match self.indicator {
                    Indicator::Success => "success",
                    Indicator::Latency => "latency",
                }
                .to_owned(),
            ),
        ];
        match &self.attached.subject {
            Subject::Function { function, module } => {
                labels.push(("function", (*function).to_owned()));
                labels.push(("module", (*module).to_owned()));
            }
            Subject::Route { method, view } => {
                labels.push(("view", view.clone()));
                if let Some(method) = method {
                    labels.push(("method", method.clone()));
                }
            }
        }
        labels
    }
}

impl ObjectiveRules {
    fn write_sli(&self, f: &mut fmt::Formatter<'_>, sli: &Sli<'_>) -> fmt::Result {
        let labels = sli.labels();
        let selector = sli.selector();
        let window = sli.attached.objective.window;
        for &w in &WINDOWS {
            let record = format!("objective:error_ratio:rate{}", duration(w));
            let expr = self.ratio(sli, &self.scaled(w));
            write_record(f, &record, &expr, &labels)?;
        }
        // The calls behind the ratios, for dashboards, and for the ratio
        // over the objective's window: the sums of the 5m rates over it,
        // which weighs each stretch by its traffic and reads one recorded
        // series, not every raw sample of the window.
        let rate =
            |series: &str| format!("sum by (job) (rate({series}[{}]))", self.scaled(minutes(5)));
        let (all, bad) = self.series(sli);
        let all_rate = rate(&all);
        let bad_rate = match bad {
            Bad::Counted(bad) => format!("{} or 0 * {all_rate}", rate(&bad)),
            Bad::Slower(fast) => format!("{all_rate} - {}", rate(&fast)),
        };
        write_record(f, "objective:calls:rate5m", &all_rate, &labels)?;
        write_record(f, "objective:bad_calls:rate5m", &bad_rate, &labels)?;
        if !WINDOWS.contains(&window) {
            let over = self.scaled(window);
            let expr = format!(
                "sum_over_time(objective:bad_calls:rate5m{selector}[{over}]) / sum_over_time(objective:calls:rate5m{selector}[{over}])"
            );
            let record = format!("objective:error_ratio:rate{}", duration(window));
            write_record(f, &record, &expr, &labels)?;
        }
        let ratio = Decimal::percent(sli.target);
        let budget = ratio.complement();
        let expr = format!(
            "1 - objective:error_ratio:rate{}{selector} / {budget}",
            duration(window)
        );
        write_record(f, "objective:error_budget_remaining:ratio", &expr, &labels)?;
        write_record(
            f,
            "objective:target:ratio",
            &format!("vector({ratio})"),
            &labels,
        )?;
        for burn in &BURNS {
            self.write_alert(f, sli, burn, &selector, &budget)?;
        }
        Ok(())
    }

    /// The ratio of bad calls over `window`, per job, as PromQL: 0 rather
    /// than nothing when there are calls but no bad ones yet.
    fn ratio(&self, sli: &Sli<'_>, window: &str) -> String {
        let rate = |series: &str| format!("sum by (job) (rate({series}[{window}]))");
        let (all, bad) = self.series(sli);
        let all_rate = rate(&all);
        match bad {
            Bad::Counted(bad) => format!("({} or 0 * {all_rate}) / {all_rate}", rate(&bad)),
            Bad::Slower(fast) => format!("({all_rate} - {}) / {all_rate}", rate(&fast)),
        }
    }

    /// The series of every call of the SLI, and of its bad ones.
    fn series(&self, sli: &Sli<'_>) -> (String, Bad) {
        let name = |family: &catalogue::Family| catalogue::prefixed(&self.namespace, family.name);
        let subject: Vec<(&str, &str)> = match &sli.attached.subject {
            Subject::Function { function, module } => {
                vec![("function", *function), ("module", *module)]
            }
            Subject::Route { method, view } => {
                let mut labels = vec![("view", view.as_str())];
                labels.extend(method.as_deref().map(|m| ("method", m)));
                labels
            }
        };
        let function = matches!(sli.attached.subject, Subject::Function { .. });
        match (function, sli.indicator) {
            (true, Indicator::Success) => {
                let family = name(&catalogue::FUNCTION_CALLS);
                let all = format!("{family}{}", matchers(&subject, r#"result!="cancelled""#));
                let bad = format!("{family}{}", matchers(&subject, r#"result=~"error|panic""#));
                (all, Bad::Counted(bad))
            }
            (false, Indicator::Success) => {
                let family = name(&catalogue::HTTP_RESPONSES);
                let all = format!("{family}{}", matchers(&subject, ""));
                let bad = format!("{family}{}", matchers(&subject, r#"status=~"5..""#));
                (all, Bad::Counted(bad))
            }
            (function, Indicator::Latency) => {
                let family = match function {
                    true => name(&catalogue::FUNCTION_DURATION),
                    false => name(&catalogue::HTTP_LATENCY),
                };
                let threshold = sli.threshold.expect("a latency target").as_secs_f64();
                let all = format!("{family}_count{}", matchers(&subject, ""));
                let fast = format!(
                    "{family}_bucket{}",
                    matchers(&subject, &le_matcher(threshold))
                );
                (all, Bad::Slower(fast))
            }
        }
    }

    fn write_alert(
        &self,
        f: &mut fmt::Formatter<'_>,
        sli: &Sli<'_>,
        burn: &Burn,
        selector: &str,
        budget: &Decimal,
    ) -> fmt::Result {
        let window = sli.attached.objective.window;
        let factor = burn.rate();
        let (long, short) = (duration(burn.long), duration(burn.short));
        let threshold = format!("({factor} * {budget})");
        let expr = format!(
            "objective:error_ratio:rate{long}{selector} > {threshold} and objective:error_ratio:rate{short}{selector} > {threshold}"
        );
        let objective = &sli.attached.objective;
        let target = Decimal::from_f64(sli.target);
        let subject = &sli.attached.subject;
        let (should, bad) = match sli.indicator {
            Indicator::Success => ("succeed".to_owned(), "failed".to_owned()),
            Indicator::Latency => {
                let threshold = sli.threshold.expect("a latency target").as_secs_f64();
                (
                    format!("finish within {threshold} s"),
                    "took longer".to_owned(),
                )
            }
        };
        // Annotations and alert labels are Go templates: the subject is
        // written as text.
        let subject = template_text(&subject.to_string());
        let summary = format!(
            "Objective {} ({subject}): error budget burn rate above {factor} over {long} and {short}",
            objective.name
        );
        let description = format!(
            "{target}% of the calls of {subject} should {should} over {}. Over the last {long} \
             {{{{ $value | humanizePercentage }}}} {bad}, and over the last {short} too more than \
             {factor} times the budget of {}%: at this rate {}% of the budget goes in {long}.",
            duration(window),
            budget.times_100(),
            burn.budget_percent(window),
        );
        writeln!(f, "      - alert: ErrorBudgetBurn")?;
        writeln!(f, "        expr: {}", quoted(&expr))?;
        writeln!(f, "        for: {}", self.scaled(burn.for_))?;
        writeln!(f, "        labels:")?;
        // The series' labels too, so that each rule of the group is told
        // apart by its labels (promtool's lint), not only by its expression.
        for (name, value) in sli.labels() {
            writeln!(f, "          {name}: {}", quoted(&template_text(&value)))?;
        }
        writeln!(f, "          severity: {}", burn.severity)?;
        writeln!(f, "          long_window: {long}")?;
        writeln!(f, "          short_window: {short}")?;
        writeln!(f, "        annotations:")?;
        writeln!(f, "          summary: {}", quoted(&summary))?;
        writeln!(f, "          description: {}", quoted(&description))
    }
}

fn write_record(
    f: &mut fmt::Formatter<'_>,
    record: &str,
    expr: &str,
    labels: &[(&'static str, String)],
) -> fmt::Result {
    writeln!(f, "      - record: {record}")?;
    writeln!(f, "        expr: {}", quoted(expr))?;
    writeln!(f, "        labels:")?;
    for (name, value) in labels {
        writeln!(f, "          {name}: {}", quoted(value))?;
    }
    Ok(())
}

/// `text` as literal text of a Go template (Prometheus's annotations and
/// alert labels): `{{` starts an action, so it is written as one that
/// prints it.
fn template_text(text: &str) -> String {
    text.replace("{{", r#"{{ "{{" }}"#)
}

/// `{a="x",b="y",extra}`: equality matchers, then `extra` if any.
fn matchers(labels: &[(&str, &str)], extra: &str) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", promql_string(value));
    }
    if !extra.is_empty() {
        if labels.is_empty() {
            out.push_str(extra);
        } else {
            let _ = write!(out, ",{extra}");
        }
    }
    out.push('}');
    out
}

/// The bucket of `threshold`, as the text format (`le="1"`) and OpenMetrics
/// (`le="1.0"`) write it, whichever Prometheus scraped.
fn le_matcher(threshold: f64) -> String {
    let text = threshold.to_string();
    let canonical = Canonical(threshold).to_string();
    match text == canonical {
        true => format!(r#"le="{text}""#),
        false => format!(r#"le=~"{text}|{canonical}""#),
    }
}

/// A PromQL string literal's content: `\` and `"` escaped.
fn promql_string(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', r#"\""#)
}

/// A YAML single-quoted scalar: only `'` is escaped, by doubling.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A duration as Prometheus writes one, in its largest whole unit: `5m`,
/// `1h`, `1d`, `90s`, `500ms`.
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in units {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// An exact decimal: `digits` / 10^`scale`, for targets and budgets written
/// as the user wrote them (99.9% is 0.999, its budget 0.001), where `f64`
/// arithmetic would write 0.0010000000000000009.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Decimal {
    digits: u128,
    scale: u32,
}

impl Decimal {
    /// `value` as its shortest decimal (`{}` of `f64`).
    fn from_f64(value: f64) -> Decimal {
        let text = value.to_string();
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        Decimal {
            digits: format!("{whole}{fraction}").parse().unwrap_or(0),
            scale: fraction.len() as u32,
        }
    }

    /// `percent` / 100.
    fn percent(percent: f64) -> Decimal {
        let d = Decimal::from_f64(percent);
        Decimal {
            scale: d.scale + 2,
            ..d
        }
    }

    /// self x 100.
    fn times_100(self) -> Decimal {
        Decimal {
            scale: self.scale.saturating_sub(2),
            digits: self.digits * 10u128.pow(2u32.saturating_sub(self.scale)),
        }
    }

    /// 1 - self, for a ratio between 0 and 1.
    fn complement(self) -> Decimal {
        Decimal {
            digits: 10u128.pow(self.scale) - self.digits,
            scale: self.scale,
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = format!("{:0>width$}", self.digits, width = self.scale as usize + 1);
        let (whole, fraction) = digits.split_at(digits.len() - self.scale as usize);
        let fraction = fraction.trim_end_matches('0');
        match fraction.is_empty() {
            true => f.write_str(whole),
            false => write!(f, "{whole}.{fraction}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        let ratio = Decimal::percent(99.9);
        assert_eq!(ratio.to_string(), "0.999");
        assert_eq!(ratio.complement().to_string(), "0.001");
        assert_eq!(Decimal::percent(99.0).complement().to_string(), "0.01");
        assert_eq!(Decimal::percent(95.5).to_string(), "0.955");
        assert_eq!(Decimal::percent(99.95).complement().to_string(), "0.0005");
        assert_eq!(Decimal::from_f64(99.9).to_string(), "99.9");
        assert_eq!(ratio.complement().times_100().to_string(), "0.1");
        assert_eq!(
            Decimal::percent(99.0).complement().times_100().to_string(),
            "1"
        );
        assert_eq!(Decimal::percent(95.0).times_100().to_string(), "95");
    }

    #[test]
    fn durations_in_their_largest_unit() {
        assert_eq!(duration(minutes(5)), "5m");
        assert_eq!(duration(hours(24)), "1d");
        assert_eq!(duration(hours(72)), "3d");
        assert_eq!(duration(hours(30 * 24)), "30d");
        assert_eq!(duration(minutes(90)), "90m");
        assert_eq!(duration(Duration::from_secs(5)), "5s");
        assert_eq!(duration(Duration::from_millis(2500)), "2500ms");
        assert_eq!(duration(hours(72) / 60), "72m");
    }

    #[test]
    fn the_bucket_is_matched_in_both_spellings() {
        assert_eq!(le_matcher(0.25), r#"le="0.25""#);
        assert_eq!(le_matcher(1.0), r#"le=~"1|1.0""#);
        assert_eq!(le_matcher(10.0), r#"le=~"10|10.0""#);
    }

    #[test]
    fn the_workbook_burn_rates_and_the_budget_they_spend() {
        let rates: Vec<String> = BURNS.iter().map(|b| b.rate().to_string()).collect();
        assert_eq!(rates, ["14.4", "6", "3", "1"]);
        let thirty_days: Vec<String> = BURNS.iter().map(|b| b.budget_percent(hours(720))).collect();
        assert_eq!(thirty_days, ["2", "5", "10", "10"]);
        let seven_days: Vec<String> = BURNS.iter().map(|b| b.budget_percent(hours(168))).collect();
        assert_eq!(seven_days, ["8.57", "21.43", "42.86", "42.86"]);
    }
}
