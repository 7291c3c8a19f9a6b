//! A panic in an annotated function propagates unchanged and is recorded:
//! `result="panic"` in `function_calls_total`, a sample in the duration
//! histogram.

use crate::common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::scrape;
use instrument_runtime::{counted, timed};

const CALLS: &str = "function_calls_total";
const DURATION: &str = "function_calls_duration_seconds";

/// `(ok, error, panic)` of a function at the root of this file.
fn outcomes(function: &str) -> (u64, u64, u64) {
    let page = scrape();
    let get = |result| {
        page.count(
            CALLS,
            &[
                ("function", function),
                ("module", "defaults::panic"),
                ("result", result),
            ],
        )
    };
    (get("ok"), get("error"), get("panic"))
}

fn timed_count(function: &str) -> u64 {
    scrape()
        .histogram(
            DURATION,
            &[("function", function), ("module", "defaults::panic")],
        )
        .0
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => (*payload.downcast::<&str>().expect("a string payload")).to_owned(),
    }
}

#[counted]
#[timed]
fn explode_above(limit: u32, n: u32) -> u32 {
    if n > limit {
        panic!("{n} is above {limit}");
    }
    n * 2
}

#[test]
fn panic_propagates_with_its_payload_and_is_counted() {
    common::metrics();
    assert_eq!(explode_above(5, 1), 2);
    let payload = catch_unwind(|| explode_above(5, 9)).expect_err("the panic propagates");
    assert_eq!(panic_message(payload), "9 is above 5");
    assert_eq!(explode_above(5, 5), 10);
    let payload = catch_unwind(|| explode_above(0, 1)).expect_err("the panic propagates");
    assert_eq!(panic_message(payload), "1 is above 0");
    assert_eq!(outcomes("explode_above"), (2, 0, 2));
    // #[timed] records the panicking calls too.
    assert_eq!(timed_count("explode_above"), 4);
}

#[counted]
fn fallible_then_panic(mode: u8) -> Result<u8, String> {
    match mode {
        0 => Ok(0),
        1 => Err("one".to_owned()),
        _ => panic!("mode {mode}"),
    }
}

#[test]
fn panic_in_result_fn_is_panic_not_error() {
    common::metrics();
    assert_eq!(fallible_then_panic(0), Ok(0));
    assert_eq!(fallible_then_panic(1), Err("one".to_owned()));
    assert!(catch_unwind(|| fallible_then_panic(2)).is_err());
    assert!(catch_unwind(|| fallible_then_panic(3)).is_err());
    assert!(catch_unwind(|| fallible_then_panic(4)).is_err());
    assert_eq!(outcomes("fallible_then_panic"), (1, 1, 3));
}

#[counted]
#[timed]
fn always_panics(reason: &str) -> ! {
    panic!("always: {reason}")
}

#[test]
fn never_returning_fn() {
    common::metrics();
    let payload = catch_unwind(|| always_panics("x")).expect_err("never returns");
    assert_eq!(panic_message(payload), "always: x");
    assert_eq!(outcomes("always_panics"), (0, 0, 1));
    assert_eq!(timed_count("always_panics"), 1);
}

struct Vault {
    items: Vec<u32>,
}

impl Vault {
    #[counted]
    fn take(&mut self, index: usize) -> u32 {
        // Indexing out of bounds panics.
        self.items.remove(index)
    }
}

#[test]
fn panic_in_method() {
    common::metrics();
    let mut vault = Vault { items: vec![1, 2] };
    assert_eq!(vault.take(0), 1);
    assert!(catch_unwind(AssertUnwindSafe(|| vault.take(5))).is_err());
    assert_eq!(vault.items, [2]);
    assert_eq!(outcomes("take"), (1, 0, 1));
}

#[counted]
fn inner_panics() -> u8 {
    panic!("inner")
}

#[counted]
fn outer_catches() -> Result<u8, String> {
    catch_unwind(inner_panics).map_err(panic_message)
}

#[test]
fn caught_inner_panic_is_counted_on_the_inner_fn_only() {
    common::metrics();
    assert_eq!(outer_catches(), Err("inner".to_owned()));
    assert_eq!(outcomes("inner_panics"), (0, 0, 1));
    // The outer call returned normally (an `Err`), after the inner panic
    // had been caught.
    assert_eq!(outcomes("outer_catches"), (0, 1, 0));
}

#[counted]
fn called_while_unwinding(n: u32) -> u32 {
    n + 1
}

struct CallsOnDrop;

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        assert!(std::thread::panicking());
        assert_eq!(called_while_unwinding(1), 2);
    }
}

#[test]
fn call_that_returns_during_unwinding_is_ok_not_panic() {
    common::metrics();
    let result = catch_unwind(|| {
        let _guard = CallsOnDrop;
        panic!("unwinding through a destructor");
    });
    assert!(result.is_err());
    assert_eq!(outcomes("called_while_unwinding"), (1, 0, 0));
}

#[counted]
#[timed]
async fn async_explode(n: u32) -> u32 {
    tokio::task::yield_now().await;
    if n == 0 {
        panic!("async zero");
    }
    n
}

#[tokio::test]
async fn panic_in_async_fn_is_counted() {
    common::metrics();
    assert_eq!(async_explode(3).await, 3);
    let error = tokio::spawn(async_explode(0))
        .await
        .expect_err("the task panicked");
    assert!(error.is_panic());
    assert_eq!(panic_message(error.into_panic()), "async zero");
    assert_eq!(outcomes("async_explode"), (1, 0, 1));
    assert_eq!(timed_count("async_explode"), 2);
    // A panic is not a cancellation.
    assert_eq!(
        scrape().value(
            CALLS,
            &[
                ("function", "async_explode"),
                ("module", "defaults::panic"),
                ("result", "cancelled")
            ]
        ),
        None
    );
}
