//! Alerts end to end: the shipped alert rules, with their windows and
//! `for` durations shortened, loaded into a real Prometheus that scrapes
//! the example service; an error burst (and slow requests) make the two
//! documented alerts fire and arrive, through a real Alertmanager, at a
//! webhook inside the test, with their names, labels and annotations.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::Value;

use e2e::{
    errors_and_slow_requests, monitoring_file, prometheus_config, shorten_rules, Alertmanager,
    Prometheus, ScrapeJob, Service, StopOnDrop, Webhook,
};

/// Labels or annotations as a map of strings.
fn strings(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// A rule as Prometheus loaded it: (labels, annotations).
fn loaded_rule(
    prometheus: &Prometheus,
    name: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let data = prometheus.api("rules").unwrap_or_else(|e| panic!("{e}"));
    let rule = data["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .find(|rule| rule["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name} loaded: {data}"));
    (strings(&rule["labels"]), strings(&rule["annotations"]))
}

#[test]
fn documented_alerts_fire_into_alertmanager_and_reach_the_webhook() {
    let shipped = monitoring_file("alert_rules.yml");
    let rules = std::fs::read_to_string(&shipped)
        .unwrap_or_else(|e| panic!("reading {}: {e}", shipped.display()));
    // 5m windows and `for: 5m` become seconds; the thresholds stay.
    let rules = shorten_rules(&rules, "15s", "3s");

    let webhook = Webhook::start();
    let alertmanager = Alertmanager::start(&Alertmanager::webhook_config(&webhook.url()));
    // 700 ms: above the 0.5 s of HighRequestLatency.
    let service = Service::start(&[("SLOW_MS", "700")]);
    let prometheus = Prometheus::start(
        &prometheus_config(
            &[ScrapeJob::django(&[service.addr])],
            &["alert_rules.yml"],
            Some(alertmanager.addr()),
        ),
        &[("alert_rules.yml", &rules)],
    );
    prometheus.wait_for_targets("django", 1);
    let context = || {
        let alerts = prometheus.api("alerts").unwrap_or_else(Value::String);
        format!(
            "--- Prometheus alerts ---\n{alerts}\n{}\n{}",
            prometheus.context(),
            alertmanager.logs()
        )
    };

    let stop = AtomicBool::new(false);
    let firing = |name: &'static str| {
        move |delivery: &Value| {
            let alerts = delivery["alerts"].as_array()?;
            let alert = alerts
                .iter()
                .find(|alert| alert["labels"]["alertname"] == name)?;
            (delivery["status"] == "firing").then(|| (delivery.clone(), alert.clone()))
        }
    };
    let (errors, latency) = std::thread::scope(|scope| {
        errors_and_slow_requests(scope, &service, &stop);
        let _stop = StopOnDrop(&stop);
        let timeout = Duration::from_secs(90);
        let errors = webhook.wait_for(
            "HighErrorRate firing",
            timeout,
            firing("HighErrorRate"),
            context,
        );
        let latency = webhook.wait_for(
            "HighRequestLatency firing",
            timeout,
            firing("HighRequestLatency"),
            context,
        );
        (errors, latency)
    });

    // What arrived is the rule as shipped: its labels (plus the alert's
    // name) and its annotations, and these are the documented ones.
    for ((delivery, alert), name, severity, summary, description) in [
        (
            errors,
            "HighErrorRate",
            "critical",
            "High error rate",
            "Error rate is above 5% for 5 minutes.",
        ),
        (
            latency,
            "HighRequestLatency",
            "warning",
            "High request latency",
            "95th percentile of request latency is above 0.5s for 5 minutes.",
        ),
    ] {
        let (mut labels, annotations) = loaded_rule(&prometheus, name);
        labels.insert("alertname".to_owned(), name.to_owned());
        assert_eq!(strings(&alert["labels"]), labels, "{delivery}");
        assert_eq!(strings(&alert["annotations"]), annotations, "{delivery}");
        assert_eq!(alert["labels"]["severity"], severity, "{delivery}");
        assert_eq!(alert["annotations"]["summary"], summary, "{delivery}");
        assert_eq!(
            alert["annotations"]["description"], description,
            "{delivery}"
        );
        assert_eq!(alert["status"], "firing", "{delivery}");
        assert_eq!(delivery["receiver"], "webhook", "{delivery}");
        assert_eq!(
            strings(&delivery["groupLabels"]),
            BTreeMap::from([("alertname".to_owned(), name.to_owned())]),
            "{delivery}"
        );
        // The link back to the expression that fired.
        let generator = alert["generatorURL"].as_str().unwrap_or_default();
        assert!(generator.contains("/graph?g0.expr="), "{delivery}");
    }

    // Alertmanager holds both as active alerts.
    let active = alertmanager.alerts().unwrap_or_else(|e| panic!("{e}"));
    for name in ["HighErrorRate", "HighRequestLatency"] {
        assert!(
            active.as_array().into_iter().flatten().any(|alert| {
                alert["labels"]["alertname"] == name && alert["status"]["state"] == "active"
            }),
            "{name} is not active in Alertmanager: {active}"
        );
    }
}
