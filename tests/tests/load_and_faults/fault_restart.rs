//! Restarts in the middle of a measurement, with real processes: the
//! example service scraped every second by a real Prometheus, known
//! traffic sent in phases, and Prometheus or the service killed (SIGKILL)
//! and started again on the same port in between. Afterwards
//! `increase()` over the whole window still matches the traffic.
//!
//! What "matches" means, exactly:
//! - The stored samples are exact: their increase, with counter resets
//!   added back as PromQL does it, equals the requests sent. That is an
//!   equality, and `resets()` counts exactly the restarts of the service.
//! - `increase()` extrapolates that exact increase from the first and last
//!   samples to the window's edges: it is the exact increase times
//!   `(sampled + to_start + to_end) / sampled`, each edge term at most
//!   1.1 average scrape intervals (and never past the counter's zero).
//!   So the traffic <= `increase()` <= the traffic x
//!   `(1 + 2.2 x interval / sampled)`: +22% for these windows of 11 or so
//!   samples, where `increase()` comes out 3-6% above the traffic (the
//!   test prints the figures). The test also recomputes Prometheus's own
//!   extrapolation (2.x's `extrapolatedRate`) from the stored samples and
//!   requires the same number, to 1e-9.
//!
//! A service restart loses, for Prometheus, the requests counted after its
//! last scrape; no scraper can see those. The test waits for that scrape
//! before the crash, and after the restart sends fewer requests than
//! before it, so that the first value Prometheus sees is below the last
//! one (a counter that comes back higher than it was is indistinguishable
//! from one that did not restart).
//!
//! About 27 s, both restarts at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::{prometheus_config, Prometheus, RawSeries, ScrapeJob, Service};

const SELECTOR: &str = r#"django_http_requests_total{job="django",method="GET",view="/users"}"#;
/// The same requests, as the handler's `#[counted]` sees them: a series
/// that exists at 0 from the service's start.
const CALLS: &str =
    r#"django_function_calls_total{job="django",function="list_users",result="ok"}"#;

/// Time for a couple of scrapes at 1 s.
const TWO_SCRAPES: Duration = Duration::from_millis(2500);

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock");
    since.as_millis() as i64
}

fn send(service: &Service, requests: u64) {
    for _ in 0..requests {
        let (status, body) = service.request("GET", "/users", None);
        assert_eq!(status, 200, "GET /users: {body}");
    }
}

/// `requests` in `bursts` a second apart, so that the scrapes in between
/// see the counter rise.
fn send_over_time(service: &Service, requests: u64, bursts: u64) {
    for burst in 0..bursts {
        if burst > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        send(service, requests / bursts);
    }
}

fn scraping(service: &Service) -> Prometheus {
    let config = prometheus_config(&[ScrapeJob::django(&[service.addr])], &[], None);
    let prometheus = Prometheus::start(&config, &[]);
    prometheus.wait_for_targets("django", 1);
    prometheus
}

/// PromQL's increase of stored samples before extrapolation: last minus
/// first, plus the value before each drop (a counter reset); and the
/// number of resets.
fn exact_increase(samples: &[(i64, f64)]) -> (f64, u32) {
    let mut resets = 0;
    let mut correction = 0.0;
    for pair in samples.windows(2) {
        if pair[1].1 < pair[0].1 {
            resets += 1;
            correction += pair[0].1;
        }
    }
    let first = samples.first().expect("samples").1;
    let last = samples.last().expect("samples").1;
    (last - first + correction, resets)
}

/// Prometheus 2.x's `extrapolatedRate` for `increase()` over
/// `[start_ms, end_ms]`.
fn extrapolated(samples: &[(i64, f64)], start_ms: i64, end_ms: i64) -> f64 {
    let (increase, _) = exact_increase(samples);
    let (first_t, first_v) = samples[0];
    let last_t = samples[samples.len() - 1].0;
    let mut to_start = (first_t - start_ms) as f64 / 1000.0;
    let to_end = (end_ms - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average = sampled / (samples.len() - 1) as f64;
    if increase > 0.0 && first_v >= 0.0 {
        to_start = to_start.min(sampled * (first_v / increase));
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average / 2.0
    };
    increase * (interval / sampled)
}

/// Check `increase()` of `selector` over `[start_ms, end_ms]` against the
/// `traffic` sent and the `resets` expected; returns a line to print.
#[track_caller]
fn check_window(
    prometheus: &Prometheus,
    selector: &str,
    start_ms: i64,
    end_ms: i64,
    traffic: u64,
    resets: u32,
) -> String {
    let at = end_ms as f64 / 1000.0;
    let range = format!("{selector}[{}ms]", end_ms - start_ms);
    let series = prometheus
        .raw_samples(&range, at)
        .unwrap_or_else(|e| panic!("{e}\n{}", prometheus.context()));
    let [RawSeries { samples, .. }] = series.as_slice() else {
        panic!("`{range}` is not one series: {series:?}");
    };
    let (exact, found_resets) = exact_increase(samples);
    let traffic = traffic as f64;
    assert_eq!(
        (exact, found_resets),
        (traffic, resets),
        "the stored samples of `{range}`: {samples:?}"
    );
    let query = |promql: &str| -> f64 {
        match prometheus.query_at(promql, at).as_deref() {
            Ok([one]) => one.value,
            other => panic!("`{promql}` gave {other:?}"),
        }
    };
    assert_eq!(query(&format!("resets({range})")), f64::from(resets));
    let increase = query(&format!("increase({range})"));
    let expected = extrapolated(samples, start_ms, end_ms);
    assert!(
        (increase - expected).abs() <= expected * 1e-9,
        "increase({range}) = {increase}, the stored samples extrapolate to {expected}: \
         {samples:?}"
    );
    let sampled = (samples[samples.len() - 1].0 - samples[0].0) as f64 / 1000.0;
    let interval = sampled / (samples.len() - 1) as f64;
    let bound = traffic * (1.0 + 2.2 * interval / sampled);
    assert!(
        traffic <= increase && increase <= bound,
        "increase({range}) = {increase}, outside [{traffic}, {bound}]"
    );
    let gap = samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or(0);
    format!(
        "{selector}: {} samples over {sampled:.1} s (longest gap {:.1} s), exact increase \
         {exact}, resets {found_resets}, increase() {increase:.3} (+{:.2}%, bound +{:.2}%)",
        samples.len(),
        gap as f64 / 1000.0,
        (increase / traffic - 1.0) * 100.0,
        (bound / traffic - 1.0) * 100.0,
    )
}

/// The longest gap between stored samples of `selector` in the window.
fn longest_gap(prometheus: &Prometheus, selector: &str, start_ms: i64, end_ms: i64) -> Duration {
    let range = format!("{selector}[{}ms]", end_ms - start_ms);
    let series = prometheus
        .raw_samples(&range, end_ms as f64 / 1000.0)
        .expect("the samples");
    let gap = series[0].samples.windows(2).map(|w| w[1].0 - w[0].0).max();
    Duration::from_millis(gap.unwrap_or(0) as u64)
}

/// Both restarts, each with a service and a Prometheus of its own, at the
/// same time: they mostly wait for scrapes, and the test harness runs only
/// as many tests at once as there are cores.
#[test]
fn after_a_restart_of_prometheus_or_of_the_service_increase_matches_the_traffic() {
    std::thread::scope(|scope| {
        scope.spawn(prometheus_restarted_mid_test);
        scope.spawn(service_restarted_mid_test);
    });
}

fn prometheus_restarted_mid_test() {
    let service = Service::start(&[("SLOW_MS", "0")]);
    let mut prometheus = scraping(&service);
    // The HTTP series starts with its first request: one before the window.
    send(&service, 1);
    prometheus.wait_for_value(SELECTOR, 1.0);
    let start = now_ms();
    std::thread::sleep(TWO_SCRAPES);

    send_over_time(&service, 100, 4);
    prometheus.wait_for_value(SELECTOR, 101.0);
    prometheus.kill();
    let down = std::time::Instant::now();
    // Served and counted while nobody scrapes.
    send(&service, 150);
    std::thread::sleep(Duration::from_secs(3));
    prometheus.restart();
    let downtime = down.elapsed();
    prometheus.wait_for_value(SELECTOR, 251.0);
    send_over_time(&service, 50, 2);
    prometheus.wait_for_value(SELECTOR, 301.0);
    std::thread::sleep(TWO_SCRAPES);
    let end = now_ms();

    let traffic = 300;
    eprintln!(
        "Prometheus down for {downtime:?}\n{}\n{}",
        check_window(&prometheus, SELECTOR, start, end, traffic, 0),
        check_window(&prometheus, CALLS, start, end, traffic, 0),
    );
    // The restart did fall inside the window: its samples have a hole.
    assert!(longest_gap(&prometheus, SELECTOR, start, end) >= Duration::from_secs(3));
    // Without resets, the exact figure is also one PromQL query away.
    let range = format!("[{}ms]", end - start);
    let exact = format!("max_over_time({SELECTOR}{range}) - min_over_time({SELECTOR}{range})");
    match prometheus.query_at(&exact, end as f64 / 1000.0).as_deref() {
        Ok([one]) => assert_eq!(one.value, traffic as f64, "`{exact}`"),
        other => panic!("`{exact}` gave {other:?}"),
    }
}

fn service_restarted_mid_test() {
    let mut service = Service::start(&[("SLOW_MS", "0")]);
    let prometheus = scraping(&service);
    send(&service, 1);
    prometheus.wait_for_value(SELECTOR, 1.0);
    let start = now_ms();
    std::thread::sleep(TWO_SCRAPES);

    send_over_time(&service, 100, 4);
    // Prometheus has the last value before the crash.
    prometheus.wait_for_value(SELECTOR, 101.0);
    service.kill();
    let down = std::time::Instant::now();
    // Down long enough for Prometheus to fail a scrape (and mark the
    // series stale), as after a real crash.
    prometheus.wait_for_value(r#"up{job="django"}"#, 0.0);
    service.restart();
    let downtime = down.elapsed();
    // Fewer than before the crash: the first value seen after it is lower.
    send_over_time(&service, 60, 3);
    prometheus.wait_for_value(SELECTOR, 60.0);
    std::thread::sleep(TWO_SCRAPES);
    let end = now_ms();

    let traffic = 160;
    eprintln!(
        "the service down for {downtime:?}\n{}\n{}",
        check_window(&prometheus, SELECTOR, start, end, traffic, 1),
        check_window(&prometheus, CALLS, start, end, traffic, 1),
    );
    let range = format!("[{}ms]", end - start);
    let up = format!(r#"min_over_time(up{{job="django"}}{range})"#);
    match prometheus.query_at(&up, end as f64 / 1000.0).as_deref() {
        Ok([one]) => assert_eq!(one.value, 0.0, "`{up}`: no failed scrape in the window"),
        other => panic!("`{up}` gave {other:?}"),
    }
}
