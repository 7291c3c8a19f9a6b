//! Exposition safety: whatever text a label value or a HELP text holds
//! (quotes, backslashes, newlines, tabs, carriage returns, control
//! characters, CJK, emoji, combining marks, text that looks like the format
//! itself, the empty string), the page stays valid and every value reads
//! back exactly as it was recorded.
//!
//! Two judges: the strict parser in `text_format/` (label values and HELP
//! texts unescaped and compared with what was recorded, every series and
//! value compared with a model of the calls), and `promtool check metrics`,
//! Prometheus's own parser and linter (from the `prometheus` package;
//! `scripts/test` installs it; without it these tests say so loudly and
//! use the strict parser alone).
//!
//! The generator is seeded: a failure prints its seed, and
//! `EXPOSITION_SEED=0x... cargo test --test exposition_safety` replays it.

use crate::common;

use crate::http_layer_support;
use crate::text_format;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use http_layer_support::Rng;
use instrument_runtime::{Builder, Metrics, DEFAULT_BUCKETS};
use text_format::{Exposition, Labels};

/// The global label every series carries, itself full of characters to escape.
const REGION: &str = "eu \"west\"\\1\n\t🦀";

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        Builder::new()
            .global_label("region", REGION)
            .install()
            .expect("the first install succeeds")
    })
}

/// The pieces label values and HELP texts are made of: everything the
/// format escapes, escapes already escaped, text that looks like the
/// format, whitespace and control characters, and non-ASCII text of every
/// width (a combining mark alone, a ZWJ emoji sequence, a flag, a BOM, a
/// line separator, the last code point).
const PIECES: &[&str] = &[
    "\"",
    "\\",
    "\n",
    "\t",
    "\r",
    "\r\n",
    "\\n",
    "\\\"",
    "\\\\",
    "\"}",
    "\"} 1\nevil_total 666\n",
    "# TYPE evil counter\n",
    "{",
    "}",
    "=",
    ",",
    " ",
    "#",
    "le=\"+Inf\"",
    "a",
    "Z",
    "0",
    "_",
    "/users/{id}",
    "é",
    "ß",
    "中文",
    "日本語",
    "한국어",
    "עברית",
    "مرحبا",
    "🦀",
    "👩\u{200d}👩\u{200d}👧",
    "🇫🇷",
    "e\u{301}",
    "\u{301}",
    "\u{200b}",
    "\u{feff}",
    "\u{2028}",
    "\u{85}",
    "\u{7f}",
    "\u{1}",
    "\u{0}",
    "\u{10ffff}",
];

/// The seed: `EXPOSITION_SEED` (decimal or 0x-hex) or a fixed default.
fn seed() -> u64 {
    match std::env::var("EXPOSITION_SEED") {
        Ok(text) => {
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("EXPOSITION_SEED={text:?} is not a number"))
        }
        Err(_) => 0x5eed_0fe5_ca9e,
    }
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[(rng.next() % items.len() as u64) as usize]
}

/// A text of 0 to 6 pieces: empty one time in 7.
fn text(rng: &mut Rng) -> String {
    let pieces = rng.next() % 7;
    (0..pieces).map(|_| *pick(rng, PIECES)).collect()
}

/// What `promtool check metrics` says of `page`: its exit code and output,
/// or `None`, said loudly, when it is not installed.
fn promtool(page: &str) -> Option<(Option<i32>, String)> {
    let path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|path| path.is_file());
    let Some(path) = path else {
        eprintln!(
            "\n*** promtool is NOT installed: `promtool check metrics` was NOT run; only the \
             strict parser judged the page. apt-get install prometheus (scripts/test does). ***\n"
        );
        return None;
    };
    Some(run_promtool(&path, page))
}

fn run_promtool(path: &Path, page: &str) -> (Option<i32>, String) {
    let mut child = Command::new(path)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    let mut stdin = child.stdin.take().expect("promtool's stdin");
    stdin.write_all(page.as_bytes()).expect("writing the page");
    drop(stdin);
    let output = child.wait_with_output().expect("promtool ran");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

/// promtool parses `page` and has nothing to say about it (exit 0: no
/// parse error and no lint finding). Returns whether it ran.
#[track_caller]
fn promtool_accepts(page: &str, seed: u64) -> bool {
    match promtool(page) {
        Some((code, output)) => {
            assert_eq!(
                (code, output.trim()),
                (Some(0), ""),
                "promtool check metrics rejected the page (seed {seed:#x}):\n{page}"
            );
            true
        }
        None => false,
    }
}

#[track_caller]
fn parse(page: &str, seed: u64) -> Exposition {
    text_format::parse(page)
        .unwrap_or_else(|why| panic!("invalid page (seed {seed:#x}): {why}\n{page}"))
}

/// One family of the property test: its name, type and label names (the
/// global label `region` is overridden where a family names it).
struct Spec {
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

const FAMILIES: [Spec; 4] = [
    Spec {
        name: "exposition_requests_total",
        kind: Kind::Counter,
        labels: &["path", "user", "region"],
    },
    Spec {
        name: "exposition_events_total",
        kind: Kind::Counter,
        labels: &["kind"],
    },
    Spec {
        name: "exposition_room_temperature_celsius",
        kind: Kind::Gauge,
        labels: &["room"],
    },
    Spec {
        name: "exposition_request_duration_seconds",
        kind: Kind::Histogram,
        labels: &["path", "method"],
    },
];

/// Gauge values: signs, zeros, the extremes, a subnormal, the infinities
/// and NaN, and a value with no short decimal.
const GAUGE_VALUES: &[f64] = &[
    0.0,
    -0.0,
    1.5,
    -273.15,
    1e-300,
    5e-324,
    f64::MAX,
    -1e21,
    123_456_789.123,
    0.30000000000000004,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

/// Histogram observations: on, just above and between the default bounds,
/// zero, negative, huge.
const OBSERVATIONS: &[f64] = &[
    0.0,
    0.01,
    0.010000000000000002,
    0.025,
    0.1,
    0.3,
    1.0,
    2.5,
    75.0,
    75.000001,
    1e9,
    -1.0,
];

/// The model: every series of the property test's families, as the page
/// must show it (sample name -> labels -> value).
#[derive(Default)]
struct Model(BTreeMap<String, BTreeMap<Labels, f64>>);

impl Model {
    fn series(&mut self, name: String, labels: Labels) -> &mut f64 {
        self.0.entry(name).or_default().entry(labels).or_insert(0.0)
    }
}

/// The labels as the page writes them: the global label unless the
/// series has its own `region`.
fn with_region(labels: &[(&str, String)]) -> Labels {
    let mut all: Labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    all.entry("region".to_owned())
        .or_insert_with(|| REGION.to_owned());
    all
}

/// Record one random call through the `metrics` facade and in the model.
fn random_call(rng: &mut Rng, model: &mut Model) {
    // A histogram series is 19 lines: one call in ten.
    let spec = &FAMILIES[[0, 0, 0, 0, 1, 1, 1, 2, 2, 3][(rng.next() % 10) as usize]];
    let labels: Vec<(&str, String)> = spec.labels.iter().map(|k| (*k, text(rng))).collect();
    let facade: Vec<metrics::Label> = labels
        .iter()
        .map(|(k, v)| metrics::Label::new(*k, v.clone()))
        .collect();
    let all = with_region(&labels);
    match spec.kind {
        Kind::Counter => {
            let by = 1 + rng.next() % 1000;
            metrics::counter!(spec.name, facade).increment(by);
            *model.series(spec.name.to_owned(), all) += by as f64;
        }
        Kind::Gauge => {
            let gauge = metrics::gauge!(spec.name, facade);
            let value = model.series(spec.name.to_owned(), all);
            if rng.next() % 2 == 0 {
                let set = *pick(rng, GAUGE_VALUES);
                gauge.set(set);
                *value = set;
            } else {
                let delta = (rng.next() % 2_000_001) as f64 / 1000.0 - 1000.0;
                gauge.increment(delta);
                *value += delta;
            }
        }
        Kind::Histogram => {
            let observed = if rng.next() % 2 == 0 {
                *pick(rng, OBSERVATIONS)
            } else {
                (rng.next() % 100_000) as f64 / 1000.0
            };
            metrics::histogram!(spec.name, facade).record(observed);
            let name = spec.name;
            *model.series(format!("{name}_count"), all.clone()) += 1.0;
            *model.series(format!("{name}_sum"), all.clone()) += observed;
            let bounds = DEFAULT_BUCKETS.iter().copied().chain([f64::INFINITY]);
            for bound in bounds {
                let le = if bound.is_infinite() {
                    "+Inf".to_owned()
                } else {
                    bound.to_string()
                };
                let mut labels = all.clone();
                labels.insert("le".to_owned(), le);
                let count = model.series(format!("{name}_bucket"), labels);
                if observed <= bound {
                    *count += 1.0;
                }
            }
        }
    }
}

/// The same number, NaN included (`-0` reads back as `0`, and they compare equal).
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Every series of the model's sample names is on the page with exactly
/// the model's labels and value, and no other series of those names is.
#[track_caller]
fn assert_matches(page: &Exposition, model: &Model, text: &str, seed: u64) {
    for (name, expected) in &model.0 {
        let found = page.series(name);
        let missing: Vec<_> = expected
            .keys()
            .filter(|l| !found.contains_key(*l))
            .collect();
        let extra: Vec<_> = found
            .keys()
            .filter(|l| !expected.contains_key(*l))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name} (seed {seed:#x}): series missing from the page {missing:?}, \
             on the page but never recorded {extra:?}\n{text}"
        );
        for (labels, value) in expected {
            let got = found[labels];
            assert!(
                same(got, *value),
                "{name}{labels:?} (seed {seed:#x}): the page says {got}, the calls make {value}"
            );
        }
    }
}

#[test]
fn any_label_value_reads_back_exactly_and_the_page_stays_valid() {
    common::isolated(|| {
        const ROUNDS: usize = 6;
        const CALLS_PER_ROUND: usize = 500;
        let metrics = metrics();
        for spec in &FAMILIES {
            let help = format!("Exposition test: {}.", spec.name);
            match spec.kind {
                Kind::Counter => metrics::describe_counter!(spec.name, help),
                Kind::Gauge => metrics::describe_gauge!(spec.name, help),
                Kind::Histogram => metrics::describe_histogram!(spec.name, help),
            }
        }
        let seed = seed();
        let mut rng = Rng::new(seed);
        let mut model = Model::default();
        let mut promtool_runs = 0;
        for _ in 0..ROUNDS {
            for _ in 0..CALLS_PER_ROUND {
                random_call(&mut rng, &mut model);
            }
            let text = metrics.render();
            let page = parse(&text, seed);
            assert_matches(&page, &model, &text, seed);
            for spec in &FAMILIES {
                let family = page.family(spec.name).expect("described");
                assert_eq!(
                    family.help.as_deref(),
                    Some(&*format!("Exposition test: {}.", spec.name))
                );
            }
            if promtool_accepts(&text, seed) {
                promtool_runs += 1;
            }
        }
        let series: usize = model.0.values().map(BTreeMap::len).sum();
        // The distinct label values the calls used (the global one aside).
        let values: BTreeSet<&str> = model
            .0
            .values()
            .flat_map(BTreeMap::keys)
            .flat_map(|labels| labels.values())
            .map(String::as_str)
            .filter(|v| *v != REGION)
            .collect();
        let escaped = values
            .iter()
            .filter(|v| v.contains(['"', '\\', '\n']))
            .count();
        let non_ascii = values.iter().filter(|v| !v.is_ascii()).count();
        eprintln!(
            "seed {seed:#x}: {} calls, {series} sample lines checked exactly, {} distinct label \
         values ({escaped} needing escapes, {non_ascii} not ASCII, empty: {}), promtool run \
         {promtool_runs} times",
            ROUNDS * CALLS_PER_ROUND,
            values.len(),
            values.contains(""),
        );
        // The generator did produce what the test is about.
        assert!(series > 2_000, "{series}");
        assert!(
            escaped > 1_000 && non_ascii > 1_000,
            "{escaped} {non_ascii}"
        );
        assert!(values.contains(""));
    });
}

#[test]
fn any_help_text_reads_back_exactly() {
    common::isolated(|| {
        let metrics = metrics();
        let seed = seed() ^ 0x4e1f;
        let mut rng = Rng::new(seed);
        let mut helps = BTreeMap::new();
        for i in 0..200u64 {
            let name = format!("exposition_help_{i}_total");
            // The format cannot carry a HELP text's leading spaces or tabs:
            // parsers skip the blanks after the family name (promtool does).
            // And an empty one is no help (promtool's linter says so).
            let help = loop {
                let help = text(&mut rng);
                let help = help.trim_start_matches([' ', '\t']);
                if !help.is_empty() {
                    break help.to_owned();
                }
            };
            metrics::describe_counter!(name.clone(), help.clone());
            metrics::counter!(name.clone()).increment(i + 1);
            helps.insert(name, (help, i + 1));
        }
        let text = metrics.render();
        let page = parse(&text, seed);
        for (name, (help, count)) in &helps {
            let family = page
                .family(name)
                .unwrap_or_else(|| panic!("{name} is not on the page"));
            assert_eq!(family.help.as_deref(), Some(help.as_str()), "{name}");
            assert_eq!(family.kind, "counter", "{name}");
            assert_eq!(
                page.value(name, &[("region", REGION)]),
                Some(*count as f64),
                "{name}"
            );
        }
        let escaped = helps
            .values()
            .filter(|(h, _)| h.contains(['\\', '\n']))
            .count();
        assert!(escaped > 50, "{escaped}");
        promtool_accepts(&text, seed);
    });
}

/// The values an attacker would try, each rendered exactly as the format
/// escapes it and read back as given.
#[test]
fn injection_attempts_stay_inside_their_label_value() {
    common::isolated(|| {
        let metrics = metrics();
        metrics::describe_counter!("exposition_fixed_total", "Fixed \\ cases\nof escaping.");
        let region = r#"region="eu \"west\"\\1\n	🦀""#;
        let cases = [
            ("", r#""#),
            ("plain", r#"plain"#),
            ("a\"b", r#"a\"b"#),
            ("C:\\dir\\", r#"C:\\dir\\"#),
            ("line\nbreak", r#"line\nbreak"#),
            ("literal \\n", r#"literal \\n"#),
            ("tab\there", "tab\there"),
            ("cr\rhere", "cr\rhere"),
            (
                "\"} 1\nevil_total 666\n# TYPE x counter",
                r#"\"} 1\nevil_total 666\n# TYPE x counter"#,
            ),
            ("e\u{301}中文🦀", "e\u{301}中文🦀"),
        ];
        for (i, (value, _)) in cases.iter().enumerate() {
            metrics::counter!("exposition_fixed_total", "case" => i.to_string(), "value" => *value)
                .increment(i as u64 + 1);
        }
        let text = metrics.render();
        let page = parse(&text, 0);
        for (i, (value, escaped)) in cases.iter().enumerate() {
            let line = format!(
                "exposition_fixed_total{{{region},case=\"{i}\",value=\"{escaped}\"}} {}\n",
                i + 1
            );
            assert!(text.contains(&line), "no line {line:?} in\n{text}");
            assert_eq!(
                page.value(
                    "exposition_fixed_total",
                    &[
                        ("region", REGION),
                        ("case", &i.to_string()),
                        ("value", value)
                    ]
                ),
                Some(i as f64 + 1.0)
            );
        }
        assert!(text.contains("# HELP exposition_fixed_total Fixed \\\\ cases\\nof escaping.\n"));
        assert!(!text.lines().any(|l| l.starts_with("evil_total")));
        promtool_accepts(&text, 0);
    });
}

/// Both judges can fail: each page here breaks the format, and each is
/// rejected by the strict parser and, where the break is one of syntax,
/// by promtool (exit 1).
#[test]
fn the_judges_reject_broken_pages() {
    common::isolated(|| {
        let counter = "# HELP x_total X.\n# TYPE x_total counter\n";
        let histogram = "# HELP h_seconds H.\n# TYPE h_seconds histogram\n";
        // (page, is it a syntax error promtool must reject too)
        let broken = [
        (format!("{counter}x_total{{a=\"b\nc\"}} 1\n"), true),
        (format!("{counter}x_total{{a=\"b\\qc\"}} 1\n"), true),
        (format!("{counter}x_total{{a=\"b\"c\"}} 1\n"), true),
        (format!("{counter}x_total{{a=\"b}} 1\n"), true),
        (format!("{counter}x_total{{a=b}} 1\n"), true),
        (format!("{counter}x_total{{0a=\"b\"}} 1\n"), true),
        (format!("{counter}x_total 1 2 3\n"), true),
        (format!("{counter}x_total one\n"), true),
        ("# HELP x_total a\\qb\n# TYPE x_total counter\nx_total 1\n".to_owned(), true),
        (format!("{counter}x_total 1\n# TYPE x_total counter\n"), true),
        (format!("{counter}x_total 1\nevil_total 666\n"), false),
        (format!("{counter}x_total{{a=\"1\",a=\"2\"}} 1\n"), false),
        (format!("{counter}x_total 1\nx_total 2\n"), false),
        (format!("{counter}x_total -1\n"), false),
        (format!("{counter}x_total 1"), false),
        (
            format!("{histogram}h_seconds_bucket{{le=\"1\"}} 2\nh_seconds_bucket{{le=\"+Inf\"}} 1\nh_seconds_sum 1\nh_seconds_count 1\n"),
            false,
        ),
        (
            format!("{histogram}h_seconds_bucket{{le=\"+Inf\"}} 2\nh_seconds_sum 1\nh_seconds_count 3\n"),
            false,
        ),
    ];
        let mut promtool_rejected = 0;
        for (page, syntax) in &broken {
            assert!(
                text_format::parse(page).is_err(),
                "the strict parser accepted {page:?}"
            );
            if *syntax {
                if let Some((code, output)) = promtool(page) {
                    assert_eq!(code, Some(1), "promtool on {page:?}: {output}");
                    promtool_rejected += 1;
                }
            }
        }
        // And both accept a page that is fine.
        let fine = format!(
        "{counter}x_total{{a=\"\\\"\\\\\\n\t🦀\"}} 1\n\n{histogram}h_seconds_bucket{{le=\"1\"}} 1\nh_seconds_bucket{{le=\"+Inf\"}} 2\nh_seconds_sum 3.5\nh_seconds_count 2\n"
    );
        let page = parse(&fine, 0);
        assert_eq!(page.value("x_total", &[("a", "\"\\\n\t🦀")]), Some(1.0));
        promtool_accepts(&fine, 0);
        eprintln!("promtool rejected {promtool_rejected} broken pages");
    });
}
