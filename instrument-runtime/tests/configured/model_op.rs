//! `#[model_op]`: every execution counted in `db_execute_total` before it
//! runs, its latency in `db_execute_latency_seconds`, a success in
//! `model_<op>s_total`, an error or a panic in `db_errors_total{type}`.
//!
//! Each test runs in a process of its own, and uses an `alias` (and model)
//! of its own as well.

use crate::common;

use std::panic::catch_unwind;

use async_trait::async_trait;
use common::{scrape, Page};
use instrument_runtime::model_op;

const EXECUTE: &str = "db_execute_total";
const LATENCY: &str = "db_execute_latency_seconds";
const ERRORS: &str = "db_errors_total";

fn db(alias: &str) -> [(&str, &str); 2] {
    [("alias", alias), ("vendor", "unknown")]
}

/// `(executions, latency samples)` of `alias` with the default vendor.
fn executions(page: &Page, alias: &str) -> (u64, u64) {
    (
        page.count(EXECUTE, &db(alias)),
        page.histogram(LATENCY, &db(alias)).0,
    )
}

fn errors(page: &Page, alias: &str, error_type: &str) -> Option<f64> {
    page.value(
        ERRORS,
        &[
            ("alias", alias),
            ("vendor", "unknown"),
            ("type", error_type),
        ],
    )
}

/// `(inserts, updates, deletes)` of `model`.
fn model_ops(page: &Page, model: &str) -> (u64, u64, u64) {
    let get = |family| page.count(family, &[("model", model)]);
    (
        get("model_inserts_total"),
        get("model_updates_total"),
        get("model_deletes_total"),
    )
}

#[derive(Debug, PartialEq)]
struct UniqueViolation;

#[model_op(model = "user", op = insert, alias = "inserts")]
fn insert_user(name: &str) -> Result<u64, UniqueViolation> {
    if name == "taken" {
        return Err(UniqueViolation);
    }
    Ok(name.len() as u64)
}

#[test]
fn insert_counts_executions_successes_and_typed_errors() {
    common::isolated(|| {
        common::metrics();
        assert_eq!(insert_user("ada"), Ok(3));
        assert_eq!(insert_user("taken"), Err(UniqueViolation));
        assert_eq!(insert_user("grace"), Ok(5));
        let page = scrape();
        assert_eq!(executions(&page, "inserts"), (3, 3));
        assert_eq!(model_ops(&page, "user"), (2, 0, 0));
        assert_eq!(
            errors(&page, "inserts", "configured::model_op::UniqueViolation"),
            Some(1.0)
        );
        assert_eq!(
            page.series(ERRORS)
                .iter()
                .filter(|l| l["alias"] == "inserts")
                .count(),
            1
        );
    });
}

#[model_op(model = "order", op = update, alias = "updates")]
fn update_order(id: u32) -> Result<u32, String> {
    if id == 0 {
        Err("no order 0".to_owned())
    } else {
        Ok(id)
    }
}

#[model_op(model = "session", op = delete, alias = "deletes")]
fn delete_sessions(n: usize) -> usize {
    n
}

#[test]
fn update_and_delete_count_in_their_families() {
    common::isolated(|| {
        common::metrics();
        assert_eq!(update_order(1), Ok(1));
        assert_eq!(update_order(2), Ok(2));
        assert_eq!(update_order(0), Err("no order 0".to_owned()));
        // A non-Result return value is always a success.
        assert_eq!(delete_sessions(4), 4);
        let page = scrape();
        assert_eq!(executions(&page, "updates"), (3, 3));
        assert_eq!(model_ops(&page, "order"), (0, 2, 0));
        assert_eq!(errors(&page, "updates", "alloc::string::String"), Some(1.0));
        assert_eq!(executions(&page, "deletes"), (1, 1));
        assert_eq!(model_ops(&page, "session"), (0, 0, 1));
    });
}

#[model_op(model = "report", op = select, alias = "selects")]
fn select_reports(limit: usize) -> Result<Vec<u32>, String> {
    if limit > 100 {
        return Err("limit too large".to_owned());
    }
    Ok((0..limit as u32).collect())
}

#[test]
fn select_counts_only_the_db_families() {
    common::isolated(|| {
        common::metrics();
        assert_eq!(select_reports(3), Ok(vec![0, 1, 2]));
        assert_eq!(select_reports(0), Ok(vec![]));
        assert!(select_reports(1000).is_err());
        let page = scrape();
        assert_eq!(executions(&page, "selects"), (3, 3));
        assert_eq!(model_ops(&page, "report"), (0, 0, 0));
        assert_eq!(errors(&page, "selects", "alloc::string::String"), Some(1.0));
        assert!(!page.has_family("model_selects_total"));
    });
}

#[model_op(model = "probe", op = select, alias = "before")]
fn executions_seen_inside() -> (u64, u64) {
    executions(&scrape(), "before")
}

#[test]
fn execution_is_counted_before_the_body_runs_and_latency_after() {
    common::isolated(|| {
        common::metrics();
        assert_eq!(executions_seen_inside(), (1, 0));
        assert_eq!(executions_seen_inside(), (2, 1));
        assert_eq!(executions(&scrape(), "before"), (2, 2));
    });
}

#[derive(Debug)]
enum SqlError {
    Constraint(&'static str),
    Timeout,
}

impl SqlError {
    fn kind(&self) -> &'static str {
        match self {
            SqlError::Constraint(_) => "constraint",
            SqlError::Timeout => "timeout",
        }
    }
}

fn sql_code(error: &SqlError) -> u16 {
    match error {
        SqlError::Constraint(_) => 23505,
        SqlError::Timeout => 57014,
    }
}

#[model_op(model = "invoice", op = insert, alias = "typed", error_type = SqlError::kind)]
fn insert_invoice(outcome: u8) -> Result<u8, SqlError> {
    match outcome {
        0 => Ok(0),
        1 => Err(SqlError::Constraint("invoice_number_key")),
        _ => Err(SqlError::Timeout),
    }
}

#[model_op(model = "payment", op = update, alias = "coded", error_type = sql_code)]
fn update_payment(timeout: bool) -> Result<(), SqlError> {
    if timeout {
        Err(SqlError::Timeout)
    } else {
        Err(SqlError::Constraint("payment_pkey"))
    }
}

// The expansion calls the closure in place, which clippy flags
// (`redundant_closure_call`) in the user's code: reported to the macro crate.
#[allow(clippy::redundant_closure_call)]
#[model_op(
    model = "refund",
    op = delete,
    alias = "closure",
    error_type = |e: &SqlError| format!("sql_{}", e.kind())
)]
fn delete_refund() -> Result<(), SqlError> {
    Err(SqlError::Timeout)
}

#[test]
fn error_type_function_names_the_error() {
    common::isolated(|| {
        common::metrics();
        assert_eq!(insert_invoice(0).ok(), Some(0));
        assert!(matches!(
            insert_invoice(1),
            Err(SqlError::Constraint("invoice_number_key"))
        ));
        assert!(matches!(insert_invoice(2), Err(SqlError::Timeout)));
        assert!(matches!(insert_invoice(3), Err(SqlError::Timeout)));
        assert!(update_payment(true).is_err());
        assert!(update_payment(false).is_err());
        assert!(update_payment(false).is_err());
        assert!(delete_refund().is_err());

        let page = scrape();
        assert_eq!(errors(&page, "typed", "constraint"), Some(1.0));
        assert_eq!(errors(&page, "typed", "timeout"), Some(2.0));
        assert_eq!(
            errors(&page, "typed", "configured::model_op::SqlError"),
            None
        );
        assert_eq!(executions(&page, "typed"), (4, 4));
        assert_eq!(model_ops(&page, "invoice"), (1, 0, 0));
        assert_eq!(errors(&page, "coded", "57014"), Some(1.0));
        assert_eq!(errors(&page, "coded", "23505"), Some(2.0));
        assert_eq!(model_ops(&page, "payment"), (0, 0, 0));
        assert_eq!(errors(&page, "closure", "sql_timeout"), Some(1.0));
    });
}

#[model_op(model = "audit", op = insert, alias = "replica", vendor = "postgresql")]
fn insert_audit() -> Result<(), String> {
    Err("read-only replica".to_owned())
}

#[model_op(model = "defaulted", op = insert)]
fn insert_defaulted() -> bool {
    true
}

#[test]
fn alias_and_vendor_come_from_the_attribute_or_the_settings() {
    common::isolated(|| {
        common::metrics();
        assert!(insert_audit().is_err());
        assert!(insert_defaulted());
        let page = scrape();
        let replica = [("alias", "replica"), ("vendor", "postgresql")];
        assert_eq!(page.count(EXECUTE, &replica), 1);
        assert_eq!(page.histogram(LATENCY, &replica).0, 1);
        assert_eq!(
            page.count(
                ERRORS,
                &[
                    ("alias", "replica"),
                    ("vendor", "postgresql"),
                    ("type", "alloc::string::String")
                ]
            ),
            1
        );
        // The builder's defaults: alias `default`, vendor `unknown`.
        let defaults = [("alias", "default"), ("vendor", "unknown")];
        assert_eq!(page.count(EXECUTE, &defaults), 1);
        assert_eq!(page.histogram(LATENCY, &defaults).0, 1);
        assert_eq!(model_ops(&page, "defaulted"), (1, 0, 0));
    });
}

#[model_op(model = "crash", op = delete, alias = "panics")]
fn delete_crash(really: bool) -> Result<(), String> {
    if really {
        panic!("driver crashed");
    }
    Ok(())
}

#[test]
fn panic_is_a_db_error_of_type_panic_and_propagates() {
    common::isolated(|| {
        common::metrics();
        assert_eq!(delete_crash(false), Ok(()));
        let payload = catch_unwind(|| delete_crash(true)).expect_err("the panic propagates");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"driver crashed"));
        let page = scrape();
        assert_eq!(executions(&page, "panics"), (2, 2));
        assert_eq!(errors(&page, "panics", "panic"), Some(1.0));
        assert_eq!(model_ops(&page, "crash"), (0, 0, 1));
    });
}

#[model_op(model = "book", op = insert, alias = "async")]
async fn insert_book(title: &str) -> Result<usize, UniqueViolation> {
    tokio::task::yield_now().await;
    if title.is_empty() {
        return Err(UniqueViolation);
    }
    Ok(title.len())
}

#[async_trait]
trait BookRepo {
    async fn update(&self, id: u32) -> Result<u32, String>;
}

struct Books;

#[async_trait]
impl BookRepo for Books {
    #[model_op(model = "book", op = update, alias = "async")]
    async fn update(&self, id: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        if id == 0 {
            Err("no book 0".to_owned())
        } else {
            Ok(id)
        }
    }
}

impl Books {
    #[model_op(model = "book", op = delete, alias = "async")]
    fn delete(&self, id: u32) -> Result<u32, String> {
        Ok(id)
    }
}

#[tokio::test]
async fn async_fns_and_methods() {
    if !common::own_process() {
        return;
    }
    common::metrics();
    assert_eq!(insert_book("Dune").await, Ok(4));
    assert_eq!(insert_book("").await, Err(UniqueViolation));
    assert_eq!(Books.update(7).await, Ok(7));
    assert_eq!(Books.update(0).await, Err("no book 0".to_owned()));
    assert_eq!(Books.delete(3), Ok(3));
    let page = scrape();
    assert_eq!(executions(&page, "async"), (5, 5));
    assert_eq!(model_ops(&page, "book"), (1, 1, 1));
    assert_eq!(
        errors(&page, "async", "configured::model_op::UniqueViolation"),
        Some(1.0)
    );
    assert_eq!(errors(&page, "async", "alloc::string::String"), Some(1.0));
}

#[model_op(model = "ghost", op = update, alias = "never")]
#[allow(dead_code)]
fn never_called_model_op() -> Result<(), String> {
    Ok(())
}

#[test]
fn statically_known_series_exist_at_zero() {
    common::isolated(|| {
        common::metrics();
        let page = scrape();
        assert_eq!(executions(&page, "never"), (0, 0));
        assert_eq!(page.histogram(LATENCY, &db("never")), (0, 0.0));
        // Every model's three counters, whatever the op of the site.
        assert_eq!(model_ops(&page, "ghost"), (0, 0, 0));
        // Error types are only known when an error happens.
        assert!(page.series(ERRORS).iter().all(|l| l["alias"] != "never"));
        for (family, kind, help) in [
            (
                EXECUTE,
                "counter",
                "Database executions, failed ones included.",
            ),
            (
                LATENCY,
                "histogram",
                "Database execution latency in seconds.",
            ),
            (
                "model_inserts_total",
                "counter",
                "Model insert operations that succeeded.",
            ),
            (
                "model_updates_total",
                "counter",
                "Model update operations that succeeded.",
            ),
            (
                "model_deletes_total",
                "counter",
                "Model delete operations that succeeded.",
            ),
        ] {
            assert_eq!(
                page.types.get(family).map(String::as_str),
                Some(kind),
                "{family}"
            );
            assert_eq!(
                page.help.get(family).map(String::as_str),
                Some(help),
                "{family}"
            );
        }
    });
}

#[model_op(model = "many_row", op = update, alias = "many_alias", many = ids.len())]
fn update_rows(ids: &[u32]) -> Result<(), String> {
    if ids.is_empty() {
        Err("nothing to update".into())
    } else {
        Ok(())
    }
}

#[test]
fn many_counts_every_statement_of_a_bulk_execution() {
    common::isolated(|| {
        common::metrics();
        update_rows(&[1, 2, 3, 4]).unwrap();
        update_rows(&[]).unwrap_err();
        let page = common::scrape();
        let db = [("alias", "many_alias"), ("vendor", "unknown")];
        assert_eq!(page.get("db_execute_total", &db), 4.0);
        assert_eq!(page.histogram("db_execute_latency_seconds", &db).0, 2);
        assert_eq!(
            page.get("model_updates_total", &[("model", "many_row")]),
            4.0
        );
        assert!(!page.has_family("db_execute_many_total"));
    });
}
