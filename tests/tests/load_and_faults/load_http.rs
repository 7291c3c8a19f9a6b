//! HTTP under load: the example service under `wrk` for 30 s while
//! `/metrics/` is scraped in a loop loses no request from its counts.
//!
//! `wrk` counts a request when its whole response has arrived, so the
//! requests in flight when a run stops are served and counted by the
//! service but missing from `wrk`'s total. To compare the two exactly,
//! `wrk` goes through a [`Gate`] that lets no new request through during
//! the last second of the run: the run then ends with nothing in flight,
//! and the service's counts, the gate's count of requests passed on and
//! `wrk`'s completed count must be one number. The service sees the full
//! load for 29 s.
//!
//! About 35 s (30 s of load on two cores shared by `wrk`, the gate, the
//! service and the scraper).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::count;
use e2e::{http, Gate, Service, Wrk};

/// The 30 s of load.
const RUN: Duration = Duration::from_secs(30);
/// The gate closes this long before `wrk` stops.
const QUIET_END: Duration = Duration::from_secs(1);
const CONNECTIONS: u32 = 16;

const REQUESTS: &str = "django_http_requests_total";
const RESPONSES: &str = "django_http_responses_total_by_status";
const LATENCY_COUNT: &str = "django_http_requests_latency_seconds_count";
const VIEW: &str = "/api/{endpoint}";

/// The statuses of every response series of `view`: (status, count).
fn statuses(page: &str, view: &str) -> Vec<(String, u64)> {
    let needle = format!("view=\"{view}\"");
    page.lines()
        .filter(|line| line.starts_with(&format!("{RESPONSES}{{")) && line.contains(&needle))
        .map(|line| {
            let status = line
                .split("status=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("a status label");
            let (_, value) = line.rsplit_once(' ').expect("a value");
            (status.to_owned(), value.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn thirty_seconds_of_wrk_with_concurrent_scrapes_lose_no_request() {
    let service = Service::start(&[("SLOW_MS", "0")]);
    let gate = Gate::start(service.addr);
    let first = service.scrape();
    assert_eq!(
        count(&first, REQUESTS, &[("method", "GET"), ("view", VIEW)]),
        0
    );

    // Scrape as Prometheus would, only much more often, during the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (stop, addr) = (Arc::clone(&stop), service.addr);
        std::thread::spawn(move || {
            let (mut scrapes, mut last) = (0u64, 0u64);
            while !stop.load(Ordering::SeqCst) {
                let (status, page) = http(addr, "GET", "/metrics/", None);
                assert_eq!(status, 200, "a scrape under load answered {status}");
                scrapes += 1;
                let now = count(&page, REQUESTS, &[("method", "GET"), ("view", VIEW)]);
                assert!(now >= last, "the request count went from {last} to {now}");
                last = now;
                std::thread::sleep(Duration::from_millis(10));
            }
            (scrapes, last)
        })
    };

    let started = Instant::now();
    let wrk = Wrk::start(&gate.url("/api/load"), 2, CONNECTIONS, RUN);
    std::thread::sleep(RUN - QUIET_END);
    gate.close();
    let report = wrk.finish();
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (scrapes, last_seen) = scraper.join().expect("the scraper");

    // Read after `wrk` exited and closed its connections.
    let page = service.scrape();
    let requests = count(&page, REQUESTS, &[("method", "GET"), ("view", VIEW)]);
    eprintln!(
        "{} requests completed in {took:?} ({}/s), {} passed on by the gate, {} held back at \
         the end, {requests} counted by the service; {scrapes} scrapes during the run (the \
         last saw {last_seen})",
        report.completed,
        report.completed / RUN.as_secs(),
        gate.forwarded(),
        gate.held(),
    );

    // wrk: no socket error, no timeout, no error status.
    assert_eq!(report.socket_errors(), 0, "{}", report.output);
    assert_eq!(report.error_statuses, 0, "{}", report.output);
    assert!(
        report.completed > 10_000,
        "hardly a load: {}",
        report.output
    );
    // Nothing in flight at the end: each connection had at most its next
    // request held back, and every request passed on was answered and read.
    assert!(gate.held() <= u64::from(CONNECTIONS), "{}", gate.held());
    assert_eq!(gate.forwarded(), report.completed);

    // The service counted every one of them, once, in every family.
    let view = [("method", "GET"), ("view", VIEW)];
    assert_eq!(requests, report.completed);
    assert_eq!(count(&page, LATENCY_COUNT, &view), report.completed);
    assert_eq!(
        statuses(&page, VIEW),
        [("200".to_owned(), report.completed)],
        "responses of {VIEW} by status"
    );
    let api = [("endpoint", "load"), ("method", "GET"), ("status", "200")];
    assert_eq!(count(&page, "api_requests_total", &api), report.completed);
    let api = [("endpoint", "load"), ("method", "GET")];
    assert_eq!(
        count(&page, "api_request_latency_seconds_count", &api),
        report.completed
    );
    // No error response anywhere on the page.
    let errors: Vec<&str> = page
        .lines()
        .filter(|line| line.starts_with(&format!("{RESPONSES}{{status=\"5")))
        .filter(|line| !line.ends_with(" 0"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // The scrapes themselves, counted exactly under load: the first, the
    // loop's and this last one (counted when it arrived, answered after
    // the page was rendered).
    assert!(scrapes >= 30, "only {scrapes} scrapes in {RUN:?}");
    let metrics = [("method", "GET"), ("view", "/metrics/")];
    assert_eq!(count(&page, REQUESTS, &metrics), scrapes + 2);
    let ok = [("status", "200"), ("method", "GET"), ("view", "/metrics/")];
    assert_eq!(count(&page, RESPONSES, &ok), scrapes + 1);
}
