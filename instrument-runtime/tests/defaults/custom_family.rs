//! Families named by the macro (`name = ".."`) with labels that are
//! literals or expressions over the arguments; the Django guide's
//! `api_requests_total` / `api_request_latency_seconds` example.

use crate::common;

use std::time::Duration;

use common::scrape;
use instrument_runtime::{counted, timed};

const REQUESTS: &str = "api_requests_total";
const LATENCY: &str = "api_request_latency_seconds";

struct Request {
    method: &'static str,
}

/// The seed's Django view, as a Rust function.
#[counted(
    name = "api_requests_total",
    help = "Total count of API requests",
    labels(endpoint = endpoint, method = request.method, status = 200)
)]
#[timed(
    name = "api_request_latency_seconds",
    help = "API request latency in seconds",
    labels(endpoint = endpoint, method = request.method)
)]
fn api_view(request: &Request, endpoint: &str) -> String {
    std::thread::sleep(Duration::from_millis(1));
    format!("{{\"status\": \"success\", \"endpoint\": \"{endpoint}\"}}")
}

#[test]
fn the_django_guides_example() {
    common::metrics();
    let get = Request { method: "GET" };
    let post = Request { method: "POST" };
    assert_eq!(
        api_view(&get, "users"),
        r#"{"status": "success", "endpoint": "users"}"#
    );
    api_view(&get, "users");
    api_view(&post, "users");
    api_view(&get, "orders");

    let page = scrape();
    let requests = |endpoint, method| {
        page.count(
            REQUESTS,
            &[
                ("endpoint", endpoint),
                ("method", method),
                ("status", "200"),
            ],
        )
    };
    assert_eq!(requests("users", "GET"), 2);
    assert_eq!(requests("users", "POST"), 1);
    assert_eq!(requests("orders", "GET"), 1);
    assert_eq!(
        page.value(
            REQUESTS,
            &[
                ("endpoint", "orders"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        None
    );
    assert_eq!(page.series(REQUESTS).len(), 3);
    assert_eq!(
        page.help.get(REQUESTS).map(String::as_str),
        Some("Total count of API requests")
    );
    assert_eq!(
        page.types.get(REQUESTS).map(String::as_str),
        Some("counter")
    );

    let latency =
        |endpoint, method| page.histogram(LATENCY, &[("endpoint", endpoint), ("method", method)]);
    assert_eq!(latency("users", "GET").0, 2);
    assert_eq!(latency("users", "POST").0, 1);
    assert_eq!(latency("orders", "GET").0, 1);
    common::assert_between(latency("users", "GET").1, 0.002, 60.0);
    assert_eq!(
        page.bucket(
            LATENCY,
            &[("endpoint", "users"), ("method", "GET")],
            f64::INFINITY
        ),
        2
    );
    assert_eq!(
        page.help.get(LATENCY).map(String::as_str),
        Some("API request latency in seconds")
    );
    assert_eq!(
        page.types.get(LATENCY).map(String::as_str),
        Some("histogram")
    );
    // Custom families are not also recorded in the built-in ones.
    assert_eq!(
        page.value(
            "function_calls_total",
            &[
                ("function", "api_view"),
                ("module", "defaults::custom_family"),
                ("result", "ok")
            ]
        ),
        None
    );
}

#[counted(
    name = "reports_built_total",
    labels(format = "pdf", draft = false, copies = 2, grade = 'A')
)]
#[timed(name = "report_build_seconds", labels(format = "pdf"))]
fn build_report() -> Vec<u8> {
    b"%PDF".to_vec()
}

#[test]
fn static_labels_exist_at_zero_then_count() {
    common::metrics();
    let labels = [
        ("format", "pdf"),
        ("draft", "false"),
        ("copies", "2"),
        ("grade", "A"),
    ];
    let before = scrape();
    let before_count = before.count("reports_built_total", &labels);
    assert_eq!(
        before.help.get("reports_built_total").map(String::as_str),
        Some("Calls counted by #[counted].")
    );
    assert_eq!(
        before.help.get("report_build_seconds").map(String::as_str),
        Some("Durations in seconds, recorded by #[timed].")
    );
    assert_eq!(before_count, 0);
    assert_eq!(
        before.histogram("report_build_seconds", &[("format", "pdf")]),
        (0, 0.0)
    );

    assert_eq!(build_report(), b"%PDF");
    build_report();
    let after = scrape();
    assert_eq!(after.count("reports_built_total", &labels), 2);
    assert_eq!(
        after
            .histogram("report_build_seconds", &[("format", "pdf")])
            .0,
        2
    );
}

#[counted(name = "plain_calls_total")]
fn plain() -> Result<(), String> {
    Err("every call counts".to_owned())
}

#[test]
fn custom_counter_without_labels_counts_every_call() {
    common::metrics();
    assert!(plain().is_err());
    assert!(plain().is_err());
    assert_eq!(scrape().count("plain_calls_total", &[]), 2);
}

#[derive(Clone, Copy, Debug)]
enum Method {
    Get,
    Delete,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Delete => "DELETE",
        })
    }
}

struct Table {
    name: String,
    rows: Vec<u32>,
}

impl Table {
    #[counted(
        name = "table_ops_total",
        labels(table = self.name, op = op, status = status_code(self.rows.len()), r#type = "sql")
    )]
    fn apply(&mut self, op: Method) -> usize {
        match op {
            Method::Get => {}
            Method::Delete => self.rows.clear(),
        }
        self.rows.len()
    }
}

fn status_code(rows: usize) -> u16 {
    if rows == 0 {
        404
    } else {
        200
    }
}

#[test]
fn label_values_are_expressions_evaluated_before_the_body() {
    common::metrics();
    let mut users = Table {
        name: "users".to_owned(),
        rows: vec![1, 2],
    };
    assert_eq!(users.apply(Method::Get), 2);
    // Labelled with the row count before the body cleared it.
    assert_eq!(users.apply(Method::Delete), 0);
    assert_eq!(users.apply(Method::Get), 0);
    let page = scrape();
    let ops = |op, status| {
        page.count(
            "table_ops_total",
            &[
                ("table", "users"),
                ("op", op),
                ("status", status),
                ("type", "sql"),
            ],
        )
    };
    assert_eq!(ops("GET", "200"), 1);
    assert_eq!(ops("DELETE", "200"), 1);
    assert_eq!(ops("GET", "404"), 1);
    assert_eq!(page.series("table_ops_total").len(), 3);
}

#[counted(name = "greetings_total", labels(name = name))]
fn greet(name: String) -> usize {
    let moved = name;
    moved.len()
}

#[test]
fn label_from_an_argument_the_body_moves() {
    common::metrics();
    assert_eq!(greet("ada".to_owned()), 3);
    assert_eq!(greet("ada".to_owned()), 3);
    assert_eq!(greet("say \"hi\"\nbye".to_owned()), 12);
    assert_eq!(greet(r"C:\dir".to_owned()), 6);
    let page = scrape();
    assert_eq!(page.count("greetings_total", &[("name", "ada")]), 2);
    // Quotes, newlines and a lone backslash survive the exposition's escaping.
    assert_eq!(
        page.count("greetings_total", &[("name", "say \"hi\"\nbye")]),
        1
    );
    assert_eq!(page.count("greetings_total", &[("name", r"C:\dir")]), 1);
}

#[counted(name = "paths_total", labels(path = path))]
fn visit(path: &str) -> usize {
    path.len()
}

#[test]
fn backslashes_in_label_values_are_escaped_not_rewritten() {
    common::metrics();
    let values = [r"a\\b", r#"a\"b"#, "a\\\nb", r"end\\"];
    for value in values {
        visit(value);
    }
    let page = scrape();
    for value in values {
        assert_eq!(
            page.value("paths_total", &[("path", value)]),
            Some(1.0),
            "label value {value:?}:\n{}",
            page.text
        );
    }
}

#[counted(
    name = "shared_family_total",
    help = "One family, two functions",
    labels(caller = "first")
)]
fn first_user() {}

#[counted(
    name = "shared_family_total",
    help = "One family, two functions",
    labels(caller = "second")
)]
fn second_user() {}

#[test]
fn two_functions_share_one_family() {
    common::metrics();
    first_user();
    second_user();
    second_user();
    let page = scrape();
    assert_eq!(page.count("shared_family_total", &[("caller", "first")]), 1);
    assert_eq!(
        page.count("shared_family_total", &[("caller", "second")]),
        2
    );
    // Page::parse rejects a second HELP or TYPE line for one family.
    assert_eq!(
        page.help.get("shared_family_total").map(String::as_str),
        Some("One family, two functions")
    );
}

#[timed(name = "upload_seconds", labels(size = if bytes.len() > 1024 { "large" } else { "small" }))]
async fn upload(bytes: Vec<u8>) -> usize {
    tokio::task::yield_now().await;
    bytes.len()
}

#[tokio::test]
async fn async_fn_with_per_call_labels() {
    common::metrics();
    assert_eq!(upload(vec![0; 10]).await, 10);
    assert_eq!(upload(vec![0; 4096]).await, 4096);
    assert_eq!(upload(vec![0; 1]).await, 1);
    let page = scrape();
    assert_eq!(page.histogram("upload_seconds", &[("size", "small")]).0, 2);
    assert_eq!(page.histogram("upload_seconds", &[("size", "large")]).0, 1);
}
