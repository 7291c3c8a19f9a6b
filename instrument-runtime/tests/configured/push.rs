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
                .find_map(|line| line.strip_prefix("Content-Length: "))
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
        let headers: Vec<&str> = lines.collect();
        assert!(
            headers.contains(&format!("Host: {addr}").as_str()),
            "{head}"
        );
        assert!(
            headers.contains(&"Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            "{head}"
        );
        assert!(
            headers.contains(&format!("Content-Length: {}", body.len()).as_str()),
            "{head}"
        );
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
            "pushing metrics to http://{addr}/metrics/job/import failed: no answer within 300ms"
        )
        );
    });
}
