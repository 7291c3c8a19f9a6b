#![deny(warnings)]

// Functions returning `impl Trait`, also nested inside other types.

use std::fmt::Display;

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[timed]
fn describe(value: u32) -> impl Display {
    format!("#{value}")
}

#[counted]
#[timed]
fn adder(n: u32) -> impl Fn(u32) -> u32 {
    move |x| x + n
}

#[counted]
fn words(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.split(' ')
}

#[counted]
fn boxed(value: u32) -> Box<impl Display> {
    Box::new(value)
}

#[model_op(model = "row", op = select)]
fn rows(count: u32) -> Result<impl Iterator<Item = u32>, String> {
    if count == 0 {
        return Err("no rows".to_owned());
    }
    Ok(0..count)
}

#[cache_lookup(backend = "display")]
fn cached(value: u32) -> Option<impl Display> {
    (value > 0).then_some(value)
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(describe(3).to_string(), "#3");
    assert_eq!(adder(1)(2), 3);
    assert_eq!(words("a b").count(), 2);
    assert_eq!(boxed(4).to_string(), "4");
    assert_eq!(rows(2).unwrap().sum::<u32>(), 1);
    assert!(rows(0).is_err());
    assert_eq!(cached(1).unwrap().to_string(), "1");
    assert!(cached(0).is_none());

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="evens",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="adder",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="words",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="boxed",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="describe",module="{m}"}}"#),
            1,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"cache_hits_total{backend="display"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="display"}"#.to_owned(), 1),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, &series), value, "{series}");
    }
}

/// The value of `series` on the exposition page.
fn sample(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{page}"))
        .parse()
        .unwrap()
}
