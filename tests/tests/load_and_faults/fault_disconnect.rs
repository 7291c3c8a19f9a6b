//! Clients that disconnect mid-request, against the example service as a
//! process: each request is counted once, its time until the disconnect
//! is observed once, no response is counted for it, and nothing is left
//! running to record anything later (the handlers' futures are dropped:
//! `#[counted]` reports them `cancelled`, and the counts do not move after
//! the time the handlers would have taken).
//!
//! About 8 s (the slow route takes 3 s, waited out twice).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::count;
use e2e::{eventually, sample, Service};

const SLOW: Duration = Duration::from_millis(3000);
const CLIENTS: u64 = 20;

/// Everything recorded about `GET /slow`.
#[derive(Debug, PartialEq)]
struct Slow {
    requests: u64,
    latencies: u64,
    /// Observations of at most 2.5 s (the handler takes 3 s).
    latencies_under_2_5_s: u64,
    responses: u64,
    panics: u64,
    calls_ok: u64,
    calls_cancelled: u64,
    call_durations: u64,
}

fn slow(page: &str) -> Slow {
    let get = [("method", "GET"), ("view", "/slow")];
    let function = [("function", "slow"), ("module", "example_service::routes")];
    let calls = |result| [function[0], function[1], ("result", result)];
    let responses = page
        .lines()
        .filter(|line| line.starts_with("django_http_responses_total_by_status{"))
        .filter(|line| line.contains("view=\"/slow\""))
        .map(|line| {
            line.rsplit_once(' ')
                .expect("a value")
                .1
                .parse::<u64>()
                .expect("a count")
        })
        .sum();
    Slow {
        requests: count(page, "django_http_requests_total", &get),
        latencies: count(page, "django_http_requests_latency_seconds_count", &get),
        latencies_under_2_5_s: count(
            page,
            "django_http_requests_latency_seconds_bucket",
            &[get[0], get[1], ("le", "2.5")],
        ),
        responses,
        panics: count(
            page,
            "django_http_exceptions_total",
            &[("type", "panic"), ("view", "/slow")],
        ),
        calls_ok: count(page, "django_function_calls_total", &calls("ok")),
        calls_cancelled: count(page, "django_function_calls_total", &calls("cancelled")),
        call_durations: count(
            page,
            "django_function_calls_duration_seconds_count",
            &function,
        ),
    }
}

#[test]
fn clients_that_disconnect_mid_request_are_counted_once_and_leave_nothing_behind() {
    let service = Service::start(&[("SLOW_MS", &SLOW.as_millis().to_string())]);
    let started = Instant::now();
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut client = TcpStream::connect(service.addr).expect("connect");
            write!(
                client,
                "GET /slow HTTP/1.1\r\nHost: {}\r\n\r\n",
                service.addr
            )
            .expect("send the request");
            client
        })
        .collect();
    // Every request has arrived (and is counted) before anyone leaves.
    eventually(
        "every slow request to arrive",
        Duration::from_secs(10),
        || match slow(&service.scrape()).requests {
            CLIENTS => Ok(()),
            n => Err(format!("{n} of {CLIENTS} counted")),
        },
        String::new,
    );
    std::thread::sleep(Duration::from_millis(200));
    drop(clients);
    let left_after = started.elapsed();

    // The service notices each closed connection and drops its request.
    eventually(
        "the dropped requests' durations",
        Duration::from_secs(10),
        || match slow(&service.scrape()).latencies {
            CLIENTS => Ok(()),
            n => Err(format!("{n} of {CLIENTS} observed")),
        },
        String::new,
    );
    // Past the time the handlers would have taken, nothing more came in:
    // no handler ran on, nothing was recorded twice.
    std::thread::sleep((SLOW + Duration::from_millis(500)).saturating_sub(started.elapsed()));
    let page = service.scrape();
    let dropped = Slow {
        requests: CLIENTS,
        latencies: CLIENTS,
        latencies_under_2_5_s: CLIENTS,
        responses: 0,
        panics: 0,
        calls_ok: 0,
        calls_cancelled: CLIENTS,
        call_durations: CLIENTS,
    };
    assert_eq!(slow(&page), dropped, "after {:?}", started.elapsed());
    let get = [("method", "GET"), ("view", "/slow")];
    let sum = sample(&page, "django_http_requests_latency_seconds_sum", &get).expect("a sum");
    eprintln!(
        "{CLIENTS} clients left {left_after:?} after sending; the service observed {sum:.3} s \
         in all ({:.3} s each on average)",
        sum / CLIENTS as f64
    );
    assert!(
        sum <= CLIENTS as f64 * left_after.as_secs_f64() + 0.1,
        "observed past the disconnects: {sum} s"
    );

    // A client that leaves in the middle of sending its body: counted
    // once, observed once, answered (the body could not be read: 400)
    // into a closed connection.
    let mut client = TcpStream::connect(service.addr).expect("connect");
    write!(
        client,
        "POST /users HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"name\":",
        service.addr
    )
    .expect("send half a request");
    let post = [("method", "POST"), ("view", "/users")];
    eventually(
        "the half-sent request to arrive",
        Duration::from_secs(10),
        || match count(&service.scrape(), "django_http_requests_total", &post) {
            1 => Ok(()),
            n => Err(format!("{n} counted")),
        },
        String::new,
    );
    drop(client);
    eventually(
        "the half-sent request's duration",
        Duration::from_secs(10),
        || match count(
            &service.scrape(),
            "django_http_requests_latency_seconds_count",
            &post,
        ) {
            1 => Ok(()),
            n => Err(format!("{n} observed")),
        },
        String::new,
    );
    std::thread::sleep(Duration::from_millis(300));
    let page = service.scrape();
    let responses: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("django_http_responses_total_by_status{"))
        .filter(|l| l.contains("view=\"/users\""))
        .collect();
    assert_eq!(count(&page, "django_http_requests_total", &post), 1);
    assert_eq!(
        count(&page, "django_http_requests_latency_seconds_count", &post),
        1
    );
    assert_eq!(
        responses,
        [r#"django_http_responses_total_by_status{status="400",method="POST",view="/users"} 1"#]
    );
    // The handler never ran: its body was never read whole.
    for result in ["ok", "error", "panic", "cancelled"] {
        let create = [
            ("function", "create_user"),
            ("module", "example_service::routes"),
            ("result", result),
        ];
        assert_eq!(count(&page, "django_function_calls_total", &create), 0);
    }

    // And the service serves the slow route as before, counted from there.
    let mut client = TcpStream::connect(service.addr).expect("connect");
    client
        .set_read_timeout(Some(SLOW * 3))
        .expect("read timeout");
    write!(
        client,
        "GET /slow HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        service.addr
    )
    .expect("send");
    let mut response = String::new();
    client.read_to_string(&mut response).expect("the response");
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert_eq!(
        slow(&service.scrape()),
        Slow {
            requests: CLIENTS + 1,
            latencies: CLIENTS + 1,
            latencies_under_2_5_s: CLIENTS,
            responses: 1,
            calls_ok: 1,
            call_durations: CLIENTS + 1,
            ..dropped
        }
    );
}
