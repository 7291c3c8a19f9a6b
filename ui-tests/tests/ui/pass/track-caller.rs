#![deny(warnings)]

// `#[track_caller]` keeps working: `Location::caller()` and the panics of
// `unwrap`/`assert!` in the body report the caller's line, and the result is
// still classified.

use std::panic::Location;
use std::sync::Mutex;

use instrument_runtime::{counted, model_op, timed};

#[counted]
#[track_caller]
fn caller_line() -> u32 {
    Location::caller().line()
}

#[timed]
#[track_caller]
fn caller_line_timed() -> u32 {
    Location::caller().line()
}

#[counted]
#[track_caller]
fn checked(n: u32) -> Result<u32, String> {
    assert!(n < 100, "{n} is too big");
    if n == 0 {
        Err("zero".to_owned())
    } else {
        Ok(n)
    }
}

#[model_op(model = "tracked", op = insert)]
#[track_caller]
fn insert(value: Option<u32>) -> Result<u32, String> {
    Ok(value.unwrap())
}

/// The line of the last panic.
static PANIC_LINE: Mutex<Option<u32>> = Mutex::new(None);

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    std::panic::set_hook(Box::new(|info| {
        *PANIC_LINE.lock().unwrap() = info.location().map(|location| location.line());
    }));

    assert_eq!(caller_line(), line!());
    assert_eq!(caller_line_timed(), line!());
    assert_eq!(checked(1), Ok(1));
    assert_eq!(checked(0), Err("zero".to_owned()));
    let line = line!() + 1;
    assert!(std::panic::catch_unwind(|| checked(100)).is_err());
    assert_eq!(*PANIC_LINE.lock().unwrap(), Some(line));
    assert_eq!(insert(Some(1)), Ok(1));
    let line = line!() + 1;
    assert!(std::panic::catch_unwind(|| insert(None)).is_err());
    assert_eq!(*PANIC_LINE.lock().unwrap(), Some(line));

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="caller_line",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="checked",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="checked",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="checked",module="{m}",result="panic"}}"#),
            1,
        ),
        (r#"model_inserts_total{model="tracked"}"#.to_owned(), 1),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
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
