#![deny(warnings)]

// A non-async `fn` returning `impl Future<Output = ..>`: a call from the
// moment the function is called (the code that builds the future included)
// until the future completes or is dropped; a future dropped unpolled is a
// cancelled call.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
fn fetch(id: u32) -> impl Future<Output = Result<u32, String>> {
    let doubled = id * 2;
    async move {
        if id == 0 {
            return Err("no id 0".to_owned());
        }
        Ok(doubled)
    }
}

#[timed]
fn length<'a>(text: &'a str) -> impl Future<Output = usize> + Send + 'a {
    async move { text.len() }
}

#[counted]
#[timed]
fn ready(value: u32) -> impl std::future::Future<Output = u32> {
    std::future::ready(value)
}

#[model_op(model = "user", op = update)]
fn update(id: u32) -> impl Future<Output = Result<(), String>> + Send {
    async move {
        if id == 0 {
            Err("no user 0".to_owned())
        } else {
            Ok(())
        }
    }
}

#[cache_lookup(backend = "remote")]
fn cached(key: &str) -> impl Future<Output = Option<String>> + '_ {
    async move { (key == "hit").then(|| key.to_owned()) }
}

struct Client(u32);

impl Client {
    #[counted]
    fn get(&self) -> impl Future<Output = u32> + '_ {
        async move { self.0 }
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_send(&length("x"));
    assert_send(&update(1));
    let unpolled = fetch(1);
    drop(unpolled);
    assert_eq!(block_on(fetch(2)), Ok(4));
    assert_eq!(block_on(fetch(0)), Err("no id 0".to_owned()));
    assert_eq!(block_on(length("four")), 4);
    assert_eq!(block_on(ready(7)), 7);
    assert_eq!(block_on(update(1)), Ok(()));
    assert_eq!(block_on(cached("hit")), Some("hit".to_owned()));
    assert_eq!(block_on(cached("miss")), None);
    assert_eq!(block_on(Client(3).get()), 3);

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="fetch",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="fetch",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="fetch",module="{m}",result="cancelled"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="ready",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="get",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            // One dropped unpolled (by `assert_send`), one run.
            format!(r#"function_calls_duration_seconds_count{{function="length",module="{m}"}}"#),
            2,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="ready",module="{m}"}}"#),
            1,
        ),
        (
            // One dropped unpolled, one run: both executions.
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_updates_total{model="user"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="remote"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="remote"}"#.to_owned(), 1),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, &series), value, "{series}");
    }
}

fn assert_send<T: Send>(_: &T) {}

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
