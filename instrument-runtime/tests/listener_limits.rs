//! The standalone listener (`Builder::listen`) under the attacks a client
//! can make without credentials: running the process out of file
//! descriptors, idle and half-sent connections, a reader that stalls,
//! thousands of large unfinished request heads, and many concurrent
//! scrapes of a large page. Each runs against a listener in a child process
//! (this test binary run again, as `child_listener`) with its own file
//! descriptor limit, so that its resident memory can be read from
//! `/proc` and a panic anywhere in it aborts the whole child, as with
//! `panic = "abort"`.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use instrument_runtime::{counted, Builder, Secret};

/// The child's settings, passed in its environment.
const CHILD_ADDR: &str = "LISTENER_LIMITS_CHILD_ADDR";
const CHILD_SERIES: &str = "LISTENER_LIMITS_CHILD_SERIES";
const CHILD_TIMEOUT_MS: &str = "LISTENER_LIMITS_CHILD_TIMEOUT_MS";
const CHILD_WRITE_TIMEOUT_MS: &str = "LISTENER_LIMITS_CHILD_WRITE_TIMEOUT_MS";
const TOKEN: &str = "listener-limits-token";
const AUTHORIZATION: (&str, &str) = ("Authorization", "Bearer listener-limits-token");

#[counted(name = "limits_series_total", labels(k = k))]
fn series(k: u32) {}

/// The listener of the other tests; does nothing unless they start it.
#[test]
#[ignore = "the child process of the other tests of this file"]
fn child_listener() {
    let Ok(addr) = std::env::var(CHILD_ADDR) else {
        return;
    };
    // As with `panic = "abort"`: any panic ends the process.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("child panicked: {info}");
        std::process::abort();
    }));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let number = |name: &str| -> u64 { std::env::var(name).unwrap().parse().unwrap() };
    Builder::new()
        .cardinality_limit(1_000_000)
        .bearer_token(Secret::new(TOKEN))
        .listen(addr.parse().unwrap())
        .listen_timeout(Duration::from_millis(number(CHILD_TIMEOUT_MS)))
        .listen_write_timeout(Duration::from_millis(number(CHILD_WRITE_TIMEOUT_MS)))
        .install()
        .expect("install");
    for k in 0..number(CHILD_SERIES) as u32 {
        series(k);
    }
    println!("\nlistener-ready");
    // Serve until the test closes our standard input.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// A listener in a child process, killed when dropped.
struct Listener {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Listener {
    /// Start the child with `nofile` file descriptors at most, `series`
    /// series on its page and the given listener timeout (the write
    /// timeout is the same).
    fn start(nofile: u32, series: u32, timeout: Duration) -> Listener {
        Listener::start_with(nofile, series, timeout, timeout)
    }

    fn start_with(nofile: u32, series: u32, timeout: Duration, write: Duration) -> Listener {
        let addr = common::free_addr();
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(exe)
            .args(["--exact", "child_listener", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_ADDR, addr.to_string())
            .env(CHILD_SERIES, series.to_string())
            .env(CHILD_TIMEOUT_MS, timeout.as_millis().to_string())
            .env(CHILD_WRITE_TIMEOUT_MS, write.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the child listener");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                *sink.lock().unwrap() = text.clone();
            }
        });
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        for line in stdout.lines() {
            match line {
                Ok(line) if line == "listener-ready" => break,
                Ok(_) => continue,
                Err(error) => panic!("the child's output: {error}"),
            }
        }
        if child.try_wait().expect("the child's status").is_some() {
            panic!(
                "the listener process ended early: {}",
                stderr.lock().unwrap()
            );
        }
        let listener = Listener {
            child,
            addr,
            stderr,
        };
        listener.assert_alive();
        listener
    }

    #[track_caller]
    fn assert_alive(&self) {
        let alive = Command::new("kill")
            .args(["-0", &self.child.id().to_string()])
            .status()
            .expect("kill -0");
        assert!(
            alive.success(),
            "the listener process is gone; its stderr: {}",
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A field of `/proc/<pid>/status`, in KiB (`VmRSS`, `VmHWM`).
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"))
    }

    /// An authorized scrape that must be answered in full within `within`.
    #[track_caller]
    fn scrape_within(&self, within: Duration) -> String {
        let started = Instant::now();
        let mut stream = TcpStream::connect_timeout(&self.addr, within)
            .unwrap_or_else(|e| panic!("connect to the listener: {e}"));
        stream.set_read_timeout(Some(within)).unwrap();
        write!(
            stream,
            "GET /metrics/ HTTP/1.1\r\nHost: x\r\n{}: {}\r\nConnection: close\r\n\r\n",
            AUTHORIZATION.0, AUTHORIZATION.1
        )
        .unwrap();
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("read the scrape after {:?}: {e}", started.elapsed()));
        assert!(started.elapsed() <= within, "{:?}", started.elapsed());
        let raw = String::from_utf8(raw).expect("UTF-8");
        assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw:.200}");
        raw
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raise this process's own descriptor limit (the clients' sockets) to
/// `wanted`, or to the hard limit if that is lower.
fn raise_nofile(wanted: u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let hard: u64 = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(4))
        .and_then(|hard| hard.parse().ok())
        .unwrap_or(wanted);
    let soft = wanted.min(hard);
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={soft}:"))
        .status()
        .expect("prlimit");
    assert!(status.success(), "prlimit --nofile={soft}:");
}

/// Whether the server has closed `stream`: end of file or a reset, without
/// waiting.
fn closed(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// With 64 file descriptors and 200 connections left open, the listener
/// runs out of descriptors; it backs off instead of dying, and answers
/// scrapes again once the connections close.
#[test]
fn running_out_of_file_descriptors_is_survived() {
    let listener = Listener::start(64, 10, Duration::from_secs(30));
    let mut flood = Vec::new();
    for _ in 0..200 {
        // Past the accept backlog, a connection is not completed at all.
        if let Ok(stream) = TcpStream::connect_timeout(&listener.addr, Duration::from_millis(100)) {
            flood.push(stream);
        }
    }
    assert!(flood.len() > 64, "only {} connections", flood.len());
    // Give the accept loop time to hit the limit and back off.
    std::thread::sleep(Duration::from_millis(500));
    listener.assert_alive();
    drop(flood);
    let page = listener.scrape_within(Duration::from_secs(5));
    assert!(
        page.contains("limits_series_total{k=\"9\"} 1"),
        "{page:.300}"
    );
    listener.assert_alive();
    let stderr = listener.stderr();
    assert!(
        stderr.contains("the /metrics/ listener cannot accept connections"),
        "the descriptor limit was never reached: {stderr}"
    );
    assert_eq!(stderr.matches("cannot accept").count(), 1, "{stderr}");
    // And again, the listener keeps serving.
    listener.scrape_within(Duration::from_secs(5));
}

/// 1,000 silent, half-sent and idle kept-alive connections: scrapes are
/// answered while they are open, and every one of them is closed within
/// the timeout (3 s here) and a second.
#[test]
fn idle_and_slow_clients_are_closed() {
    raise_nofile(8192);
    let timeout = Duration::from_secs(3);
    let listener = Listener::start(4096, 10, timeout);
    let opened = Instant::now();
    let connect = || TcpStream::connect(listener.addr).expect("connect");
    let mut silent: Vec<TcpStream> = (0..400).map(|_| connect()).collect();
    let mut half_sent: Vec<TcpStream> = (0..400).map(|_| connect()).collect();
    for stream in &mut half_sent {
        stream.write_all(b"GET /metrics/ HTTP/1.1\r\n").unwrap();
    }
    // Kept alive after one complete scrape.
    let mut kept_alive: Vec<TcpStream> = (0..200).map(|_| connect()).collect();
    for stream in &mut kept_alive {
        write!(
            stream,
            "GET /metrics/ HTTP/1.1\r\nHost: x\r\n{}: {}\r\n\r\n",
            AUTHORIZATION.0, AUTHORIZATION.1
        )
        .unwrap();
    }
    for stream in &mut kept_alive {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = [0; 17];
        stream.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");
    }
    let all_open = opened.elapsed();
    // One byte every 300 ms on the half-sent ones, and scrapes meanwhile.
    let mut last_scrape = Duration::ZERO;
    for _ in 0..3 {
        for stream in &mut half_sent {
            let _ = stream.write_all(b"X");
        }
        let started = Instant::now();
        listener.scrape_within(Duration::from_secs(1));
        last_scrape = last_scrape.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = opened + all_open + timeout + Duration::from_secs(1);
    let mut open = silent.len() + half_sent.len() + kept_alive.len();
    while open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        silent.retain_mut(|s| !closed(s));
        half_sent.retain_mut(|s| !closed(s));
        kept_alive.retain_mut(|s| !closed(s));
        open = silent.len() + half_sent.len() + kept_alive.len();
    }
    assert_eq!(
        (silent.len(), half_sent.len(), kept_alive.len()),
        (0, 0, 0),
        "connections (silent, half-sent, kept alive) still open {:?} after the flood began \
         (slowest scrape during it: {last_scrape:?})",
        opened.elapsed()
    );
    listener.assert_alive();
}

/// A client that asks for a large page and reads none of it is closed
/// once the write has stalled for the write timeout (3 s here); one that
/// reads it slowly but steadily, for longer than the head timeout (2 s),
/// gets all of it.
#[test]
fn a_stalled_reader_is_closed_and_a_slow_one_served() {
    let timeout = Duration::from_secs(2);
    let write_timeout = Duration::from_secs(3);
    // Larger than the kernel's send and receive buffers on loopback
    // (4 MiB at most by default), so that the writes do stall.
    let listener = Listener::start_with(1024, 200_000, timeout, write_timeout);
    let page_len = listener.scrape_within(Duration::from_secs(20)).len();
    assert!(page_len > 6_000_000, "{page_len}");
    let request = |stream: &mut TcpStream| {
        write!(
            stream,
            "GET /metrics/ HTTP/1.1\r\nHost: x\r\n{}: {}\r\nConnection: close\r\n\r\n",
            AUTHORIZATION.0, AUTHORIZATION.1
        )
        .unwrap();
    };
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&listener.addr.into()).unwrap();
    let mut stalled = TcpStream::from(socket);
    request(&mut stalled);
    let mut slow = TcpStream::connect(listener.addr).unwrap();
    request(&mut slow);
    // At most 1.6 MB/s: four seconds or more for the page.
    let started = Instant::now();
    let mut slow_received = 0;
    let mut buf = vec![0; 16 * 1024];
    loop {
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => slow_received += n,
            Err(e) => panic!("the slow reader, after {slow_received} bytes: {e}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let slow_took = started.elapsed();
    assert_eq!(slow_received, page_len, "after {slow_took:?}");
    assert!(slow_took > timeout + timeout / 2, "{slow_took:?}");
    // Whatever the kernel buffered arrives, then the end: not the page.
    stalled
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut received = Vec::new();
    let end = stalled.read_to_end(&mut received);
    assert!(
        received.len() < page_len,
        "the whole page ({} bytes) was sent",
        received.len()
    );
    match end {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
    listener.scrape_within(Duration::from_secs(20));
}

/// 3,000 connections each sending 400 KB of a request head that never
/// ends: each is refused after 16 KiB, at most 1,024 are held at once, and
/// the listener's resident memory stays within the bound SECURITY.md
/// states (64 MiB above its size before).
#[test]
fn unfinished_heads_hold_bounded_memory() {
    raise_nofile(8192);
    let listener = Listener::start(8192, 10, Duration::from_secs(10));
    let before = listener.memory_kib("VmRSS");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = listener.addr;
    let refused = runtime.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tasks = Vec::new();
        for _ in 0..3000 {
            tasks.push(tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
                let mut head = b"GET /metrics/ HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
                head.resize(400 * 1024, b'a');
                let _ = stream.write_all(&head).await;
                let mut answer = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
                        .await;
                Some(answer.starts_with(b"HTTP/1.1 431"))
            }));
        }
        let mut refused = 0;
        for task in tasks {
            if task.await.unwrap() == Some(true) {
                refused += 1;
            }
        }
        refused
    });
    let peak = listener.memory_kib("VmHWM");
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "3000 unfinished 400 KB heads: {refused} answered 431; resident {} MiB before, \
         peak {} MiB",
        before / 1024,
        peak / 1024
    );
    assert!(refused >= 2900, "{refused} of 3000 answered 431");
    assert!(grown_mib <= 64, "resident memory grew by {grown_mib} MiB");
    listener.scrape_within(Duration::from_secs(5));
}

/// 200 concurrent scrapes of a page of 20,000 series share renderings:
/// every one gets the whole page, and resident memory grows by less than
/// 40 copies of the page would take.
#[test]
fn concurrent_scrapes_share_renderings() {
    raise_nofile(8192);
    let listener = Listener::start(4096, 20_000, Duration::from_secs(30));
    let page = listener.scrape_within(Duration::from_secs(10));
    let body_len = page.len() - page.find("\r\n\r\n").unwrap() - 4;
    let before = listener.memory_kib("VmRSS");
    let addr = listener.addr;
    let started = Instant::now();
    let scrapers: Vec<_> = (0..200)
        .map(|_| {
            std::thread::spawn(move || {
                let response =
                    common::http_request_with_headers(addr, "GET", "/metrics/", &[AUTHORIZATION]);
                (response.status, response.body.len())
            })
        })
        .collect();
    for scraper in scrapers {
        assert_eq!(scraper.join().unwrap(), (200, body_len));
    }
    let elapsed = started.elapsed();
    let peak = listener.memory_kib("VmHWM");
    let grown = peak.saturating_sub(before) * 1024;
    eprintln!(
        "200 concurrent scrapes of {body_len} bytes: {elapsed:?}; resident {} MiB before, \
         peak {} MiB",
        before / 1024,
        peak / 1024
    );
    assert!(
        grown < 40 * body_len as u64,
        "resident memory grew by {} MiB",
        grown / (1024 * 1024)
    );
}
