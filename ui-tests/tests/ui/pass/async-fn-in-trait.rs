#![deny(warnings)]

// Native `async fn` in a trait (Rust 1.75+): in the impl and in a default body.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{cache_lookup, counted, model_op, timed};

trait Store {
    async fn load(&self, id: u32) -> Option<String>;

    async fn save(&mut self, id: u32, name: String) -> Result<(), String>;

    #[counted]
    #[timed]
    async fn exists(&self, id: u32) -> bool {
        self.load(id).await.is_some()
    }

    #[cache_lookup(backend = "store")]
    async fn cached(&self, id: u32) -> Result<Option<String>, String> {
        Ok(self.load(id).await)
    }
}

struct Memory(Vec<String>);

impl Store for Memory {
    #[counted]
    #[cache_lookup(backend = "memory")]
    async fn load(&self, id: u32) -> Option<String> {
        self.0.get(id as usize).cloned()
    }

    #[model_op(model = "name", op = insert)]
    async fn save(&mut self, id: u32, name: String) -> Result<(), String> {
        if id as usize != self.0.len() {
            return Err(format!("next id is {}", self.0.len()));
        }
        self.0.push(name);
        Ok(())
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut store = Memory(Vec::new());
    assert_eq!(block_on(store.save(0, "ann".to_owned())), Ok(()));
    assert_eq!(
        block_on(store.save(5, "bob".to_owned())),
        Err("next id is 1".to_owned())
    );
    assert!(block_on(store.exists(0)));
    assert!(!block_on(store.exists(1)));
    assert_eq!(block_on(store.cached(0)), Ok(Some("ann".to_owned())));

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="load",module="{m}",result="ok"}}"#),
            3,
        ),
        (
            format!(r#"function_calls_total{{function="exists",module="{m}",result="ok"}}"#),
            2,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="exists",module="{m}"}}"#),
            2,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_inserts_total{model="name"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="memory"}"#.to_owned(), 2),
        (r#"cache_misses_total{backend="memory"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="store"}"#.to_owned(), 1),
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
