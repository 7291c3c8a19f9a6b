#![deny(warnings)]

// `#[model_op]` with every argument: `alias`, `vendor`, and `error_type`
// as a path to a function or as a closure.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use instrument_runtime::model_op;

#[derive(Debug, PartialEq)]
enum DbError {
    NotFound,
    Conflict(u32),
}

mod errors {
    pub(crate) fn kind(error: &super::DbError) -> &'static str {
        match error {
            super::DbError::NotFound => "not_found",
            super::DbError::Conflict(_) => "conflict",
        }
    }
}

#[model_op(model = "user", op = insert, alias = "primary", vendor = "postgresql", error_type = errors::kind)]
fn insert_user(id: u32) -> Result<u32, DbError> {
    if id == 0 {
        return Err(DbError::Conflict(id));
    }
    Ok(id)
}

#[model_op(
    model = "user",
    op = delete,
    alias = "primary",
    vendor = "postgresql",
    error_type = |error: &DbError| format!("{error:?}").to_lowercase(),
)]
fn delete_user(id: u32) -> Result<(), DbError> {
    if id == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

#[model_op(model = "user", op = update, alias = "replica", vendor = "sqlite", error_type = errors::kind)]
async fn update_user(id: u32) -> Result<(), DbError> {
    if id == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

#[model_op(model = "user", op = select, alias = "replica", vendor = "sqlite")]
fn count_users() -> usize {
    3
}

// A closure without type annotations gets its argument type from the macro.
#[model_op(
    model = "user",
    op = select,
    alias = "replica",
    vendor = "sqlite",
    error_type = |error| match error {
        DbError::NotFound => "missing",
        DbError::Conflict(_) => "conflict",
    },
)]
fn find_user(id: u32) -> Result<u32, DbError> {
    if id == 0 {
        return Err(DbError::NotFound);
    }
    Ok(id)
}

struct Repo;

impl Repo {
    #[model_op(model = "order", op = insert, alias = "primary", vendor = "postgresql", error_type = errors::kind)]
    fn insert(&self, id: u32) -> impl Future<Output = Result<u32, DbError>> + '_ {
        async move {
            if id == 0 {
                return Err(DbError::NotFound);
            }
            Ok(id)
        }
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(insert_user(1), Ok(1));
    assert_eq!(insert_user(0), Err(DbError::Conflict(0)));
    assert_eq!(delete_user(1), Ok(()));
    assert_eq!(delete_user(0), Err(DbError::NotFound));
    assert_eq!(block_on(update_user(1)), Ok(()));
    assert_eq!(block_on(update_user(0)), Err(DbError::NotFound));
    assert_eq!(count_users(), 3);
    assert_eq!(find_user(1), Ok(1));
    assert_eq!(find_user(0), Err(DbError::NotFound));
    assert_eq!(block_on(Repo.insert(1)), Ok(1));
    assert_eq!(block_on(Repo.insert(0)), Err(DbError::NotFound));

    let page = metrics.render();
    let expected = [
        (
            r#"db_execute_total{alias="primary",vendor="postgresql"}"#,
            6,
        ),
        (r#"db_execute_total{alias="replica",vendor="sqlite"}"#, 5),
        (
            r#"db_errors_total{alias="primary",vendor="postgresql",type="conflict"}"#,
            1,
        ),
        (
            r#"db_errors_total{alias="primary",vendor="postgresql",type="notfound"}"#,
            1,
        ),
        (
            r#"db_errors_total{alias="primary",vendor="postgresql",type="not_found"}"#,
            1,
        ),
        (
            r#"db_errors_total{alias="replica",vendor="sqlite",type="not_found"}"#,
            1,
        ),
        (
            r#"db_execute_latency_seconds_count{alias="primary",vendor="postgresql"}"#,
            6,
        ),
        (r#"model_inserts_total{model="user"}"#, 1),
        (r#"model_deletes_total{model="user"}"#, 1),
        (r#"model_updates_total{model="user"}"#, 1),
        (r#"model_inserts_total{model="order"}"#, 1),
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
