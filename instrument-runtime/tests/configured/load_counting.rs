//! Exact counting under load: two threads call an annotated function a
//! million times each while a third scrapes `/metrics/` over HTTP in a
//! loop. The final count is exactly 2,000,000, and every page scraped on
//! the way passes the strict text-format parser and never goes backwards.
//!
//! About 1 s in the debug test build on two cores (about 700 scrapes overlap
//! the calls).

use crate::common;

use crate::http_layer_support;
use crate::text_format;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use http_layer_support::{serve, Client};
use instrument_runtime::{counted, metrics_router, timed};
use text_format::Exposition;

const THREADS: u64 = 2;
const CALLS_PER_THREAD: u64 = 1_000_000;

#[counted]
#[timed]
fn tick(n: u64) -> u64 {
    n.wrapping_mul(31)
}

const CALLS: &str = "function_calls_total";
const DURATION: &str = "function_calls_duration_seconds";

/// What one scrape says of `tick`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Reading {
    ok: u64,
    error: u64,
    panic: u64,
    /// Cumulative bucket counts, `+Inf` last.
    buckets: Vec<u64>,
    count: u64,
}

fn read(page: &Exposition) -> Reading {
    let calls = |result| {
        let labels = [
            ("function", "tick"),
            ("module", "configured::load_counting"),
            ("result", result),
        ];
        page.value(CALLS, &labels)
            .unwrap_or_else(|| panic!("no {CALLS}{{result={result}}} for tick")) as u64
    };
    let timed = [
        ("function", "tick"),
        ("module", "configured::load_counting"),
    ];
    let mut buckets: Vec<(f64, u64)> = page
        .series(&format!("{DURATION}_bucket"))
        .into_iter()
        .filter(|(labels, _)| {
            labels.get("function").map(String::as_str) == Some("tick")
                && labels.get("module").map(String::as_str) == Some("configured::load_counting")
        })
        .map(|(labels, value)| {
            let le = text_format::parse_value(&labels["le"]).expect("le parses");
            (le, value as u64)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Reading {
        ok: calls("ok"),
        error: calls("error"),
        panic: calls("panic"),
        buckets: buckets.into_iter().map(|(_, count)| count).collect(),
        count: page
            .value(&format!("{DURATION}_count"), &timed)
            .expect("tick's duration count") as u64,
    }
}

/// Scrape `/metrics/` and parse it strictly.
fn scrape(client: &mut Client) -> Exposition {
    let reply = client.get("/metrics/");
    assert_eq!(reply.status, 200);
    let text = String::from_utf8(reply.body).expect("UTF-8 page");
    text_format::parse(&text).unwrap_or_else(|why| panic!("invalid page: {why}\n{text}"))
}

#[test]
fn two_threads_times_a_million_calls_count_exactly_while_scraped() {
    common::isolated(|| {
        instrument_runtime::install().expect("the only install of this binary");
        let addr = serve(metrics_router());
        let mut client = Client::connect(addr);
        let first = read(&scrape(&mut client));
        assert_eq!(first.ok, 0, "{first:?}");
        assert_eq!(first.count, 0, "{first:?}");

        let done = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(THREADS as usize + 1));
        let scraper = {
            let (done, start) = (Arc::clone(&done), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let mut readings = vec![first];
                while !done.load(Ordering::Acquire) {
                    let reading = read(&scrape(&mut client));
                    let previous = readings.last().expect("the first reading");
                    assert!(
                        reading.ok >= previous.ok
                            && reading.count >= previous.count
                            && reading
                                .buckets
                                .iter()
                                .zip(&previous.buckets)
                                .all(|(now, before)| now >= before),
                        "a scrape went backwards: {previous:?} then {reading:?}"
                    );
                    assert!(reading.ok <= THREADS * CALLS_PER_THREAD, "{reading:?}");
                    assert_eq!((reading.error, reading.panic), (0, 0), "{reading:?}");
                    readings.push(reading);
                }
                (readings, client)
            })
        };
        let started = Instant::now();
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    let mut sum = 0u64;
                    for n in 0..CALLS_PER_THREAD {
                        sum = sum.wrapping_add(tick(n + t));
                    }
                    sum
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker");
        }
        let calls_took = started.elapsed();
        done.store(true, Ordering::Release);
        let (readings, mut client) = scraper.join().expect("scraper");

        let last = read(&scrape(&mut client));
        let total = THREADS * CALLS_PER_THREAD;
        assert_eq!(last.ok, total, "{last:?}");
        assert_eq!(last.count, total, "{last:?}");
        assert_eq!(last.buckets.last().copied(), Some(total), "{last:?}");
        assert_eq!((last.error, last.panic), (0, 0), "{last:?}");

        // The scrapes did overlap the calls: some saw a count strictly between
        // the start and the end.
        let midway = readings.iter().filter(|r| r.ok > 0 && r.ok < total).count();
        eprintln!(
            "{total} calls in {calls_took:?}; {} scrapes during them, {midway} with a count \
         strictly between 0 and {total}",
            readings.len() - 1
        );
        assert!(midway >= 1, "no scrape overlapped the calls: {readings:?}");
    });
}
