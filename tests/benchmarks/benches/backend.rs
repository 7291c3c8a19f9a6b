//! Per-call cost of the macros when they record into metrics-exporter-prometheus
//! (`Builder::install_prometheus`) instead of this crate's store: against a
//! cached handle of that recorder (the floor) and a hand-written `counter!`
//! into it, in one run with that one recorder installed.
//!
//! `cargo bench -p benchmarks --bench backend` prints criterion's figures,
//! then the medians and the ratios from the same run, with the targets in
//! brackets. (One recorder per process: the store's figures come from the
//! `overhead` bench.)

use std::future::Future;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use instrument_runtime::{counted, timed};
use metrics::{Counter, Histogram};

#[inline(never)]
fn bare() {
    black_box(());
}

#[counted]
#[inline(never)]
fn counted_fn() {
    black_box(());
}

#[timed]
#[inline(never)]
fn timed_fn() {
    black_box(());
}

/// What a user writes by hand: one label (the macros record two or three).
#[inline(never)]
fn hand_counter() {
    black_box(());
    metrics::counter!("hand_calls_total", "function" => "hand_counter").increment(1);
}

#[inline(never)]
async fn bare_async() {
    black_box(());
}

#[counted]
#[inline(never)]
async fn counted_async() {
    black_box(());
}

#[inline(never)]
async fn hand_counter_async() {
    black_box(());
    metrics::counter!("hand_calls_total", "function" => "hand_counter_async").increment(1);
}

/// Poll `future` to completion on this thread, without a runtime (the
/// futures here never wait).
#[inline(always)]
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Handles of the exporter's recorder, resolved once: what the call sites
/// hold, used directly.
struct Floors {
    counter: Counter,
    histogram: Histogram,
}

impl Floors {
    fn new() -> Self {
        Floors {
            counter: metrics::counter!("floor_calls_total", "function" => "floor", "module" => "backend", "result" => "ok"),
            histogram: metrics::histogram!("floor_duration_seconds", "function" => "floor", "module" => "backend"),
        }
    }

    #[inline(always)]
    fn counted(&self) {
        bare();
        self.counter.increment(1);
    }

    #[inline(always)]
    fn timed(&self) {
        let start = quanta::Instant::now();
        bare();
        self.histogram.record(start.elapsed().as_secs_f64());
    }

    #[inline(always)]
    async fn counted_async(&self) {
        bare_async().await;
        self.counter.increment(1);
    }
}

fn benches(c: &mut Criterion, floors: &Floors) {
    let mut group = c.benchmark_group("backend_sync");
    group.bench_function("counted", |b| b.iter(counted_fn));
    group.bench_function("counted_floor", |b| b.iter(|| floors.counted()));
    group.bench_function("timed", |b| b.iter(timed_fn));
    group.bench_function("timed_floor", |b| b.iter(|| floors.timed()));
    group.bench_function("hand_counter", |b| b.iter(hand_counter));
    group.finish();
    let mut group = c.benchmark_group("backend_async");
    group.bench_function("counted", |b| b.iter(|| run(counted_async())));
    group.bench_function("counted_floor", |b| b.iter(|| run(floors.counted_async())));
    group.bench_function("hand_counter", |b| b.iter(|| run(hand_counter_async())));
    group.finish();
}

/// The median of one benchmark, in nanoseconds, from criterion's
/// `estimates.json`.
fn median(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn report(dir: &Path) {
    let rows: [(&str, &str, &str, &str); 5] = [
        ("backend_sync", "counted", "counted_floor", "<= 1.2"),
        ("backend_sync", "timed", "timed_floor", "-"),
        ("backend_sync", "hand_counter", "counted", ">= 5"),
        ("backend_async", "counted", "counted_floor", "<= 1.2"),
        ("backend_async", "hand_counter", "counted", ">= 5"),
    ];
    println!("\n## metrics-exporter-prometheus as the backend: per call, median ns\n");
    for group in ["backend_sync", "backend_async"] {
        for id in [
            "counted",
            "counted_floor",
            "timed",
            "timed_floor",
            "hand_counter",
        ] {
            if let Some(ns) = median(dir, group, id) {
                println!("  {group}/{id:<16} {ns:>9.2}");
            }
        }
    }
    println!("\n## Ratios (targets in brackets)\n");
    for (group, a, b, target) in rows {
        let (Some(x), Some(y)) = (median(dir, group, a), median(dir, group, b)) else {
            println!("  {group}: {a} / {b}: missing (a filtered run?)");
            continue;
        };
        println!(
            "  {:<46} {:>7.2}x  [{target}]",
            format!("{group}: {a} / {b}"),
            x / y
        );
    }
}

fn main() {
    instrument_runtime::Builder::new()
        .install_prometheus(metrics_exporter_prometheus::PrometheusBuilder::new())
        .expect("the exporter installs once");
    let floors = Floors::new();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut criterion = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut criterion, &floors);
    criterion.final_summary();
    report(&dir);
}
