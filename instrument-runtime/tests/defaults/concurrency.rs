//! Counters count exactly under concurrency: no increment is lost, whether
//! the call site's handles are resolved once (the built-in families) or
//! per call (custom families with labels from the arguments).

use crate::common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::scrape;
use instrument_runtime::{cache_lookup, counted, model_op, timed};

const THREADS: usize = 8;
const CALLS_PER_THREAD: usize = 100_000;

/// Run `body(thread index)` on `THREADS` threads released together.
fn on_threads(body: impl Fn(usize) + Send + Sync + 'static) {
    let body = Arc::new(body);
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (body, barrier) = (Arc::clone(&body), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                body(t);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("worker thread");
    }
}

#[counted]
#[timed]
fn even_or_error(n: usize) -> Result<usize, usize> {
    if n % 2 == 0 {
        Ok(n)
    } else {
        Err(n)
    }
}

#[test]
fn eight_threads_times_100_000_calls_count_exactly() {
    common::metrics();
    on_threads(|_| {
        let mut ok = 0;
        for n in 0..CALLS_PER_THREAD {
            if even_or_error(n).is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, CALLS_PER_THREAD / 2);
    });
    let page = scrape();
    let labels = |result| {
        [
            ("function", "even_or_error"),
            ("module", "defaults::concurrency"),
            ("result", result),
        ]
    };
    let half = (THREADS * CALLS_PER_THREAD / 2) as u64;
    assert_eq!(page.count("function_calls_total", &labels("ok")), half);
    assert_eq!(page.count("function_calls_total", &labels("error")), half);
    assert_eq!(page.count("function_calls_total", &labels("panic")), 0);
    let timed = [
        ("function", "even_or_error"),
        ("module", "defaults::concurrency"),
    ];
    let (count, _) = page.histogram("function_calls_duration_seconds", &timed);
    assert_eq!(count, (THREADS * CALLS_PER_THREAD) as u64);
    assert_eq!(
        page.bucket("function_calls_duration_seconds", &timed, f64::INFINITY),
        count
    );
}

#[counted(name = "jobs_processed_total", labels(queue = queue, kind = "batch"))]
fn process(queue: &str) -> usize {
    queue.len()
}

#[test]
fn per_call_labels_count_exactly_under_concurrency() {
    common::metrics();
    const PER_THREAD: usize = 10_000;
    on_threads(|t| {
        let queue = if t % 2 == 0 { "even" } else { "odd" };
        for _ in 0..PER_THREAD {
            process(queue);
        }
    });
    let page = scrape();
    let expected = (THREADS / 2 * PER_THREAD) as u64;
    for queue in ["even", "odd"] {
        assert_eq!(
            page.count(
                "jobs_processed_total",
                &[("queue", queue), ("kind", "batch")]
            ),
            expected
        );
    }
    assert_eq!(page.series("jobs_processed_total").len(), 2);
}

#[model_op(model = "ticket", op = insert, alias = "concurrency")]
fn insert_ticket(n: usize) -> Result<usize, String> {
    if n % 4 == 0 {
        Err("constraint".to_owned())
    } else {
        Ok(n)
    }
}

#[cache_lookup(backend = "concurrency")]
fn cached(n: usize) -> Option<usize> {
    (n % 3 == 0).then_some(n)
}

#[test]
fn model_and_cache_counters_count_exactly_under_concurrency() {
    common::metrics();
    const PER_THREAD: usize = 30_000;
    on_threads(|_| {
        for n in 0..PER_THREAD {
            let _ = insert_ticket(n);
            cached(n);
        }
    });
    let page = scrape();
    let total = (THREADS * PER_THREAD) as u64;
    let errors = (THREADS * PER_THREAD.div_ceil(4)) as u64;
    let db = [("alias", "concurrency"), ("vendor", "unknown")];
    assert_eq!(page.count("db_execute_total", &db), total);
    assert_eq!(page.histogram("db_execute_latency_seconds", &db).0, total);
    assert_eq!(
        page.count(
            "db_errors_total",
            &[
                ("alias", "concurrency"),
                ("vendor", "unknown"),
                ("type", "alloc::string::String")
            ]
        ),
        errors
    );
    assert_eq!(
        page.count("model_inserts_total", &[("model", "ticket")]),
        total - errors
    );
    let hits = (THREADS * PER_THREAD.div_ceil(3)) as u64;
    assert_eq!(
        page.count("cache_hits_total", &[("backend", "concurrency")]),
        hits
    );
    assert_eq!(
        page.count("cache_misses_total", &[("backend", "concurrency")]),
        total - hits
    );
}

#[counted]
async fn async_tick(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_calls_on_a_multi_thread_runtime_count_exactly() {
    common::metrics();
    const TASKS: u64 = 8;
    const PER_TASK: u64 = 5_000;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(async {
                let mut sum = 0;
                for n in 0..PER_TASK {
                    sum += async_tick(n).await;
                }
                sum
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), (0..PER_TASK).sum::<u64>());
    }
    assert_eq!(
        scrape().count(
            "function_calls_total",
            &[
                ("function", "async_tick"),
                ("module", "defaults::concurrency"),
                ("result", "ok")
            ]
        ),
        TASKS * PER_TASK
    );
}
