//! The scale figure of `examples/monitoring/README.md`: one Prometheus
//! scraping N replicas of the example service (the real service, started N
//! times, each after a round of the dashboards' traffic) every 5 s, as
//! `ha/prometheus.yml` does: its head series, the samples it appends per
//! second and the memory it takes. A measurement of minutes, so it is not
//! part of `scripts/test`:
//!
//! ```text
//! cargo test -p e2e --test scale -- --ignored --nocapture   # SCALE_REPLICAS=100 by default
//! ```

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use e2e::{dashboard_traffic, http, Prometheus, Service};

/// A value of Prometheus's own `/metrics` page: the sum of the family's
/// series (`prometheus_tsdb_head_samples_appended_total` has one per
/// sample type).
fn own(prometheus: &Prometheus, family: &str) -> f64 {
    let (status, page) = http(prometheus.addr(), "GET", "/metrics", None);
    assert_eq!(status, 200, "{page}");
    let values: Vec<f64> = page
        .lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    assert!(
        !values.is_empty(),
        "no {family} on Prometheus's page:\n{page}"
    );
    values.iter().sum()
}

#[test]
#[ignore = "a measurement of minutes: cargo test -p e2e --test scale -- --ignored --nocapture"]
fn one_prometheus_over_many_replicas() {
    let n: usize = std::env::var("SCALE_REPLICAS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let started = Instant::now();
    let services: Vec<Service> = (0..n)
        .map(|_| Service::start(&[("SLOW_MS", "0")]))
        .collect();
    for service in &services {
        dashboard_traffic(service);
    }
    // The page of one replica after that traffic: its series.
    let page = services[0].scrape();
    let per_replica = page
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .count();
    eprintln!("{n} replicas started in {:.0?}", started.elapsed());

    let mut config = String::from(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: 'django'\n    metrics_path: '/metrics/'\n    static_configs:\n      - targets: [",
    );
    let targets: Vec<String> = services.iter().map(|s| format!("'{}'", s.addr)).collect();
    let _ = writeln!(config, "{}]", targets.join(", "));
    let prometheus = Prometheus::start(&config, &[]);
    prometheus.wait_for_targets("django", n);
    // A minute of scrapes (12 at 5 s), then 30 s measured.
    std::thread::sleep(Duration::from_secs(60));
    let appended = own(&prometheus, "prometheus_tsdb_head_samples_appended_total");
    std::thread::sleep(Duration::from_secs(30));
    let per_second =
        (own(&prometheus, "prometheus_tsdb_head_samples_appended_total") - appended) / 30.0;
    let head = own(&prometheus, "prometheus_tsdb_head_series");
    let resident = own(&prometheus, "process_resident_memory_bytes");
    let heap = own(&prometheus, "go_memstats_heap_inuse_bytes");

    // Every replica's series, and Prometheus's five per target (up,
    // scrape_duration_seconds, ...).
    let expected = n * (per_replica + 5);
    eprintln!(
        "replicas {n}; series per replica {per_replica}; head series {head}; \
         samples appended per second {per_second:.0}; resident memory {:.0} MiB; heap in use {:.0} MiB",
        resident / 1048576.0,
        heap / 1048576.0
    );
    assert!(
        (head - expected as f64).abs() <= (n * 2) as f64,
        "{head} head series, {expected} expected"
    );
    // 5 s scrapes: each series a sample every 5 s.
    let expected_rate = expected as f64 / 5.0;
    assert!(
        (per_second - expected_rate).abs() <= expected_rate * 0.1,
        "{per_second} samples/s, {expected_rate} expected"
    );
}
