//! The example service scraped by a real Prometheus: after known traffic,
//! the query API gives exactly the counts that were sent, and
//! `histogram_quantile` over the latency buckets lands in the bucket the
//! slow route's delay puts it in. Several instances sum up in one
//! Prometheus. The scrapes are OpenMetrics, which Prometheus asks for, and
//! carry the requests' traces as exemplars.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use e2e::{prometheus_config, url_encode, Prometheus, ScrapeJob, Service};
use serde_json::Value;

fn scraping(services: &[&Service]) -> Prometheus {
    let targets: Vec<_> = services.iter().map(|s| s.addr).collect();
    let prometheus = Prometheus::start(
        &prometheus_config(&[ScrapeJob::django(&targets)], &[], None),
        &[],
    );
    prometheus.wait_for_targets("django", targets.len());
    prometheus
}

#[track_caller]
fn send(
    service: &Service,
    times: usize,
    method: &str,
    path: &str,
    json: Option<&str>,
    status: u16,
) {
    for _ in 0..times {
        let (got, body) = service.request(method, path, json);
        assert_eq!(got, status, "{method} {path}: {body}");
    }
}

fn new_user(name: &str) -> String {
    format!(r#"{{"name":"{name}","email":"{name}@example.com"}}"#)
}

#[test]
fn counters_equal_the_traffic_sent() {
    // 300 ms: every /slow request in the (0.25, 0.5] bucket.
    let service = Service::start(&[("SLOW_MS", "300")]);
    let prometheus = scraping(&[&service]);

    // The /slow series appear with the first request. Prometheus sees it
    // once before the others, so that `rate` counts the others.
    send(&service, 1, "GET", "/slow", None, 200);
    prometheus.wait_for_value(
        r#"sum(django_http_requests_latency_seconds_count{view="/slow"})"#,
        1.0,
    );

    for name in ["ada", "grace", "linus"] {
        send(&service, 1, "POST", "/users", Some(&new_user(name)), 201);
    }
    let duplicate = r#"{"name":"ada2","email":"ada@example.com"}"#;
    send(&service, 1, "POST", "/users", Some(duplicate), 409);
    send(&service, 4, "GET", "/users/1", None, 200); // cached at creation: hits
    send(&service, 2, "GET", "/users/99", None, 404); // misses, then the database
    send(
        &service,
        1,
        "PUT",
        "/users/2",
        Some(&new_user("hopper")),
        200,
    );
    send(&service, 1, "DELETE", "/users/3", None, 204);
    send(&service, 5, "GET", "/users", None, 200);
    send(&service, 7, "GET", "/fail", None, 500);
    send(&service, 4, "GET", "/slow", None, 200);
    send(&service, 2, "GET", "/api/orders", None, 200);

    let expected = [
        (
            r#"sum(django_http_responses_total_by_status{status="500"})"#,
            7.0,
        ),
        (
            r#"sum(django_http_responses_total_by_status{status=~"5.."})"#,
            7.0,
        ),
        (
            r#"django_http_responses_total_by_status{status="201",method="POST",view="/users"}"#,
            3.0,
        ),
        (
            r#"django_http_responses_total_by_status{status="409",method="POST",view="/users"}"#,
            1.0,
        ),
        (
            r#"django_http_responses_total_by_status{status="404",method="GET",view="/users/{id}"}"#,
            2.0,
        ),
        (
            r#"django_http_responses_total_by_status{status="200",method="GET",view="/users/{id}"}"#,
            4.0,
        ),
        (
            r#"django_http_requests_total{method="GET",view="/users"}"#,
            5.0,
        ),
        (
            r#"django_http_requests_total{method="POST",view="/users"}"#,
            4.0,
        ),
        (
            r#"django_http_requests_total{method="GET",view="/fail"}"#,
            7.0,
        ),
        (
            r#"django_http_requests_total{method="GET",view="/slow"}"#,
            5.0,
        ),
        (r#"django_model_inserts_total{model="user"}"#, 3.0),
        (r#"django_model_updates_total{model="user"}"#, 1.0),
        (r#"django_model_deletes_total{model="user"}"#, 1.0),
        (r#"django_cache_hits_total{backend="quick_cache"}"#, 4.0),
        (r#"django_cache_misses_total{backend="quick_cache"}"#, 2.0),
        // 4 inserts (one refused), 1 update, 1 delete, 2 reads after a miss, 5 lists.
        (
            r#"django_db_execute_total{alias="default",vendor="sqlite"}"#,
            13.0,
        ),
        (
            r#"sum(django_db_errors_total{alias="default",vendor="sqlite"})"#,
            1.0,
        ),
        (
            r#"django_function_calls_total{function="fail",result="error"}"#,
            7.0,
        ),
        (
            r#"django_function_calls_total{function="create_user",result="ok"}"#,
            3.0,
        ),
        (
            r#"api_requests_total{endpoint="orders",method="GET",status="200"}"#,
            2.0,
        ),
        (
            r#"sum(django_http_requests_latency_seconds_bucket{view="/slow",le="0.25"})"#,
            0.0,
        ),
        (
            r#"sum(django_http_requests_latency_seconds_bucket{view="/slow",le="0.5"})"#,
            5.0,
        ),
    ];
    for (promql, value) in expected {
        prometheus.wait_for_value(promql, value);
    }

    // Four observations in (0.25, 0.5] since the first scrape of the
    // series: the 95th percentile interpolates to 0.25 + 0.95 * 0.25.
    let promql = r#"histogram_quantile(0.95, sum(rate(django_http_requests_latency_seconds_bucket{view="/slow"}[1m])) by (le))"#;
    let p95 = prometheus.query(promql).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p95.len(), 1, "`{promql}` gave {p95:?}");
    assert!(
        (p95[0].value - 0.4875).abs() < 1e-9,
        "`{promql}` gave {}, not 0.4875 (in the (0.25, 0.5] bucket)",
        p95[0].value
    );

    // Prometheus asks for OpenMetrics first and got it: its metadata names
    // the families as that format does (a counter without `_total`, a
    // counter whose name lacks `_total` as `unknown`), while every query
    // above used the same series names as the text format.
    let kind = |family: &str| {
        let data = prometheus
            .api(&format!("metadata?metric={family}"))
            .unwrap_or_else(|e| panic!("{e}"));
        data[family][0]["type"].as_str().map(str::to_owned)
    };
    assert_eq!(kind("django_http_requests").as_deref(), Some("counter"));
    assert_eq!(kind("django_http_requests_total"), None);
    assert_eq!(
        kind("django_http_responses_total_by_status").as_deref(),
        Some("unknown")
    );
    assert_eq!(
        kind("django_http_requests_latency_seconds").as_deref(),
        Some("histogram")
    );
}

#[test]
fn three_instances_sum_to_the_traffic_sent_to_all() {
    let services = [
        Service::start(&[("SLOW_MS", "0")]),
        Service::start(&[("SLOW_MS", "0")]),
        Service::start(&[("SLOW_MS", "0")]),
    ];
    let prometheus = scraping(&services.iter().collect::<Vec<_>>());

    let mut sent = BTreeMap::new();
    for (i, service) in services.iter().enumerate() {
        let n = i + 1;
        send(service, 3 * n, "GET", "/users", None, 200);
        send(service, n, "GET", "/fail", None, 500);
        for k in 0..n {
            let name = format!("user{k}");
            send(service, 1, "POST", "/users", Some(&new_user(&name)), 201);
        }
        sent.insert(service.addr.to_string(), n as f64);
    }

    prometheus.wait_for_value(
        r#"sum(django_http_requests_total{method="GET",view="/users"})"#,
        18.0,
    );
    prometheus.wait_for_value(
        r#"sum(django_http_responses_total_by_status{status="500"})"#,
        6.0,
    );
    prometheus.wait_for_value(r#"sum(django_model_inserts_total{model="user"})"#, 6.0);
    prometheus.wait_for_value(r#"count(django_model_inserts_total{model="user"})"#, 3.0);

    // Each instance's share, by the `instance` label Prometheus adds.
    let promql = r#"sum by (instance) (django_http_requests_total{view="/fail"})"#;
    let by_instance: BTreeMap<String, f64> = prometheus
        .query(promql)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|sample| (sample.label("instance").to_owned(), sample.value))
        .collect();
    assert_eq!(by_instance, sent, "`{promql}`");
}

/// One stored exemplar: the `le` of its series (empty for a counter), its
/// trace and span ids and its value.
#[derive(Debug)]
struct Exemplar {
    le: String,
    trace_id: String,
    span_id: String,
    value: f64,
}

/// The exemplars Prometheus stored for `selector` over the last five
/// minutes.
fn exemplars(prometheus: &Prometheus, selector: &str) -> Result<Vec<Exemplar>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let path = format!(
        "query_exemplars?query={}&start={:.3}&end={:.3}",
        url_encode(selector),
        now - 300.0,
        now + 60.0
    );
    let data = prometheus.api(&path)?;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let mut found = Vec::new();
    for series in data
        .as_array()
        .ok_or_else(|| format!("`{selector}`: {data}"))?
    {
        for exemplar in series["exemplars"].as_array().into_iter().flatten() {
            found.push(Exemplar {
                le: text(&series["seriesLabels"]["le"]),
                trace_id: text(&exemplar["labels"]["trace_id"]),
                span_id: text(&exemplar["labels"]["span_id"]),
                value: text(&exemplar["value"])
                    .parse()
                    .map_err(|e| format!("{exemplar}: {e}"))?,
            });
        }
    }
    Ok(found)
}

#[test]
fn exemplars_lead_from_the_buckets_to_the_requests_traces() {
    // 300 ms: every /slow request in the (0.25, 0.5] bucket.
    let service = Service::start(&[("SLOW_MS", "300")]);
    let prometheus = Prometheus::start_with(
        &prometheus_config(&[ScrapeJob::django(&[service.addr])], &[], None),
        &[],
        &["--enable-feature=exemplar-storage"],
    );
    prometheus.wait_for_targets("django", 1);

    // Eight requests, each continuing a trace of the test's (W3C
    // traceparent, sampled): about two to a scrape, so Prometheus stores
    // several exemplars on a bucket, each the newest when scraped.
    let caller_span = "00f067aa0ba902b7";
    let mut traces = Vec::new();
    for i in 0..8u32 {
        let trace_id = format!("4bf92f3577b34da6a3ce929d0e0e{i:04x}");
        let traceparent = format!("00-{trace_id}-{caller_span}-01");
        let (status, body) = service.get_with("/slow", &[("traceparent", &traceparent)]);
        assert_eq!(status, 200, "GET /slow: {body}");
        traces.push(trace_id);
    }
    let sent: BTreeSet<&str> = traces.iter().map(String::as_str).collect();
    let last = traces.last().unwrap().as_str();

    // The layer's and #[timed]'s buckets, and the layer's and #[counted]'s
    // counters: each gets exemplars, the last request's among them, all
    // of the test's traces, in the bucket the latency falls in.
    let families = [
        (
            r#"django_http_requests_latency_seconds_bucket{view="/slow"}"#,
            "0.5",
        ),
        (
            r#"django_function_calls_duration_seconds_bucket{function="slow"}"#,
            "0.5",
        ),
        (r#"django_http_requests_total{view="/slow"}"#, ""),
        (r#"django_function_calls_total{function="slow"}"#, ""),
    ];
    for (selector, le) in families {
        let found = prometheus.wait_for(
            &format!("the exemplar of trace {last} on `{selector}`"),
            |p| {
                let found = exemplars(p, selector)?;
                match found.iter().any(|e| e.trace_id == last) {
                    true => Ok(found),
                    false => Err(format!("`{selector}` has exemplars {found:?}")),
                }
            },
        );
        assert!(found.len() >= 2, "`{selector}`: only {found:?}");
        for exemplar in &found {
            assert!(
                sent.contains(exemplar.trace_id.as_str()),
                "`{selector}`: {exemplar:?} is not a trace of the test's {sent:?}"
            );
            // The request's own span, a child of the caller's.
            assert_eq!(exemplar.span_id.len(), 16, "{exemplar:?}");
            assert_ne!(exemplar.span_id, caller_span, "{exemplar:?}");
            assert_eq!(exemplar.le, le, "`{selector}`: {exemplar:?}");
            if le.is_empty() {
                // A counter's exemplar: the increment, one call.
                assert_eq!(exemplar.value, 1.0, "`{selector}`: {exemplar:?}");
            } else {
                assert!(
                    exemplar.value > 0.25 && exemplar.value <= 0.5,
                    "`{selector}`: {exemplar:?} is not in its bucket (0.25, 0.5]"
                );
            }
        }
    }
}

/// autometrics' label contract, as its spec states it and its rules and
/// SLO dashboard select by it, on the example service without a namespace:
/// `function_calls_total` of a function with an objective carries
/// `objective_name` and `objective_percentile`, and its durations
/// `objective_latency_threshold` equal to the `le` of one bucket, which
/// autometrics' latency rules find by comparing the two labels.
#[test]
fn functions_with_objectives_carry_autometrics_labels() {
    let service = Service::start(&[("METRICS_NAMESPACE", "")]);
    let prometheus = scraping(&[&service]);
    for _ in 0..4 {
        service.request("GET", "/flaky?one_in=2", None);
        service.request("GET", "/users", None);
    }
    let objectives = r#"count by (objective_name, objective_percentile, result) ({__name__=~"function_calls(_count)?(_total)?",objective_name!=""})"#;
    let found = prometheus.wait_for("the objectives' calls", |p| {
        let samples = p.query(objectives)?;
        let found: BTreeSet<(String, String, String)> = samples
            .iter()
            .map(|s| {
                let label = |name| s.label(name).to_owned();
                (
                    label("objective_name"),
                    label("objective_percentile"),
                    label("result"),
                )
            })
            .filter(|(_, _, result)| result == "ok" || result == "error")
            .collect();
        match found.len() {
            4 => Ok(found),
            _ => Err(format!("`{objectives}` gave {samples:?}")),
        }
    });
    let expected: BTreeSet<(String, String, String)> = [
        ("flaky", "99", "error"),
        ("flaky", "99", "ok"),
        ("users", "99.9", "error"),
        ("users", "99.9", "ok"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(found, expected);

    // The threshold's bucket, by label equality: exactly one, le="0.25".
    let buckets = r#"function_calls_duration_seconds_bucket{objective_name="users",objective_percentile="99"}"#;
    let threshold_bucket = format!(
        r#"label_join({buckets}, "same", "", "objective_latency_threshold") and label_join({buckets}, "same", "", "le")"#
    );
    let samples = prometheus
        .query(&threshold_bucket)
        .unwrap_or_else(|e| panic!("{e}"));
    let les: Vec<&str> = samples.iter().map(|s| s.label("le")).collect();
    assert_eq!(les, ["0.25"], "`{threshold_bucket}` gave {samples:?}");
    // A function without an objective has none of the labels.
    let plain = prometheus
        .query(r#"function_calls_total{function="fail",objective_name!=""}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(plain.is_empty(), "{plain:?}");
}
