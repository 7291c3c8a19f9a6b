//! The end-to-end harness: start the example service on a free loopback
//! port, talk HTTP to it, and run the Prometheus tools on what it serves:
//! `promtool`, and Prometheus, Alertmanager and the Pushgateway as servers
//! on free loopback ports, each killed when its handle is dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The README's Rust snippets, compiled as doctests (and run, unless they
/// serve forever or reach a gateway), so that they work as written.
#[doc = include_str!("../../README.md")]
pub mod readme {}

mod dashboards;
mod load;
mod stack;
pub mod tls;
mod traffic;
mod webhook;

pub use crate::dashboards::{
    dashboard_queries, dashboard_traffic, wait_for_dashboard_data, with_grafana_variables,
};
pub use crate::load::{Gate, Wrk, WrkReport};
pub use crate::stack::{
    prometheus_config, ready_when_listening, Alertmanager, Prometheus, Pushgateway, RawSeries,
    Ready, Sample, ScrapeJob, Server, VictoriaMetrics, WAIT,
};
pub use crate::traffic::{errors_and_slow_requests, StopOnDrop};
pub use crate::webhook::Webhook;

/// A free port on 127.0.0.1, as the kernel hands it out, and never one
/// this process was handed before: the kernel may give a port just
/// released to the next caller, and two servers of tests running at once
/// would then race for it (the loser's readiness check would see the
/// winner).
pub fn free_addr() -> SocketAddr {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        if !handed_out.contains(&addr.port()) {
            handed_out.push(addr.port());
            return addr;
        }
    }
}

/// The example service's executable: `$EXAMPLE_SERVICE_BIN`, or built now
/// with the cargo that runs the tests (same profile, same target dir).
pub fn example_service_bin() -> PathBuf {
    match std::env::var_os("EXAMPLE_SERVICE_BIN") {
        Some(bin) => bin.into(),
        None => example_bin("example-service"),
    }
}

/// The batch job's executable: `$BATCH_JOB_BIN`, else `batch-job` next to
/// `$EXAMPLE_SERVICE_BIN` (one build makes both), else built now.
pub fn batch_job_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BATCH_JOB_BIN") {
        return bin.into();
    }
    let sibling = std::env::var_os("EXAMPLE_SERVICE_BIN")
        .map(PathBuf::from)
        .and_then(|service| Some(service.parent()?.join("batch-job")))
        .filter(|bin| bin.is_file());
    sibling.unwrap_or_else(|| example_bin("batch-job"))
}

/// An executable of the example-service package, built once per test
/// binary with the cargo that runs the tests.
fn example_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "example-service",
                "--bins",
                "--message-format=json",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("running cargo build -p example-service");
        assert!(
            output.status.success(),
            "cargo build -p example-service failed"
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let start = line.find("\"executable\":\"")? + "\"executable\":\"".len();
                let end = start + line[start..].find('"')?;
                Some(PathBuf::from(&line[start..end]))
            })
            .collect()
    });
    built
        .iter()
        .find(|path| path.file_stem().is_some_and(|stem| stem == name))
        .unwrap_or_else(|| panic!("cargo reported no `{name}` executable: {built:?}"))
        .clone()
}

/// A running example service, killed when dropped.
pub struct Service {
    pub addr: SocketAddr,
    child: Child,
    /// The settings it was started with, to start it again.
    env: Vec<(String, String)>,
    dir: TempDir,
}

impl Service {
    /// Start the service with a fresh database and wait until it answers.
    /// A port taken by another process between choosing and binding it
    /// (tests start servers in parallel) gets another port.
    pub fn start(env: &[(&str, &str)]) -> Service {
        let dir = TempDir::new("service");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for _attempt in 1..=5 {
            let addr = free_addr();
            match spawn_service(addr, dir.path(), &env) {
                Some(child) => {
                    return Service {
                        addr,
                        child,
                        env,
                        dir,
                    }
                }
                None => eprintln!("example-service on {addr} exited at start; retrying"),
            }
        }
        panic!("example-service exited at start five times (its output is above)")
    }

    /// Kill the service (SIGKILL, as in a crash: its counters are gone).
    /// [`restart`](Self::restart) brings it back.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Change one setting for the next [`restart`](Self::restart).
    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(key, _)| key != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Kill the service if it runs and start it again on the same address,
    /// with the same database and settings; returns once it accepts
    /// connections again.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_service(self.addr, self.dir.path(), &self.env).unwrap_or_else(|| {
            panic!(
                "example-service did not start again on {} (its output is above)",
                self.addr
            )
        });
    }

    /// One request; returns the status code and the body.
    pub fn request(&self, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
        http(self.addr, method, path, json)
    }

    /// A `GET` with extra request headers; the status code and the body.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        try_http_with(self.addr, "GET", path, headers, "")
            .unwrap_or_else(|e| panic!("GET http://{}{path}: {e}", self.addr))
    }

    /// The `/metrics/` page.
    pub fn scrape(&self) -> String {
        let (status, body) = self.request("GET", "/metrics/", None);
        assert_eq!(status, 200, "GET /metrics/ answered {status}: {body}");
        body
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the example service on `addr` with its database in `dir`, and
/// wait until it accepts connections; `None` if it exited first.
fn spawn_service(addr: SocketAddr, dir: &Path, env: &[(String, String)]) -> Option<Child> {
    let mut child = Command::new(example_service_bin())
        .env("BIND", addr.to_string())
        .env("DATABASE_PATH", dir.join("example.db"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting example-service");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        if TcpStream::connect(addr).is_ok() {
            return Some(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example-service did not listen on {addr} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
pub fn http(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    let content_type = json.map(|_| "application/json");
    try_http(addr, method, path, content_type, json.unwrap_or(""))
        .unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"))
}

/// One request on a fresh connection: the status and the body (chunked
/// answers decoded). An error instead of a panic, for polling.
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let headers: &[(&str, &str)] = match content_type {
        Some(value) => &[("Content-Type", value)],
        None => &[],
    };
    try_http_with(addr, method, path, headers, body)
}

/// [`try_http`] with any request headers.
pub fn try_http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let invalid = || {
        let text = String::from_utf8_lossy(&response);
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{text:?}"))
    };
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(invalid)?;
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)?;
    let raw = &response[end + 4..];
    let body = if head.contains("\r\ntransfer-encoding: chunked") {
        dechunk(raw).ok_or_else(invalid)?
    } else {
        raw.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        let rest = &raw[line_end + 2..];
        body.extend_from_slice(rest.get(..size)?);
        raw = rest.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// `text` as a URL query value: everything but the unreserved characters
/// percent-encoded.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Poll `check` every 200 ms until it succeeds and return its value; after
/// `timeout`, panic with what was awaited, the last failure and `context()`
/// (server logs, say).
#[track_caller]
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
    context: impl FnOnce() -> String,
) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if started.elapsed() >= timeout => panic!(
                "waited {timeout:?} for {what}; the last check said:\n{last}\n{}",
                context()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// A file of the shipped monitoring stack, `examples/monitoring/{path}`.
pub fn monitoring_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/monitoring")
        .join(path)
}

/// Alert rules with every range window (`[5m]`) set to `window` and every
/// `for:` to `for_`, so that they fire within seconds in a test. Subqueries
/// (`[5m:1m]`) and everything else stay as written.
pub fn shorten_rules(rules: &str, window: &str, for_: &str) -> String {
    // A Prometheus duration: `5m`, `1h30m`, `500ms`.
    let duration = |text: &str| {
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let unit = ["ms", "s", "m", "h", "d", "w", "y"]
                .into_iter()
                .find(|unit| rest[digits..].starts_with(unit));
            match unit {
                Some(unit) if digits > 0 => rest = &rest[digits + unit.len()..],
                _ => return false,
            }
        }
        !text.is_empty()
    };
    let mut out = String::with_capacity(rules.len());
    for line in rules.split_inclusive('\n') {
        let indent = &line[..line.len() - line.trim_start().len()];
        if let Some(value) = line.trim().strip_prefix("for:") {
            if duration(value.trim()) {
                out.push_str(&format!("{indent}for: {for_}\n"));
                continue;
            }
        }
        let mut rest = line;
        while let Some(open) = rest.find('[') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find(']') {
                Some(close) if duration(&after[..close]) => {
                    out.push_str(&format!("[{window}]"));
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('[');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
    }
    out
}

/// The value of one series in an exposition page: the family (sample) name
/// and every label, in any order. `None` when the series is absent.
pub fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, label_text) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let mut found: Vec<(&str, &str)> = label_text
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once("=\"")?;
                    Some((k, v.trim_end_matches('"')))
                })
                .collect();
            let mut wanted = labels.to_vec();
            found.sort_unstable();
            wanted.sort_unstable();
            (found == wanted).then(|| value.parse().ok()).flatten()
        })
}

/// Where a Prometheus tool is: on `PATH`, or a clear failure that says how
/// to install it (the test command does that).
pub fn tool(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: apt-get install {package} (scripts/test does this)")
        })
}

/// A temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("instrument-e2e-{label}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_rules_keep_everything_but_durations() {
        let rules = "\
  - alert: A
    expr: sum(rate(x[5m])) / sum(rate(y{le=\"0.5\"}[1h30m])) > 0.05 and z[1h:1m] and w[1x]
    for: 5m
    annotations:
      description: \"Above 5% for: 5m\"
  - alert: B
    for: 1h30m
";
        assert_eq!(
            shorten_rules(rules, "15s", "3s"),
            "\
  - alert: A
    expr: sum(rate(x[15s])) / sum(rate(y{le=\"0.5\"}[15s])) > 0.05 and z[1h:1m] and w[1x]
    for: 3s
    annotations:
      description: \"Above 5% for: 5m\"
  - alert: B
    for: 3s
"
        );
    }

    #[test]
    fn url_encoding_leaves_only_unreserved_characters() {
        assert_eq!(
            url_encode(r#"sum(x{a="b c"}[1m]) / 2 + é"#),
            "sum%28x%7Ba%3D%22b%20c%22%7D%5B1m%5D%29%20%2F%202%20%2B%20%C3%A9"
        );
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n").as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(dechunk(b"5\r\nab"), None);
    }
}
