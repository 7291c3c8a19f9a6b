//! `Metrics::push` and `Push` against a gateway played by the test: the
//! exact request, and an error naming the URL for each way a push fails.
//! (tests/tests/live_pushgateway.rs pushes to the real Pushgateway.)

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use instrument_runtime::{counted, Builder, Metrics, Push, PushError};

fn metrics() -> &'static Metrics {
    common::install_once(|| Builder::new().namespace("batch"))
}

/// A gateway that accepts one connection, reads one request and answers
/// `answer` (nothing when `None`, holding the connection open). The
/// request arrives on the channel.
fn gateway(answer: Option<String>) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding");
    let addr = listener.local_addr().expect("address");
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accepting");
        let request = read_request(&mut stream);
        let _ = sender.send(request);
        match answer {
            Some(answer) => {
                let _ = stream.write_all(answer.as_bytes());
                // Keep the connection open: the client must stop at Content-Length.
                thread::sleep(Duration::from_secs(30));
            }
            None => thread::sleep(Duration::from_secs(30)),
        }
    });
    (addr, receiver)
}

fn answer(status: u16, reason: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn read_request(stream: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let n = stream.read(&mut buffer).expect("reading the request");
        request.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(": ")?;
                    name.eq_ignore_ascii_case("content-length").then_some(value)
                })
                .expect("a Content-Length header")
                .parse()
                .expect("a number");
            if body.len() >= length {
                return text.into_owned();
            }
        }
        assert!(n > 0, "the client closed mid-request: {text}");
    }
}

/// Header names in lower case, and their values.
fn headers<'a>(lines: impl Iterator<Item = &'a str>) -> std::collections::HashMap<String, String> {
    lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect()
}

/// Resident memory of this process, in bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("pages");
    pages * 4096
}

#[counted]
fn import_row(row: u32) -> Result<u32, String> {
    if row % 4 == 0 {
        Err(format!("row {row} is malformed"))
    } else {
        Ok(row)
    }
}

#[test]
fn push_puts_the_whole_exposition_under_the_job() {
    common::isolated(|| {
        let metrics = metrics();
        for row in 1..=8 {
            let _ = import_row(row);
        }
        let (addr, requests) = gateway(Some(answer(200, "OK", "")));
        let started = Instant::now();
        metrics
            .push(&format!("http://{addr}"), "nightly-import")
            .unwrap_or_else(|e| panic!("{e}"));
        // Answered with Content-Length on a connection left open: no waiting for the timeout.
        assert!(started.elapsed() < Duration::from_secs(5));

        let request = requests.recv().expect("the gateway saw a request");
        let (head, body) = request.split_once("\r\n\r\n").expect("head and body");
        let mut lines = head.lines();
        assert_eq!(
            lines.next(),
            Some("PUT /metrics/job/nightly-import HTTP/1.1")
        );
        let headers = headers(lines);
        assert_eq!(headers.get("host"), Some(&addr.to_string()), "{head}");
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "{head}"
        );
        assert_eq!(
            headers.get("content-length"),
            Some(&body.len().to_string()),
            "{head}"
        );
        assert_eq!(headers.get("authorization"), None, "{head}");
        let calls = |result: &str| {
            format!(
            "batch_function_calls_total{{function=\"import_row\",module=\"configured::push\",result=\"{result}\"}} "
        )
        };
        assert!(body.contains(&(calls("ok") + "6\n")), "{body}");
        assert!(body.contains(&(calls("error") + "2\n")), "{body}");
        assert!(
            body.contains("# TYPE batch_function_calls_total counter"),
            "{body}"
        );
    });
}

#[test]
fn grouping_labels_extend_the_path() {
    common::isolated(|| {
        let (addr, requests) = gateway(Some(answer(202, "Accepted", "")));
        Push::new(format!("http://{addr}/gateway/"), "import")
            .grouping("instance", "worker-1")
            .grouping("shard", "eu/west")
            .send(metrics())
            .unwrap_or_else(|e| panic!("{e}"));
        let request = requests.recv().expect("a request");
        assert!(
        request.starts_with(
            "PUT /gateway/metrics/job/import/instance/worker-1/shard@base64/ZXUvd2VzdA== HTTP/1.1\r\n"
        ),
        "{request}"
    );
    });
}

#[test]
fn a_refusal_carries_the_status_and_the_reason() {
    common::isolated(|| {
        let (addr, _requests) = gateway(Some(answer(
            400,
            "Bad Request",
            "pushed metrics are invalid or inconsistent with existing metrics\n",
        )));
        let error = metrics()
            .push(&format!("http://{addr}"), "import")
            .unwrap_err();
        let url = format!("http://{addr}/metrics/job/import");
        assert!(
            matches!(&error, PushError::Rejected { url: u, status: 400, body }
            if *u == url && body == "pushed metrics are invalid or inconsistent with existing metrics"),
            "{error:?}"
        );
        assert_eq!(
        error.to_string(),
        format!("the Pushgateway at {url} refused the push: HTTP 400: pushed metrics are invalid or inconsistent with existing metrics")
    );
    });
}

#[test]
fn an_unreachable_gateway_is_named() {
    common::isolated(|| {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a port nobody listens on");
        let error = metrics()
            .push(&format!("http://{addr}"), "import")
            .unwrap_err();
        let PushError::Io { url, source } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*url, format!("http://{addr}/metrics/job/import"));
        assert_eq!(source.kind(), ErrorKind::ConnectionRefused);
        assert!(
            error
                .to_string()
                .starts_with(&format!("pushing metrics to {url} failed: ")),
            "{error}"
        );
    });
}

#[test]
fn a_silent_gateway_costs_the_timeout_and_no_more() {
    common::isolated(|| {
        let (addr, _requests) = gateway(None);
        let started = Instant::now();
        let error = Push::new(format!("http://{addr}"), "import")
            .timeout(Duration::from_millis(300))
            .send(metrics())
            .unwrap_err();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        let PushError::Io { source, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(source.kind(), ErrorKind::TimedOut);
        assert_eq!(
            error.to_string(),
            format!(
            "pushing metrics to http://{addr}/metrics/job/import failed: the push did not finish within 300ms"
        )
        );
    });
}

#[test]
fn basic_credentials_go_in_the_authorization_header() {
    common::isolated(|| {
        let (addr, requests) = gateway(Some(answer(200, "OK", "")));
        Push::new(format!("http://{addr}"), "import")
            .basic_auth("batch", instrument_runtime::Secret::new("s3cret:x"))
            .send(metrics())
            .unwrap_or_else(|e| panic!("{e}"));
        let request = requests.recv().expect("a request");
        let headers = headers(request.lines().skip(1));
        // base64("batch:s3cret:x")
        assert_eq!(
            headers.get("authorization").map(String::as_str),
            Some("Basic YmF0Y2g6czNjcmV0Ong="),
            "{request}"
        );

        let error = Push::new(format!("http://{addr}"), "import")
            .basic_auth(
                "batch",
                instrument_runtime::Secret::from_env("NO_SUCH_PUSH_PASSWORD"),
            )
            .send(metrics())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid Pushgateway setting `basic_auth`: the password's environment variable NO_SUCH_PUSH_PASSWORD is not set"
        );
    });
}

#[test]
fn a_redirect_is_not_followed() {
    common::isolated(|| {
        let (elsewhere, seen_elsewhere) = gateway(Some(answer(200, "OK", "")));
        let (addr, _requests) = gateway(Some(format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{elsewhere}/metrics/job/import\r\nContent-Length: 0\r\n\r\n"
        )));
        let error = metrics()
            .push(&format!("http://{addr}"), "import")
            .unwrap_err();
        assert!(
            matches!(&error, PushError::Rejected { status: 307, .. }),
            "{error:?}"
        );
        assert!(seen_elsewhere
            .recv_timeout(Duration::from_millis(300))
            .is_err());
    });
}

/// A gateway that reads the request and then answers `head` followed by
/// `x` bytes without end, until the client goes away.
fn endless_gateway(head: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding");
    let addr = listener.local_addr().expect("address");
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accepting");
        read_request(&mut stream);
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let framed = format!("{:x}\r\n{}\r\n", chunk.len(), "x".repeat(chunk.len()));
        let chunked = head.contains("chunked");
        loop {
            let sent = if chunked {
                stream.write_all(framed.as_bytes())
            } else {
                stream.write_all(&chunk)
            };
            if sent.is_err() {
                return;
            }
        }
    });
    addr
}

#[test]
fn a_gateway_that_answers_without_end_costs_one_kilobyte() {
    common::isolated(|| {
        for head in [
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 10000000000\r\n\r\n",
            "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let before = resident();
            let started = Instant::now();
            let error = Push::new(format!("http://{}", endless_gateway(head)), "import")
                .timeout(Duration::from_secs(5))
                .send(metrics())
                .unwrap_err();
            let PushError::Rejected {
                status: 500, body, ..
            } = &error
            else {
                panic!("{error:?}");
            };
            assert_eq!(body.len(), 1024 + "...".len(), "{head}");
            assert!(body.ends_with("xxx..."), "{body}");
            assert!(started.elapsed() < Duration::from_secs(5), "{head}");
            let grown = resident().saturating_sub(before);
            assert!(
                grown < 32 << 20,
                "{head}: resident memory grew by {grown} bytes"
            );
        }
    });
}

#[test]
fn a_gateway_that_reads_slowly_ends_the_push_at_its_deadline() {
    common::isolated(|| {
        // A page of about 8 MB: more than the kernel buffers of a loopback
        // connection hold, so the push waits on the gateway's reading.
        for i in 0..100_000 {
            metrics::counter!("batch_rows_imported_total", "row" => format!("row-{i:07}-{}", "p".repeat(40))).increment(1);
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding");
        let addr = listener.local_addr().expect("address");
        let (sender, read) = mpsc::channel();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accepting");
            let mut total = 0;
            let mut byte = [0; 1024];
            // 10 KB a second, until the client gives up.
            while let Ok(n @ 1..) = stream.read(&mut byte) {
                total += n;
                thread::sleep(Duration::from_millis(100));
            }
            let _ = sender.send(total);
        });
        let started = Instant::now();
        let error = Push::new(format!("http://{addr}"), "import")
            .timeout(Duration::from_secs(2))
            .send(metrics())
            .unwrap_err();
        let waited = started.elapsed();
        let PushError::Io { source, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(source.kind(), ErrorKind::TimedOut, "{error}");
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
            "{waited:?}"
        );
        let read = read
            .recv_timeout(Duration::from_secs(10))
            .expect("the gateway saw the client leave");
        assert!(read < 8_000_000, "the gateway read {read} bytes");
    });
}
