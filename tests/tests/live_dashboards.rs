//! Every query of the shipped Grafana dashboards, run against a real
//! Prometheus scraping the example service after traffic, returns data.
//! (Grafana is not in the distribution's packages; its queries are what
//! can break.)

use serde_json::Value;

use e2e::{monitoring_file, prometheus_config, Prometheus, ScrapeJob, Service};

/// Every `expr` of a dashboard's panels (rows' nested panels included),
/// with the panel's title.
fn queries(dashboard: &Value, out: &mut Vec<(String, String)>) {
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let title = panel["title"].as_str().unwrap_or("(untitled)");
                out.push((title.to_owned(), expr.to_owned()));
            }
        }
        queries(panel, out);
    }
}

/// Grafana's built-in interval variables, as Grafana would fill them in for
/// a short range at this scrape interval (a minute: several scrapes at 1 s).
fn with_grafana_variables(expr: &str) -> String {
    let mut expr = expr.to_owned();
    for (variable, value) in [
        ("__rate_interval", "1m"),
        ("__interval", "1m"),
        ("__range", "1m"),
    ] {
        expr = expr
            .replace(&format!("${{{variable}}}"), value)
            .replace(&format!("${variable}"), value);
    }
    assert!(
        !expr.contains('$'),
        "`{expr}` uses a dashboard variable this test does not fill in; add it to with_grafana_variables"
    );
    expr
}

fn traffic(service: &Service) {
    let user = |name: &str| format!(r#"{{"name":"{name}","email":"{name}@example.com"}}"#);
    let requests = [
        ("POST", "/users", Some(user("ada"))),
        ("POST", "/users", Some(user("ada"))), // 409: a database error
        ("GET", "/users/1", None),             // cache hit
        ("GET", "/users/99", None),            // cache miss
        ("PUT", "/users/1", Some(user("grace"))),
        ("GET", "/users", None),
        ("GET", "/fail", None),
        ("GET", "/slow", None),
        ("GET", "/api/orders", None),
        ("DELETE", "/users/1", None),
    ];
    for (method, path, body) in &requests {
        service.request(method, path, body.as_deref());
    }
}

#[test]
fn every_dashboard_query_returns_data() {
    let directory = monitoring_file("grafana/dashboards");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&directory)
        .unwrap_or_else(|e| panic!("reading {}: {e}", directory.display()))
    {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let text = std::fs::read_to_string(&path).expect("reading a dashboard");
            let dashboard: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let mut found = Vec::new();
            queries(&dashboard, &mut found);
            assert!(!found.is_empty(), "{} has no queries", path.display());
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            all.extend(
                found
                    .into_iter()
                    .map(|(title, expr)| (format!("{name}: {title}"), expr)),
            );
        }
    }
    assert!(!all.is_empty(), "no dashboards in {}", directory.display());

    let service = Service::start(&[("SLOW_MS", "50")]);
    let prometheus = Prometheus::start(
        &prometheus_config(&[ScrapeJob::django(&[service.addr])], &[], None),
        &[],
    );
    prometheus.wait_for_targets("django", 1);
    // Two rounds a few scrapes apart: series that the first round creates
    // grow in the second, so every `rate` has something to show.
    traffic(&service);
    std::thread::sleep(std::time::Duration::from_secs(3));
    traffic(&service);

    // A query has data when it gives at least one sample with a number
    // (a ratio or quantile of nothing is NaN, which Grafana shows as no data).
    prometheus.wait_for("every dashboard query to return data", |p| {
        let mut failures = Vec::new();
        for (panel, expr) in &all {
            let expr = with_grafana_variables(expr);
            match p.query(&expr) {
                Ok(samples) if samples.iter().any(|s| !s.value.is_nan()) => {}
                Ok(samples) => failures.push(format!("{panel}: `{expr}` gave {samples:?}")),
                // Prometheus refused the query: no amount of waiting helps.
                Err(e) if e.contains("bad_data") => panic!("{panel}: `{expr}`: {e}"),
                Err(e) => failures.push(format!("{panel}: `{expr}`: {e}")),
            }
        }
        match failures.is_empty() {
            true => Ok(()),
            false => Err(failures.join("\n")),
        }
    });
}
