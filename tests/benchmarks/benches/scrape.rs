//! The cost of a scrape: the time to render the exposition with 1,000,
//! 10,000 and 100,000 series, by `instrument_runtime::Metrics::render` and
//! by metrics-exporter-prometheus's `PrometheusHandle::render` holding the
//! same series, and the memory each series takes (resident size before and
//! after creating them, from `/proc/self/statm`).
//!
//! Each case runs in a process of its own (this binary, started again with
//! `SCRAPE_CASE` set), so that one case's memory does not hide in another's
//! and each recorder is the only one installed.
//!
//! `cargo bench -p benchmarks --bench scrape` prints the table.

use std::process::Command;
use std::time::{Duration, Instant};

use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusBuilder;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Histogram series render 19 lines each (16 buckets, `+Inf`, sum, count).
const HISTOGRAM_SIZES: [usize; 2] = [1_000, 10_000];
/// The series are spread over this many families.
const FAMILIES: usize = 10;
/// Rendering is repeated for at least this long (and 5 times at least).
const MEASURE: Duration = Duration::from_secs(2);

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// Create `n` series of `kind`, as the HTTP layer's would look: a route
/// template and a method, over a few families, each series with a value.
fn create(recorder: &dyn Recorder, kind: Kind, n: usize) {
    for family in 0..FAMILIES {
        let help = "A family of the scrape benchmark.".into();
        match kind {
            Kind::Counter => recorder.describe_counter(counter_name(family).into(), None, help),
            Kind::Histogram => {
                recorder.describe_histogram(histogram_name(family).into(), None, help)
            }
        }
    }
    for i in 0..n {
        let family = i % FAMILIES;
        let labels = vec![
            Label::new("method", if i % 3 == 0 { "POST" } else { "GET" }),
            Label::new("view", format!("/api/v1/resource/{}/{{id}}", i / FAMILIES)),
        ];
        match kind {
            Kind::Counter => {
                let key = Key::from_parts(counter_name(family), labels);
                recorder
                    .register_counter(&key, &METADATA)
                    .increment(i as u64);
            }
            Kind::Histogram => {
                let key = Key::from_parts(histogram_name(family), labels);
                recorder
                    .register_histogram(&key, &METADATA)
                    .record((i % 1000) as f64 * 1e-3);
            }
        }
    }
}

fn counter_name(family: usize) -> String {
    format!("scrape_family_{family}_total")
}

fn histogram_name(family: usize) -> String {
    format!("scrape_family_{family}_seconds")
}

/// Resident set size in bytes (`/proc/self/statm`'s second field, in pages
/// of 4 KiB, the page size of every Linux target this runs on).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

/// One case, in this process: create the series, then time the renders.
fn run_case(exporter: bool, kind: Kind, n: usize) {
    let (before, after, render): (u64, u64, Box<dyn Fn() -> String>) = if exporter {
        let recorder = PrometheusBuilder::new()
            .set_buckets(instrument_runtime::DEFAULT_BUCKETS)
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        let before = resident_bytes();
        create(&recorder, kind, n);
        let after = resident_bytes();
        (before, after, Box::new(move || handle.render()))
    } else {
        let metrics = instrument_runtime::install().expect("installed once per process");
        let before = resident_bytes();
        metrics::with_recorder(|recorder| create(recorder, kind, n));
        let after = resident_bytes();
        (before, after, Box::new(move || metrics.render()))
    };
    // The first render is not timed (the exporter drains its histogram
    // samples there); it also checks that every series is on the page.
    let page = render();
    let samples = page.lines().filter(|line| !line.starts_with('#')).count();
    let per_series = if kind == Kind::Histogram { 19 } else { 1 };
    let expected = n * per_series;
    assert!(
        samples >= expected,
        "{samples} sample lines, {expected} expected"
    );
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 5 || (started.elapsed() < MEASURE && times.len() < 1000) {
        let start = Instant::now();
        let page = render();
        times.push(start.elapsed());
        std::hint::black_box(page);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "RESULT {} {} {} {}",
        median.as_nanos(),
        after.saturating_sub(before),
        page.len(),
        times.len()
    );
}

struct Measured {
    render: Duration,
    bytes: u64,
    page: usize,
    renders: usize,
}

/// Run one case in a child process and read its result.
fn measure(exporter: bool, kind: Kind, n: usize) -> Measured {
    let which = if exporter { "exporter" } else { "instrument" };
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .env("SCRAPE_CASE", format!("{which} {} {n}", kind.name()))
        .output()
        .expect("the case runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
        panic!(
            "case {which} {} {n} failed: {}{}",
            kind.name(),
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    Measured {
        render: Duration::from_nanos(fields[0]),
        bytes: fields[1],
        page: fields[2] as usize,
        renders: fields[3] as usize,
    }
}

fn main() {
    if let Ok(case) = std::env::var("SCRAPE_CASE") {
        let parts: Vec<&str> = case.split_whitespace().collect();
        let kind = if parts[1] == "histogram" {
            Kind::Histogram
        } else {
            Kind::Counter
        };
        run_case(
            parts[0] == "exporter",
            kind,
            parts[2].parse().expect("a size"),
        );
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    println!("\n## Scrape: render time (median) and memory per series\n");
    println!(
        "  {:<10} {:>8}  {:>12} {:>12} {:>7}  {:>9} {:>9}  {:>10} {:>10}",
        "series",
        "count",
        "instrument",
        "exporter",
        "ratio",
        "B/series",
        "B/series",
        "page KiB",
        "page KiB"
    );
    println!(
        "  {:<10} {:>8}  {:>12} {:>12} {:>7}  {:>9} {:>9}  {:>10} {:>10}",
        "", "", "render", "render", "[<= 1]", "instr.", "exporter", "instr.", "exporter"
    );
    let cases = SIZES
        .iter()
        .map(|&n| (Kind::Counter, n))
        .chain(HISTOGRAM_SIZES.iter().map(|&n| (Kind::Histogram, n)));
    for (kind, n) in cases {
        let ours = measure(false, kind, n);
        let theirs = measure(true, kind, n);
        println!(
            "  {:<10} {:>8}  {:>9.3} ms {:>9.3} ms {:>6.2}x  {:>9.0} {:>9.0}  {:>10} {:>10}   ({} / {} renders)",
            kind.name(),
            n,
            ours.render.as_secs_f64() * 1e3,
            theirs.render.as_secs_f64() * 1e3,
            ours.render.as_secs_f64() / theirs.render.as_secs_f64(),
            ours.bytes as f64 / n as f64,
            theirs.bytes as f64 / n as f64,
            ours.page / 1024,
            theirs.page / 1024,
            ours.renders,
            theirs.renders,
        );
    }
}
