#![deny(warnings)]

// Early `return` (and `?`) leaves the function, not just the instrumented
// body, and its value is recorded: sync, async, and `impl Future`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
fn classify(n: i32) -> Result<&'static str, String> {
    if n < 0 {
        return Err(format!("{n} is negative"));
    }
    for divisor in [2, 3] {
        if n % divisor == 0 {
            return Ok("composite");
        }
    }
    // A `return` inside a closure of the body stays in that closure.
    let small = |n: i32| {
        if n < 100 {
            return 1;
        }
        2
    };
    assert_eq!(small(n), 1);
    Ok("other")
}

#[timed]
fn first_even(values: &[u32]) -> Option<u32> {
    for value in values {
        if value % 2 == 0 {
            return Some(*value);
        }
    }
    None
}

#[model_op(model = "task", op = delete)]
fn delete(id: u32) -> Result<(), String> {
    if id == 0 {
        return Err("no task 0".to_owned());
    }
    Ok(())
}

#[cache_lookup(backend = "early")]
fn lookup(key: &str) -> Result<Option<u32>, String> {
    if key.is_empty() {
        return Err("empty key".to_owned());
    }
    let Ok(value) = key.parse() else {
        return Ok(None);
    };
    Ok(Some(value))
}

#[counted]
async fn classify_later(n: i32) -> Result<&'static str, String> {
    if n < 0 {
        return Err(format!("{n} is negative"));
    }
    Ok("ok")
}

#[counted]
fn classify_future(n: i32) -> impl Future<Output = Result<i32, String>> {
    async move {
        if n < 0 {
            return Err(format!("{n} is negative"));
        }
        Ok(n)
    }
}

#[counted]
fn unit_early(flag: bool, out: &mut Vec<u32>) {
    if flag {
        return;
    }
    out.push(1);
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(classify(-1), Err("-1 is negative".to_owned()));
    assert_eq!(classify(4), Ok("composite"));
    assert_eq!(classify(7), Ok("other"));
    assert_eq!(first_even(&[1, 4, 6]), Some(4));
    assert_eq!(first_even(&[1]), None);
    assert_eq!(delete(0), Err("no task 0".to_owned()));
    assert_eq!(lookup(""), Err("empty key".to_owned()));
    assert_eq!(lookup("x"), Ok(None));
    assert_eq!(lookup("3"), Ok(Some(3)));
    assert_eq!(
        block_on(classify_later(-2)),
        Err("-2 is negative".to_owned())
    );
    assert_eq!(
        block_on(classify_future(-3)),
        Err("-3 is negative".to_owned())
    );
    let mut out = Vec::new();
    unit_early(true, &mut out);
    unit_early(false, &mut out);
    assert_eq!(out, [1]);

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="classify",module="{m}",result="ok"}}"#),
            2,
        ),
        (
            format!(r#"function_calls_total{{function="classify",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(
                r#"function_calls_total{{function="classify_later",module="{m}",result="error"}}"#
            ),
            1,
        ),
        (
            format!(
                r#"function_calls_total{{function="classify_future",module="{m}",result="error"}}"#
            ),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="unit_early",module="{m}",result="ok"}}"#),
            2,
        ),
        (
            format!(
                r#"function_calls_duration_seconds_count{{function="first_even",module="{m}"}}"#
            ),
            2,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            1,
        ),
        (r#"model_deletes_total{model="task"}"#.to_owned(), 0),
        (r#"cache_hits_total{backend="early"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="early"}"#.to_owned(), 1),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, &series), value, "{series}");
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
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
