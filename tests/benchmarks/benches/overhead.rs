//! Per-call cost of the macros against hand-written `metrics` calls,
//! autometrics, and the floors the macros are built on, measured side by side
//! in one run with one recorder installed: `instrument_runtime::install()`'s,
//! which autometrics (feature `metrics-0_24`) and the hand-written calls
//! record into as well.
//!
//! Groups: `sync` (an empty function), `async` (an empty `async fn`, polled
//! to completion by hand with a no-op waker: no runtime, no scheduling),
//! `dynamic_labels` (a label value taken from an argument), and
//! `two_threads` (two threads calling the same function at once; the time
//! is per call on each thread). `http_bare` and `http_layer` call an axum
//! router with one route as a service, without and with `HttpMetricsLayer`
//! (no network, no runtime): the difference is the layer's recording per
//! request.
//!
//! `cargo bench -p benchmarks --bench overhead` prints criterion's figures,
//! then the medians and a table of ratios from the same run, with the
//! targets in brackets.

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use autometrics::autometrics;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use instrument_runtime::{cache_lookup, counted, model_op, timed, HttpMetricsLayer};
use metrics::{Counter, Histogram};
use tower_service::Service;

mod ratios;

use crate::ratios::{estimate, ratio_line, ratios_header, Target};

type DbResult = Result<u64, std::io::Error>;

// ------------------------------------------------------------------- sync

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

#[inline(never)]
fn bare_model() -> DbResult {
    Ok(black_box(1))
}

#[model_op(model = "bench", op = insert)]
#[inline(never)]
fn model_op_fn() -> DbResult {
    Ok(black_box(1))
}

#[inline(never)]
fn bare_lookup(key: u32) -> Option<u32> {
    black_box(Some(key))
}

#[cache_lookup(backend = "bench")]
#[inline(never)]
fn cache_lookup_fn(key: u32) -> Option<u32> {
    black_box(Some(key))
}

#[autometrics]
#[inline(never)]
fn autometrics_fn() {
    black_box(());
}

/// What a user writes by hand: one label (the macros record two or three).
#[inline(never)]
fn hand_counter() {
    black_box(());
    metrics::counter!("hand_calls_total", "function" => "hand_counter").increment(1);
}

/// By hand, on the macros' clock (`quanta`).
#[inline(never)]
fn hand_histogram() {
    let start = quanta::Instant::now();
    black_box(());
    metrics::histogram!("hand_duration_seconds", "function" => "hand_histogram")
        .record(start.elapsed().as_secs_f64());
}

/// By hand, on the clock most code uses (`std::time::Instant`).
#[inline(never)]
fn hand_histogram_std() {
    let start = std::time::Instant::now();
    black_box(());
    metrics::histogram!("hand_duration_seconds", "function" => "hand_histogram_std")
        .record(start.elapsed());
}

// ------------------------------------------------------------------ async

#[inline(never)]
async fn bare_async() {
    black_box(());
}

#[counted]
#[inline(never)]
async fn counted_async() {
    black_box(());
}

#[timed]
#[inline(never)]
async fn timed_async() {
    black_box(());
}

#[inline(never)]
async fn bare_model_async() -> DbResult {
    Ok(black_box(1))
}

#[model_op(model = "bench_async", op = insert)]
#[inline(never)]
async fn model_op_async() -> DbResult {
    Ok(black_box(1))
}

#[inline(never)]
async fn bare_lookup_async(key: u32) -> Option<u32> {
    black_box(Some(key))
}

#[cache_lookup(backend = "bench_async")]
#[inline(never)]
async fn cache_lookup_async(key: u32) -> Option<u32> {
    black_box(Some(key))
}

#[autometrics]
#[inline(never)]
async fn autometrics_async() {
    black_box(());
}

#[inline(never)]
async fn hand_counter_async() {
    black_box(());
    metrics::counter!("hand_calls_total", "function" => "hand_counter_async").increment(1);
}

#[inline(never)]
async fn hand_histogram_async() {
    let start = quanta::Instant::now();
    black_box(());
    metrics::histogram!("hand_duration_seconds", "function" => "hand_histogram_async")
        .record(start.elapsed().as_secs_f64());
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

// --------------------------------------------------------- dynamic labels

/// The label values the calls cycle through.
const ENDPOINTS: [&str; 8] = [
    "users", "orders", "items", "carts", "search", "login", "logout", "health",
];

#[counted(name = "bench_dynamic_calls_total", labels(endpoint = endpoint))]
#[inline(never)]
fn counted_dynamic(endpoint: &str) {
    black_box(endpoint);
}

#[timed(name = "bench_dynamic_duration_seconds", labels(endpoint = endpoint))]
#[inline(never)]
fn timed_dynamic(endpoint: &str) {
    black_box(endpoint);
}

#[inline(never)]
fn hand_counter_dynamic(endpoint: &str) {
    black_box(endpoint);
    metrics::counter!("hand_dynamic_calls_total", "endpoint" => endpoint.to_owned()).increment(1);
}

#[inline(never)]
fn hand_histogram_dynamic(endpoint: &str) {
    let start = quanta::Instant::now();
    black_box(endpoint);
    metrics::histogram!("hand_dynamic_duration_seconds", "endpoint" => endpoint.to_owned())
        .record(start.elapsed().as_secs_f64());
}

// ----------------------------------------------------------------- floors

/// Cached handles, resolved once after `install()`: what the macros' call
/// sites hold, used directly.
struct Floors {
    counter: Counter,
    /// A bare `AtomicU64` behind the same `metrics::Counter` handle: what a
    /// series of the store was before it could spread over cells.
    plain: Counter,
    histogram: Histogram,
    execute: Counter,
    latency: Histogram,
    model: Counter,
    hits: Counter,
    misses: Counter,
}

impl Floors {
    fn new() -> Self {
        let labels = [("alias", "default"), ("vendor", "bench")];
        Floors {
            counter: metrics::counter!("floor_calls_total", "function" => "floor", "module" => "overhead", "result" => "ok"),
            plain: Counter::from_arc(Arc::new(AtomicU64::new(0))),
            histogram: metrics::histogram!("floor_duration_seconds", "function" => "floor", "module" => "overhead"),
            execute: metrics::counter!("floor_db_execute_total", &labels),
            latency: metrics::histogram!("floor_db_execute_latency_seconds", &labels),
            model: metrics::counter!("floor_model_inserts_total", "model" => "floor"),
            hits: metrics::counter!("floor_cache_hits_total", "backend" => "floor"),
            misses: metrics::counter!("floor_cache_misses_total", "backend" => "floor"),
        }
    }

    /// An empty call and a cached `Counter`'s increment: `#[counted]`'s floor.
    #[inline(always)]
    fn counted(&self) {
        bare();
        self.counter.increment(1);
    }

    /// Two `quanta` clock reads around an empty call and a cached
    /// `Histogram`'s record: `#[timed]`'s floor.
    #[inline(always)]
    fn timed(&self) {
        let start = quanta::Instant::now();
        bare();
        self.histogram.record(start.elapsed().as_secs_f64());
    }

    /// What `#[model_op]` does on success: count the execution, time it,
    /// count the model operation.
    #[inline(always)]
    fn model_op(&self) -> DbResult {
        self.execute.increment(1);
        let start = quanta::Instant::now();
        let result = bare_model();
        self.latency.record(start.elapsed().as_secs_f64());
        if result.is_ok() {
            self.model.increment(1);
        }
        result
    }

    /// What `#[cache_lookup]` does: count a hit or a miss.
    #[inline(always)]
    fn cache_lookup(&self, key: u32) -> Option<u32> {
        let value = bare_lookup(key);
        match value {
            Some(_) => self.hits.increment(1),
            None => self.misses.increment(1),
        }
        value
    }

    async fn counted_async(&self) {
        bare_async().await;
        self.counter.increment(1);
    }

    async fn timed_async(&self) {
        let start = quanta::Instant::now();
        bare_async().await;
        self.histogram.record(start.elapsed().as_secs_f64());
    }

    async fn model_op_async(&self) -> DbResult {
        self.execute.increment(1);
        let start = quanta::Instant::now();
        let result = bare_model_async().await;
        self.latency.record(start.elapsed().as_secs_f64());
        if result.is_ok() {
            self.model.increment(1);
        }
        result
    }

    async fn cache_lookup_async(&self, key: u32) -> Option<u32> {
        let value = bare_lookup_async(key).await;
        match value {
            Some(_) => self.hits.increment(1),
            None => self.misses.increment(1),
        }
        value
    }
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// A router with one route, with the layer (as the README puts it) or
/// without.
fn router(layer: Wrap) -> Router {
    let router = Router::new().route("/orders/{id}", get(|| async { "[]" }));
    let router = match layer {
        Wrap::Metrics => router.layer(HttpMetricsLayer::new()),
        // The cost axum's `Router::layer` adds for any middleware.
        Wrap::Identity => router.layer(tower_layer::layer_fn(|route| route)),
        Wrap::None => router,
    };
    // What `axum::serve` does for each connection: handlers become routes
    // (and layers are applied) once, not on every request.
    router.with_state(())
}

#[derive(Clone, Copy)]
enum Wrap {
    None,
    Identity,
    Metrics,
}

/// One request through `router`, polled to completion here.
#[inline(always)]
fn request(router: &mut Router) {
    let request = Request::get("/orders/7")
        .body(Body::empty())
        .expect("a request");
    let response = run(router.call(request)).expect("infallible");
    black_box(response.status());
}

thread_local! {
    /// A count of this thread's own: the floor of any counter design.
    static LOCAL_CALLS: Cell<u64> = const { Cell::new(0) };
}

#[inline(always)]
fn thread_local_add() {
    LOCAL_CALLS.with(|calls| calls.set(black_box(calls.get() + 1)));
}

// ---------------------------------------------------------------- benches

fn sync(c: &mut Criterion, floors: &Floors) {
    let mut group = c.benchmark_group("sync");
    group.bench_function("bare", |b| b.iter(bare));
    group.bench_function("atomic_fetch_add", |b| {
        b.iter(|| CALLS.fetch_add(1, Ordering::Relaxed))
    });
    group.bench_function("thread_local_add", |b| b.iter(thread_local_add));
    group.bench_function("counted", |b| b.iter(counted_fn));
    group.bench_function("counted_floor", |b| b.iter(|| floors.counted()));
    group.bench_function("plain_atomic_handle", |b| {
        b.iter(|| {
            bare();
            floors.plain.increment(1)
        })
    });
    group.bench_function("timed", |b| b.iter(timed_fn));
    group.bench_function("timed_floor", |b| b.iter(|| floors.timed()));
    group.bench_function("model_op", |b| b.iter(model_op_fn));
    group.bench_function("model_op_floor", |b| b.iter(|| floors.model_op()));
    group.bench_function("cache_lookup", |b| b.iter(|| cache_lookup_fn(black_box(7))));
    group.bench_function("cache_lookup_floor", |b| {
        b.iter(|| floors.cache_lookup(black_box(7)))
    });
    group.bench_function("hand_counter", |b| b.iter(hand_counter));
    group.bench_function("hand_histogram", |b| b.iter(hand_histogram));
    group.bench_function("hand_histogram_std", |b| b.iter(hand_histogram_std));
    group.bench_function("autometrics", |b| b.iter(autometrics_fn));
    group.bench_function("two_clock_reads_quanta", |b| {
        b.iter(|| quanta::Instant::now().elapsed())
    });
    group.bench_function("two_clock_reads_std", |b| {
        b.iter(|| std::time::Instant::now().elapsed())
    });
    group.bench_function("histogram_record_only", |b| {
        b.iter(|| floors.histogram.record(black_box(0.003)))
    });
    for (id, layer) in [
        ("http_bare", Wrap::None),
        ("http_identity_layer", Wrap::Identity),
        ("http_layer", Wrap::Metrics),
    ] {
        let mut router = router(layer);
        group.bench_function(id, |b| b.iter(|| request(&mut router)));
    }
    group.finish();
}

fn asynchronous(c: &mut Criterion, floors: &Floors) {
    let mut group = c.benchmark_group("async");
    group.bench_function("bare", |b| b.iter(|| run(bare_async())));
    group.bench_function("counted", |b| b.iter(|| run(counted_async())));
    group.bench_function("counted_floor", |b| b.iter(|| run(floors.counted_async())));
    group.bench_function("timed", |b| b.iter(|| run(timed_async())));
    group.bench_function("timed_floor", |b| b.iter(|| run(floors.timed_async())));
    group.bench_function("model_op", |b| b.iter(|| run(model_op_async())));
    group.bench_function("model_op_floor", |b| {
        b.iter(|| run(floors.model_op_async()))
    });
    group.bench_function("cache_lookup", |b| {
        b.iter(|| run(cache_lookup_async(black_box(7))))
    });
    group.bench_function("cache_lookup_floor", |b| {
        b.iter(|| run(floors.cache_lookup_async(black_box(7))))
    });
    group.bench_function("hand_counter", |b| b.iter(|| run(hand_counter_async())));
    group.bench_function("hand_histogram", |b| b.iter(|| run(hand_histogram_async())));
    group.bench_function("autometrics", |b| b.iter(|| run(autometrics_async())));
    group.finish();
}

fn dynamic_labels(c: &mut Criterion) {
    let mut group = c.benchmark_group("dynamic_labels");
    let cycle = |f: fn(&str)| {
        let mut i = 0;
        move || {
            i = (i + 1) % ENDPOINTS.len();
            f(black_box(ENDPOINTS[i]))
        }
    };
    group.bench_function("counted", |b| b.iter(cycle(counted_dynamic)));
    group.bench_function("hand_counter", |b| b.iter(cycle(hand_counter_dynamic)));
    group.bench_function("timed", |b| b.iter(cycle(timed_dynamic)));
    group.bench_function("hand_histogram", |b| b.iter(cycle(hand_histogram_dynamic)));
    group.finish();
}

/// Run `call` `iters` times on each of two threads at once; the time of the
/// slower thread (thread start-up excluded), so per call and per thread.
fn on_two_threads(iters: u64, call: impl Fn() + Sync) -> Duration {
    on_two_threads_with(iters, || (), |()| call())
}

/// [`on_two_threads`], each thread calling with a state of its own that
/// `setup` makes before the clock starts.
fn on_two_threads_with<S>(
    iters: u64,
    setup: impl Fn() -> S + Sync,
    call: impl Fn(&mut S) + Sync,
) -> Duration {
    let start_line = Barrier::new(2);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = setup();
                    start_line.wait();
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        call(&mut state);
                    }
                    start.elapsed()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("a bench thread panicked"))
            .max()
            .expect("two threads")
    })
}

fn two_threads(c: &mut Criterion, floors: &Floors) {
    let mut group = c.benchmark_group("two_threads");
    let mut bench = |id: &str, call: &(dyn Fn() + Sync)| {
        group.bench_function(id, |b| b.iter_custom(|iters| on_two_threads(iters, call)));
    };
    bench("atomic_fetch_add", &|| {
        black_box(CALLS.fetch_add(1, Ordering::Relaxed));
    });
    bench("thread_local_add", &thread_local_add);
    bench("counted", &counted_fn);
    bench("counted_floor", &|| floors.counted());
    bench("timed", &timed_fn);
    bench("timed_floor", &|| floors.timed());
    bench("model_op", &|| {
        black_box(model_op_fn()).ok();
    });
    bench("model_op_floor", &|| {
        black_box(floors.model_op()).ok();
    });
    bench("cache_lookup", &|| {
        black_box(cache_lookup_fn(black_box(7)));
    });
    bench("cache_lookup_floor", &|| {
        black_box(floors.cache_lookup(black_box(7)));
    });
    bench("hand_counter", &hand_counter);
    bench("autometrics", &autometrics_fn);
    // A router of its own on each thread (as each of a server's
    // connections has its service), built before the clock starts.
    for (id, layer) in [
        ("http_bare", Wrap::None),
        ("http_identity_layer", Wrap::Identity),
        ("http_layer", Wrap::Metrics),
    ] {
        group.bench_function(id, |b| {
            b.iter_custom(|iters| on_two_threads_with(iters, || router(layer), request))
        });
    }
    group.finish();
}

// ----------------------------------------------------------------- report

fn report(dir: &Path) {
    let groups: [(&str, &[&str]); 4] = [
        (
            "sync",
            &[
                "bare",
                "atomic_fetch_add",
                "thread_local_add",
                "counted_floor",
                "counted",
                "timed_floor",
                "timed",
                "model_op_floor",
                "model_op",
                "cache_lookup_floor",
                "cache_lookup",
                "hand_counter",
                "hand_histogram",
                "hand_histogram_std",
                "autometrics",
                "two_clock_reads_quanta",
                "two_clock_reads_std",
                "histogram_record_only",
                "http_bare",
                "http_layer",
            ],
        ),
        (
            "async",
            &[
                "bare",
                "counted_floor",
                "counted",
                "timed_floor",
                "timed",
                "model_op_floor",
                "model_op",
                "cache_lookup_floor",
                "cache_lookup",
                "hand_counter",
                "hand_histogram",
                "autometrics",
            ],
        ),
        (
            "dynamic_labels",
            &["counted", "hand_counter", "timed", "hand_histogram"],
        ),
        (
            "two_threads",
            &[
                "atomic_fetch_add",
                "thread_local_add",
                "counted_floor",
                "counted",
                "timed_floor",
                "timed",
                "model_op_floor",
                "model_op",
                "cache_lookup_floor",
                "cache_lookup",
                "hand_counter",
                "autometrics",
                "http_bare",
                "http_layer",
            ],
        ),
    ];
    let get = |group: &str, id: &str| estimate(dir, group, id);
    if groups
        .iter()
        .any(|(group, ids)| ids.iter().any(|id| get(group, id).is_none()))
    {
        eprintln!(
            "some estimates are missing under {} (a filtered run?): no table",
            dir.display()
        );
        return;
    }
    let est = |group: &str, id: &str| get(group, id).expect("checked above");

    println!("\n## Per call: median ns [95% confidence interval]\n");
    for (group, ids) in groups {
        println!("{group}:");
        for id in ids {
            let e = est(group, id);
            println!(
                "  {id:<24} {:>9.2}  [{:.2}, {:.2}]",
                e.median, e.low, e.high
            );
        }
    }

    ratios_header();
    let ratio = |group: &str, a: &str, b: &str, target: Target| {
        let what = format!("{group}: {a} / {b}");
        ratio_line(&what, est(group, a), est(group, b), target);
    };
    for group in ["sync", "async"] {
        ratio(group, "counted", "counted_floor", Target::AtMost(1.2));
        ratio(group, "timed", "timed_floor", Target::AtMost(1.3));
        ratio(group, "model_op", "model_op_floor", Target::AtMost(1.3));
        ratio(
            group,
            "cache_lookup",
            "cache_lookup_floor",
            Target::AtMost(1.3),
        );
        ratio(group, "hand_counter", "counted", Target::AtLeast(5.0));
        ratio(group, "autometrics", "counted", Target::AtLeast(100.0));
        ratio(group, "hand_histogram", "timed", Target::None);
    }
    ratio("sync", "counted", "atomic_fetch_add", Target::None);
    // The store's uncontended add against the plain atomic it replaced.
    ratio(
        "sync",
        "counted_floor",
        "plain_atomic_handle",
        Target::AtMost(1.0),
    );
    ratio(
        "sync",
        "counted",
        "plain_atomic_handle",
        Target::AtMost(1.0),
    );
    ratio("sync", "hand_histogram_std", "timed", Target::None);
    ratio("dynamic_labels", "hand_counter", "counted", Target::None);
    ratio("dynamic_labels", "hand_histogram", "timed", Target::None);
    let group = "two_threads";
    ratio(group, "counted", "counted_floor", Target::AtMost(1.1));
    ratio(group, "timed", "timed_floor", Target::AtMost(1.0));
    ratio(group, "model_op", "model_op_floor", Target::AtMost(1.0));
    ratio(
        group,
        "cache_lookup",
        "cache_lookup_floor",
        Target::AtMost(1.0),
    );
    ratio(group, "hand_counter", "counted", Target::None);
    ratio(group, "autometrics", "counted", Target::None);
    ratio(group, "counted", "thread_local_add", Target::None);
    ratio(group, "atomic_fetch_add", "thread_local_add", Target::None);
    // One function called from two threads against one: what contention
    // adds per call.
    let across = |a: &str, b: &str, target: Target| {
        let what = format!("two_threads: {a} / sync: {b}");
        ratio_line(&what, est("two_threads", a), est("sync", b), target);
    };
    across("counted", "counted", Target::AtMost(1.3));
    across("timed", "timed", Target::None);
    across("model_op", "model_op", Target::None);
    across("atomic_fetch_add", "atomic_fetch_add", Target::None);
    across("thread_local_add", "thread_local_add", Target::None);
    // The layer's recording per request: with it / without it.
    ratio("sync", "http_layer", "http_bare", Target::None);
    ratio(group, "http_layer", "http_bare", Target::None);
    across("http_layer", "http_layer", Target::None);
}

fn main() {
    instrument_runtime::install().expect("the recorder installs once");
    let floors = Floors::new();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut criterion = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    sync(&mut criterion, &floors);
    asynchronous(&mut criterion, &floors);
    dynamic_labels(&mut criterion);
    two_threads(&mut criterion, &floors);
    criterion.final_summary();
    report(&dir);
}
