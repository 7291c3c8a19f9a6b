//! The rules of the program's objectives, as `Metrics::objective_rules`
//! writes them, loaded by promtool: `promtool check rules` accepts them,
//! and `promtool test rules` runs each alert on synthetic series: it fires
//! at its burn rate within its `for`, not just below that rate, and
//! resolves when the burn stops; the budget left is exact for a known
//! series. The burn rates and windows below are the workbook's, written
//! out by hand, not taken from the generator.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use e2e::{tool, TempDir};
use instrument_runtime::{counted, timed, Builder, Metrics, Objective};

/// 99.9% of calls succeed; 99% within 250 ms.
const CHECKOUT: Objective = Objective::new("checkout")
    .success(99.9)
    .latency(Duration::from_millis(250), 99.0);

/// A second objective on the same function: 99% succeed over 7 days.
const WEEKLY: Objective = Objective::new("weekly")
    .success(99.0)
    .over(Duration::from_secs(7 * 24 * 3600));

/// An objective of HTTP routes.
const USERS: Objective = Objective::new("users")
    .success(99.5)
    .latency(Duration::from_secs(1), 95.0);

#[counted(objective = [CHECKOUT, WEEKLY])]
#[timed(objective = CHECKOUT)]
fn checkout() -> Result<(), String> {
    Ok(())
}

/// A whole-second threshold: `le="1.0"` on the OpenMetrics page.
const REPORT: Objective = Objective::new("report").latency(Duration::from_secs(1), 95.0);

#[timed(objective = REPORT)]
fn report() {}

const MODULE: &str = module_path!();

/// This program's metrics (namespace `shop`), installed once, after one
/// call of `checkout`.
fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let metrics = Builder::new()
            .namespace("shop")
            .http_objective("GET /users/{id}", USERS)
            .http_objective("/users", USERS)
            .http_objective("GET /users", USERS)
            .install()
            .expect("installed");
        checkout().unwrap();
        report();
        metrics
    })
}

/// The rules of this program.
fn rules() -> &'static str {
    static RULES: OnceLock<String> = OnceLock::new();
    RULES.get_or_init(|| metrics().objective_rules().to_string())
}

/// The function families of a function with objectives carry autometrics'
/// labels of its first objective with each target: `objective_name`,
/// `objective_percentile`, and on the durations
/// `objective_latency_threshold` as the bucket's `le` reads, so that
/// autometrics' rules and SLO dashboard find them.
#[test]
fn the_calls_carry_autometrics_objective_labels() {
    let text = metrics().render();
    let calls = format!(
        r#"shop_function_calls_total{{function="checkout",module="{MODULE}",objective_name="checkout",objective_percentile="99.9",result="ok"}} 1"#
    );
    assert!(text.contains(&calls), "no `{calls}` in\n{text}");
    let bucket = format!(
        r#"shop_function_calls_duration_seconds_bucket{{function="checkout",module="{MODULE}",objective_name="checkout",objective_percentile="99",objective_latency_threshold="0.25",le="0.25"}} 1"#
    );
    assert!(text.contains(&bucket), "no `{bucket}` in\n{text}");
    // The same series in OpenMetrics, where a whole-second threshold would
    // read `1.0` like its `le`.
    let open_metrics = metrics().render_openmetrics().expect("the store");
    assert!(open_metrics.contains(&bucket), "{open_metrics}");
    let whole = format!(
        r#"shop_function_calls_duration_seconds_bucket{{function="report",module="{MODULE}",objective_name="report",objective_percentile="95",objective_latency_threshold="1.0",le="1.0"}} 1"#
    );
    assert!(
        open_metrics.contains(&whole),
        "no `{whole}` in\n{open_metrics}"
    );
}

/// Run promtool with `args`, in `dir`; its report, or a panic with it.
fn promtool(dir: &TempDir, args: &[&str]) -> String {
    let output = Command::new(tool("promtool", "prometheus"))
        .current_dir(dir.path())
        .args(args)
        .output()
        .expect("running promtool");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "promtool {args:?}:\n{report}");
    report
}

#[test]
fn promtool_checks_the_rules() {
    let dir = TempDir::new("objective-rules");
    std::fs::write(dir.path().join("rules.yml"), rules()).unwrap();
    let report = promtool(&dir, &["check", "rules", "rules.yml"]);
    // checkout: success and latency; report: latency; weekly: success;
    // users: both, on three routes. Each of the 10: 8 windows recorded,
    // calls and bad calls, budget, target, 4 alerts.
    assert!(report.contains("SUCCESS: 160 rules found"), "{report}");
    let groups: Vec<&str> = rules()
        .lines()
        .filter_map(|line| line.strip_prefix("  - name: "))
        .collect();
    assert_eq!(
        groups,
        [
            "objective-checkout",
            "objective-report",
            "objective-users",
            "objective-weekly"
        ]
    );
}

#[test]
fn the_alerts_burn_at_the_workbook_rates() {
    let rules = rules();
    // Burn-rate thresholds, as the workbook's table gives them for 30 days
    // (14.4, 6, 3, 1) on a 0.1% budget, the same for the 7-day objective
    // on its 1% budget.
    for threshold in [
        "> (14.4 * 0.001)",
        "> (6 * 0.001)",
        "> (3 * 0.001)",
        "> (1 * 0.001)",
        "> (14.4 * 0.01)",
        "> (6 * 0.01)",
        "> (3 * 0.01)",
        "> (1 * 0.01)",
    ] {
        assert!(rules.contains(threshold), "no `{threshold}` in\n{rules}");
    }
    let selector =
        format!(r#"{{objective="checkout",sli="success",function="checkout",module="{MODULE}"}}"#);
    for (long, short, for_, severity) in [
        ("1h", "5m", "2m", "page"),
        ("6h", "30m", "15m", "page"),
        ("1d", "2h", "1h", "ticket"),
        ("3d", "6h", "3h", "ticket"),
    ] {
        let alert = format!("objective:error_ratio:rate{long}{selector} > ");
        let at = rules
            .find(&alert)
            .unwrap_or_else(|| panic!("no `{alert}` in\n{rules}"));
        let rest = &rules[at..];
        assert!(rest.contains(&format!(
            "and objective:error_ratio:rate{short}{selector} > "
        )));
        let block = &rest[..rest.find("- alert:").unwrap_or(rest.len())];
        assert!(
            block.contains(&format!("\n        for: {for_}\n")),
            "{block}"
        );
        assert!(
            block.contains(&format!("\n          severity: {severity}\n")),
            "{block}"
        );
    }
    // Over 7 days, 14.4 times the sustainable rate for an hour spends 8.57%
    // of the budget (14.4 x 1h / 168h).
    assert!(rules.contains("at this rate 8.57% of the budget goes in 1h."));
    // The HTTP routes: 5xx over all responses, and the 1 s bucket as both
    // formats write it.
    assert!(rules.contains(
        r#"sum by (job) (rate(shop_http_responses_total_by_status{view="/users/{id}",method="GET",status=~"5.."}[5m]))"#
    ));
    assert!(rules.contains(
        r#"sum by (job) (rate(shop_http_requests_latency_seconds_bucket{view="/users",le=~"1|1.0"}[5m]))"#
    ));
}

/// One scenario of a `promtool test rules` file: calls of `checkout` at
/// 1000 a minute, `errors` of them failing each minute, for `minutes`
/// minutes (then none fail), and the alerts expected at each time.
struct Scenario {
    what: &'static str,
    errors_per_minute: f64,
    minutes: u32,
    expected: &'static [(&'static str, &'static [Firing])],
}

/// An alert expected to fire: its windows, the burn rate and share of the
/// budget its summary names, and the share of failed calls over its long
/// window, as `humanizePercentage` writes it.
struct Firing {
    long: &'static str,
    short: &'static str,
    rate: &'static str,
    budget: &'static str,
    failed: &'static str,
}

fn unit_test(scenario: &Scenario) -> String {
    let module = MODULE;
    let series = |result: &str| {
        format!(
            r#"shop_function_calls_total{{function="checkout",module="{module}",result="{result}",job="shop"}}"#
        )
    };
    let total = 1000.0;
    let bad = scenario.errors_per_minute;
    let after = 600;
    let ok_values = format!("0+{}x{}", total - bad, scenario.minutes);
    let ok_then = format!(
        "{}+{total}x{after}",
        (total - bad) * f64::from(scenario.minutes)
    );
    let bad_values = format!("0+{bad}x{}", scenario.minutes);
    let bad_then = format!("{}+0x{after}", bad * f64::from(scenario.minutes));
    let mut test = format!(
        "  # {}\n  - interval: 1m\n    input_series:\n      - series: '{}'\n        values: '{ok_values} {ok_then}'\n      - series: '{}'\n        values: '{bad_values} {bad_then}'\n    alert_rule_test:\n",
        scenario.what,
        series("ok"),
        series("error"),
    );
    for (at, alerts) in scenario.expected {
        test.push_str(&format!(
            "      - eval_time: {at}\n        alertname: ErrorBudgetBurn\n        exp_alerts:"
        ));
        if alerts.is_empty() {
            test.push_str(" []\n");
            continue;
        }
        test.push('\n');
        for Firing {
            long,
            short,
            rate,
            budget,
            failed,
        } in *alerts
        {
            let severity = match *long {
                "1h" | "6h" => "page",
                _ => "ticket",
            };
            test.push_str(&format!(
                "          - exp_labels:\n              job: shop\n              objective: checkout\n              sli: success\n              function: checkout\n              module: '{module}'\n              severity: {severity}\n              long_window: {long}\n              short_window: {short}\n            exp_annotations:\n              summary: 'Objective checkout ({module}::checkout): error budget burn rate above {rate} over {long} and {short}'\n              description: '99.9% of the calls of {module}::checkout should succeed over 30d. Over the last {long} {failed} failed, and over the last {short} too more than {rate} times the budget of 0.1%: at this rate {budget}% of the budget goes in {long}.'\n"
            ));
        }
    }
    test
}

const PAGE_1H: Firing = Firing {
    long: "1h",
    short: "5m",
    rate: "14.4",
    budget: "2",
    failed: "1.584%",
};
const PAGE_6H: Firing = Firing {
    long: "6h",
    short: "30m",
    rate: "6",
    budget: "5",
    failed: "0.66%",
};
const TICKET_1D: Firing = Firing {
    long: "1d",
    short: "2h",
    rate: "3",
    budget: "10",
    failed: "0.33%",
};
const TICKET_3D: Firing = Firing {
    long: "3d",
    short: "6h",
    rate: "1",
    budget: "10",
    failed: "0.11%",
};
/// 2% of calls failing: the 1h/5m page.
const FAST_BURN: Firing = Firing {
    failed: "2%",
    ..PAGE_1H
};

#[test]
fn promtool_runs_each_alert_at_and_below_its_burn_rate() {
    // The success target of `checkout`: 99.9%, a budget of 0.1% of calls.
    // Each alert on its own: a burn 10% over its rate fires after its
    // `for` (from the first evaluation with two samples, at 1m); 10%
    // under it does not. The slower alerts are still pending (their `for`
    // not yet over) at the times checked.
    let scenarios = [
        Scenario {
            what: "1.1 x 14.4: the 1h/5m page fires after 2m",
            errors_per_minute: 15.84,
            minutes: 300,
            expected: &[("2m", &[]), ("4m", &[PAGE_1H])],
        },
        Scenario {
            what: "0.9 x 14.4: no page; the 6h/30m page is pending",
            errors_per_minute: 12.96,
            minutes: 300,
            expected: &[("4m", &[]), ("10m", &[])],
        },
        Scenario {
            what: "1.1 x 6: the 6h/30m page fires after 15m, not the 1h/5m one",
            errors_per_minute: 6.6,
            minutes: 300,
            expected: &[("15m", &[]), ("17m", &[PAGE_6H])],
        },
        Scenario {
            what: "0.9 x 6: no page",
            errors_per_minute: 5.4,
            minutes: 300,
            expected: &[("17m", &[]), ("50m", &[])],
        },
        Scenario {
            what: "1.1 x 3: the 1d/2h ticket fires after 1h",
            errors_per_minute: 3.3,
            minutes: 300,
            expected: &[("60m", &[]), ("62m", &[TICKET_1D])],
        },
        Scenario {
            what: "0.9 x 3: no ticket after 1h",
            errors_per_minute: 2.7,
            minutes: 300,
            expected: &[("62m", &[]), ("150m", &[])],
        },
        Scenario {
            what: "1.1 x 1: the 3d/6h ticket fires after 3h",
            errors_per_minute: 1.1,
            minutes: 300,
            expected: &[("180m", &[]), ("182m", &[TICKET_3D])],
        },
        Scenario {
            what: "0.9 x 1: nothing fires",
            errors_per_minute: 0.9,
            minutes: 300,
            expected: &[("182m", &[]), ("290m", &[])],
        },
        Scenario {
            what: "a fast burn for 10m, then none: the page resolves within its 5m window",
            errors_per_minute: 20.0,
            minutes: 10,
            expected: &[("4m", &[FAST_BURN]), ("10m", &[FAST_BURN]), ("14m", &[])],
        },
    ];
    let mut file = String::from("rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n");
    for scenario in &scenarios {
        file.push_str(&unit_test(scenario));
    }
    // The budget left after an hour at 0.05% failures: half of it.
    file.push_str(&format!(
        "  # Half the budget spent\n  - interval: 1m\n    input_series:\n      - series: 'shop_function_calls_total{{function=\"checkout\",module=\"{MODULE}\",result=\"ok\",job=\"shop\"}}'\n        values: '0+1999x60'\n      - series: 'shop_function_calls_total{{function=\"checkout\",module=\"{MODULE}\",result=\"error\",job=\"shop\"}}'\n        values: '0+1x60'\n    promql_expr_test:\n      - expr: 'objective:error_budget_remaining:ratio{{objective=\"checkout\",sli=\"success\"}}'\n        eval_time: 60m\n        exp_samples:\n          - labels: 'objective:error_budget_remaining:ratio{{job=\"shop\",objective=\"checkout\",sli=\"success\",function=\"checkout\",module=\"{MODULE}\"}}'\n            value: 0.5\n"
    ));
    // The latency target of `checkout`: 99% within 250 ms, a budget of 1%.
    // 15% of calls slower (1.04 x 14.4%) pages after 2m; 13% does not.
    for (slow, expected) in [(150, true), (130, false)] {
        let duration = |suffix: &str, le: &str| {
            format!("shop_function_calls_duration_seconds_{suffix}{{function=\"checkout\",module=\"{MODULE}\",job=\"shop\"{le}}}")
        };
        let alert = match expected {
            true => format!(
                "\n          - exp_labels:\n              job: shop\n              objective: checkout\n              sli: latency\n              function: checkout\n              module: '{MODULE}'\n              severity: page\n              long_window: 1h\n              short_window: 5m\n            exp_annotations:\n              summary: 'Objective checkout ({MODULE}::checkout): error budget burn rate above 14.4 over 1h and 5m'\n              description: '99% of the calls of {MODULE}::checkout should finish within 0.25 s over 30d. Over the last 1h {}% took longer, and over the last 5m too more than 14.4 times the budget of 1%: at this rate 2% of the budget goes in 1h.'\n",
                slow / 10
            ),
            false => " []\n".to_owned(),
        };
        file.push_str(&format!(
            "  # {slow} slow calls in 1000 a minute\n  - interval: 1m\n    input_series:\n      - series: '{}'\n        values: '0+1000x60'\n      - series: '{}'\n        values: '0+{}x60'\n      - series: '{}'\n        values: '0+1000x60'\n    alert_rule_test:\n      - eval_time: 2m\n        alertname: ErrorBudgetBurn\n        exp_alerts: []\n      - eval_time: 4m\n        alertname: ErrorBudgetBurn\n        exp_alerts:{alert}",
            duration("count", ""),
            duration("bucket", ",le=\"0.25\""),
            1000 - slow,
            duration("bucket", ",le=\"+Inf\""),
        ));
    }
    // `/users` (every method) and `GET /users` are told apart: half the
    // POSTs fail, no GET does. Budget 0.5%: the path's is overspent (1 -
    // 0.25 / 0.005), the GET's untouched; each rule reads its own series.
    let responses = |method: &str, status: &str| {
        format!("shop_http_responses_total_by_status{{view=\"/users\",method=\"{method}\",status=\"{status}\",job=\"shop\"}}")
    };
    file.push_str(&format!(
        "  # A route of every method next to the same path with one\n  - interval: 1m\n    input_series:\n      - series: '{}'\n        values: '0+100x60'\n      - series: '{}'\n        values: '0+50x60'\n      - series: '{}'\n        values: '0+50x60'\n    promql_expr_test:\n      - expr: 'objective:error_budget_remaining:ratio{{objective=\"users\",sli=\"success\",view=\"/users\"}}'\n        eval_time: 60m\n        exp_samples:\n          - labels: 'objective:error_budget_remaining:ratio{{job=\"shop\",objective=\"users\",sli=\"success\",view=\"/users\"}}'\n            value: -49\n          - labels: 'objective:error_budget_remaining:ratio{{job=\"shop\",objective=\"users\",sli=\"success\",view=\"/users\",method=\"GET\"}}'\n            value: 1\n",
        responses("GET", "200"),
        responses("POST", "201"),
        responses("POST", "500"),
    ));
    let dir = TempDir::new("objective-rules-test");
    std::fs::write(dir.path().join("rules.yml"), rules()).unwrap();
    std::fs::write(dir.path().join("tests.yml"), &file).unwrap();
    let report = promtool(&dir, &["test", "rules", "tests.yml"]);
    assert!(report.contains("SUCCESS"), "{report}\n{file}");
}
