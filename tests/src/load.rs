//! Load: `wrk` (the Debian package `wrk`) as a child process with its
//! summary parsed, and a [`Gate`], a counting TCP proxy that can stop
//! letting new requests through, so that a load run ends with no request
//! in flight and `wrk`'s count of completed requests can be compared with
//! the service's count exactly.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::tool;

/// A `wrk` run in the background, killed if dropped before it finished.
pub struct Wrk {
    child: Option<Child>,
    command: String,
}

/// What `wrk` printed at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrkReport {
    /// Responses read completely (`N requests in ..`): `wrk` counts a
    /// request once its whole response has arrived, so the requests still
    /// in flight when the run stops are not in it.
    pub completed: u64,
    /// `Non-2xx or 3xx responses` (wrk counts statuses above 399).
    pub error_statuses: u64,
    /// `Socket errors: connect, read, write, timeout` (0 when not printed).
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub timeouts: u64,
    /// The whole output, for failure messages.
    pub output: String,
}

impl Wrk {
    /// Start `wrk -t{threads} -c{connections} -d{duration} --timeout 10s
    /// {url}`: no Lua script, one GET at a time on each keep-alive
    /// connection (no pipelining).
    pub fn start(url: &str, threads: u32, connections: u32, duration: Duration) -> Wrk {
        let args = [
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{}s", duration.as_secs()),
            "--timeout".to_owned(),
            "10s".to_owned(),
            url.to_owned(),
        ];
        let command = format!("wrk {}", args.join(" "));
        let child = Command::new(tool("wrk", "wrk"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command}: {e}"));
        Wrk {
            child: Some(child),
            command,
        }
    }

    /// Wait for the run to end (its connections are closed when `wrk`
    /// exits) and parse its summary.
    pub fn finish(mut self) -> WrkReport {
        let child = self.child.take().expect("finished once");
        let output = child.wait_with_output().expect("wrk ran");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "`{}` failed ({}):\n{text}",
            self.command,
            output.status
        );
        WrkReport::parse(&text).unwrap_or_else(|e| panic!("`{}`: {e}:\n{text}", self.command))
    }
}

impl Drop for Wrk {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl WrkReport {
    /// Parse wrk 4's summary:
    ///
    /// ```text
    ///   123456 requests in 30.00s, 20.00MB read
    ///   Socket errors: connect 0, read 0, write 0, timeout 2
    ///   Non-2xx or 3xx responses: 5
    /// ```
    pub fn parse(text: &str) -> Result<WrkReport, String> {
        let number = |s: &str| {
            s.trim()
                .trim_end_matches(',')
                .parse::<u64>()
                .map_err(|e| format!("{s:?}: {e}"))
        };
        let completed = text
            .lines()
            .find_map(|line| line.trim().split_once(" requests in "))
            .ok_or("no `N requests in` line")?
            .0;
        let mut report = WrkReport {
            completed: number(completed)?,
            error_statuses: 0,
            connect_errors: 0,
            read_errors: 0,
            write_errors: 0,
            timeouts: 0,
            output: text.to_owned(),
        };
        for line in text.lines().map(str::trim) {
            if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
                report.error_statuses = number(count)?;
            } else if let Some(errors) = line.strip_prefix("Socket errors:") {
                for part in errors.split(',') {
                    let (kind, count) = part
                        .trim()
                        .split_once(' ')
                        .ok_or_else(|| format!("socket errors {errors:?}"))?;
                    let count = number(count)?;
                    match kind {
                        "connect" => report.connect_errors = count,
                        "read" => report.read_errors = count,
                        "write" => report.write_errors = count,
                        "timeout" => report.timeouts = count,
                        other => return Err(format!("socket error kind {other:?}")),
                    }
                }
            }
        }
        Ok(report)
    }

    /// Socket errors of every kind.
    pub fn socket_errors(&self) -> u64 {
        self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }
}

/// A TCP proxy on a free loopback port in front of `upstream` that counts
/// the HTTP requests it passes on and, once [closed](Gate::close), holds
/// every new request back (the connection stays open, the request is
/// never sent). Closed a second or more before a `wrk` run ends, the run
/// ends with nothing in flight: every request the service received was
/// answered and read, so `wrk`'s completed count, the gate's count and
/// the service's count must all be equal.
///
/// Requests are told apart by their blank line (`\r\n\r\n`): for
/// requests without a body, sent one at a time on each connection (what
/// `wrk` without a script does).
pub struct Gate {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    open: AtomicBool,
    stopping: AtomicBool,
    forwarded: AtomicU64,
    held: AtomicU64,
    /// Every socket, to shut them all down when the gate is dropped.
    sockets: Mutex<Vec<TcpStream>>,
}

impl Gate {
    pub fn start(upstream: SocketAddr) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the gate");
        let addr = listener.local_addr().expect("the gate's address");
        let shared = Arc::new(Shared {
            upstream,
            open: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
            forwarded: AtomicU64::new(0),
            held: AtomicU64::new(0),
            sockets: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if shared.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        connect(&shared, client);
                    }
                }
            })
        };
        Gate {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Let no new request through from now on.
    pub fn close(&self) {
        self.shared.open.store(false, Ordering::SeqCst);
    }

    /// Requests passed on to the service.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Requests held back after [`close`](Gate::close).
    pub fn held(&self) -> u64 {
        self.shared.held.load(Ordering::SeqCst)
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for socket in self.shared.sockets.lock().expect("sockets").drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // Wake the acceptor up.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Connect a client to the upstream: one thread each way.
fn connect(shared: &Arc<Shared>, client: TcpStream) {
    let Ok(upstream) = TcpStream::connect(shared.upstream) else {
        return;
    };
    for socket in [&client, &upstream] {
        let _ = socket.set_nodelay(true);
    }
    let clones = || -> std::io::Result<_> {
        Ok((
            client.try_clone()?,
            upstream.try_clone()?,
            client.try_clone()?,
            upstream.try_clone()?,
        ))
    };
    let Ok((client_down, upstream_down, client_keep, upstream_keep)) = clones() else {
        return;
    };
    shared
        .sockets
        .lock()
        .expect("sockets")
        .extend([client_keep, upstream_keep]);
    let up = Arc::clone(shared);
    std::thread::spawn(move || requests(&up, client, upstream));
    std::thread::spawn(move || responses(upstream_down, client_down));
}

/// Client to upstream: pass requests on and count them, until the gate
/// closes at a request boundary; then read and drop what the client
/// sends until it leaves.
fn requests(shared: &Shared, mut client: TcpStream, mut upstream: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    // Where the reader is in `\r\n\r\n`, and whether bytes of a request
    // not yet complete were passed on.
    let (mut matched, mut partial) = (0u8, false);
    loop {
        let n = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !partial && !shared.open.load(Ordering::SeqCst) {
            shared.held.fetch_add(1, Ordering::SeqCst);
            // Hold it: never sent; wait for the client to go.
            while let Ok(n) = client.read(&mut buffer) {
                if n == 0 {
                    break;
                }
            }
            break;
        }
        if upstream.write_all(&buffer[..n]).is_err() {
            break;
        }
        for &byte in &buffer[..n] {
            partial = true;
            matched = match (matched, byte) {
                (0 | 2, b'\r') => matched + 1,
                (1, b'\n') => 2,
                (3, b'\n') => {
                    shared.forwarded.fetch_add(1, Ordering::SeqCst);
                    partial = false;
                    0
                }
                (_, b'\r') => 1,
                _ => 0,
            };
        }
    }
    let _ = upstream.shutdown(Shutdown::Write);
}

/// Upstream to client: copy everything.
fn responses(mut upstream: TcpStream, mut client: TcpStream) {
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_summaries_are_parsed() {
        let text = "\
Running 30s test @ http://127.0.0.1:1/api/load
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  300.00us  12.00ms   90.00%
    Req/Sec     6.00k   500.00     7.00k    70.00%
  358712 requests in 30.00s, 64.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 17
Requests/sec:  11957.07
Transfer/sec:      2.13MB
";
        let report = WrkReport::parse(text).expect("parses");
        assert_eq!(
            (
                report.completed,
                report.error_statuses,
                report.connect_errors,
                report.read_errors,
                report.write_errors,
                report.timeouts,
                report.socket_errors()
            ),
            (358_712, 17, 1, 2, 3, 4, 10)
        );
        let clean = "  12 requests in 1.00s, 1.00KB read\nRequests/sec: 12.00\n";
        let report = WrkReport::parse(clean).expect("parses");
        assert_eq!((report.completed, report.socket_errors()), (12, 0));
        assert!(WrkReport::parse("Running 1s test").is_err());
    }

    #[test]
    fn the_gate_counts_requests_and_holds_them_once_closed() {
        // An upstream that answers every request with an empty 200.
        let upstream = TcpListener::bind("127.0.0.1:0").expect("bind");
        let upstream_addr = upstream.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in upstream.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buffer) {
                        if n == 0 {
                            break;
                        }
                        seen.extend_from_slice(&buffer[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let _ =
                                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                        }
                    }
                });
            }
        });
        let gate = Gate::start(upstream_addr);
        let mut client = TcpStream::connect(gate.addr()).expect("connect");
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reply = [0u8; 64];
        // A request split over three writes, then two more.
        for part in ["GET / HTTP/1.1\r", "\nHost: x\r\n", "\r\n"] {
            client.write_all(part.as_bytes()).expect("write");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = client.read(&mut reply).expect("a response");
        for _ in 0..2 {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("write");
            let _ = client.read(&mut reply).expect("a response");
        }
        assert_eq!(gate.forwarded(), 3);
        gate.close();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        assert!(
            client.read(&mut reply).is_err(),
            "a held request was answered"
        );
        assert_eq!((gate.forwarded(), gate.held()), (3, 1));
    }
}
