//! The end-to-end harness: start the example service on a free loopback
//! port, talk HTTP to it, and run the Prometheus tools on what it serves.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1, as the kernel hands it out.
pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener.local_addr().expect("local address")
}

/// The example service's executable: `$EXAMPLE_SERVICE_BIN`, or built now
/// with the cargo that runs the tests (same profile, same target dir).
pub fn example_service_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("EXAMPLE_SERVICE_BIN") {
        return bin.into();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "example-service",
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
        .filter(|line| line.contains("\"executable\":\"") && line.contains("example-service"))
        .find_map(|line| {
            let start = line.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .expect("cargo reported the example-service executable")
}

/// A running example service, killed when dropped.
pub struct Service {
    pub addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl Service {
    /// Start the service with a fresh database and wait until it answers.
    pub fn start(env: &[(&str, &str)]) -> Service {
        let dir = TempDir::new("service");
        let addr = free_addr();
        let child = Command::new(example_service_bin())
            .env("BIND", addr.to_string())
            .env("DATABASE_PATH", dir.path().join("example.db"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting example-service");
        let service = Service {
            addr,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "example-service did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        service
    }

    /// One request; returns the status code and the body.
    pub fn request(&self, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
        http(self.addr, method, path, json)
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

/// A minimal HTTP/1.1 client: one request per connection.
pub fn http(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = json.unwrap_or("");
    let content_type = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("sending the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
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
