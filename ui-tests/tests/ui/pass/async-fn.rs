#![deny(warnings)]

// `async fn`: free, with borrowed arguments, as methods; the futures stay
// `Send` so they can be spawned or used as axum handlers.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
async fn fetch(id: u32) -> Result<u32, String> {
    yield_once().await;
    if id == 0 {
        return Err("no id 0".to_owned());
    }
    Ok(id * 10)
}

#[timed]
async fn length(text: &str) -> usize {
    yield_once().await;
    text.len()
}

#[counted]
async fn nothing() {}

// The closure gets its signature from the declared `impl Fn`.
#[counted]
async fn trimmer() -> impl Fn(&str) -> &str {
    yield_once().await;
    |s| s.trim()
}

#[model_op(model = "order", op = delete)]
async fn delete_order(id: u32) -> Result<(), String> {
    yield_once().await;
    if id == 0 {
        Err("no order 0".to_owned())
    } else {
        Ok(())
    }
}

#[cache_lookup(backend = "remote")]
async fn cached(key: &str) -> Option<String> {
    yield_once().await;
    (key == "hit").then(|| key.to_owned())
}

#[cache_lookup(backend = "remote")]
async fn cached_result(key: &str) -> Result<Option<String>, String> {
    match key {
        "" => Err("empty key".to_owned()),
        "hit" => Ok(Some(key.to_owned())),
        _ => Ok(None),
    }
}

struct Client {
    calls: u32,
}

impl Client {
    #[counted]
    async fn calls(&self) -> u32 {
        yield_once().await;
        self.calls
    }

    #[counted]
    #[timed]
    async fn call(&mut self) -> &mut u32 {
        yield_once().await;
        self.calls += 1;
        &mut self.calls
    }

    #[timed]
    async fn finish(self) -> u32 {
        self.calls
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_send(&fetch(1));
    assert_send(&length("x"));
    assert_send(&delete_order(1));
    assert_send(&cached("x"));

    assert_eq!(block_on(fetch(1)), Ok(10));
    assert_eq!(block_on(fetch(0)), Err("no id 0".to_owned()));
    assert_eq!(block_on(length("four")), 4);
    block_on(nothing());
    assert_eq!(block_on(trimmer())(" padded "), "padded");
    assert_eq!(block_on(delete_order(1)), Ok(()));
    assert_eq!(block_on(delete_order(0)), Err("no order 0".to_owned()));
    assert_eq!(block_on(cached("hit")), Some("hit".to_owned()));
    assert_eq!(block_on(cached("miss")), None);
    assert_eq!(block_on(cached_result("")), Err("empty key".to_owned()));
    assert_eq!(block_on(cached_result("miss")), Ok(None));
    let mut client = Client { calls: 0 };
    *block_on(client.call()) += 1;
    assert_eq!(block_on(client.calls()), 2);
    assert_eq!(block_on(client.finish()), 2);

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
            format!(r#"function_calls_total{{function="nothing",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="trimmer",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="calls",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="call",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="length",module="{m}"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="call",module="{m}"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="finish",module="{m}"}}"#),
            1,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_deletes_total{model="order"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="remote"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="remote"}"#.to_owned(), 2),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, &series), value, "{series}");
    }
}

fn assert_send<T: Send>(_: &T) {}

/// Pending once, then ready: the code after an `.await` really runs later.
async fn yield_once() {
    let mut pending = true;
    std::future::poll_fn(|_| {
        if std::mem::take(&mut pending) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
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
