#![deny(warnings)]

// Several macros on one function, in either order; each records once.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
#[timed]
fn counted_then_timed(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("zero".to_owned());
    }
    Ok(n)
}

#[timed]
#[counted]
fn timed_then_counted(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("zero".to_owned());
    }
    Ok(n)
}

#[counted]
#[timed]
#[model_op(model = "stack", op = insert)]
fn all_three(n: u32) -> Result<u32, String> {
    Ok(n)
}

#[model_op(model = "stack", op = select)]
#[cache_lookup(backend = "stacked")]
#[timed]
#[counted]
fn lookup(key: &str) -> Result<Option<u32>, String> {
    Ok(key.parse().ok())
}

#[timed]
#[counted]
async fn async_stacked(n: u32) -> Result<u32, String> {
    Ok(n)
}

#[counted]
#[timed]
fn future_stacked(n: u32) -> impl Future<Output = u32> {
    async move { n }
}

#[counted(name = "stacked_custom_total", labels(kind = "custom"))]
#[counted]
fn counted_twice() {}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(counted_then_timed(1), Ok(1));
    assert!(counted_then_timed(0).is_err());
    assert_eq!(timed_then_counted(1), Ok(1));
    assert!(timed_then_counted(0).is_err());
    assert_eq!(all_three(2), Ok(2));
    assert_eq!(lookup("1"), Ok(Some(1)));
    assert_eq!(lookup("x"), Ok(None));
    assert_eq!(block_on(async_stacked(3)), Ok(3));
    assert_eq!(block_on(future_stacked(4)), 4);
    counted_twice();

    let page = metrics.render();
    let m = module_path!();
    let mut expected = Vec::new();
    for function in ["counted_then_timed", "timed_then_counted"] {
        expected.extend([
            (
                format!(
                    r#"function_calls_total{{function="{function}",module="{m}",result="ok"}}"#
                ),
                1,
            ),
            (
                format!(
                    r#"function_calls_total{{function="{function}",module="{m}",result="error"}}"#
                ),
                1,
            ),
            (
                format!(
                    r#"function_calls_duration_seconds_count{{function="{function}",module="{m}"}}"#
                ),
                2,
            ),
        ]);
    }
    for (function, calls) in [
        ("all_three", 1),
        ("lookup", 2),
        ("async_stacked", 1),
        ("future_stacked", 1),
    ] {
        expected.extend([
            (
                format!(
                    r#"function_calls_total{{function="{function}",module="{m}",result="ok"}}"#
                ),
                calls,
            ),
            (
                format!(
                    r#"function_calls_duration_seconds_count{{function="{function}",module="{m}"}}"#
                ),
                calls,
            ),
        ]);
    }
    expected.extend([
        (
            format!(r#"function_calls_total{{function="counted_twice",module="{m}",result="ok"}}"#),
            1,
        ),
        (r#"stacked_custom_total{kind="custom"}"#.to_owned(), 1),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            3,
        ),
        (r#"model_inserts_total{model="stack"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="stacked"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="stacked"}"#.to_owned(), 1),
    ]);
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
