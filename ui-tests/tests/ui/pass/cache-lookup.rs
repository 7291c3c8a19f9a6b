#![deny(warnings)]

// `#[cache_lookup]` on `Option<T>` and `Result<Option<T>, E>`, sync and
// async: `Some` is a hit, `None` a miss, `Err` neither.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::cache_lookup;

struct Cache {
    entries: HashMap<String, String>,
    up: bool,
}

impl Cache {
    #[cache_lookup(backend = "memory")]
    fn get(&self, key: &str) -> Option<&String> {
        self.entries.get(key)
    }

    #[cache_lookup(backend = "remote")]
    fn try_get(&self, key: &str) -> Result<Option<String>, String> {
        if !self.up {
            return Err("cache down".to_owned());
        }
        Ok(self.entries.get(key).cloned())
    }

    #[cache_lookup(backend = "async_memory")]
    async fn get_async(&self, key: &str) -> Option<String> {
        self.entries.get(key).cloned()
    }

    #[cache_lookup(backend = "async_remote")]
    async fn try_get_async(&self, key: &str) -> Result<Option<String>, String> {
        self.try_get_plain(key)
    }

    fn try_get_plain(&self, key: &str) -> Result<Option<String>, String> {
        if !self.up {
            return Err("cache down".to_owned());
        }
        Ok(self.entries.get(key).cloned())
    }
}

// The default backend, and a type alias of `Option`.
type Maybe<T> = Option<T>;

#[cache_lookup]
fn default_backend(hit: bool) -> std::option::Option<u8> {
    hit.then_some(1)
}

#[cache_lookup]
fn through_alias(hit: bool) -> Maybe<u8> {
    hit.then_some(1)
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut cache = Cache {
        entries: HashMap::from([("a".to_owned(), "A".to_owned())]),
        up: true,
    };
    assert_eq!(cache.get("a"), Some(&"A".to_owned()));
    assert_eq!(cache.get("b"), None);
    assert_eq!(cache.try_get("a"), Ok(Some("A".to_owned())));
    assert_eq!(cache.try_get("b"), Ok(None));
    assert_eq!(block_on(cache.get_async("a")), Some("A".to_owned()));
    assert_eq!(block_on(cache.get_async("b")), None);
    assert_eq!(block_on(cache.try_get_async("b")), Ok(None));
    cache.up = false;
    assert_eq!(cache.try_get("a"), Err("cache down".to_owned()));
    assert_eq!(
        block_on(cache.try_get_async("a")),
        Err("cache down".to_owned())
    );
    assert_eq!(default_backend(true), Some(1));
    assert_eq!(through_alias(false), None);

    let page = metrics.render();
    let expected = [
        (r#"cache_hits_total{backend="memory"}"#, 1),
        (r#"cache_misses_total{backend="memory"}"#, 1),
        (r#"cache_hits_total{backend="remote"}"#, 1),
        (r#"cache_misses_total{backend="remote"}"#, 1),
        (r#"cache_hits_total{backend="async_memory"}"#, 1),
        (r#"cache_misses_total{backend="async_memory"}"#, 1),
        (r#"cache_hits_total{backend="async_remote"}"#, 0),
        (r#"cache_misses_total{backend="async_remote"}"#, 1),
        (r#"cache_hits_total{backend="default"}"#, 1),
        (r#"cache_misses_total{backend="default"}"#, 1),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, series), value, "{series}");
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
