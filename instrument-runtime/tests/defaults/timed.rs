//! `#[timed]` records a real histogram in seconds: `_bucket{le}` with
//! django-prometheus's buckets, `_sum` and `_count`, the sample in the
//! right bucket.

use crate::common;

use std::time::{Duration, Instant};

use common::scrape;
use instrument_runtime::{timed, DEFAULT_BUCKETS};

const DURATION: &str = "function_calls_duration_seconds";

fn labels(function: &str) -> [(&str, &str); 2] {
    [("function", function), ("module", "defaults::timed")]
}

#[timed]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn sample_lands_in_the_bucket_of_its_duration() {
    common::metrics();
    let started = Instant::now();
    assert_eq!(sleep_ms(30), 30);
    // The recorded duration lies between the sleep and this outer clock.
    let outer = started.elapsed().as_secs_f64();

    let page = scrape();
    let (count, sum) = page.histogram(DURATION, &labels("sleep_ms"));
    assert_eq!(count, 1);
    common::assert_between(sum, 0.030, outer);
    for (le, n) in page.buckets(DURATION, &labels("sleep_ms")) {
        if le < common::lower(0.030) {
            assert_eq!(n, 0, "bucket le={le} below the 30 ms sleep");
        } else if le >= common::upper(outer) {
            assert_eq!(n, 1, "bucket le={le} above the outer clock ({outer})");
        }
        // Consistent with the recorded value itself.
        assert_eq!(n, u64::from(sum <= le), "bucket le={le}, sum {sum}");
    }
    assert_eq!(page.bucket(DURATION, &labels("sleep_ms"), 0.025), 0);
    if common::upper(outer) <= 0.05 {
        assert_eq!(page.bucket(DURATION, &labels("sleep_ms"), 0.05), 1);
    }
}

#[timed]
fn noop(n: u32) -> u32 {
    n
}

#[test]
fn default_buckets_are_django_prometheus_buckets() {
    common::metrics();
    noop(1);
    let page = scrape();
    let bounds: Vec<f64> = page
        .buckets(DURATION, &labels("noop"))
        .into_iter()
        .map(|(le, _)| le)
        .collect();
    let mut expected = vec![
        0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0,
    ];
    assert_eq!(DEFAULT_BUCKETS, expected.as_slice());
    expected.push(f64::INFINITY);
    assert_eq!(bounds, expected);
    assert_eq!(
        page.types.get(DURATION).map(String::as_str),
        Some("histogram")
    );
    // A histogram, not a summary.
    assert!(page.series(DURATION).is_empty(), "no quantile series");
}

#[timed]
fn quick(n: u64) -> u64 {
    n.wrapping_mul(3)
}

#[test]
fn count_and_buckets_are_exact_over_many_calls() {
    common::metrics();
    let mut fast = 0;
    for n in 0..1000 {
        let started = Instant::now();
        quick(n);
        // 10 ms less the clocks' possible disagreement (see common::upper).
        if common::upper(started.elapsed().as_secs_f64()) <= 0.01 {
            fast += 1;
        }
    }
    let page = scrape();
    let (count, sum) = page.histogram(DURATION, &labels("quick"));
    assert_eq!(count, 1000);
    assert!(sum > 0.0 && sum < 1000.0 * 10.0, "sum {sum}");
    let buckets = page.buckets(DURATION, &labels("quick"));
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 1000)));
    // Each call measured well under 10 ms from outside took under 10 ms inside.
    let first = page.bucket(DURATION, &labels("quick"), 0.01);
    assert!(
        first >= fast,
        "le=0.01 has {first}, at least {fast} expected"
    );
    // Cumulative buckets never decrease.
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
}

#[timed]
fn sleepy_result(ms: u64, fail: bool) -> Result<u64, String> {
    std::thread::sleep(Duration::from_millis(ms));
    if fail {
        return Err("failed".to_owned());
    }
    Ok(ms)
}

#[test]
fn errors_and_early_returns_are_timed_and_summed() {
    common::metrics();
    let started = Instant::now();
    assert_eq!(sleepy_result(20, true), Err("failed".to_owned()));
    assert_eq!(sleepy_result(20, false), Ok(20));
    let outer = started.elapsed().as_secs_f64();
    let (count, sum) = scrape().histogram(DURATION, &labels("sleepy_result"));
    assert_eq!(count, 2);
    common::assert_between(sum, 0.040, outer);
}

#[timed]
fn never_called_timed() {}

#[test]
fn histogram_exists_at_zero_before_the_first_call() {
    common::metrics();
    let page = scrape();
    let labels = labels("never_called_timed");
    assert_eq!(page.histogram(DURATION, &labels), (0, 0.0));
    let buckets = page.buckets(DURATION, &labels);
    assert_eq!(buckets.len(), DEFAULT_BUCKETS.len() + 1);
    assert!(buckets.iter().all(|&(_, n)| n == 0), "{buckets:?}");
    assert_eq!(
        page.help.get(DURATION).map(String::as_str),
        Some("Duration of calls of functions annotated with #[timed], in seconds.")
    );
}

#[test]
fn renders_are_idempotent() {
    common::metrics();
    #[timed]
    fn twice() {}
    twice();
    twice();
    let first = scrape();
    let second = scrape();
    let labels = [("function", "twice"), ("module", "defaults::timed")];
    // Rendering does not reset or re-add samples.
    assert_eq!(first.histogram(DURATION, &labels).0, 2);
    assert_eq!(
        second.histogram(DURATION, &labels),
        first.histogram(DURATION, &labels)
    );
    assert_eq!(
        second.buckets(DURATION, &labels),
        first.buckets(DURATION, &labels)
    );
}
