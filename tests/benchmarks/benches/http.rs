//! The HTTP layer under load: a hello-world axum server bare, with a layer
//! that does nothing (axum's own cost of `Router::layer`), with
//! `HttpMetricsLayer` (without and with the django-prometheus profile), and
//! with axum-prometheus's layer, each in its own process
//! (`bench-http-server`, one tokio worker), driven by `wrk` over loopback
//! with the same connections and duration, in alternating runs. Reports
//! the median requests per second and p99 latency of each, as ratios to
//! bare, and the spread of the per-round ratios.
//!
//! `cargo bench -p benchmarks --bench http` needs `wrk` (Debian package
//! `wrk`; `scripts/bench` installs it). Settings, from the environment:
//! `BENCH_HTTP_ROUNDS` (runs per server, 9), `BENCH_HTTP_SECONDS` (per run,
//! 8), `BENCH_HTTP_CONNECTIONS` (32).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const VARIANTS: [&str; 5] = [
    "bare",
    "identity-layer",
    "instrument",
    "instrument-django",
    "axum-prometheus",
];
const BARE: usize = 0;
const IDENTITY: usize = 1;
const OURS: usize = 2;
const OURS_DJANGO: usize = 3;
const THEIRS: usize = 4;

/// wrk's report, one line that the bench parses (latencies in µs).
const REPORT_LUA: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %d\n",
    summary.requests, summary.duration,
    latency:percentile(99), latency:percentile(50),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A server process, killed when dropped.
struct Server {
    variant: &'static str,
    port: u16,
    child: Child,
}

impl Server {
    fn start(variant: &'static str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bench-http-server"))
            .arg(variant)
            .stdout(Stdio::piped())
            .spawn()
            .expect("bench-http-server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("{variant}: no port in {line:?}"));
        Server {
            variant,
            port,
            child,
        }
    }

    /// GET `path` over HTTP/1.1 and return the whole response.
    fn get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        response
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    requests: u64,
    requests_per_second: f64,
    p99_us: f64,
    p50_us: f64,
    errors: u64,
}

fn wrk(script: &PathBuf, port: u16, seconds: u64, connections: u64) -> Run {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .arg("-s")
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap_or_else(|error| {
            eprintln!(
                "cannot run wrk ({error}): install the Debian package `wrk` (scripts/bench does)"
            );
            std::process::exit(1);
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no report from wrk: {stdout}"));
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|field| field.parse().expect("a number"))
        .collect();
    Run {
        requests: fields[0] as u64,
        requests_per_second: fields[0] / (fields[1] / 1e6),
        p99_us: fields[2],
        p50_us: fields[3],
        errors: fields[4] as u64,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The value of the first sample line of `page` that starts with `series`.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

fn main() {
    let rounds = setting("BENCH_HTTP_ROUNDS", 9) as usize;
    let seconds = setting("BENCH_HTTP_SECONDS", 8);
    let connections = setting("BENCH_HTTP_CONNECTIONS", 32);
    let script = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wrk-report.lua");
    std::fs::write(&script, REPORT_LUA).expect("the wrk script is written");

    let servers: Vec<Server> = VARIANTS.into_iter().map(Server::start).collect();
    for server in &servers {
        let response = server.get("/");
        assert!(
            response.starts_with("HTTP/1.1 200") && response.ends_with("Hello, World!"),
            "{}: {response}",
            server.variant
        );
    }
    println!(
        "\n## HTTP: wrk -t1 -c{connections} -d{seconds}s, {rounds} alternating rounds, loopback\n"
    );
    // Warm-up, not counted.
    for server in &servers {
        wrk(&script, server.port, 2, connections);
    }
    let mut runs: Vec<Vec<Run>> = VARIANTS.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        // Rotate the order, so that no server always runs first or last.
        for k in 0..servers.len() {
            let i = (round + k) % servers.len();
            let run = wrk(&script, servers[i].port, seconds, connections);
            println!(
                "  round {} {:<16} {:>10.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs  errors {}",
                round + 1,
                servers[i].variant,
                run.requests_per_second,
                run.p50_us,
                run.p99_us,
                run.errors
            );
            runs[i].push(run);
        }
    }

    // The layers did record: every request wrk made is on the pages.
    let total = |i: usize| -> u64 { runs[i].iter().map(|run| run.requests).sum() };
    let ours = |i: usize| {
        sample(
            &servers[i].get("/metrics/"),
            r#"http_requests_total{method="GET",view="/"}"#,
        )
        .expect("instrument's page counts GET /")
    };
    let (counted, counted_django) = (ours(OURS), ours(OURS_DJANGO));
    let theirs = servers[THEIRS].get("/metrics");
    let their_count = sample(
        &theirs,
        r#"axum_http_requests_total{method="GET",status="200",endpoint="/"}"#,
    )
    .expect("axum-prometheus's page counts GET /");
    println!(
        "\n  counted by the layers (wrk's runs and the warm-up): instrument {counted} \
         (wrk ran {}), with the profile {counted_django} (wrk ran {}), \
         axum-prometheus {their_count} (wrk ran {})",
        total(OURS),
        total(OURS_DJANGO),
        total(THEIRS)
    );
    assert!(counted >= total(OURS) as f64);
    assert!(counted_django >= total(OURS_DJANGO) as f64);
    assert!(their_count >= total(THEIRS) as f64);

    // Medians over the rounds, and the medians of the ratios within each
    // round (runs of one round are adjacent in time, so they share the
    // machine's load; the paired ratio is the one the targets are read on).
    let of = |i: usize, field: fn(&Run) -> f64| -> Vec<f64> { runs[i].iter().map(field).collect() };
    let rps = |run: &Run| run.requests_per_second;
    let p99 = |run: &Run| run.p99_us;
    let per_round = |a: usize, b: usize, field: fn(&Run) -> f64| -> Vec<f64> {
        let (a, b) = (of(a, field), of(b, field));
        a.iter().zip(&b).map(|(a, b)| a / b).collect()
    };
    let paired =
        |a: usize, b: usize, field: fn(&Run) -> f64| -> f64 { median(per_round(a, b, field)) };
    let spread = |a: usize, b: usize| -> String {
        let ratios = per_round(a, b, rps);
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(0.0, f64::max);
        format!("{low:.3}..{high:.3}")
    };
    let errors: u64 = runs.iter().flatten().map(|run| run.errors).sum();
    println!(
        "\n  {:<18} {:>10} {:>10}   {:>13} {:>13}   {:>13}",
        "server", "req/s", "p99 µs", "req/s / bare", "p99 / bare", "rounds"
    );
    for (i, variant) in VARIANTS.iter().enumerate() {
        println!(
            "  {variant:<18} {:>10.0} {:>10.1}   {:>12.3}x {:>12.3}x   {:>13}",
            median(of(i, rps)),
            median(of(i, p99)),
            paired(i, BARE, rps),
            paired(i, BARE, p99),
            spread(i, BARE),
        );
    }
    println!(
        "  (medians of {rounds} runs; the ratios are medians of the per-round ratios, \
         their lowest and highest under rounds)"
    );
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!("\n  targets:");
    for (name, a, b, target) in [
        ("instrument / bare", OURS, BARE, 0.98),
        ("instrument / axum-prometheus", OURS, THEIRS, 1.3),
        ("instrument, profile on / bare", OURS_DJANGO, BARE, 0.95),
    ] {
        let ratio = paired(a, b, rps);
        println!(
            "  {name:<34} {ratio:>7.3}x  [>= {target}]  {}  rounds {}",
            verdict(ratio >= target),
            spread(a, b)
        );
    }
    println!(
        "  instrument / identity layer        {:>7.3}x  (the layer's own work)  rounds {}",
        paired(OURS, IDENTITY, rps),
        spread(OURS, IDENTITY)
    );
    println!("  socket errors or non-2xx in all runs: {errors}");
}
