//! `#[cache_lookup]`: `Some` / `Ok(Some)` is a hit, `None` / `Ok(None)` a
//! miss, `Err` neither. Each test uses a backend of its own.

use crate::common;

use std::collections::HashMap;

use async_trait::async_trait;
use common::scrape;
use instrument_runtime::{cache_lookup, counted};

/// `(hits, misses)` of `backend`.
fn lookups(backend: &str) -> (u64, u64) {
    let page = scrape();
    (
        page.count("cache_hits_total", &[("backend", backend)]),
        page.count("cache_misses_total", &[("backend", backend)]),
    )
}

#[cache_lookup(backend = "redis")]
fn get_option(key: &str) -> Option<String> {
    (key.starts_with('k')).then(|| key.to_uppercase())
}

#[test]
fn option_some_is_a_hit_and_none_a_miss() {
    common::metrics();
    assert_eq!(get_option("key"), Some("KEY".to_owned()));
    assert_eq!(get_option("nope"), None);
    assert_eq!(get_option("kite"), Some("KITE".to_owned()));
    assert_eq!(get_option("other"), None);
    assert_eq!(get_option("x"), None);
    assert_eq!(lookups("redis"), (2, 3));
}

#[derive(Debug, PartialEq)]
struct ConnectionLost;

#[cache_lookup(backend = "memcached")]
fn get_result(key: u32) -> Result<Option<u32>, ConnectionLost> {
    match key {
        0 => Err(ConnectionLost),
        n if n % 2 == 0 => Ok(Some(n / 2)),
        _ => Ok(None),
    }
}

#[test]
fn result_ok_some_hit_ok_none_miss_err_neither() {
    common::metrics();
    assert_eq!(get_result(4), Ok(Some(2)));
    assert_eq!(get_result(3), Ok(None));
    assert_eq!(get_result(0), Err(ConnectionLost));
    assert_eq!(get_result(0), Err(ConnectionLost));
    assert_eq!(get_result(8), Ok(Some(4)));
    assert_eq!(lookups("memcached"), (2, 1));
}

#[cache_lookup]
fn default_backend(hit: bool) -> Option<()> {
    hit.then_some(())
}

#[test]
fn backend_defaults_to_default() {
    common::metrics();
    assert_eq!(default_backend(true), Some(()));
    assert_eq!(default_backend(false), None);
    assert_eq!(lookups("default"), (1, 1));
}

struct LocalCache {
    entries: HashMap<String, Vec<u8>>,
}

impl LocalCache {
    #[cache_lookup(backend = "locmem")]
    fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.entries.get(key)
    }

    #[cache_lookup(backend = "locmem")]
    fn take(&mut self, key: &str) -> Option<Vec<u8>> {
        self.entries.remove(key)
    }
}

#[test]
fn methods_returning_borrows() {
    common::metrics();
    let mut cache = LocalCache {
        entries: HashMap::from([("a".to_owned(), vec![1]), ("b".to_owned(), vec![2])]),
    };
    assert_eq!(cache.get("a"), Some(&vec![1]));
    assert_eq!(cache.get("z"), None);
    assert_eq!(cache.take("b"), Some(vec![2]));
    assert_eq!(cache.take("b"), None);
    assert_eq!(lookups("locmem"), (2, 2));
}

#[cache_lookup(backend = "async")]
async fn get_async(key: u8) -> Result<Option<u8>, String> {
    tokio::task::yield_now().await;
    match key {
        0 => Ok(None),
        255 => Err("unavailable".to_owned()),
        n => Ok(Some(n)),
    }
}

#[async_trait]
trait RemoteCache {
    async fn fetch(&self, key: u8) -> Option<u8>;
}

struct Remote;

#[async_trait]
impl RemoteCache for Remote {
    #[cache_lookup(backend = "async")]
    async fn fetch(&self, key: u8) -> Option<u8> {
        (key > 10).then_some(key)
    }
}

#[tokio::test]
async fn async_lookups() {
    common::metrics();
    assert_eq!(get_async(5).await, Ok(Some(5)));
    assert_eq!(get_async(0).await, Ok(None));
    assert_eq!(get_async(255).await, Err("unavailable".to_owned()));
    assert_eq!(Remote.fetch(11).await, Some(11));
    assert_eq!(Remote.fetch(1).await, None);
    assert_eq!(lookups("async"), (2, 2));
}

#[cache_lookup(backend = "combined")]
#[counted]
fn combined(key: i32) -> Result<Option<i32>, String> {
    if key < 0 {
        return Err("negative".to_owned());
    }
    Ok((key > 0).then_some(key))
}

#[test]
fn cache_lookup_stacks_with_counted() {
    common::metrics();
    assert_eq!(combined(1), Ok(Some(1)));
    assert_eq!(combined(0), Ok(None));
    assert_eq!(combined(-1), Err("negative".to_owned()));
    assert_eq!(lookups("combined"), (1, 1));
    let page = scrape();
    let calls = |result| {
        page.count(
            "function_calls_total",
            &[
                ("function", "combined"),
                ("module", "defaults::cache_lookup"),
                ("result", result),
            ],
        )
    };
    assert_eq!((calls("ok"), calls("error")), (2, 1));
}

#[cache_lookup(backend = "cold")]
#[allow(dead_code)]
fn never_looked_up() -> Option<u8> {
    None
}

#[test]
fn both_families_exist_at_zero_with_help_and_type() {
    common::metrics();
    assert_eq!(lookups("cold"), (0, 0));
    let page = scrape();
    for (family, help) in [
        ("cache_hits_total", "Cache lookups that found a value."),
        ("cache_misses_total", "Cache lookups that found no value."),
    ] {
        assert_eq!(page.types.get(family).map(String::as_str), Some("counter"));
        assert_eq!(page.help.get(family).map(String::as_str), Some(help));
    }
}
