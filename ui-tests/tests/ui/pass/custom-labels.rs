#![deny(warnings)]

// Families named by the user, with static labels and labels computed from
// the arguments (including `self.field`) before the body runs.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{counted, timed};

/// The seed's example: `api_requests_total{endpoint, method, status}`.
#[counted(
    name = "api_requests_total",
    help = "API requests by endpoint, method and status.",
    labels(endpoint = endpoint, method = method, status = 200)
)]
fn handle(endpoint: &str, method: &str) -> u16 {
    200
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Read => "read",
            Kind::Write => "write",
        })
    }
}

#[timed(
    name = "storage_op_duration_seconds",
    help = "Storage operations.",
    labels(kind = kind, big = size > 1024, shard = size % 4, tier = 'a', cached = false)
)]
fn storage(kind: Kind, size: usize) -> usize {
    size
}

// Keyword label names, a label computed from an argument that the body
// then moves, and every literal kind.
#[counted(name = "moves_total", labels(type = name.len(), r#ref = "r", static_flag = true, grade = 'b'))]
fn consume(name: String) -> String {
    name
}

struct Service {
    name: String,
    region: &'static str,
    calls: u32,
}

impl Service {
    #[timed(name = "service_call_duration_seconds", labels(service = self.name, region = self.region))]
    #[counted(name = "service_calls_total", labels(service = self.name, method = method.to_uppercase()))]
    fn call(&mut self, method: &str) -> u32 {
        self.calls += 1;
        self.calls
    }

    #[counted(name = "service_shutdowns_total", labels(service = self.name))]
    fn shutdown(self) -> String {
        self.name
    }

    #[counted(name = "service_async_calls_total", labels(service = self.name, id = id))]
    async fn call_async(&self, id: u32) -> u32 {
        id
    }

    #[timed(name = "service_future_duration_seconds", labels(service = self.name, id = id))]
    fn call_later(&self, id: u32) -> impl Future<Output = u32> + '_ {
        async move { id + self.calls }
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(handle("/users", "GET"), 200);
    assert_eq!(handle("/users", "GET"), 200);
    assert_eq!(handle("/orders", "POST"), 200);
    assert_eq!(storage(Kind::Read, 2048), 2048);
    assert_eq!(storage(Kind::Write, 5), 5);
    assert_eq!(consume("ann".to_owned()), "ann");
    let mut service = Service {
        name: "billing".to_owned(),
        region: "eu",
        calls: 0,
    };
    assert_eq!(service.call("get"), 1);
    assert_eq!(service.call("get"), 2);
    assert_eq!(block_on(service.call_async(9)), 9);
    assert_eq!(block_on(service.call_later(8)), 10);
    assert_eq!(service.shutdown(), "billing");

    let page = metrics.render();
    assert!(
        page.contains("# HELP api_requests_total API requests by endpoint, method and status."),
        "{page}"
    );
    assert!(
        page.contains("# TYPE storage_op_duration_seconds histogram"),
        "{page}"
    );
    let expected = [
        (
            r#"api_requests_total{endpoint="/users",method="GET",status="200"}"#,
            2,
        ),
        (
            r#"api_requests_total{endpoint="/orders",method="POST",status="200"}"#,
            1,
        ),
        (
            r#"storage_op_duration_seconds_count{kind="read",big="true",shard="0",tier="a",cached="false"}"#,
            1,
        ),
        (
            r#"storage_op_duration_seconds_count{kind="write",big="false",shard="1",tier="a",cached="false"}"#,
            1,
        ),
        (
            r#"moves_total{type="3",ref="r",static_flag="true",grade="b"}"#,
            1,
        ),
        (r#"service_calls_total{service="billing",method="GET"}"#, 2),
        (
            r#"service_call_duration_seconds_count{service="billing",region="eu"}"#,
            2,
        ),
        (r#"service_shutdowns_total{service="billing"}"#, 1),
        (r#"service_async_calls_total{service="billing",id="9"}"#, 1),
        (
            r#"service_future_duration_seconds_count{service="billing",id="8"}"#,
            1,
        ),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, series), value, "{series}");
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The value of `series` on the exposition page.
fn sample(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{page}"))
        .parse()
        .unwrap()
}
