//! Names that the text format cannot hold twice, reached through hand-written
//! `metrics` calls (the macros check names at compile time; the facade
//! cannot). Written as given, each case below would make the whole page
//! unparseable, so Prometheus would fail every scrape of the service, not
//! just the offending series. In a process of its own.

use crate::common;

use crate::text_format;

use std::io::Write;
use std::process::{Command, Stdio};

/// promtool's exit code for `page`, if it is installed.
fn promtool(page: &str) -> Option<i32> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().expect("promtool's stdin");
    stdin.write_all(page.as_bytes()).expect("writing the page");
    drop(stdin);
    child.wait().expect("promtool ran").code()
}

#[test]
fn hand_written_names_that_collide_do_not_break_the_page() {
    common::isolated(|| {
        let metrics = instrument_runtime::install().expect("the only install of this binary");
        metrics::counter!("collision_fine_total", "a" => "ok").increment(1);
        metrics::counter!("collision_twice_total", "a" => "1", "a" => "2").increment(1);
        metrics::counter!("collision_sanitized_total", "a-b" => "1", "a.b" => "2").increment(1);
        metrics::histogram!("collision_seconds", "le" => "mine").record(1.0);
        metrics::histogram!("collision_latency_seconds").record(1.0);
        metrics::counter!("collision_latency_seconds_count").increment(1);
        metrics::counter!("collision_reserved_total", "__name__" => "other").increment(1);

        let page = metrics.render();
        let parsed = text_format::parse(&page).unwrap_or_else(|why| panic!("{why}\n{page}"));
        // The well-formed series is still there, exactly.
        assert_eq!(
            parsed.value("collision_fine_total", &[("a", "ok")]),
            Some(1.0)
        );
        // What became of each: the first of two same-named labels is kept,
        // names are made valid, a histogram's own `le` becomes `_le`, `__` loses
        // one `_`, and a counter named like a histogram's sample is refused.
        let value = |name: &str, labels: &[(&str, &str)]| parsed.value(name, labels);
        assert_eq!(value("collision_twice_total", &[("a", "1")]), Some(1.0));
        assert_eq!(
            value("collision_sanitized_total", &[("a_b", "1")]),
            Some(1.0)
        );
        assert_eq!(
            value("collision_seconds_count", &[("_le", "mine")]),
            Some(1.0)
        );
        assert_eq!(value("collision_latency_seconds_count", &[]), Some(1.0));
        assert_eq!(
            value("collision_reserved_total", &[("_name__", "other")]),
            Some(1.0)
        );
        assert!(
            !page.contains("# TYPE collision_latency_seconds_count"),
            "{page}"
        );
        if let Some(code) = promtool(&page) {
            assert_ne!(code, 1, "promtool cannot parse the page:\n{page}");
        }
    });
}
