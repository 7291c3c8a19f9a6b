//! The cardinality guard: label values from runtime data cannot grow a
//! family past its limit, and no call is lost on the way.

use crate::common;

use instrument_runtime::{counted, model_op, timed, Builder, OVERFLOW};

/// What the runtime reported through `tracing`, as the fmt subscriber
/// writes it.
static REPORTED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Reported;

impl std::io::Write for Reported {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        REPORTED.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn page() -> common::Page {
    let metrics = common::install_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| Reported)
            .with_ansi(false)
            .init();
        Builder::new()
            .cardinality_limit(50)
            .family_cardinality_limit("user_requests_total", 100)
    });
    common::Page::parse(&metrics.render())
}

#[counted(name = "user_requests_total", labels(user = user, kind = "api"))]
fn user_request(user: u64) {}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[test]
fn distinct_values_past_the_limit_are_folded_and_still_counted() {
    common::isolated(|| {
        page();
        user_request(0); // the family's state exists before the measurement
        let before = resident_bytes();
        for user in 1..100_000 {
            user_request(user);
        }
        let growth = resident_bytes().saturating_sub(before);
        let page = page();

        let series = page.series("user_requests_total");
        assert_eq!(series.len(), 101, "100 label sets and the overflow set");
        let total: f64 = series
            .iter()
            .map(|labels| {
                let pairs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                page.get("user_requests_total", &pairs)
            })
            .sum();
        assert_eq!(total, 100_000.0);
        assert_eq!(
            page.get(
                "user_requests_total",
                &[("user", OVERFLOW), ("kind", "api")]
            ),
            99_900.0
        );
        assert_eq!(
            page.get("user_requests_total", &[("user", "7"), ("kind", "api")]),
            1.0
        );
        let overflow = [("family", "user_requests_total")];
        assert_eq!(page.get("cardinality_overflow_total", &overflow), 99_900.0);
        // 100 label sets kept, whatever the number of distinct values sent.
        assert!(growth < 8 << 20, "resident memory grew by {growth} bytes");
    });
}

#[counted(name = "reported_total", labels(value = value))]
fn reported(value: u32) {}

#[test]
fn reaching_the_limit_is_reported_once_through_tracing() {
    common::isolated(|| {
        page();
        for round in 0..3 {
            for value in 0..60 {
                reported(value + round);
            }
        }
        let reported = String::from_utf8(REPORTED.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = reported
            .lines()
            .filter(|line| line.contains("reported_total"))
            .collect();
        assert_eq!(lines.len(), 1, "{reported}");
        assert!(lines[0].contains(" WARN instrument_runtime:"), "{reported}");
        assert!(
            lines[0].contains(
                "reported_total reached its limit of 50 label sets; \
             new label values are counted under \"__overflow__\""
            ),
            "{reported}"
        );
    });
}

#[timed(name = "tenant_latency_seconds", labels(tenant = tenant))]
fn tenant_call(tenant: &str) {}

#[test]
fn the_default_limit_applies_to_histograms() {
    common::isolated(|| {
        page();
        for tenant in 0..80 {
            tenant_call(&format!("tenant-{tenant}"));
        }
        tenant_call("tenant-1");
        let page = page();
        let series = page.series("tenant_latency_seconds_count");
        assert_eq!(series.len(), 51);
        assert_eq!(
            page.histogram("tenant_latency_seconds", &[("tenant", OVERFLOW)])
                .0,
            30
        );
        assert_eq!(
            page.histogram("tenant_latency_seconds", &[("tenant", "tenant-1")])
                .0,
            2
        );
        let overflow = [("family", "tenant_latency_seconds")];
        assert_eq!(page.get("cardinality_overflow_total", &overflow), 30.0);
    });
}

#[model_op(model = "row", op = insert, alias = "guarded", error_type = |e: &String| e.clone())]
fn insert_row(error: Option<String>) -> Result<(), String> {
    error.map_or(Ok(()), Err)
}

#[test]
fn error_type_values_are_guarded_too() {
    common::isolated(|| {
        page();
        for i in 0..60 {
            insert_row(Some(format!("error {i}"))).unwrap_err();
        }
        let page = page();
        let db = |kind: &str| {
            [("alias", "guarded"), ("vendor", "unknown"), ("type", kind)]
                .map(|(k, v)| (k, v.to_owned()))
        };
        let errors = db(OVERFLOW);
        let errors: Vec<(&str, &str)> = errors.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(page.get("db_errors_total", &errors), 10.0);
        assert_eq!(
            page.series("db_errors_total")
                .iter()
                .filter(|l| l["alias"] == "guarded")
                .count(),
            51
        );
        assert_eq!(
            page.get(
                "db_execute_total",
                &[("alias", "guarded"), ("vendor", "unknown")]
            ),
            60.0
        );
    });
}
