//! The Pushgateway: the batch job pushes when it finishes, Prometheus
//! scrapes the gateway with `honor_labels: true`, and the pushed values are
//! queryable under the job's own `job` label. A push the gateway refuses,
//! or cannot receive, fails the job with the reason.

use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::{
    batch_job_bin, free_addr, prometheus_config, try_http, Prometheus, Pushgateway, ScrapeJob,
};
use instrument_runtime::{counted, Push};

fn batch_job(gateway: &str, orders: u32) -> Output {
    Command::new(batch_job_bin())
        .env("PUSHGATEWAY_URL", gateway)
        .env("ORDERS", orders.to_string())
        .env_remove("DATABASE_PATH")
        .output()
        .expect("running batch-job")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn pushed_values_are_queryable_under_the_job_label() {
    let gateway = Pushgateway::start();
    let prometheus = Prometheus::start(
        &prometheus_config(&[ScrapeJob::pushgateway(gateway.addr())], &[], None),
        &[],
    );
    prometheus.wait_for_targets("pushgateway", 1);

    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let output = batch_job(&gateway.url(), 40);
    let log = stderr(&output);
    assert!(output.status.success(), "batch-job failed: {log}");
    // Lines 1-40: line 25 malformed; every 10th cancelled, every 3rd other shipped.
    assert!(
        log.contains("imported 39 orders (1 rejected), shipped 12, cancelled 4"),
        "{log}"
    );
    let url = format!("{}/metrics/job/order-import", gateway.url());
    assert!(log.contains(&format!("metrics pushed to {url}")), "{log}");

    let job = r#"job="order-import""#;
    for (promql, value) in [
        (
            format!(r#"django_model_inserts_total{{{job},model="order"}}"#),
            39.0,
        ),
        (
            format!(r#"django_model_updates_total{{{job},model="order"}}"#),
            12.0,
        ),
        (
            format!(r#"django_model_deletes_total{{{job},model="order"}}"#),
            4.0,
        ),
        (
            format!(r#"django_db_execute_total{{{job},alias="default",vendor="sqlite"}}"#),
            55.0,
        ),
        (
            format!(r#"django_function_calls_total{{{job},function="parse_row",result="ok"}}"#),
            39.0,
        ),
        (
            format!(r#"django_function_calls_total{{{job},function="parse_row",result="error"}}"#),
            1.0,
        ),
        (
            format!(r#"django_function_calls_total{{{job},function="import",result="ok"}}"#),
            1.0,
        ),
        (
            format!(r#"django_function_calls_duration_seconds_count{{{job},function="import"}}"#),
            1.0,
        ),
    ] {
        prometheus.wait_for_value(&promql, value);
    }

    // honor_labels: the pushed job label, not the scrape job's with the
    // pushed one moved to `exported_job`.
    let inserts = prometheus
        .query(r#"django_model_inserts_total{model="order"}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inserts.len(), 1, "{inserts:?}");
    assert_eq!(inserts[0].label("job"), "order-import", "{inserts:?}");
    assert_eq!(inserts[0].label("exported_job"), "", "{inserts:?}");
    let pushed = prometheus
        .query(&format!("push_time_seconds{{{job}}}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let after = before + 60.0;
    assert!(
        (before - 1.0..after).contains(&pushed[0].value),
        "push_time_seconds {} not within [{before}, {after})",
        pushed[0].value
    );

    // The next run replaces the group (a PUT), it does not add to it:
    // lines 1-10, none malformed, 10 cancelled, 3, 6 and 9 shipped.
    let output = batch_job(&gateway.url(), 10);
    assert!(
        output.status.success(),
        "batch-job failed: {}",
        stderr(&output)
    );
    for (promql, value) in [
        (
            format!(r#"django_model_inserts_total{{{job},model="order"}}"#),
            10.0,
        ),
        (
            format!(r#"django_model_updates_total{{{job},model="order"}}"#),
            3.0,
        ),
        (
            format!(r#"django_model_deletes_total{{{job},model="order"}}"#),
            1.0,
        ),
        (
            format!(r#"django_function_calls_total{{{job},function="parse_row",result="error"}}"#),
            0.0,
        ),
    ] {
        prometheus.wait_for_value(&promql, value);
    }
}

#[test]
fn a_push_the_gateway_refuses_fails_the_job_with_the_reason() {
    let gateway = Pushgateway::start();
    // Another job pushed the family as a gauge: the gateway refuses a
    // counter of the same name, as inconsistent.
    let (status, body) = try_http(
        gateway.addr(),
        "PUT",
        "/metrics/job/other",
        Some("text/plain; version=0.0.4"),
        "# TYPE django_model_inserts_total gauge\ndjango_model_inserts_total{model=\"order\"} 1\n",
    )
    .expect("pushing the conflicting gauge");
    assert_eq!(status, 200, "{body}");

    let output = batch_job(&gateway.url(), 5);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    let expected = format!(
        "batch-job: the metrics were not pushed: the Pushgateway at {}/metrics/job/order-import refused the push: HTTP 400: pushed metrics are invalid or inconsistent with existing metrics",
        gateway.url()
    );
    assert!(log.contains(&expected), "{log}\n{}", gateway.logs());
}

#[test]
fn an_unreachable_gateway_fails_the_job_naming_the_url() {
    let nobody = free_addr();
    let output = batch_job(&format!("http://{nobody}"), 5);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    // The work itself was done and reported.
    assert!(log.contains("imported 5 orders (0 rejected)"), "{log}");
    assert!(
        log.contains(&format!(
            "batch-job: the metrics were not pushed: pushing metrics to http://{nobody}/metrics/job/order-import failed: Connection refused"
        )),
        "{log}"
    );
}

#[counted]
fn render_report(page: u32) -> u32 {
    page
}

/// Grouping label values that cannot stand in a URL path (a `/`, a space,
/// an empty value) arrive intact: the runtime sends them base64-encoded.
#[test]
fn grouping_labels_arrive_as_given() {
    let gateway = Pushgateway::start();
    let metrics = instrument_runtime::Builder::new()
        .namespace("reports")
        .install()
        .expect("the only install of this test binary");
    for page in 0..3 {
        render_report(page);
    }
    Push::new(gateway.url(), "reports/eu")
        .grouping("instance", "")
        .grouping("shard", "a b/c")
        .timeout(Duration::from_secs(5))
        .send(&metrics)
        .unwrap_or_else(|e| panic!("{e}\n{}", gateway.logs()));

    let groups = gateway.groups().unwrap_or_else(|e| panic!("{e}"));
    let group = groups
        .iter()
        .find(|group| group["labels"]["job"] == "reports/eu")
        .unwrap_or_else(|| panic!("no group for job reports/eu: {groups:?}"));
    assert_eq!(
        group["labels"],
        serde_json::json!({ "job": "reports/eu", "instance": "", "shard": "a b/c" }),
        "{group}"
    );
    let calls = group["reports_function_calls_total"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|series| {
            series["labels"]["function"] == "render_report" && series["labels"]["result"] == "ok"
        })
        .unwrap_or_else(|| panic!("no render_report calls in {group}"));
    assert_eq!(calls["value"], "3", "{calls}");
    assert_eq!(calls["labels"]["shard"], "a b/c", "{calls}");
}
