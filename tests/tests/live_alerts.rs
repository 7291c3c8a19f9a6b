//! Alerts end to end: the shipped alert rules, with their windows and
//! `for` durations shortened, loaded into a real Prometheus that scrapes
//! the example service; an error burst (and slow requests) make the two
//! documented alerts fire and arrive, through a real Alertmanager, at a
//! webhook inside the test, with their names, labels and annotations.
//! The example service's objective rules, on a timeline 60 times shorter,
//! page through Alertmanager on a fast burn and only file a ticket on a
//! slow one. Pending migrations fire django-mixin's alert until they run.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use e2e::{
    errors_and_slow_requests, example_service_bin, monitoring_file, prometheus_config, sample,
    shorten_rules, Alertmanager, Prometheus, ScrapeJob, Service, StopOnDrop, Webhook,
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

/// A Prometheus scraping `service`, evaluating the rule file `(name,
/// text)` and sending to `alertmanager`, once it has scraped the service.
fn evaluating(service: &Service, rules: (&str, &str), alertmanager: &Alertmanager) -> Prometheus {
    let prometheus = Prometheus::start(
        &prometheus_config(
            &[ScrapeJob::django(&[service.addr])],
            &[rules.0],
            Some(alertmanager.addr()),
        ),
        &[rules],
    );
    prometheus.wait_for_targets("django", 1);
    prometheus
}

/// What a failed wait shows: Prometheus's alerts and both servers' logs.
fn context(prometheus: &Prometheus, alertmanager: &Alertmanager) -> String {
    let alerts = prometheus.api("alerts").unwrap_or_else(Value::String);
    format!(
        "--- Prometheus alerts ---\n{alerts}\n{}\n{}",
        prometheus.context(),
        alertmanager.logs()
    )
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
    let prometheus = evaluating(&service, ("alert_rules.yml", &rules), &alertmanager);
    let context = || context(&prometheus, &alertmanager);

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

/// `example-service --print-objective-rules --time-scale 60`: the rules the
/// example ships, every window and `for` divided by 60 (1h is 1m, the
/// page's `for: 2m` is 2s), the thresholds unchanged.
fn objective_rules_at_a_sixtieth() -> String {
    let output = Command::new(example_service_bin())
        .args(["--print-objective-rules", "--time-scale", "60"])
        .output()
        .expect("running example-service");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 rules")
}

#[test]
fn a_fast_burn_of_an_objective_pages_and_a_slow_burn_files_a_ticket() {
    let rules = objective_rules_at_a_sixtieth();
    let webhook = Webhook::start();
    // As a team would route them: pages to the pager (the webhook),
    // tickets elsewhere (a receiver that sends nothing).
    let config = format!(
        "route:\n  receiver: tickets\n  group_by: ['objective', 'severity']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n    - matchers: ['alertname=\"ErrorBudgetBurn\"', 'severity=\"page\"']\n      receiver: pager\nreceivers:\n  - name: tickets\n  - name: pager\n    webhook_configs:\n      - url: '{}'\n        send_resolved: false\n",
        webhook.url()
    );
    let alertmanager = Alertmanager::start(&config);
    // With the django-prometheus profile: the rules read the families it
    // keeps.
    let service = Service::start(&[("DJANGO_COMPAT", "true")]);
    let prometheus = evaluating(&service, ("objective_rules.yml", &rules), &alertmanager);
    let context = || context(&prometheus, &alertmanager);
    let firing = |severity: &str, long: &str| {
        format!(
            r#"count(ALERTS{{alertname="ErrorBudgetBurn",alertstate="firing",objective="flaky",view="/flaky",severity="{severity}",long_window="{long}"}})"#
        )
    };

    // `/flaky?one_in=N` fails exactly one request in N: the test sets the
    // error rate. The objective allows 1%.
    let one_in = AtomicU64::new(20);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let path = format!("/flaky?one_in={}", one_in.load(Ordering::SeqCst));
                let (status, _) = service.request("GET", &path, None);
                assert!(status == 200 || status == 500, "GET {path}: {status}");
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let _stop = StopOnDrop(&stop);

        // A slow burn: 5% of requests fail, 5 times the budget. Above the
        // ticket's 3 over 1d and 2h (24m and 2m here), below the pages' 6
        // and 14.4: the ticket fires after its `for` (1m here), no page.
        let ticket = firing("ticket", "1d");
        e2e::eventually(
            "the slow burn's ticket",
            Duration::from_secs(150),
            || match prometheus.query(&ticket)?.as_slice() {
                [one] if one.value == 1.0 => Ok(()),
                samples => Err(format!("`{ticket}` gave {samples:?}")),
            },
            context,
        );
        let pages = prometheus
            .query(r#"ALERTS{alertname="ErrorBudgetBurn",objective="flaky",severity="page"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            pages.is_empty(),
            "a slow burn paged: {pages:?}\n{}",
            context()
        );
        assert_eq!(
            webhook.deliveries(),
            Vec::<Value>::new(),
            "the pager was called"
        );

        // A fast burn: half the requests fail. The 1h/5m page (1m and 5s
        // here) fires within seconds and reaches the pager.
        one_in.store(2, Ordering::SeqCst);
        let (delivery, alert) = webhook.wait_for(
            "the flaky objective's page",
            Duration::from_secs(90),
            |delivery: &Value| {
                let alert = delivery["alerts"].as_array()?.iter().find(|alert| {
                    alert["labels"]["objective"] == "flaky"
                        && alert["labels"]["view"] == "/flaky"
                        && alert["labels"]["long_window"] == "1h"
                })?;
                (delivery["status"] == "firing").then(|| (delivery.clone(), alert.clone()))
            },
            context,
        );
        let labels = strings(&alert["labels"]);
        for (name, value) in [
            ("alertname", "ErrorBudgetBurn"),
            ("severity", "page"),
            ("objective", "flaky"),
            ("sli", "success"),
            ("view", "/flaky"),
            ("method", "GET"),
            ("short_window", "5m"),
            ("job", "django"),
        ] {
            assert_eq!(
                labels.get(name).map(String::as_str),
                Some(value),
                "{delivery}"
            );
        }
        assert_eq!(
            alert["annotations"]["summary"],
            "Objective flaky (GET /flaky): error budget burn rate above 14.4 over 1h and 5m",
            "{delivery}"
        );
        assert_eq!(delivery["receiver"], "pager", "{delivery}");
        // Only pages reach the pager; the ticket went to its own receiver.
        for delivery in webhook.deliveries() {
            for alert in delivery["alerts"].as_array().into_iter().flatten() {
                assert_eq!(alert["labels"]["severity"], "page", "{delivery}");
            }
        }
    });
}

/// django-mixin's `DjangoMigrationsUnapplied`, as shipped: a service
/// deployed before its two migrations ran fires it; once they run (the
/// service restarted with `MIGRATE=true` on the same database) it resolves.
#[test]
fn pending_migrations_fire_django_mixins_alert_until_they_run() {
    let shipped = monitoring_file("alert_rules.yml");
    let rules = std::fs::read_to_string(&shipped)
        .unwrap_or_else(|e| panic!("reading {}: {e}", shipped.display()));
    let rules = shorten_rules(&rules, "15s", "3s");
    let alertmanager = Alertmanager::start(&Alertmanager::webhook_config("http://127.0.0.1:9/"));
    let mut service = Service::start(&[("MIGRATE", "false")]);
    let page = service.scrape();
    let connection = [("connection", "default")];
    assert_eq!(
        sample(&page, "django_migrations_unapplied_total", &connection),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "django_migrations_applied_total", &connection),
        Some(0.0),
        "{page}"
    );
    let prometheus = evaluating(&service, ("alert_rules.yml", &rules), &alertmanager);
    let firing = r#"ALERTS{alertname="DjangoMigrationsUnapplied",alertstate="firing",job="django",severity="warning"}"#;
    prometheus.wait_for_value(firing, 1.0);

    service.set("MIGRATE", "true");
    service.restart();
    let page = service.scrape();
    assert_eq!(
        sample(&page, "django_migrations_unapplied_total", &connection),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "django_migrations_applied_total", &connection),
        Some(2.0),
        "{page}"
    );
    // The schema is there now: the service serves its users.
    assert_eq!(service.request("GET", "/users", None).0, 200);
    prometheus.wait_for("DjangoMigrationsUnapplied resolved", |p| {
        let alerts = p.query(r#"ALERTS{alertname="DjangoMigrationsUnapplied"}"#)?;
        let unapplied = p.query("sum(django_migrations_unapplied_total)")?;
        match (alerts.as_slice(), unapplied.as_slice()) {
            ([], [zero]) if zero.value == 0.0 => Ok(()),
            _ => Err(format!("alerts {alerts:?}, unapplied {unapplied:?}")),
        }
    });
}
