//! Every query of the shipped Grafana dashboards, run against a real
//! Prometheus scraping the example service after traffic, returns data.
//! (Grafana is not in the distribution's packages; its queries are what
//! can break.) The objectives dashboard reads the shipped objective rules,
//! which Prometheus evaluates here. The same, and the documented alerts,
//! with metrics-exporter-prometheus as the service's backend.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use e2e::{
    dashboard_queries, dashboard_traffic, errors_and_slow_requests, monitoring_file,
    prometheus_config, shorten_rules, wait_for_dashboard_data, Prometheus, ScrapeJob, Service,
    StopOnDrop,
};

/// The shipped objective rules, which the objectives dashboard reads.
fn objective_rules() -> String {
    let shipped = monitoring_file("objective_rules.yml");
    std::fs::read_to_string(&shipped)
        .unwrap_or_else(|e| panic!("reading {}: {e}", shipped.display()))
}

#[test]
fn every_dashboard_query_returns_data() {
    let all = dashboard_queries();
    let service = Service::start(&[("SLOW_MS", "50")]);
    let prometheus = Prometheus::start(
        &prometheus_config(
            &[ScrapeJob::django(&[service.addr])],
            &["objective_rules.yml"],
            None,
        ),
        &[("objective_rules.yml", &objective_rules())],
    );
    prometheus.wait_for_targets("django", 1);
    // Two rounds a few scrapes apart: series that the first round creates
    // grow in the second, so every `rate` has something to show.
    dashboard_traffic(&service);
    std::thread::sleep(Duration::from_secs(3));
    dashboard_traffic(&service);
    wait_for_dashboard_data(&prometheus, &all);
}

/// The two documented alerts and every dashboard query work unchanged when
/// the service records into metrics-exporter-prometheus instead of this
/// crate's store.
#[test]
fn rules_and_dashboards_work_with_metrics_exporter_prometheus_as_the_backend() {
    let shipped = monitoring_file("alert_rules.yml");
    let rules = std::fs::read_to_string(&shipped)
        .unwrap_or_else(|e| panic!("reading {}: {e}", shipped.display()));
    // 5m windows and `for: 5m` become seconds; the thresholds stay.
    let rules = shorten_rules(&rules, "15s", "3s");
    // 700 ms: above the 0.5 s of HighRequestLatency.
    let service = Service::start(&[
        ("SLOW_MS", "700"),
        ("METRICS_BACKEND", "metrics-exporter-prometheus"),
    ]);
    let prometheus = Prometheus::start(
        &prometheus_config(
            &[ScrapeJob::django(&[service.addr])],
            &["alert_rules.yml", "objective_rules.yml"],
            None,
        ),
        &[
            ("alert_rules.yml", &rules),
            ("objective_rules.yml", &objective_rules()),
        ],
    );
    prometheus.wait_for_targets("django", 1);
    let page = service.scrape();
    // The exporter's page, with the catalogue's families as histograms.
    assert!(
        page.contains("# TYPE django_http_requests_latency_seconds histogram\n"),
        "{page}"
    );
    assert!(!page.contains("quantile="), "{page}");

    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        errors_and_slow_requests(scope, &service, &stop);
        let _stop = StopOnDrop(&stop);
        prometheus.wait_for("both documented alerts firing", |p| {
            let alerts = p.api("alerts")?;
            let firing: Vec<&str> = alerts["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|alert| alert["state"] == "firing")
                .filter_map(|alert| alert["labels"]["alertname"].as_str())
                .collect();
            match ["HighErrorRate", "HighRequestLatency"]
                .iter()
                .all(|name| firing.contains(name))
            {
                true => Ok(()),
                false => Err(format!("firing: {firing:?}; {alerts}")),
            }
        });
    });

    let all = dashboard_queries();
    dashboard_traffic(&service);
    std::thread::sleep(Duration::from_secs(3));
    dashboard_traffic(&service);
    wait_for_dashboard_data(&prometheus, &all);
}
