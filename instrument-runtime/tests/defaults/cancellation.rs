//! A future dropped before it completes is a cancelled call:
//! `result="cancelled"` in `function_calls_total`, and its time until the
//! drop in the duration histogram.

use crate::common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::scrape;
use instrument_runtime::{counted, model_op, timed};

const CALLS: &str = "function_calls_total";
const DURATION: &str = "function_calls_duration_seconds";

fn calls(function: &str, result: &str) -> Option<f64> {
    scrape().value(
        CALLS,
        &[
            ("function", function),
            ("module", "defaults::cancellation"),
            ("result", result),
        ],
    )
}

fn timed(function: &str) -> (u64, f64) {
    scrape().histogram(
        DURATION,
        &[("function", function), ("module", "defaults::cancellation")],
    )
}

/// Poll `future` once; it must still be pending. Then drop it.
fn poll_once_then_drop<F: Future>(future: F) {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        future.as_mut().poll(&mut cx).is_pending(),
        "the future is still pending after one poll"
    );
}

/// Poll to completion on this thread (the futures here never wait on I/O).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// Pending on the first poll, ready on the second.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|_| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            Poll::Pending
        }
    })
    .await;
}

#[counted]
#[timed]
async fn wait_forever(n: u32) -> Result<u32, String> {
    std::future::pending::<()>().await;
    Ok(n)
}

#[test]
fn dropped_pending_future_is_cancelled_and_timed() {
    common::metrics();
    poll_once_then_drop(wait_forever(1));
    poll_once_then_drop(wait_forever(2));
    assert_eq!(calls("wait_forever", "cancelled"), Some(2.0));
    assert_eq!(calls("wait_forever", "ok"), Some(0.0));
    assert_eq!(calls("wait_forever", "error"), Some(0.0));
    assert_eq!(calls("wait_forever", "panic"), Some(0.0));
    assert_eq!(timed("wait_forever").0, 2);
}

#[counted]
#[timed]
async fn never_polled() -> u8 {
    1
}

#[test]
fn future_dropped_before_its_first_poll_records_nothing() {
    common::metrics();
    drop(never_polled());
    // The body never started: not a call.
    assert_eq!(calls("never_polled", "cancelled"), None);
    assert_eq!(calls("never_polled", "ok"), Some(0.0));
    assert_eq!(timed("never_polled").0, 0);
}

#[counted]
#[timed]
async fn slow_then_cancelled() -> u8 {
    yield_once().await;
    yield_once().await;
    2
}

#[test]
fn cancelled_duration_is_the_time_until_the_drop() {
    common::metrics();
    let started = Instant::now();
    {
        let mut future = pin!(slow_then_cancelled());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        std::thread::sleep(Duration::from_millis(30));
    }
    let outer = started.elapsed().as_secs_f64();
    let (count, sum) = timed("slow_then_cancelled");
    assert_eq!(count, 1);
    common::assert_between(sum, 0.030, outer);
    let page = scrape();
    let labels = [
        ("function", "slow_then_cancelled"),
        ("module", "defaults::cancellation"),
    ];
    assert_eq!(page.bucket(DURATION, &labels, 0.025), 0);
    assert_eq!(page.bucket(DURATION, &labels, f64::INFINITY), 1);
    assert_eq!(calls("slow_then_cancelled", "cancelled"), Some(1.0));

    // Run to completion: ok, not cancelled.
    assert_eq!(block_on(slow_then_cancelled()), 2);
    assert_eq!(calls("slow_then_cancelled", "ok"), Some(1.0));
    assert_eq!(calls("slow_then_cancelled", "cancelled"), Some(1.0));
    assert_eq!(timed("slow_then_cancelled").0, 2);
}

#[counted]
#[timed]
fn pending_impl(n: u32) -> impl Future<Output = u32> {
    async move {
        std::future::pending::<()>().await;
        n
    }
}

#[test]
fn impl_future_dropped_is_cancelled() {
    common::metrics();
    poll_once_then_drop(pending_impl(3));
    assert_eq!(calls("pending_impl", "cancelled"), Some(1.0));
    assert_eq!(calls("pending_impl", "ok"), Some(0.0));
    assert_eq!(timed("pending_impl").0, 1);
}

#[counted]
#[timed]
fn never_polled_impl(n: u32) -> impl Future<Output = u32> {
    async move { n }
}

#[test]
fn impl_future_dropped_before_its_first_poll_is_a_cancelled_call() {
    common::metrics();
    // The function ran (it built the future): a call, cancelled.
    drop(never_polled_impl(5));
    assert_eq!(calls("never_polled_impl", "cancelled"), Some(1.0));
    assert_eq!(calls("never_polled_impl", "ok"), Some(0.0));
    assert_eq!(timed("never_polled_impl").0, 1);
    assert_eq!(block_on(never_polled_impl(6)), 6);
    assert_eq!(calls("never_polled_impl", "ok"), Some(1.0));
    assert_eq!(timed("never_polled_impl").0, 2);
}

#[counted]
#[timed]
#[model_op(model = "built", op = insert, alias = "impl_future_panic")]
fn panics_while_building(fail: bool) -> impl Future<Output = Result<u32, String>> {
    if fail {
        panic!("cannot build the future");
    }
    async { Ok(1) }
}

#[test]
fn impl_future_panicking_before_the_future_exists_is_a_panic() {
    common::metrics();
    let caught = std::panic::catch_unwind(|| panics_while_building(true));
    assert!(caught.is_err());
    assert_eq!(calls("panics_while_building", "panic"), Some(1.0));
    assert_eq!(calls("panics_while_building", "cancelled"), None);
    assert_eq!(timed("panics_while_building").0, 1);
    let db = [("alias", "impl_future_panic"), ("vendor", "unknown")];
    let page = scrape();
    assert_eq!(page.count("db_execute_total", &db), 1);
    let panic = [
        ("alias", "impl_future_panic"),
        ("vendor", "unknown"),
        ("type", "panic"),
    ];
    assert_eq!(page.count("db_errors_total", &panic), 1);
    assert_eq!(block_on(panics_while_building(false)), Ok(1));
    assert_eq!(calls("panics_while_building", "ok"), Some(1.0));
    assert_eq!(
        scrape().count("model_inserts_total", &[("model", "built")]),
        1
    );
}

#[async_trait]
trait Job {
    async fn run(&self) -> Result<(), String>;
}

struct Stuck;

#[async_trait]
impl Job for Stuck {
    #[counted]
    #[timed]
    async fn run(&self) -> Result<(), String> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[test]
fn async_trait_future_dropped_is_cancelled() {
    common::metrics();
    poll_once_then_drop(Stuck.run());
    assert_eq!(calls("run", "cancelled"), Some(1.0));
    assert_eq!(calls("run", "ok"), Some(0.0));
    assert_eq!(timed("run").0, 1);
}

#[tokio::test]
async fn timeout_cancels_the_call() {
    common::metrics();
    #[counted]
    async fn slow_remote() -> u8 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        0
    }
    let result = tokio::time::timeout(Duration::from_millis(5), slow_remote()).await;
    assert!(result.is_err(), "timed out");
    assert_eq!(
        scrape().value(
            CALLS,
            &[
                ("function", "slow_remote"),
                ("module", "defaults::cancellation"),
                ("result", "cancelled")
            ]
        ),
        Some(1.0)
    );
}

#[model_op(model = "job", op = update, alias = "cancel")]
async fn update_job_forever() -> Result<(), String> {
    std::future::pending::<()>().await;
    Ok(())
}

#[test]
fn cancelled_model_op_counts_the_execution_and_its_time_only() {
    common::metrics();
    poll_once_then_drop(update_job_forever());
    let page = scrape();
    let db = [("alias", "cancel"), ("vendor", "unknown")];
    assert_eq!(page.count("db_execute_total", &db), 1);
    assert_eq!(page.histogram("db_execute_latency_seconds", &db).0, 1);
    assert_eq!(page.count("model_updates_total", &[("model", "job")]), 0);
    assert!(
        page.series("db_errors_total").is_empty(),
        "a cancellation is not a DB error:\n{}",
        page.text
    );
}

#[counted]
async fn innocent_bystander() -> u8 {
    std::future::pending::<()>().await;
    0
}

/// Runs in place (its value says nothing): the `.await` tells the guard
/// that the call is suspended.
#[counted]
async fn innocent_unit() {
    std::future::pending::<()>().await;
}

/// Suspended inside macros' own expansions, where no `.await` of the body
/// is: such bodies run in an async block that sees every suspension.
#[counted]
async fn innocent_join() {
    let _ = tokio::join!(std::future::pending::<()>());
}

#[counted]
async fn innocent_select() {
    tokio::select! {
        () = std::future::pending::<()>() => {}
    }
}

#[counted]
async fn innocent_local_macro() {
    macro_rules! wait {
        ($future:expr) => {
            $future.await
        };
    }
    wait!(std::future::pending::<()>());
}

#[counted]
async fn innocent_closure() -> impl Fn(&str) -> &str {
    std::future::pending::<()>().await;
    |s| s.trim()
}

#[model_op(model = "bystander", op = select, alias = "bystander")]
async fn innocent_query() -> Result<(), String> {
    std::future::pending::<()>().await;
    Ok(())
}

async fn sibling_panics() {
    yield_once().await;
    panic!("the sibling panicked");
}

#[test]

fn future_dropped_by_a_sibling_panic_is_cancelled_not_panic() {
    common::metrics();
    let result = std::panic::catch_unwind(|| {
        block_on(async {
            let _ = tokio::join!(
                innocent_bystander(),
                innocent_unit(),
                innocent_join(),
                innocent_select(),
                innocent_local_macro(),
                innocent_closure(),
                innocent_query(),
                sibling_panics()
            );
        })
    });
    assert!(result.is_err(), "the sibling's panic propagates");
    assert_eq!(calls("innocent_bystander", "panic"), Some(0.0));
    assert_eq!(calls("innocent_bystander", "cancelled"), Some(1.0));
    for function in [
        "innocent_unit",
        "innocent_join",
        "innocent_select",
        "innocent_local_macro",
        "innocent_closure",
    ] {
        assert_eq!(calls(function, "panic"), Some(0.0), "{function}");
        assert_eq!(calls(function, "ok"), Some(0.0), "{function}");
        assert_eq!(calls(function, "cancelled"), Some(1.0), "{function}");
    }
    let page = scrape();
    assert_eq!(
        page.value(
            "db_errors_total",
            &[
                ("alias", "bystander"),
                ("vendor", "unknown"),
                ("type", "panic")
            ]
        ),
        None,
        "the query did not fail, it was dropped"
    );
    assert_eq!(
        page.count(
            "db_execute_total",
            &[("alias", "bystander"), ("vendor", "unknown")]
        ),
        1
    );
}

#[counted]
async fn serve_until_shutdown() {
    loop {
        tokio::select! {
            () = std::future::pending::<()>() => {}
        }
    }
}

#[test]
fn a_loop_around_select_dropped_at_shutdown_is_cancelled() {
    common::metrics();
    poll_once_then_drop(serve_until_shutdown());
    assert_eq!(calls("serve_until_shutdown", "ok"), Some(0.0));
    assert_eq!(calls("serve_until_shutdown", "cancelled"), Some(1.0));
}
