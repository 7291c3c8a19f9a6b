//! `Builder::db_alias` / `Builder::db_vendor` label the DB families of
//! every `#[model_op]`, unless the attribute names its own.

mod common;

use common::Page;
use instrument_runtime::{model_op, Builder};

fn scrape() -> Page {
    let metrics =
        common::install_once(|| Builder::new().db_alias("primary").db_vendor("postgresql"));
    Page::parse(&metrics.render())
}

#[model_op(model = "user", op = insert)]
fn from_settings() -> Result<(), String> {
    Err("duplicate".to_owned())
}

#[model_op(model = "user", op = select, alias = "replica")]
fn alias_override() {}

#[model_op(model = "user", op = update, vendor = "sqlite")]
fn vendor_override() {}

#[model_op(model = "user", op = delete, alias = "archive", vendor = "mysql")]
fn both_override() {}

#[test]
fn settings_label_db_families_and_attributes_override_them() {
    scrape();
    assert!(from_settings().is_err());
    assert!(from_settings().is_err());
    alias_override();
    vendor_override();
    vendor_override();
    vendor_override();
    both_override();
    let page = scrape();
    let executions = |alias, vendor| {
        let labels = [("alias", alias), ("vendor", vendor)];
        (
            page.count("db_execute_total", &labels),
            page.histogram("db_execute_latency_seconds", &labels).0,
        )
    };
    assert_eq!(executions("primary", "postgresql"), (2, 2));
    assert_eq!(executions("replica", "postgresql"), (1, 1));
    assert_eq!(executions("primary", "sqlite"), (3, 3));
    assert_eq!(executions("archive", "mysql"), (1, 1));
    assert_eq!(page.series("db_execute_total").len(), 4);
    assert_eq!(
        page.count(
            "db_errors_total",
            &[
                ("alias", "primary"),
                ("vendor", "postgresql"),
                ("type", "alloc::string::String")
            ]
        ),
        2
    );
    assert!(page
        .value(
            "db_execute_total",
            &[("alias", "default"), ("vendor", "unknown")]
        )
        .is_none());
    assert_eq!(page.count("model_updates_total", &[("model", "user")]), 3);
    assert_eq!(page.count("model_deletes_total", &[("model", "user")]), 1);
    assert_eq!(page.count("model_inserts_total", &[("model", "user")]), 0);
}
