//! `db::refinery`: refinery's applied and pending migrations, before and
//! after the runner runs them.

use crate::common;

use refinery_core::{Migration, Runner};

fn reported() -> (f64, f64) {
    let page = common::scrape();
    let get = |family| page.get(family, &[("connection", "default")]);
    (
        get("migrations_applied_total"),
        get("migrations_unapplied_total"),
    )
}

#[test]
fn migrations_are_reported_pending_then_applied() {
    common::isolated(|| {
        common::metrics();
        let migrations = [
            Migration::unapplied("V1__create_user", "CREATE TABLE user (email TEXT)").unwrap(),
            Migration::unapplied("V2__create_orders", "CREATE TABLE orders (item TEXT)").unwrap(),
            Migration::unapplied("V3__index_email", "CREATE INDEX user_email ON user (email)")
                .unwrap(),
        ];
        let mut db = rusqlite::Connection::open_in_memory().unwrap();
        // Deployed with the first of them applied, two pending.
        Runner::new(&migrations[..1]).run(&mut db).unwrap();
        let runner = Runner::new(&migrations);
        instrument_runtime::db::refinery::report_migrations(&runner, &mut db).unwrap();
        assert_eq!(reported(), (1.0, 2.0));
        runner.run(&mut db).unwrap();
        instrument_runtime::db::refinery::report_migrations(&runner, &mut db).unwrap();
        assert_eq!(reported(), (3.0, 0.0));
    });
}

#[test]
fn a_database_refinery_never_ran_on_is_an_error_naming_its_history() {
    common::isolated(|| {
        common::metrics();
        let migration = Migration::unapplied("V1__create_user", "CREATE TABLE user (email TEXT)");
        let runner = Runner::new(&[migration.unwrap()]);
        let mut db = rusqlite::Connection::open_in_memory().unwrap();
        let error = instrument_runtime::db::refinery::report_migrations(&runner, &mut db)
            .unwrap_err()
            .to_string();
        assert!(error.contains("applied migrations"), "{error}");
        // Nothing is reported from a history that could not be read.
        let page = common::scrape();
        assert_eq!(
            page.value("migrations_unapplied_total", &[("connection", "default")]),
            None
        );
    });
}
