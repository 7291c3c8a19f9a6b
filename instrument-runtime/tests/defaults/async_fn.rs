//! The macros on asynchronous code: `async fn`, `async fn` in traits,
//! methods rewritten by `#[async_trait]`, and functions returning
//! `impl Future`. The call is recorded when the future completes.

use crate::common;

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
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
                ("module", "defaults::async_fn"),
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
            &[("function", function), ("module", "defaults::async_fn")],
        )
        .0
}

#[counted]
#[timed]
async fn fetch(id: u32) -> Result<String, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no such id".to_owned());
    }
    Ok(format!("item {id}"))
}

#[tokio::test]
async fn async_fn_counts_on_completion() {
    common::metrics();
    let pending = fetch(1);
    // Creating the future runs nothing, records nothing.
    assert_eq!(outcomes("fetch"), (0, 0, 0));
    assert_eq!(pending.await, Ok("item 1".to_owned()));
    assert_eq!(fetch(0).await, Err("no such id".to_owned()));
    assert_eq!(fetch(2).await, Ok("item 2".to_owned()));
    assert_eq!(outcomes("fetch"), (2, 1, 0));
    assert_eq!(timed_count("fetch"), 3);
}

#[counted]
async fn double_later(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    n * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_fn_future_is_send_and_counts_across_tasks() {
    common::metrics();
    let tasks: Vec<_> = (0..50).map(|n| tokio::spawn(double_later(n))).collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.expect("task completes");
    }
    assert_eq!(sum, 2 * (0..50).sum::<u64>());
    assert_eq!(outcomes("double_later"), (50, 0, 0));
}

#[counted]
async fn parse_then_wait(text: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = text.trim().parse()?;
    tokio::task::yield_now().await;
    Ok(n)
}

#[tokio::test]
async fn async_fn_with_question_mark_and_borrowed_argument() {
    common::metrics();
    let owned = String::from(" 42 ");
    assert_eq!(parse_then_wait(&owned).await, Ok(42));
    assert!(parse_then_wait("x").await.is_err());
    assert_eq!(outcomes("parse_then_wait"), (1, 1, 0));
}

trait Repository {
    async fn load(&self, id: u32) -> Option<String>;
    async fn store(&mut self, value: String) -> Result<usize, String>;
}

struct InMemory {
    rows: Vec<String>,
}

impl Repository for InMemory {
    #[counted]
    #[timed]
    async fn load(&self, id: u32) -> Option<String> {
        tokio::task::yield_now().await;
        self.rows.get(id as usize).cloned()
    }

    #[counted]
    async fn store(&mut self, value: String) -> Result<usize, String> {
        if value.is_empty() {
            return Err("empty".to_owned());
        }
        self.rows.push(value);
        Ok(self.rows.len())
    }
}

#[tokio::test]
async fn async_fn_in_trait() {
    common::metrics();
    let mut repo = InMemory { rows: Vec::new() };
    assert_eq!(repo.store("a".to_owned()).await, Ok(1));
    assert_eq!(repo.store(String::new()).await, Err("empty".to_owned()));
    assert_eq!(repo.load(0).await, Some("a".to_owned()));
    assert_eq!(repo.load(9).await, None);
    assert_eq!(outcomes("store"), (1, 1, 0));
    assert_eq!(outcomes("load"), (2, 0, 0));
    assert_eq!(timed_count("load"), 2);
}

#[async_trait]
trait Cache {
    async fn lookup(&self, key: &str) -> Result<Option<u32>, String>;
    async fn evict(&self, key: &str) -> bool;
}

struct Local;

#[async_trait]
impl Cache for Local {
    #[counted]
    #[timed]
    async fn lookup(&self, key: &str) -> Result<Option<u32>, String> {
        tokio::task::yield_now().await;
        match key {
            "" => Err("empty key".to_owned()),
            "one" => Ok(Some(1)),
            _ => Ok(None),
        }
    }

    #[timed]
    #[counted]
    async fn evict(&self, key: &str) -> bool {
        !key.is_empty()
    }
}

#[async_trait(?Send)]
trait LocalStore {
    async fn put(&self, value: u8) -> Result<u8, u8>;
}

#[async_trait(?Send)]
impl LocalStore for Local {
    #[counted]
    async fn put(&self, value: u8) -> Result<u8, u8> {
        if value > 9 {
            return Err(value);
        }
        Ok(value)
    }
}

#[tokio::test]
async fn async_trait_methods() {
    common::metrics();
    let cache: Box<dyn Cache + Send + Sync> = Box::new(Local);
    assert_eq!(cache.lookup("one").await, Ok(Some(1)));
    assert_eq!(cache.lookup("two").await, Ok(None));
    assert_eq!(cache.lookup("").await, Err("empty key".to_owned()));
    assert!(cache.evict("one").await);
    assert!(!cache.evict("").await);
    // The boxed future of an #[async_trait] method is Send.
    let handle = tokio::spawn(async move { cache.lookup("one").await });
    assert_eq!(handle.await.expect("task completes"), Ok(Some(1)));
    assert_eq!(outcomes("lookup"), (3, 1, 0));
    assert_eq!(timed_count("lookup"), 4);
    assert_eq!(outcomes("evict"), (2, 0, 0));
    assert_eq!(timed_count("evict"), 2);

    assert_eq!(Local.put(3).await, Ok(3));
    assert_eq!(Local.put(12).await, Err(12));
    assert_eq!(outcomes("put"), (1, 1, 0));
}

#[counted]
#[timed]
fn delayed_square(n: u64) -> impl Future<Output = u64> {
    async move {
        tokio::task::yield_now().await;
        n * n
    }
}

#[counted]
fn ready_result(ok: bool) -> impl Future<Output = Result<u8, String>> + Send {
    std::future::ready(if ok { Ok(1) } else { Err("not ok".to_owned()) })
}

#[tokio::test]
async fn impl_future_return_is_recorded_when_the_future_completes() {
    common::metrics();
    let future = delayed_square(7);
    assert_eq!(outcomes("delayed_square"), (0, 0, 0));
    assert_eq!(future.await, 49);
    assert_eq!(outcomes("delayed_square"), (1, 0, 0));
    assert_eq!(timed_count("delayed_square"), 1);

    assert_eq!(ready_result(true).await, Ok(1));
    assert_eq!(ready_result(false).await, Err("not ok".to_owned()));
    assert_eq!(
        tokio::spawn(ready_result(true))
            .await
            .expect("task completes"),
        Ok(1)
    );
    assert_eq!(outcomes("ready_result"), (2, 1, 0));
}

#[timed]
async fn sleep_for(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tokio::test]
async fn async_duration_includes_the_awaited_time() {
    common::metrics();
    let started = std::time::Instant::now();
    sleep_for(30).await;
    let outer = started.elapsed().as_secs_f64();
    let (count, sum) = scrape().histogram(
        DURATION,
        &[("function", "sleep_for"), ("module", "defaults::async_fn")],
    );
    assert_eq!(count, 1);
    common::assert_between(sum, 0.030, outer);
}
