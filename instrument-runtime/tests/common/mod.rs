//! Helpers shared by the integration tests: install once per process, run
//! a test in a process of its own, read exact values back from the rendered
//! exposition, and a minimal HTTP/1.1 client for the `/metrics/` endpoints.
//!
//! The tests are grouped into binaries by configuration. In `defaults/`
//! every test shares one install with the default settings, on parallel
//! threads, so each annotates functions of its own and reads back only
//! their series. In `configured/` every test installs with settings of its
//! own, in a process of its own ([`isolated`], [`own_process`]). The few
//! tests that assert what the whole page holds (every family of the
//! binary's call sites) are binaries of their own.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use instrument_runtime::{Builder, Metrics};

/// The metrics of this test binary, installed by the first caller with the
/// settings `builder` returns (later callers share that install).
pub(crate) fn install_once(builder: impl FnOnce() -> Builder) -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| builder().install().expect("the first install succeeds"))
}

/// The metrics of this test binary, installed with the default settings.
pub(crate) fn metrics() -> &'static Metrics {
    install_once(Builder::new)
}

/// Install with the defaults (once) and parse what `/metrics/` would serve.
pub(crate) fn scrape() -> Page {
    Page::parse(&metrics().render())
}

/// Assert that a recorded duration `seconds` lies between `min` (the time
/// the body surely took) and `max` (measured around the call from
/// outside). The runtime's clock (quanta) is not the tests' (std), so each
/// bound allows 1% and a millisecond of disagreement.
#[track_caller]
pub(crate) fn assert_between(seconds: f64, min: f64, max: f64) {
    assert!(
        seconds >= lower(min) && seconds <= upper(max),
        "{seconds} s is not between {min} s and {max} s"
    );
}

/// `min` less the clocks' possible disagreement.
pub(crate) fn lower(min: f64) -> f64 {
    min * 0.99 - 0.001
}

/// `max` plus the clocks' possible disagreement.
pub(crate) fn upper(max: f64) -> f64 {
    max * 1.01 + 0.001
}

/// Label pairs as a map, for comparing whole label sets.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// One sample line of the exposition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// A parsed Prometheus text exposition.
///
/// Lookups compare whole label sets (in any order), never substrings of the
/// raw text: the exporter's order of families and series is not stable.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) text: String,
    pub(crate) samples: Vec<Sample>,
    /// `# HELP` text by family name.
    pub(crate) help: BTreeMap<String, String>,
    /// `# TYPE` by family name.
    pub(crate) types: BTreeMap<String, String>,
}

impl Page {
    /// Parse an exposition; panics on a line that is not valid text format.
    pub(crate) fn parse(text: &str) -> Page {
        let mut page = Page {
            text: text.to_owned(),
            samples: Vec::new(),
            help: BTreeMap::new(),
            types: BTreeMap::new(),
        };
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                let help = help.replace("\\n", "\n").replace("\\\\", "\\");
                let previous = page.help.insert(name.to_owned(), help);
                assert!(previous.is_none(), "two HELP lines for {name}:\n{text}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("TYPE line without a type: {line:?}"));
                let previous = page.types.insert(name.to_owned(), kind.to_owned());
                assert!(previous.is_none(), "two TYPE lines for {name}:\n{text}");
            } else if line.starts_with('#') {
                continue;
            } else {
                page.samples.push(parse_sample(line));
            }
        }
        page
    }

    /// Every sample of the series `name` with exactly these labels.
    fn matching<'a>(
        &'a self,
        name: &'a str,
        pairs: &[(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        let wanted = labels(pairs);
        self.samples
            .iter()
            .filter(move |s| s.name == name && s.labels == wanted)
    }

    /// The value of the series `name{pairs}` (exactly these labels, in any
    /// order), or `None` when the page does not have it.
    pub(crate) fn value(&self, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self.matching(name, pairs).collect();
        assert!(
            found.len() <= 1,
            "the series {name}{pairs:?} is on the page {} times:\n{}",
            found.len(),
            self.text
        );
        found.first().map(|s| s.value)
    }

    /// The value of the series `name{pairs}`; panics (showing the page) when
    /// it is missing.
    pub(crate) fn get(&self, name: &str, pairs: &[(&str, &str)]) -> f64 {
        self.value(name, pairs).unwrap_or_else(|| {
            panic!(
                "the series {name}{pairs:?} is not on the page:\n{}",
                self.text
            )
        })
    }

    /// A counter's value as an integer.
    pub(crate) fn count(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        let value = self.get(name, pairs);
        assert!(
            value >= 0.0 && value.fract() == 0.0,
            "{name}{pairs:?} = {value} is not a count"
        );
        value as u64
    }

    /// The label sets of every series named `name`.
    pub(crate) fn series(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.labels.clone())
            .collect()
    }

    /// A histogram's cumulative buckets for the series `family{pairs}`, as
    /// (upper bound, count) sorted by bound, `+Inf` last.
    pub(crate) fn buckets(&self, family: &str, pairs: &[(&str, &str)]) -> Vec<(f64, u64)> {
        let wanted = labels(pairs);
        let bucket = format!("{family}_bucket");
        let mut buckets: Vec<(f64, u64)> = self
            .samples
            .iter()
            .filter(|s| s.name == bucket)
            .filter_map(|s| {
                let mut rest = s.labels.clone();
                let le = rest.remove("le")?;
                (rest == wanted).then(|| (parse_value(&le), s.value as u64))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            !buckets.is_empty(),
            "no buckets for {family}{pairs:?}:\n{}",
            self.text
        );
        buckets
    }

    /// The cumulative count of the bucket `le` of `family{pairs}`.
    pub(crate) fn bucket(&self, family: &str, pairs: &[(&str, &str)], le: f64) -> u64 {
        self.buckets(family, pairs)
            .into_iter()
            .find(|(bound, _)| *bound == le)
            .unwrap_or_else(|| panic!("no bucket le={le} for {family}{pairs:?}:\n{}", self.text))
            .1
    }

    /// `(count, sum)` of the histogram series `family{pairs}`.
    pub(crate) fn histogram(&self, family: &str, pairs: &[(&str, &str)]) -> (u64, f64) {
        (
            self.count(&format!("{family}_count"), pairs),
            self.get(&format!("{family}_sum"), pairs),
        )
    }

    /// Whether any line of the page belongs to the family `name`.
    pub(crate) fn has_family(&self, name: &str) -> bool {
        self.types.contains_key(name) || self.samples.iter().any(|s| family_of(&s.name) == name)
    }
}

/// The family a sample belongs to: a histogram's `_bucket`, `_sum` and
/// `_count` lines belong to the histogram.
pub(crate) fn family_of(sample: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix))
        .unwrap_or(sample)
}

fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("{other:?} is not a sample value")),
    }
}

/// `name{label="value",..} value [timestamp]`, with `\\`, `\"` and `\n`
/// escapes in label values.
fn parse_sample(line: &str) -> Sample {
    let bad = |why: &str| -> ! { panic!("malformed sample line ({why}): {line:?}") };
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| bad("no value"));
    let name = &line[..name_end];
    if name.is_empty() {
        bad("no name");
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        loop {
            match chars.peek() {
                Some((_, '}')) => {
                    chars.next();
                    break;
                }
                Some(_) => {}
                None => bad("unclosed label set"),
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                bad("label value is not quoted");
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => bad("dangling escape"),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => value.push(c),
                    None => bad("unclosed label value"),
                }
            }
            if labels.insert(key.clone(), value).is_some() {
                bad("a label appears twice");
            }
            match chars.next() {
                Some((_, ',')) => {}
                Some((i, '}')) => {
                    rest = &after[i + 1..];
                    break;
                }
                _ => bad("expected , or }"),
            }
            // A trailing comma before `}` is allowed by the format.
            if let Some(&(i, '}')) = chars.peek() {
                rest = &after[i + 1..];
                break;
            }
        }
    }
    let mut fields = rest.split_whitespace();
    let value = parse_value(fields.next().unwrap_or_else(|| bad("no value")));
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

/// A response read by [`http_get`].
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Header names lower-cased.
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: String,
}

/// `GET path` over a plain HTTP/1.1 connection to `addr`.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> Response {
    http_request(addr, "GET", path)
}

/// `method path` over a plain HTTP/1.1 connection to `addr`, with
/// `Connection: close`; reads the whole response.
pub(crate) fn http_request(addr: SocketAddr, method: &str, path: &str) -> Response {
    http_request_with_headers(addr, method, path, &[])
}

/// [`http_request`] with extra request headers (`Authorization`, say).
pub(crate) fn http_request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n{extra}Connection: close\r\n\r\n"
    )
    .expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "status line {status_line:?}"
    );
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: BTreeMap<String, String> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    } else if let Some(length) = headers.get("content-length") {
        let length: usize = length.parse().expect("numeric content-length");
        assert_eq!(
            body.len(),
            length,
            "body length differs from content-length"
        );
    }
    Response {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = std::str::from_utf8(&raw[..line_end]).expect("chunk size");
        let size = size.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).expect("hex chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// A loopback address with a port that was free a moment ago.
pub(crate) fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr")
}

/// Run `body` in a process of its own, so that it installs (or attaches) a
/// recorder of its own: see [`own_process`].
#[track_caller]
pub(crate) fn isolated(body: impl FnOnce()) {
    if own_process() {
        body();
    }
}

/// For a test that needs a process of its own (it installs a recorder with
/// settings of its own): `true` in that process, where the test then runs;
/// `false` in the test harness's process, once the test has passed in its
/// own (this test binary run again with only the calling test). Under
/// cargo-nextest, where every test has a process already, always `true`.
#[track_caller]
pub(crate) fn own_process() -> bool {
    const CHILD: &str = "INSTRUMENT_TEST_ISOLATED";
    let name = std::thread::current()
        .name()
        .expect("a test thread is named after its test")
        .to_owned();
    let nextest =
        std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|mode| mode == "process-per-test");
    if nextest || std::env::var_os(CHILD).is_some_and(|child| child == *name) {
        return true;
    }
    let output = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &name)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name}, in a process of its own, failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    false
}
