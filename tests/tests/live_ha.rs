//! The HA setup of `examples/monitoring/ha/` with the real servers: three
//! replicas of the example service found through file_sd, the shipped
//! `ha/prometheus.yml` run twice (replicas `a` and `b`), and a cluster of
//! two Alertmanagers, and VictoriaMetrics behind their remote_write. The
//! addresses of the compose file's hosts become loopback ports and the
//! intervals a second; its DNS discovery (which needs Docker's DNS) is
//! left out here.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::Value;

use e2e::{
    dashboard_queries, dashboard_traffic, errors_and_slow_requests, monitoring_file, shorten_rules,
    wait_for_dashboard_data, Alertmanager, Prometheus, Service, StopOnDrop, VictoriaMetrics,
    Webhook,
};

fn read(path: &str) -> String {
    let path = monitoring_file(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The shipped HA configuration, sending to `alertmanagers` and writing to
/// `store` (none: no remote_write), every second, without DNS discovery.
fn ha_config(alertmanagers: &[SocketAddr; 2], store: Option<&str>) -> String {
    let shipped = read("ha/prometheus.yml");
    let hosts = "targets: ['alertmanager-a:9093', 'alertmanager-b:9093']";
    let write = "url: 'http://victoriametrics:8428/api/v1/write'";
    assert!(
        shipped.contains(hosts) && shipped.contains(write),
        "{shipped}"
    );
    let mut config = shipped
        .replace(
            hosts,
            &format!("targets: ['{}', '{}']", alertmanagers[0], alertmanagers[1]),
        )
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("evaluation_interval: 5s", "evaluation_interval: 1s");
    let cut = |config: &mut String, block: &str, next: Option<&str>| {
        let start = config
            .find(block)
            .unwrap_or_else(|| panic!("no {block} in\n{config}"));
        let end = next
            .and_then(|next| config[start..].find(next))
            .map_or(config.len(), |at| start + at);
        config.replace_range(start..end, "");
    };
    match store {
        Some(url) => config = config.replace(write, &format!("url: '{url}'")),
        None => cut(&mut config, "remote_write:", Some("scrape_configs:")),
    }
    cut(&mut config, "    dns_sd_configs:", None);
    config
}

/// One file_sd target file per replica, `instance` naming it.
fn targets(services: &[Service]) -> Vec<(String, String)> {
    services
        .iter()
        .enumerate()
        .map(|(i, service)| {
            let name = format!("backend-{}", i + 1);
            (format!("targets/{name}.json"), target_file(&name, service))
        })
        .collect()
}

/// The pair, each with the shipped rules (alert windows and `for`
/// shortened) and the replicas' target files.
fn pair(
    services: &[Service],
    alertmanagers: &[SocketAddr; 2],
    store: Option<&VictoriaMetrics>,
) -> [Prometheus; 2] {
    let url = store.map(VictoriaMetrics::write_url);
    let config = ha_config(alertmanagers, url.as_deref());
    let alerts = shorten_rules(&read("alert_rules.yml"), "15s", "3s");
    let objectives = read("objective_rules.yml");
    let aggregation = read("ha/aggregation_rules.yml");
    let targets = targets(services);
    let mut files: Vec<(&str, &str)> = vec![
        ("alert_rules.yml", &alerts),
        ("objective_rules.yml", &objectives),
        ("aggregation_rules.yml", &aggregation),
    ];
    files.extend(
        targets
            .iter()
            .map(|(name, json)| (name.as_str(), json.as_str())),
    );
    let [a, b] = ["a", "b"].map(|replica| Prometheus::start_replica(&config, &files, replica));
    for prometheus in [&a, &b] {
        prometheus.wait_for_targets("django", services.len());
    }
    [a, b]
}

fn replicas(n: usize) -> Vec<Service> {
    (0..n)
        .map(|_| Service::start(&[("SLOW_MS", "50")]))
        .collect()
}

#[test]
fn three_replicas_add_up_exactly_in_both_servers_and_once_in_victoria_metrics() {
    let services = replicas(3);
    let webhook = Webhook::start();
    let alertmanagers = Alertmanager::cluster(&Alertmanager::webhook_config(&webhook.url()));
    // One sample per series and scrape interval (the test's second).
    let store = VictoriaMetrics::start("1s");
    let servers = pair(
        &services,
        &alertmanagers.each_ref().map(Alertmanager::addr),
        Some(&store),
    );
    // 5, 10 and 15 requests, 30 in all, in two rounds a scrape apart (so
    // that the series, created by the first request, also grow in a rate).
    let round = |counts: [usize; 3]| {
        for (service, count) in services.iter().zip(counts) {
            for _ in 0..count {
                assert_eq!(service.request("GET", "/users", None).0, 200);
            }
        }
    };
    round([1, 1, 1]);
    for prometheus in &servers {
        prometheus.wait_for_value(
            r#"sum(django_http_requests_total{view="/users",method="GET"})"#,
            3.0,
        );
    }
    round([4, 9, 14]);
    for prometheus in &servers {
        prometheus.wait_for_value(
            r#"sum(django_http_requests_total{view="/users",method="GET"})"#,
            30.0,
        );
        // Each replica by the name its target file gives it.
        for (i, expected) in [5.0, 10.0, 15.0].into_iter().enumerate() {
            prometheus.wait_for_value(
                &format!(
                    r#"sum(django_http_requests_total{{view="/users",method="GET",instance="backend-{}"}})"#,
                    i + 1
                ),
                expected,
            );
        }
        // The aggregation over the replicas: one series per job and view.
        prometheus.wait_for("the aggregated request rate of /users", |p| {
            match p
                .query(r#"job_view_method:django_http_requests_total:rate5m{view="/users"}"#)?
                .as_slice()
            {
                [one] if one.value > 0.0 && !one.labels.contains_key("instance") => Ok(()),
                samples => Err(format!("{samples:?}")),
            }
        });
        prometheus.wait_for_value(r#"job:up:sum{job="django"}"#, 3.0);
    }

    // The long-term store: the same sum, from one series per replica (the
    // two servers' copies, without their `replica` label, are one).
    let users = r#"django_http_requests_total{view="/users",method="GET"}"#;
    store.wait_for_value(&format!("sum({users})"), 30.0);
    store.wait_for_value(&format!("count({users})"), 3.0);
    // One sample per scrape interval, as in each server, not one from each.
    let samples = |p: &Prometheus| -> Result<f64, String> {
        let query = r#"count_over_time(django_http_requests_total{view="/users",method="GET",instance="backend-1"}[10s])"#;
        match p.query(query)?.as_slice() {
            [one] => Ok(one.value),
            samples => Err(format!("`{query}` gave {samples:?}")),
        }
    };
    servers[0].wait_for("10 s of backend-1's samples", |p| {
        samples(p).and_then(|n| {
            if n >= 9.0 {
                Ok(())
            } else {
                Err(format!("{n} samples"))
            }
        })
    });
    // The shipped dashboards' queries, answered from the long-term store:
    // two rounds of their traffic on every replica, a few scrapes apart.
    for _ in 0..2 {
        for service in &services {
            dashboard_traffic(service);
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    wait_for_dashboard_data(&store, &dashboard_queries());
    store.wait_for("backend-1's samples in VictoriaMetrics", |vm| {
        let (stored, scraped) = (samples(vm)?, samples(&servers[0])?);
        if (stored - scraped).abs() <= 2.0 {
            Ok(())
        } else {
            Err(format!(
                "{stored} samples in 10 s stored, {scraped} scraped by one server"
            ))
        }
    });
}

/// The webhook's deliveries of `alert`: (firing, resolved).
fn deliveries_of(webhook: &Webhook, alert: &str) -> (usize, usize) {
    let of = |status: &str| {
        webhook
            .deliveries()
            .iter()
            .filter(|delivery| delivery["status"] == status)
            .filter(|delivery| delivery["groupLabels"]["alertname"] == alert)
            .count()
    };
    (of("firing"), of("resolved"))
}

#[test]
fn a_page_and_its_resolution_arrive_once_through_a_failover() {
    let services = replicas(3);
    let webhook = Webhook::start();
    let mut alertmanagers =
        Alertmanager::cluster(&Alertmanager::webhook_config_with_resolved(&webhook.url()));
    let [mut a, b] = pair(
        &services,
        &alertmanagers.each_ref().map(Alertmanager::addr),
        None,
    );
    let context = |servers: &[&Prometheus]| {
        let logs: Vec<String> = servers.iter().map(|p| p.context()).collect();
        logs.join("\n")
    };

    let stop = AtomicBool::new(false);
    let mut survivor = 0;
    std::thread::scope(|scope| {
        // Errors on one replica: HighErrorRate sums them over all three.
        errors_and_slow_requests(scope, &services[0], &stop);
        let _stop = StopOnDrop(&stop);
        let sender = webhook.wait_for(
            "HighErrorRate firing",
            Duration::from_secs(90),
            |delivery: &Value| {
                (delivery["status"] == "firing"
                    && delivery["groupLabels"]["alertname"] == "HighErrorRate")
                    .then(|| {
                        delivery["externalURL"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    })
            },
            || context(&[&a, &b]),
        );
        // The notification log reaches the peer (gossip every 100 ms here).
        std::thread::sleep(Duration::from_secs(2));
        // While it fires: one Prometheus, and the Alertmanager that sent
        // the page, crash.
        a.kill();
        let port = |am: &Alertmanager| format!(":{}", am.addr().port());
        let sent = usize::from(!sender.ends_with(&port(&alertmanagers[0])));
        assert!(sender.ends_with(&port(&alertmanagers[sent])), "{sender}");
        alertmanagers[sent].kill();
        survivor = 1 - sent;
        // The peer's wait before it would notify (5 s here) and more: the
        // page must not come again from the Alertmanager left.
        std::thread::sleep(Duration::from_secs(8));
    });
    // The errors stopped: the alert resolves in the server left, and the
    // Alertmanager left says so, once.
    webhook.wait_for(
        "HighErrorRate resolved",
        Duration::from_secs(90),
        |delivery: &Value| {
            (delivery["status"] == "resolved"
                && delivery["groupLabels"]["alertname"] == "HighErrorRate")
                .then_some(())
        },
        || context(&[&b]),
    );
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        deliveries_of(&webhook, "HighErrorRate"),
        (1, 1),
        "{:#?}\n{}",
        webhook.deliveries(),
        alertmanagers[survivor].logs()
    );
    // The resolution came from the Alertmanager left.
    let resolved = webhook
        .deliveries()
        .into_iter()
        .find(|delivery| delivery["status"] == "resolved")
        .expect("the resolution, counted above");
    let survivor_port = format!(":{}", alertmanagers[survivor].addr().port());
    assert!(
        resolved["externalURL"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&survivor_port),
        "{resolved:#}"
    );
}

/// `count_over_time` of one series over `window` seconds ending `at`.
fn samples_over(p: &Prometheus, selector: &str, window: u64, at: f64) -> Result<f64, String> {
    let query = format!("count_over_time({selector}[{window}s])");
    match p.query_at(&query, at)?.as_slice() {
        [one] => Ok(one.value),
        samples => Err(format!("`{query}` gave {samples:?}")),
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

#[test]
fn victoria_metrics_down_for_30_s_loses_no_sample_and_no_request() {
    let services = replicas(1);
    // No Alertmanager is needed here: the pair sends to two closed ports.
    let nowhere = [e2e::free_addr(), e2e::free_addr()];
    let mut store = VictoriaMetrics::start("1s");
    let servers = pair(&services, &nowhere, Some(&store));
    let series = r#"django_http_requests_total{view="/users",method="GET",instance="backend-1"}"#;
    let stop = AtomicBool::new(false);
    let requests = std::sync::atomic::AtomicU64::new(0);
    let (from, to) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                assert_eq!(services[0].request("GET", "/users", None).0, 200);
                requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let _stop = StopOnDrop(&stop);
        store.wait_for(&format!("{series} in VictoriaMetrics"), |vm| {
            vm.query(series)?
                .first()
                .map(|_| ())
                .ok_or_else(|| "no series yet".to_owned())
        });
        let from = unix_now();
        std::thread::sleep(Duration::from_secs(5));
        // Stopped (a crash would lose what it had not flushed yet, up to
        // its -inmemoryDataFlushInterval of 5 s).
        store.stop();
        std::thread::sleep(Duration::from_secs(30));
        store.restart();
        std::thread::sleep(Duration::from_secs(5));
        (from, unix_now())
    });
    let total = requests.load(std::sync::atomic::Ordering::SeqCst) as f64;
    // Every request, once the last scrape is written.
    for p in [&servers[0], &servers[1], &*store] {
        p.wait_for_value(&format!("sum({series})"), total);
    }
    // No gap: over the 40 s around the outage, VictoriaMetrics holds a
    // sample per scrape interval, as many as the server scraped.
    let window = (to - from).floor() as u64;
    store.wait_for("the outage's samples written", |vm| {
        let stored = samples_over(vm, series, window, to)?;
        let scraped = samples_over(&servers[0], series, window, to)?;
        if scraped >= window as f64 - 2.0 && (stored - scraped).abs() <= 2.0 {
            Ok(())
        } else {
            Err(format!(
                "{stored} samples stored in the {window} s, {scraped} scraped by one server"
            ))
        }
    });
}

/// The file_sd target file of one replica.
fn target_file(name: &str, service: &Service) -> String {
    format!(
        r#"[{{"targets": ["{}"], "labels": {{"instance": "{name}"}}}}]"#,
        service.addr
    )
}

#[test]
fn a_replica_that_dies_fires_target_down_for_itself_and_its_replacement_starts_at_zero() {
    let mut services = replicas(3);
    let nowhere = [e2e::free_addr(), e2e::free_addr()];
    let servers = pair(&services, &nowhere, None);
    // backend-2 dies: TargetDown fires for it, and for no other.
    services[1].kill();
    let down = |instance: &str| {
        format!(
            r#"ALERTS{{alertname="TargetDown",alertstate="firing",job="django",instance="{instance}"}}"#
        )
    };
    for prometheus in &servers {
        prometheus.wait_for_value(&down("backend-2"), 1.0);
        let firing = prometheus
            .query(r#"ALERTS{alertname="TargetDown",alertstate="firing"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(firing.len(), 1, "{firing:?}");
    }
    // Its replacement, backend-4, takes its place in file_sd.
    let replacement = Service::start(&[("SLOW_MS", "50")]);
    for prometheus in &servers {
        let targets = prometheus.dir().join("targets");
        std::fs::write(
            targets.join("backend-4.json"),
            target_file("backend-4", &replacement),
        )
        .expect("writing backend-4's target file");
        std::fs::remove_file(targets.join("backend-2.json")).expect("removing backend-2's");
    }
    services.push(replacement);
    for prometheus in &servers {
        // Before any request, its families are there at 0.
        prometheus.wait_for_value(
            r#"django_model_inserts_total{instance="backend-4",model="user"}"#,
            0.0,
        );
        prometheus.wait_for_value(r#"job:up:sum{job="django"}"#, 3.0);
        // The dead replica is no target any more: its alert resolves.
        prometheus.wait_for("TargetDown resolved", |p| {
            match p.query(r#"ALERTS{alertname="TargetDown"}"#)?.as_slice() {
                [] => Ok(()),
                alerts => Err(format!("{alerts:?}")),
            }
        });
    }
}
