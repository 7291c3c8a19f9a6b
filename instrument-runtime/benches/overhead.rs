//! Per-call cost of the macros against hand-written `metrics` calls and the
//! floors they are built on, measured side by side in one run with the same
//! recorder installed.
//!
//! `cargo bench -p instrument-runtime --bench overhead` prints criterion's
//! figures, then a table of ratios computed from the same run.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::Criterion;
use instrument_runtime::{counted, timed};

#[inline(never)]
fn bare() {
    black_box(());
}

#[counted]
#[inline(never)]
fn with_counted() {
    black_box(());
}

#[timed]
#[inline(never)]
fn with_timed() {
    black_box(());
}

#[inline(never)]
fn hand_counter() {
    black_box(());
    metrics::counter!("hand_calls_total", "function" => "hand_counter").increment(1);
}

#[inline(never)]
fn hand_histogram() {
    let start = std::time::Instant::now();
    black_box(());
    metrics::histogram!("hand_duration_seconds", "function" => "hand_histogram")
        .record(start.elapsed());
}

const GROUP: &str = "per_call";

fn per_call(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    group.bench_function("bare", |b| b.iter(bare));
    group.bench_function("atomic_fetch_add", |b| {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        b.iter(|| CALLS.fetch_add(1, Ordering::Relaxed))
    });
    let counter = metrics::counter!("floor_calls_total", "function" => "floor");
    group.bench_function("cached_counter_floor", |b| {
        b.iter(|| {
            bare();
            counter.increment(1)
        })
    });
    group.bench_function("counted", |b| b.iter(with_counted));
    group.bench_function("hand_counter", |b| b.iter(hand_counter));
    let histogram = metrics::histogram!("floor_duration_seconds", "function" => "floor");
    group.bench_function("cached_histogram_floor", |b| {
        b.iter(|| {
            let start = quanta::Instant::now();
            bare();
            histogram.record(start.elapsed().as_secs_f64())
        })
    });
    group.bench_function("cached_histogram_record_only", |b| {
        b.iter(|| histogram.record(black_box(0.003)))
    });
    group.bench_function("two_clock_reads_quanta", |b| {
        b.iter(|| quanta::Instant::now().elapsed())
    });
    group.bench_function("two_clock_reads_std", |b| {
        b.iter(|| std::time::Instant::now().elapsed())
    });
    group.bench_function("timed", |b| b.iter(with_timed));
    group.bench_function("hand_histogram", |b| b.iter(hand_histogram));
    group.finish();
}

/// The median of one benchmark, in nanoseconds, from criterion's estimates.
fn median(dir: &Path, id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(GROUP).join(id).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn report(dir: &Path) {
    let ids = [
        "bare",
        "atomic_fetch_add",
        "cached_counter_floor",
        "counted",
        "hand_counter",
        "cached_histogram_floor",
        "timed",
        "hand_histogram",
        "cached_histogram_record_only",
        "two_clock_reads_quanta",
        "two_clock_reads_std",
    ];
    let Some(medians) = ids
        .iter()
        .map(|id| median(dir, id))
        .collect::<Option<Vec<_>>>()
    else {
        eprintln!(
            "no estimates under {} (filtered run?): ratios skipped",
            dir.display()
        );
        return;
    };
    let ns = |id: &str| medians[ids.iter().position(|i| *i == id).expect("known id")];
    println!("\nmedian per call (ns)");
    for (id, value) in ids.iter().zip(&medians) {
        println!("  {id:<24} {value:>8.2}");
    }
    println!("\nratios (targets in brackets)");
    let ratio = |what: &str, a: &str, b: &str, target: &str| {
        println!("  {what:<44} {:>7.2}x  [{target}]", ns(a) / ns(b));
    };
    ratio(
        "#[counted] / cached Counter floor",
        "counted",
        "cached_counter_floor",
        "<= 1.2",
    );
    ratio(
        "counter!(..).increment(1) / #[counted]",
        "hand_counter",
        "counted",
        ">= 5",
    );
    ratio(
        "#[timed] / cached Histogram floor",
        "timed",
        "cached_histogram_floor",
        "<= 1.3",
    );
    ratio(
        "histogram!(..).record(elapsed) / #[timed]",
        "hand_histogram",
        "timed",
        ">= 2",
    );
    ratio(
        "#[counted] / AtomicU64::fetch_add",
        "counted",
        "atomic_fetch_add",
        "-",
    );
}

fn main() {
    instrument_runtime::install().expect("the recorder installs once");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut criterion = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    per_call(&mut criterion);
    criterion.final_summary();
    report(&dir);
}
