#![deny(warnings)]

// Each macro on a plain free function, with the numbers they record.

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

#[counted]
fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
    input.parse()
}

#[counted]
fn unit() {}

#[timed]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[model_op(model = "user", op = insert)]
fn insert_user(id: u32) -> Result<u32, String> {
    if id == 0 {
        return Err("id 0".to_owned());
    }
    Ok(id)
}

#[cache_lookup(backend = "memory")]
fn lookup(key: &str) -> Option<u32> {
    key.parse().ok()
}

// Patterns in the arguments, `mut` bindings and ignored ones.
#[counted]
fn swap((a, b): (u32, u32), mut count: u32, _: ()) -> (u32, u32, u32) {
    count += 1;
    (b, a, count)
}

// Recursion: every call is counted, each with its own result.
#[counted]
fn countdown(n: u32) -> Result<u32, String> {
    match n {
        0 => Err("reached zero".to_owned()),
        1 => Ok(1),
        _ => countdown(n - 1),
    }
}

// A `Result` behind a type alias is still a `Result`.
#[counted]
fn read(fail: bool) -> std::io::Result<u32> {
    if fail {
        return Err(std::io::Error::other("failed"));
    }
    Ok(1)
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(greet("ann"), "hello ann");
    assert_eq!(parse("7"), Ok(7));
    assert!(parse("x").is_err());
    unit();
    assert_eq!(add(2, 3), 5);
    assert_eq!(insert_user(4), Ok(4));
    assert_eq!(insert_user(0), Err("id 0".to_owned()));
    assert_eq!(lookup("1"), Some(1));
    assert_eq!(lookup("x"), None);
    assert_eq!(lookup("y"), None);
    assert_eq!(swap((1, 2), 0, ()), (2, 1, 1));
    assert_eq!(countdown(3), Ok(1));
    assert!(countdown(0).is_err());
    assert_eq!(read(false).unwrap(), 1);
    assert!(read(true).is_err());

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="greet",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="parse",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="parse",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="unit",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="add",module="{m}"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="swap",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="countdown",module="{m}",result="ok"}}"#),
            3,
        ),
        (
            format!(r#"function_calls_total{{function="countdown",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="read",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="read",module="{m}",result="error"}}"#),
            1,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_inserts_total{model="user"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="memory"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="memory"}"#.to_owned(), 2),
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
