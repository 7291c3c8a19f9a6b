#![deny(warnings)]

// Methods rewritten by `#[async_trait]`: in the impl, in a default body of
// the trait, with `?Send`, and with labels read from `self`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[async_trait]
trait Repo {
    async fn get(&self, id: u32) -> Result<String, String>;

    async fn put(&mut self, name: String) -> Result<u32, String>;

    #[counted]
    #[timed]
    async fn exists(&self, id: u32) -> bool {
        self.get(id).await.is_ok()
    }

    #[cache_lookup(backend = "repo")]
    async fn cached(&self, id: u32) -> Option<String> {
        self.get(id).await.ok()
    }
}

struct Db {
    table: &'static str,
    rows: Vec<String>,
}

#[async_trait]
impl Repo for Db {
    #[counted(name = "repo_gets_total", labels(table = self.table))]
    #[timed]
    async fn get(&self, id: u32) -> Result<String, String> {
        self.rows
            .get(id as usize)
            .cloned()
            .ok_or_else(|| format!("no row {id}"))
    }

    #[model_op(model = "row", op = insert)]
    #[counted]
    async fn put(&mut self, name: String) -> Result<u32, String> {
        if name.is_empty() {
            return Err("empty name".to_owned());
        }
        self.rows.push(name);
        Ok(self.rows.len() as u32 - 1)
    }
}

#[async_trait(?Send)]
trait Local {
    async fn bump(&self) -> usize;
}

#[async_trait(?Send)]
impl Local for std::rc::Rc<()> {
    #[counted]
    #[timed]
    async fn bump(&self) -> usize {
        std::rc::Rc::strong_count(self)
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut db = Db {
        table: "people",
        rows: Vec::new(),
    };
    assert_send(&db.get(0));
    assert_eq!(block_on(db.put("ann".to_owned())), Ok(0));
    assert_eq!(
        block_on(db.put(String::new())),
        Err("empty name".to_owned())
    );
    assert_eq!(block_on(db.get(0)), Ok("ann".to_owned()));
    assert!(!block_on(db.exists(3)));
    assert_eq!(block_on(db.cached(0)), Some("ann".to_owned()));
    assert_eq!(block_on(std::rc::Rc::new(()).bump()), 1);

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (r#"repo_gets_total{table="people"}"#.to_owned(), 3),
        (
            format!(r#"function_calls_duration_seconds_count{{function="get",module="{m}"}}"#),
            3,
        ),
        (
            format!(r#"function_calls_total{{function="put",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="put",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="exists",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="bump",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="bump",module="{m}"}}"#),
            1,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_inserts_total{model="row"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="repo"}"#.to_owned(), 1),
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
