//! What exemplars cost per call: `#[timed]` and `#[counted]` built without
//! the `exemplars` feature, and built with it (`Builder::exemplars`
//! installed) outside a trace and inside one, where every call writes its
//! bucket's or counter's exemplar.
//!
//! A feature is chosen per build, so the bench runs twice, one after the
//! other:
//!
//! ```text
//! cargo bench -p benchmarks --bench exemplars
//! cargo bench -p benchmarks --bench exemplars --features exemplars
//! ```
//!
//! The first measures group `exemplars_off`, the second `exemplars_on` and
//! prints the ratios against the first run's figures, with the targets in
//! brackets. Both measure a bare `fetch_add`, which no feature changes: its
//! ratio shows how far the host drifted between the two runs.

// Shared with `overhead`, which uses all of it.
#[allow(dead_code)]
mod ratios;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::Criterion;
use instrument_runtime::{counted, timed};

use crate::ratios::{estimate, ratio_line, ratios_header, Target};

#[timed]
#[inline(never)]
fn timed_fn() {
    black_box(());
}

#[counted]
#[inline(never)]
fn counted_fn() {
    black_box(());
}

/// The current trace, kept in a thread-local as a tracing layer keeps it.
#[cfg(feature = "exemplars")]
mod trace {
    use std::cell::Cell;

    use instrument_runtime::TraceContext;

    thread_local! {
        static TRACE: Cell<Option<TraceContext>> = const { Cell::new(None) };
    }

    /// The exemplars' source, `Builder::exemplars`'s argument.
    pub(crate) fn current() -> Option<TraceContext> {
        TRACE.with(Cell::get)
    }

    /// Run `call` inside a trace.
    pub(crate) fn within(call: impl FnOnce()) {
        let trace = TraceContext::new(
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
            0x00f0_67aa_0ba9_02b7,
        );
        TRACE.with(|cell| cell.set(trace));
        call();
        TRACE.with(|cell| cell.set(None));
    }
}

const GROUP: &str = match cfg!(feature = "exemplars") {
    true => "exemplars_on",
    false => "exemplars_off",
};

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    let atomic = AtomicU64::new(0);
    group.bench_function("fetch_add", |b| {
        b.iter(|| black_box(&atomic).fetch_add(1, Ordering::Relaxed))
    });
    #[cfg(feature = "exemplars")]
    {
        group.bench_function("timed_untraced", |b| b.iter(timed_fn));
        trace::within(|| {
            group.bench_function("timed_traced", |b| b.iter(timed_fn));
        });
        group.bench_function("counted_untraced", |b| b.iter(counted_fn));
        trace::within(|| {
            group.bench_function("counted_traced", |b| b.iter(counted_fn));
        });
    }
    #[cfg(not(feature = "exemplars"))]
    {
        group.bench_function("timed", |b| b.iter(timed_fn));
        group.bench_function("counted", |b| b.iter(counted_fn));
    }
    group.finish();
}

fn report(dir: &Path) {
    if !cfg!(feature = "exemplars") {
        println!("\nNow the same with the feature: cargo bench -p benchmarks --bench exemplars --features exemplars");
        return;
    }
    let get =
        |group: &str, id: &str| estimate(dir, group, id).ok_or_else(|| format!("{group}/{id}"));
    let rows = [
        ("timed_traced", "timed", Target::AtMost(1.5)),
        ("timed_untraced", "timed", Target::AtMost(1.05)),
        ("counted_traced", "counted", Target::None),
        // The source's thread-local read on every call: a few ns on an
        // add of about ten, no target.
        ("counted_untraced", "counted", Target::None),
        ("fetch_add", "fetch_add", Target::None),
    ];
    ratios_header();
    for (on, off, target) in rows {
        match (get("exemplars_on", on), get("exemplars_off", off)) {
            (Ok(a), Ok(b)) => ratio_line(&format!("on: {on} / off: {off}"), a, b, target),
            (Err(missing), _) | (_, Err(missing)) => {
                eprintln!(
                    "no estimate for {missing} under {} (run the bench without the feature first)",
                    dir.display()
                );
                return;
            }
        }
    }
}

fn main() {
    let builder = instrument_runtime::Builder::new();
    #[cfg(feature = "exemplars")]
    let builder = builder.exemplars(trace::current);
    drop(builder.install().expect("the recorder installs once"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut criterion = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
    report(&dir);
}
