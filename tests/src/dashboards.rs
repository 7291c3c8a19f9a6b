//! The queries of the shipped Grafana dashboards, and traffic that gives
//! every one of them data.

use serde_json::Value;

use crate::{monitoring_file, Prometheus, Service};

/// Every query of every shipped dashboard, as `(dashboard: panel, expr)`.
pub fn dashboard_queries() -> Vec<(String, String)> {
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
            annotations(&dashboard, &mut found);
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
    all
}

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

/// Every `expr` of a dashboard's annotations (the queries that mark
/// events, such as deploys, on every panel), with the annotation's name.
fn annotations(dashboard: &Value, out: &mut Vec<(String, String)>) {
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = annotation["expr"].as_str() {
            let name = annotation["name"].as_str().unwrap_or("(unnamed)");
            out.push((format!("annotation {name}"), expr.to_owned()));
        }
    }
}

/// Grafana's built-in interval variables, as Grafana would fill them in for
/// a short range at this scrape interval (a minute: several scrapes at 1 s).
pub fn with_grafana_variables(expr: &str) -> String {
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

/// One round of requests that touches every family a dashboard shows.
pub fn dashboard_traffic(service: &Service) {
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
        ("GET", "/flaky?one_in=2", None), // every other one fails
        ("DELETE", "/users/1", None),
    ];
    for (method, path, body) in &requests {
        service.request(method, path, body.as_deref());
    }
}

/// Wait until every query gives at least one sample with a number (a ratio
/// or quantile of nothing is NaN, which Grafana shows as no data).
pub fn wait_for_dashboard_data(prometheus: &Prometheus, all: &[(String, String)]) {
    prometheus.wait_for("every dashboard query to return data", |p| {
        let mut failures = Vec::new();
        for (panel, expr) in all {
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
