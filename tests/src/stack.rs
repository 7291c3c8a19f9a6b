//! The monitoring stack as servers: Prometheus, Alertmanager and the
//! Pushgateway from the distribution's packages, each on a free loopback
//! port with a temporary directory and its output in a log file, killed
//! when dropped (a failing test included: its locals drop while it
//! unwinds).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{eventually, free_addr, tool, try_http, url_encode, TempDir};

/// How long a server may take to answer `/-/ready`.
const READY: Duration = Duration::from_secs(30);

/// How long a condition on the stack may take to hold: a few scrapes and
/// evaluations at 1 s, with room for a loaded machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// A server process on a loopback port.
pub struct Server {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
    log: PathBuf,
    /// The executable, its arguments and environment, to start it again.
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Whether the server at the address answers.
    ready: Ready,
    // Dropped after the process is killed (fields drop after `drop` runs).
    dir: TempDir,
}

/// A check that a server at an address is ready.
pub type Ready = std::sync::Arc<dyn Fn(SocketAddr) -> bool + Send + Sync>;

/// Ready when `GET /-/ready` answers 200, as the Prometheus servers do over
/// plain HTTP.
fn ready_endpoint(addr: SocketAddr) -> bool {
    matches!(try_http(addr, "GET", "/-/ready", None, ""), Ok((200, _)))
}

/// Ready when the port takes connections: for a server whose every path
/// needs TLS or credentials.
pub fn ready_when_listening(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect(addr).is_ok()
}

impl Server {
    /// Start `program` with the arguments `args` gives for a free address
    /// and the server's directory, and wait until `GET /-/ready` answers
    /// 200. A port taken by someone else between choosing and binding it
    /// gets another port.
    pub fn start(
        name: &'static str,
        program: &Path,
        dir: TempDir,
        args: impl Fn(SocketAddr, &Path) -> Vec<String>,
    ) -> Server {
        Server::start_checked(
            name,
            program,
            dir,
            args,
            std::sync::Arc::new(ready_endpoint),
        )
    }

    /// [`start`](Self::start), ready when `ready` says so.
    pub fn start_checked(
        name: &'static str,
        program: &Path,
        dir: TempDir,
        args: impl Fn(SocketAddr, &Path) -> Vec<String>,
        ready: Ready,
    ) -> Server {
        Server::start_in(name, program, dir, &[], args, ready)
    }

    /// [`start_checked`](Self::start_checked) with variables `env` added
    /// to the server's environment.
    pub fn start_in(
        name: &'static str,
        program: &Path,
        dir: TempDir,
        env: &[(&str, &str)],
        args: impl Fn(SocketAddr, &Path) -> Vec<String>,
        ready: Ready,
    ) -> Server {
        let log = dir.path().join(format!("{name}.log"));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for attempt in 1..=5 {
            let addr = free_addr();
            let args = args(addr, dir.path());
            File::create(&log).expect("creating the log file");
            match spawn_ready(name, program, &args, &env, dir.path(), &log, addr, &ready) {
                Ok(child) => {
                    return Server {
                        name,
                        addr,
                        child,
                        log,
                        program: program.to_owned(),
                        args,
                        env,
                        ready,
                        dir,
                    }
                }
                Err(_) if attempt < 5 && tail(&log).contains("address already in use") => {}
                Err(status) => panic!("{name} exited ({status}) at start:\n{}", tail(&log)),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Kill the server (SIGKILL: no shutdown of its own, as in a crash) and
    /// start it again with the same arguments: the same port and the same
    /// directory (a Prometheus keeps its data). Waits until it is ready;
    /// its log goes on in the same file.
    pub fn restart(&mut self) {
        self.kill();
        match spawn_ready(
            self.name,
            &self.program,
            &self.args,
            &self.env,
            self.dir.path(),
            &self.log,
            self.addr,
            &self.ready,
        ) {
            Ok(child) => self.child = child,
            Err(status) => panic!(
                "{} exited ({status}) when started again on {}:\n{}",
                self.name,
                self.addr,
                tail(&self.log)
            ),
        }
    }

    /// Kill the server (SIGKILL) and wait for it to exit; `restart` starts
    /// it again.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop the server as a service manager does: SIGTERM, and its own
    /// shutdown (SIGKILL after 30 s); `restart` starts it again.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The end of the server's output, headed by its name, for failure
    /// messages.
    pub fn logs(&self) -> String {
        format!(
            "--- {} on {} (last lines of its log) ---\n{}",
            self.name,
            self.addr,
            tail(&self.log)
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `program` with `args` in `dir`, its output appended to `log`, and
/// wait until `GET /-/ready` on `addr` answers 200: the child, or its exit
/// status if it exited first.
#[allow(clippy::too_many_arguments)]
fn spawn_ready(
    name: &str,
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    dir: &Path,
    log: &Path,
    addr: SocketAddr,
    ready: &Ready,
) -> Result<Child, std::process::ExitStatus> {
    let out = File::options()
        .append(true)
        .create(true)
        .open(log)
        .expect("opening the log file");
    let err = out.try_clone().expect("sharing the log file");
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let deadline = Instant::now() + READY;
    loop {
        if ready(addr) {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} was not ready on {addr} within {READY:?}:\n{}",
                tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last 60 lines of a log file.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// One series of a query result: its labels and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The value of a label, or `""` (as PromQL treats a missing one).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// The raw samples of one series in a range: labels and (ms, value) pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(i64, f64)>,
}

/// A scrape job of a generated `prometheus.yml`.
#[derive(Clone, Debug)]
pub struct ScrapeJob {
    pub name: String,
    pub metrics_path: String,
    pub targets: Vec<SocketAddr>,
    pub honor_labels: bool,
}

impl ScrapeJob {
    /// The example service's job as the shipped `prometheus.yml` names it:
    /// `django`, at `/metrics/`.
    pub fn django(targets: &[SocketAddr]) -> ScrapeJob {
        ScrapeJob {
            name: "django".to_owned(),
            metrics_path: "/metrics/".to_owned(),
            targets: targets.to_vec(),
            honor_labels: false,
        }
    }

    /// A Pushgateway, with `honor_labels: true` so that the pushed `job`
    /// label is kept instead of becoming `exported_job`.
    pub fn pushgateway(gateway: SocketAddr) -> ScrapeJob {
        ScrapeJob {
            name: "pushgateway".to_owned(),
            metrics_path: "/metrics".to_owned(),
            targets: vec![gateway],
            honor_labels: true,
        }
    }
}

/// A `prometheus.yml` that scrapes and evaluates every second (so a test
/// waits seconds, not minutes), loads `rule_files` (relative to the
/// configuration's directory) and sends alerts to `alertmanager`.
pub fn prometheus_config(
    jobs: &[ScrapeJob],
    rule_files: &[&str],
    alertmanager: Option<SocketAddr>,
) -> String {
    let mut yml = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
    );
    if !rule_files.is_empty() {
        yml.push_str("rule_files:\n");
        for file in rule_files {
            let _ = writeln!(yml, "  - '{file}'");
        }
    }
    if let Some(alertmanager) = alertmanager {
        let _ = write!(
            yml,
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
        );
    }
    yml.push_str("scrape_configs:\n");
    for job in jobs {
        let targets: Vec<String> = job.targets.iter().map(|t| format!("'{t}'")).collect();
        let _ = write!(
            yml,
            "  - job_name: '{}'\n    metrics_path: '{}'\n    honor_labels: {}\n    static_configs:\n      - targets: [{}]\n",
            job.name,
            job.metrics_path,
            job.honor_labels,
            targets.join(", ")
        );
    }
    yml
}

/// Prometheus, from the `prometheus` package.
pub struct Prometheus {
    server: Server,
}

impl Prometheus {
    /// Start Prometheus with `config` as its `prometheus.yml` and `files`
    /// (name, text) written next to it: the rule files it names.
    pub fn start(config: &str, files: &[(&str, &str)]) -> Prometheus {
        Prometheus::start_with(config, files, &[])
    }

    /// [`start`](Self::start) with more command-line flags
    /// (`--enable-feature=exemplar-storage`).
    pub fn start_with(config: &str, files: &[(&str, &str)], flags: &[&str]) -> Prometheus {
        let flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
        let dir = TempDir::new("prometheus");
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("writing prometheus.yml");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("writing a rule file");
        }
        let server = Server::start(
            "prometheus",
            &tool("prometheus", "prometheus"),
            dir,
            |addr, dir| {
                let mut args = vec![
                    format!("--config.file={}", dir.join("prometheus.yml").display()),
                    format!("--storage.tsdb.path={}", dir.join("data").display()),
                    format!("--web.listen-address={addr}"),
                ];
                args.extend(flags.iter().cloned());
                args
            },
        );
        Prometheus { server }
    }

    /// One of an HA pair: [`start_with`](Self::start_with), with
    /// `PROMETHEUS_REPLICA=replica` in its environment, which the HA
    /// configuration's `replica` external label expands.
    /// `files` may name subdirectories (`targets/backend-1.json`).
    pub fn start_replica(config: &str, files: &[(&str, &str)], replica: &str) -> Prometheus {
        let dir = TempDir::new("prometheus");
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("writing prometheus.yml");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("creating a directory for a file");
            }
            std::fs::write(path, text).expect("writing a file");
        }
        let server = Server::start_in(
            "prometheus",
            &tool("prometheus", "prometheus"),
            dir,
            &[("PROMETHEUS_REPLICA", replica)],
            |addr, dir| {
                vec![
                    format!("--config.file={}", dir.join("prometheus.yml").display()),
                    format!("--storage.tsdb.path={}", dir.join("data").display()),
                    format!("--web.listen-address={addr}"),
                    "--enable-feature=expand-external-labels".to_owned(),
                ]
            },
            std::sync::Arc::new(ready_endpoint),
        );
        Prometheus { server }
    }

    /// The directory of its configuration: file_sd target files go here.
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Kill Prometheus (SIGKILL, as in a crash). [`restart`](Self::restart)
    /// brings it back.
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Start Prometheus again (killing it first if it runs) on the same
    /// port, configuration and data directory; it replays its write-ahead
    /// log, so the samples it had taken are kept.
    pub fn restart(&mut self) {
        self.server.restart();
    }

    /// `data` of a `GET /api/v1/{path}` (path and query), or why not.
    pub fn api(&self, path: &str) -> Result<Value, String> {
        let (status, body) = try_http(self.addr(), "GET", &format!("/api/v1/{path}"), None, "")
            .map_err(|e| format!("GET /api/v1/{path}: {e}"))?;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET /api/v1/{path} answered {status}, not JSON ({e}): {body}"))?;
        if json["status"] != "success" {
            return Err(format!(
                "GET /api/v1/{path} answered {status}: {}: {}",
                json["errorType"], json["error"]
            ));
        }
        Ok(json["data"].clone())
    }

    /// An instant query, now: one sample per series (a scalar is one
    /// sample without labels; a range vector gives each series' last
    /// value).
    pub fn query(&self, promql: &str) -> Result<Vec<Sample>, String> {
        self.query_with(promql, None)
    }

    /// An instant query evaluated at `at` (Unix seconds, to the
    /// millisecond), so that several queries see the same window.
    pub fn query_at(&self, promql: &str, at: f64) -> Result<Vec<Sample>, String> {
        self.query_with(promql, Some(at))
    }

    /// The stored samples of a range selector (`metric{..}[30s]`) at `at`:
    /// per series, its labels and every (timestamp in ms, value) in the
    /// window, the raw data `increase()` and `rate()` compute from.
    pub fn raw_samples(&self, selector: &str, at: f64) -> Result<Vec<RawSeries>, String> {
        let path = format!("query?query={}&time={at:.3}", url_encode(selector));
        let data = self.api(&path)?;
        if data["resultType"] != "matrix" {
            return Err(format!("`{selector}` is not a range selector: {data}"));
        }
        let series = data["result"].as_array().cloned().unwrap_or_default();
        series
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect();
                let samples = s["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|pair| {
                        let at = pair[0].as_f64().ok_or_else(|| format!("time of {pair}"))?;
                        let value = pair[1].as_str().ok_or_else(|| format!("value of {pair}"))?;
                        let value = value.parse().map_err(|e| format!("{value:?}: {e}"))?;
                        Ok(((at * 1000.0).round() as i64, value))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(RawSeries { labels, samples })
            })
            .collect()
    }

    fn query_with(&self, promql: &str, at: Option<f64>) -> Result<Vec<Sample>, String> {
        let time = at.map(|at| format!("&time={at:.3}")).unwrap_or_default();
        let data = self.api(&format!("query?query={}{time}", url_encode(promql)))?;
        let number = |pair: &Value| -> Result<f64, String> {
            let text = pair[1]
                .as_str()
                .ok_or_else(|| format!("no value in {pair}"))?;
            match text {
                "NaN" => Ok(f64::NAN),
                "+Inf" => Ok(f64::INFINITY),
                "-Inf" => Ok(f64::NEG_INFINITY),
                _ => text.parse().map_err(|e| format!("value {text:?}: {e}")),
            }
        };
        let labels = |series: &Value| -> BTreeMap<String, String> {
            series["metric"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_owned()))
                .collect()
        };
        let series = || data["result"].as_array().cloned().unwrap_or_default();
        match data["resultType"].as_str() {
            Some("vector") => series()
                .iter()
                .map(|s| {
                    Ok(Sample {
                        labels: labels(s),
                        value: number(&s["value"])?,
                    })
                })
                .collect(),
            Some("matrix") => series()
                .iter()
                .map(|s| {
                    let last = s["values"].as_array().and_then(|v| v.last()).cloned();
                    Ok(Sample {
                        labels: labels(s),
                        value: number(&last.unwrap_or_default())?,
                    })
                })
                .collect(),
            Some("scalar") => Ok(vec![Sample {
                labels: BTreeMap::new(),
                value: number(&data["result"])?,
            }]),
            other => Err(format!("result type {other:?} of `{promql}`: {data}")),
        }
    }

    /// Poll `check` until it succeeds (within [`WAIT`]); on timeout, panic
    /// with its last failure, the scrape targets' health and the log.
    #[track_caller]
    pub fn wait_for<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&Prometheus) -> Result<T, String>,
    ) -> T {
        eventually(what, WAIT, || check(self), || self.context())
    }

    /// Wait until `promql` gives exactly one sample (or a scalar) equal to
    /// `expected`.
    #[track_caller]
    pub fn wait_for_value(&self, promql: &str, expected: f64) {
        self.wait_for(&format!("`{promql}` == {expected}"), |p| {
            match p.query(promql)?.as_slice() {
                [one] if one.value == expected => Ok(()),
                samples => Err(format!("`{promql}` gave {samples:?}")),
            }
        });
    }

    /// Wait until every target of `job` has been scraped successfully.
    #[track_caller]
    pub fn wait_for_targets(&self, job: &str, count: usize) {
        let promql = format!("sum(up{{job=\"{job}\"}}) == {count}");
        self.wait_for(&format!("{count} `{job}` targets up"), |p| {
            match p.query(&promql)?.as_slice() {
                [_] => Ok(()),
                samples => Err(format!("`{promql}` gave {samples:?}")),
            }
        });
    }

    /// The targets' health and Prometheus's log, for failure messages.
    pub fn context(&self) -> String {
        let mut context = String::from("--- scrape targets ---\n");
        match self.api("targets") {
            Ok(data) => {
                for target in data["activeTargets"].as_array().into_iter().flatten() {
                    let _ = writeln!(
                        context,
                        "{} {} health={} lastError={}",
                        target["scrapePool"],
                        target["scrapeUrl"],
                        target["health"],
                        target["lastError"]
                    );
                }
            }
            Err(e) => context.push_str(&e),
        }
        context + "\n" + &self.server.logs()
    }

    pub fn logs(&self) -> String {
        self.server.logs()
    }
}

/// VictoriaMetrics, from the `victoria-metrics` package: the long-term
/// store of the HA setup. It answers Prometheus's query API, so its
/// queries are [`Prometheus`]'s (through `Deref`).
pub struct VictoriaMetrics(Prometheus);

impl VictoriaMetrics {
    /// Start it keeping one sample per series and `dedup` interval (its
    /// `-dedup.minScrapeInterval`), answering queries with the newest
    /// samples at once (no latency offset, no cache).
    pub fn start(dedup: &str) -> VictoriaMetrics {
        let dedup = dedup.to_owned();
        let server = Server::start_checked(
            "victoria-metrics",
            &tool("victoria-metrics", "victoria-metrics"),
            TempDir::new("victoria-metrics"),
            move |addr, dir| {
                vec![
                    format!("-httpListenAddr={addr}"),
                    format!("-storageDataPath={}", dir.join("data").display()),
                    format!("-dedup.minScrapeInterval={dedup}"),
                    "-search.latencyOffset=0s".to_owned(),
                    "-search.disableCache".to_owned(),
                ]
            },
            std::sync::Arc::new(|addr| {
                matches!(try_http(addr, "GET", "/health", None, ""), Ok((200, _)))
            }),
        );
        VictoriaMetrics(Prometheus { server })
    }

    /// Stop it (SIGTERM): it writes what it holds in memory to disk first.
    /// [`restart`](Prometheus::restart) brings it back with its data.
    pub fn stop(&mut self) {
        self.0.server.stop();
    }

    /// Where Prometheus's `remote_write` sends.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.0.addr())
    }
}

impl std::ops::Deref for VictoriaMetrics {
    type Target = Prometheus;

    fn deref(&self) -> &Prometheus {
        &self.0
    }
}

impl std::ops::DerefMut for VictoriaMetrics {
    fn deref_mut(&mut self) -> &mut Prometheus {
        &mut self.0
    }
}

/// Alertmanager, from the `prometheus-alertmanager` package, alone or a
/// peer of a cluster.
pub struct Alertmanager {
    server: Server,
}

impl Alertmanager {
    /// Start Alertmanager with `config` as its configuration, alone.
    pub fn start(config: &str) -> Alertmanager {
        // No gossip port: one instance, nothing else to bind.
        Alertmanager::start_with(config, vec!["--cluster.listen-address=".to_owned()])
    }

    /// Two Alertmanagers with `config`, peers of one cluster (gossip on
    /// loopback ports of their own), as the HA compose file runs them.
    pub fn cluster(config: &str) -> [Alertmanager; 2] {
        let gossip = [free_addr(), free_addr()];
        let member = |own: SocketAddr, peer: SocketAddr| {
            let flags = vec![
                format!("--cluster.listen-address={own}"),
                format!("--cluster.advertise-address={own}"),
                format!("--cluster.peer={peer}"),
                // Gossip at a test's pace: the notification log reaches
                // the peer within a second or two.
                "--cluster.gossip-interval=100ms".to_owned(),
                "--cluster.pushpull-interval=2s".to_owned(),
                "--cluster.settle-timeout=5s".to_owned(),
                "--cluster.peer-timeout=5s".to_owned(),
            ];
            Alertmanager::start_with(config, flags)
        };
        [member(gossip[0], gossip[1]), member(gossip[1], gossip[0])]
    }

    fn start_with(config: &str, flags: Vec<String>) -> Alertmanager {
        let dir = TempDir::new("alertmanager");
        std::fs::write(dir.path().join("alertmanager.yml"), config)
            .expect("writing alertmanager.yml");
        let server = Server::start(
            "alertmanager",
            &tool("prometheus-alertmanager", "prometheus-alertmanager"),
            dir,
            move |addr, dir| {
                let mut args = vec![
                    format!("--config.file={}", dir.join("alertmanager.yml").display()),
                    format!("--storage.path={}", dir.join("data").display()),
                    format!("--web.listen-address={addr}"),
                ];
                args.extend(flags.iter().cloned());
                args
            },
        );
        Alertmanager { server }
    }

    /// Kill this Alertmanager (SIGKILL, as in a crash).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// A configuration that sends every alert, grouped by name, to one
    /// webhook, after waiting a second for others of its group.
    pub fn webhook_config(url: &str) -> String {
        format!(
            "route:\n  receiver: webhook\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: webhook\n    webhook_configs:\n      - url: '{url}'\n        send_resolved: false\n"
        )
    }

    /// [`webhook_config`](Self::webhook_config) that also sends the
    /// resolution of each group.
    pub fn webhook_config_with_resolved(url: &str) -> String {
        Alertmanager::webhook_config(url).replace("send_resolved: false", "send_resolved: true")
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The alerts Alertmanager holds (`GET /api/v2/alerts`).
    pub fn alerts(&self) -> Result<Value, String> {
        let (status, body) = try_http(self.addr(), "GET", "/api/v2/alerts", None, "")
            .map_err(|e| format!("GET /api/v2/alerts: {e}"))?;
        serde_json::from_str(&body)
            .map_err(|e| format!("GET /api/v2/alerts answered {status}, not JSON ({e}): {body}"))
    }

    pub fn logs(&self) -> String {
        self.server.logs()
    }
}

/// The Pushgateway, from the `prometheus-pushgateway` package, keeping
/// what is pushed in memory.
pub struct Pushgateway {
    server: Server,
}

impl Pushgateway {
    pub fn start() -> Pushgateway {
        Pushgateway::start_with(&[], std::sync::Arc::new(ready_endpoint))
    }

    /// A gateway run with exporter-toolkit's `--web.config.file`: TLS,
    /// client certificates and basic-auth users as the file says.
    pub fn start_with_web_config(web_config: &Path) -> Pushgateway {
        let flag = format!("--web.config.file={}", web_config.display());
        Pushgateway::start_with(&[flag], std::sync::Arc::new(ready_when_listening))
    }

    fn start_with(extra: &[String], ready: Ready) -> Pushgateway {
        let server = Server::start_checked(
            "pushgateway",
            &tool("prometheus-pushgateway", "prometheus-pushgateway"),
            TempDir::new("pushgateway"),
            |addr, _| {
                let mut args = vec![
                    format!("--web.listen-address={addr}"),
                    // In memory only: Debian's default is a file under
                    // /var/lib/prometheus, shared by every gateway started.
                    "--persistence.file=".to_owned(),
                ];
                args.extend_from_slice(extra);
                args
            },
            ready,
        );
        Pushgateway { server }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:port`, what a batch job is given.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every group the gateway holds (`GET /api/v1/metrics`): its labels
    /// and its families.
    pub fn groups(&self) -> Result<Vec<Value>, String> {
        let (status, body) = try_http(self.addr(), "GET", "/api/v1/metrics", None, "")
            .map_err(|e| format!("GET /api/v1/metrics: {e}"))?;
        let json: Value = serde_json::from_str(&body).map_err(|e| {
            format!("GET /api/v1/metrics answered {status}, not JSON ({e}): {body}")
        })?;
        Ok(json["data"].as_array().cloned().unwrap_or_default())
    }

    pub fn logs(&self) -> String {
        self.server.logs()
    }
}
