//! Pushing the exposition to a Prometheus Pushgateway, for batch jobs that
//! end before a scrape could reach them.
//!
//! Plain HTTP/1.1 over a `std::net::TcpStream`: the gateway usually runs next
//! to Prometheus on a private network, and a TLS stack is a heavy dependency
//! for one request.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;

use crate::Metrics;

/// How long a push may take, connecting included, unless
/// [`Push::timeout`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a refusal's body that an error keeps.
const MAX_BODY: usize = 1024;

impl Metrics {
    /// Push every series to a Pushgateway under `job`, replacing what that
    /// job pushed before: an HTTP `PUT` of [`render`](Metrics::render) to
    /// `{gateway}/metrics/job/{job}`.
    ///
    /// `gateway` is `http://host:port`, optionally with a path prefix
    /// (`http://gateway:9091/pushgateway`). Use [`Push`] for grouping labels
    /// or another timeout (the default is 10 s).
    ///
    /// ```no_run
    /// let metrics = instrument_runtime::install()?;
    /// // ... the batch job's work ...
    /// metrics.push("http://127.0.0.1:9091", "nightly-import")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`PushError`] naming the URL: the gateway cannot be reached, does
    /// not answer in time, or answers other than `2xx` (its status and body
    /// are in the error).
    pub fn push(&self, gateway: &str, job: &str) -> Result<(), PushError> {
        Push::new(gateway, job).send(self)
    }
}

/// A push to a Prometheus Pushgateway: the gateway, the job, grouping
/// labels and a timeout.
///
/// The job and grouping labels form the group's key: a push replaces every
/// series the same key pushed before (HTTP `PUT`), so a job that pushes
/// its complete state when it finishes leaves no stale series behind.
/// Values that cannot stand in a URL path as they are (`/`, spaces, an
/// empty value, ...) are sent base64-encoded, as the gateway expects.
///
/// ```no_run
/// use std::time::Duration;
/// use instrument_runtime::Push;
///
/// let metrics = instrument_runtime::Builder::new().namespace("billing").install()?;
/// // ... the batch job's work ...
/// Push::new("http://pushgateway:9091", "invoice-run")
///     .grouping("shard", "eu/1")
///     .timeout(Duration::from_secs(5))
///     .send(&metrics)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Prometheus scrapes the gateway with `honor_labels: true`, so the pushed
/// `job` (and grouping labels) are kept rather than replaced by the
/// gateway's own:
///
/// ```yaml
/// scrape_configs:
///   - job_name: pushgateway
///     honor_labels: true
///     static_configs:
///       - targets: ["pushgateway:9091"]
/// ```
#[derive(Clone, Debug)]
pub struct Push {
    gateway: String,
    job: String,
    grouping: Vec<(String, String)>,
    timeout: Duration,
}

impl Push {
    /// A push of `job` to the gateway at `gateway` (`http://host:port`,
    /// optionally with a path prefix; the scheme may be left out).
    pub fn new(gateway: impl Into<String>, job: impl Into<String>) -> Push {
        Push {
            gateway: gateway.into(),
            job: job.into(),
            grouping: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Add a grouping label: part of the group's key, and a label of every
    /// pushed series (the gateway overrides a series' own label of that
    /// name). `instance` is the usual one.
    pub fn grouping(mut self, name: impl Into<String>, value: impl Into<String>) -> Push {
        self.grouping.push((name.into(), value.into()));
        self
    }

    /// How long the whole push may take: resolving, connecting, sending and
    /// reading the answer. 10 s unless set.
    pub fn timeout(mut self, timeout: Duration) -> Push {
        self.timeout = timeout;
        self
    }

    /// The URL the push goes to, e.g.
    /// `http://127.0.0.1:9091/metrics/job/nightly/shard@base64/ZXUvMQ==`.
    ///
    /// # Errors
    ///
    /// [`PushError::InvalidGateway`] or [`PushError::InvalidGrouping`], as
    /// [`send`](Push::send) would return them.
    pub fn url(&self) -> Result<String, PushError> {
        let target = self.target()?;
        Ok(format!("http://{}{}", target.authority, target.path))
    }

    /// Push every series of `metrics` (its [`render`](Metrics::render)).
    ///
    /// # Errors
    ///
    /// A [`PushError`] naming the URL: an address or label that cannot be
    /// used, a gateway that cannot be reached or does not answer within the
    /// timeout, or an answer other than `2xx`, whose status and body the
    /// error carries.
    pub fn send(&self, metrics: &Metrics) -> Result<(), PushError> {
        let target = self.target()?;
        let url = format!("http://{}{}", target.authority, target.path);
        let page = metrics.render();
        match exchange(&target, page.as_bytes(), self.timeout) {
            Ok(response) if (200..300).contains(&response.status) => Ok(()),
            Ok(response) => Err(PushError::Rejected {
                url,
                status: response.status,
                body: response.body,
            }),
            Err(source) => Err(PushError::Io { url, source }),
        }
    }

    fn target(&self) -> Result<Target, PushError> {
        let invalid = |reason: &str| PushError::InvalidGateway {
            gateway: self.gateway.clone(),
            reason: reason.to_owned(),
        };
        let gateway = self.gateway.trim();
        let rest = match gateway.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(invalid(
                    "https is not supported (no TLS); push over http:// on a private network, or through a local TLS proxy",
                ))
            }
            Some(_) => return Err(invalid("the scheme must be http://")),
            None => gateway,
        };
        if rest.contains(['?', '#']) {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let (authority, prefix) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(invalid("credentials in the address are not supported"));
        }
        let (host, port) = split_host_port(authority).map_err(invalid)?;

        let mut path = prefix.trim_end_matches('/').to_owned();
        path.push_str("/metrics");
        if self.job.is_empty() {
            return Err(PushError::InvalidGrouping {
                label: "job".to_owned(),
                reason: "the job name must not be empty".to_owned(),
            });
        }
        push_segment(&mut path, "job", &self.job);
        let mut seen = vec!["job"];
        for (name, value) in &self.grouping {
            let reason = if !crate::names::is_label_name(name) {
                Some("not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            } else if name.starts_with("__") {
                Some("names starting with `__` are reserved")
            } else if seen.contains(&name.as_str()) {
                Some("given twice (the job is a grouping label too)")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(PushError::InvalidGrouping {
                    label: name.clone(),
                    reason: reason.to_owned(),
                });
            }
            seen.push(name);
            push_segment(&mut path, name, value);
        }
        Ok(Target {
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            path,
        })
    }
}

/// Why a push failed. Every variant names the URL, address or label at
/// fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum PushError {
    /// The gateway address is not `http://host[:port][/prefix]`.
    InvalidGateway {
        /// The address as given.
        gateway: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The job name or a grouping label cannot be used.
    InvalidGrouping {
        /// The label's name (`job` for the job name).
        label: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The gateway could not be reached, or did not answer within the
    /// timeout.
    Io {
        /// Where the push went.
        url: String,
        /// The operating system's error (`TimedOut` for the timeout).
        source: io::Error,
    },
    /// The gateway answered with a status other than `2xx`.
    Rejected {
        /// Where the push went.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the answer's body: the gateway's reason.
        body: String,
    },
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::InvalidGateway { gateway, reason } => {
                write!(f, "invalid Pushgateway address {gateway:?}: {reason}")
            }
            PushError::InvalidGrouping { label, reason } => {
                write!(f, "invalid Pushgateway grouping label `{label}`: {reason}")
            }
            PushError::Io { url, source } => {
                write!(f, "pushing metrics to {url} failed: {source}")
            }
            PushError::Rejected { url, status, body } => {
                write!(
                    f,
                    "the Pushgateway at {url} refused the push: HTTP {status}"
                )?;
                if body.is_empty() {
                    Ok(())
                } else {
                    write!(f, ": {body}")
                }
            }
        }
    }
}

impl std::error::Error for PushError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PushError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Where a push goes.
struct Target {
    /// `host:port` as given, for the `Host` header and messages.
    authority: String,
    /// The host to resolve, without IPv6 brackets.
    host: String,
    port: u16,
    /// `/prefix/metrics/job/..`, already encoded.
    path: String,
}

#[derive(Debug)]
struct Response {
    status: u16,
    body: String,
}

/// `host[:port]` or `[v6][:port]`; the port defaults to 80, as in any
/// `http://` URL.
fn split_host_port(authority: &str) -> Result<(&str, u16), &'static str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6
            .split_once(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        match rest {
            "" => (host, None),
            _ => (
                host,
                Some(
                    rest.strip_prefix(':')
                        .ok_or("expected `:port` after the IPv6 address")?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    let port = match port {
        None => 80,
        Some(port) => port.parse().map_err(|_| "the port is not a number")?,
    };
    Ok((host, port))
}

/// Append `/name/value`, or `/name@base64/..` when the value cannot stand
/// in a path segment as it is (the gateway's own encoding for `/`, empty
/// values and the like).
fn push_segment(path: &mut String, name: &str, value: &str) {
    let plain = !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    path.push('/');
    path.push_str(name);
    if plain {
        path.push('/');
        path.push_str(value);
    } else {
        path.push_str("@base64/");
        // An empty value is `=`: the gateway's router needs a non-empty segment.
        if value.is_empty() {
            path.push('=');
        } else {
            // RFC 4648 base64 with the URL-safe alphabet, padded.
            URL_SAFE.encode_string(value.as_bytes(), path);
        }
    }
}

/// One `PUT` on a fresh connection, within `timeout` overall.
fn exchange(target: &Target, body: &[u8], timeout: Duration) -> io::Result<Response> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                )
            })
    };
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()?
        .collect();
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} resolves to no address", target.host),
    );
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining()?) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                last = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {addr} took longer than {timeout:?}"),
                );
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or(last)?;
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: instrument-runtime/{version}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        path = target.path,
        host = target.authority,
        version = env!("CARGO_PKG_VERSION"),
        content_type = "text/plain; version=0.0.4; charset=utf-8",
        length = body.len(),
    );
    stream.set_write_timeout(Some(remaining()?))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let mut response = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        stream.set_read_timeout(Some(remaining()?))?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if complete(&response) {
            break;
        }
    }
    parse_response(&response)
}

/// Whether `response` holds a whole answer with a `Content-Length`, so that
/// a server keeping the connection open does not cost the timeout.
fn complete(response: &[u8]) -> bool {
    let Some(end) = find(response, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..end]);
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .is_some_and(|length| response.len() >= end + 4 + length)
}

fn parse_response(response: &[u8]) -> io::Result<Response> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    if response.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed without an answer",
        ));
    }
    let end = find(response, b"\r\n\r\n").ok_or_else(|| invalid("an incomplete HTTP answer"))?;
    let head = String::from_utf8_lossy(&response[..end]);
    let mut lines = head.lines();
    let status = lines
        .next()
        .filter(|line| line.starts_with("HTTP/"))
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("not an HTTP answer"))?;
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let raw = &response[end + 4..];
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    let mut body = String::from_utf8_lossy(&body).trim().to_owned();
    if body.len() > MAX_BODY {
        let cut = (0..=MAX_BODY)
            .rev()
            .find(|&i| body.is_char_boundary(i))
            .unwrap_or(0);
        body.truncate(cut);
        body.push_str("...");
    }
    Ok(Response { status, body })
}

/// The data of a chunked body, as far as it is well formed.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(raw, b"\r\n") {
        let size = String::from_utf8_lossy(&raw[..line_end]);
        let size = size.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            break;
        };
        let data = &raw[line_end + 2..];
        if size == 0 || data.len() < size {
            body.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        body.extend_from_slice(&data[..size]);
        raw = data[size..].strip_prefix(b"\r\n").unwrap_or(&data[size..]);
    }
    body
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(push: Push) -> String {
        push.url().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn url_of_a_job() {
        assert_eq!(
            url(Push::new("http://127.0.0.1:9091", "nightly")),
            "http://127.0.0.1:9091/metrics/job/nightly"
        );
        assert_eq!(
            url(Push::new("127.0.0.1:9091/", "nightly")),
            "http://127.0.0.1:9091/metrics/job/nightly"
        );
        assert_eq!(
            url(Push::new("HTTP://gateway/pushgateway/", "a.b-c_d~e")),
            "http://gateway/pushgateway/metrics/job/a.b-c_d~e"
        );
        assert_eq!(
            url(Push::new("http://[::1]:9091", "x")),
            "http://[::1]:9091/metrics/job/x"
        );
    }

    #[test]
    fn values_outside_a_path_segment_are_base64() {
        let push = Push::new("http://gw:9091", "a/b")
            .grouping("instance", "")
            .grouping("shard", "eu/1")
            .grouping("path", "..")
            .grouping("name", "Łódź x");
        assert_eq!(
            url(push),
            "http://gw:9091/metrics/job@base64/YS9i/instance@base64/=/shard@base64/ZXUvMQ==/path@base64/Li4=/name@base64/xYHDs2TFuiB4"
        );
    }

    #[test]
    fn base64_values_use_the_url_safe_alphabet_with_padding() {
        for (value, encoded) in [
            ("f/", "Zi8="),
            ("\u{fb}\u{ff}", "w7vDvw=="),
            ("??>", "Pz8-"),
            ("???", "Pz8_"),
        ] {
            let mut path = String::new();
            push_segment(&mut path, "k", value);
            assert_eq!(path, format!("/k@base64/{encoded}"), "{value:?}");
        }
    }

    #[test]
    fn unusable_addresses_and_labels_are_named() {
        let error = |push: Push| push.url().unwrap_err().to_string();
        assert_eq!(
            error(Push::new("https://gw:9091", "x")),
            r#"invalid Pushgateway address "https://gw:9091": https is not supported (no TLS); push over http:// on a private network, or through a local TLS proxy"#
        );
        assert_eq!(
            error(Push::new("http://gw:port", "x")),
            r#"invalid Pushgateway address "http://gw:port": the port is not a number"#
        );
        assert_eq!(
            error(Push::new("http://user:pw@gw:9091", "x")),
            r#"invalid Pushgateway address "http://user:pw@gw:9091": credentials in the address are not supported"#
        );
        assert_eq!(
            error(Push::new("http://:9091", "x")),
            r#"invalid Pushgateway address "http://:9091": the host is missing"#
        );
        assert_eq!(
            error(Push::new("http://gw:9091?x=1", "x")),
            r#"invalid Pushgateway address "http://gw:9091?x=1": a query or fragment is not allowed"#
        );
        assert_eq!(
            error(Push::new("http://gw", "")),
            "invalid Pushgateway grouping label `job`: the job name must not be empty"
        );
        assert_eq!(
            error(Push::new("http://gw", "x").grouping("job", "y")),
            "invalid Pushgateway grouping label `job`: given twice (the job is a grouping label too)"
        );
        assert_eq!(
            error(Push::new("http://gw", "x").grouping("1st", "y")),
            "invalid Pushgateway grouping label `1st`: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        );
        assert_eq!(
            error(Push::new("http://gw", "x").grouping("__name__", "y")),
            "invalid Pushgateway grouping label `__name__`: names starting with `__` are reserved"
        );
    }

    #[test]
    fn answers_are_parsed_with_or_without_chunks() {
        let plain =
            parse_response(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope\n").unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (400, "nope"));
        let chunked = parse_response(
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbad \r\n6;x=y\r\nthings\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((chunked.status, chunked.body.as_str()), (500, "bad things"));
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK"));
        assert_eq!(
            parse_response(b"").unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(
            parse_response(b"SSH-2.0\r\n\r\n").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
