//! `db::rusqlite`: every statement of an instrumented connection counted
//! once, its time measured, next to `#[model_op]` without counting twice.
//!
//! Each test runs in a process of its own.

use crate::common;

use std::time::Instant;

use common::scrape;
use instrument_runtime::db::{rusqlite::instrument, rusqlite::instrument_as, rusqlite_error_kind};
use instrument_runtime::{model_op, Builder};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::db_statements::{sqlite, statements, ERRORS, LATENCY};

fn users() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE user (email TEXT NOT NULL UNIQUE)")
        .unwrap();
    db
}

#[test]
fn every_statement_counts_once_failed_ones_included() {
    common::isolated(|| {
        common::metrics();
        let db = users();
        instrument(&db);
        // Created at 0 when the connection is instrumented.
        assert_eq!(statements(&scrape(), "default"), (0, 0));
        let insert = "INSERT INTO user (email) VALUES (?1)";
        db.execute(insert, ["ada@example.com"]).unwrap();
        db.execute(insert, ["grace@example.com"]).unwrap();
        let error = db.execute(insert, ["ada@example.com"]).unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(ErrorCode::ConstraintViolation)
        );
        // A statement read in part (one row of two), and one read to its end.
        let first: String = db
            .query_row("SELECT email FROM user ORDER BY email", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(first, "ada@example.com");
        let mut all = db.prepare("SELECT email FROM user").unwrap();
        assert_eq!(all.query_map([], |_| Ok(())).unwrap().count(), 2);
        // A prepared statement run three times counts three times; one
        // prepared and never run, not at all.
        let mut count = db.prepare_cached("SELECT count(*) FROM user").unwrap();
        for _ in 0..3 {
            let n: i64 = count.query_row([], |row| row.get(0)).unwrap();
            assert_eq!(n, 2);
        }
        let _never_run = db.prepare("DELETE FROM user").unwrap();
        let page = scrape();
        assert_eq!(statements(&page, "default"), (8, 8));
        // The errors are the functions' to name: the hook sees none.
        assert!(page.series(ERRORS).is_empty(), "{:?}", page.series(ERRORS));
        drop((all, count));
    });
}

#[test]
fn a_transaction_counts_its_begin_and_commit_and_a_trigger_counts_in_its_statement() {
    common::isolated(|| {
        common::metrics();
        let mut db = users();
        db.execute_batch(
            "CREATE TABLE audit (email TEXT);
             CREATE TRIGGER audited AFTER INSERT ON user BEGIN
                 INSERT INTO audit VALUES (new.email);
             END",
        )
        .unwrap();
        instrument(&db);
        let tx = db.transaction().unwrap();
        tx.execute("INSERT INTO user VALUES ('ada@example.com')", [])
            .unwrap();
        tx.execute("INSERT INTO user VALUES ('grace@example.com')", [])
            .unwrap();
        tx.commit().unwrap();
        let audited: i64 = db
            .query_row(
                "-- what the trigger wrote\nSELECT count(*) FROM audit",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(audited, 2);
        // BEGIN, two inserts (their trigger's insert inside each), COMMIT,
        // the count (which begins with a comment, as a trigger's event does).
        assert_eq!(statements(&scrape(), "default"), (5, 5));
    });
}

#[test]
fn a_busy_database_fails_a_statement_that_still_counts() {
    common::isolated(|| {
        common::metrics();
        let dir = std::env::temp_dir().join(format!("db-rusqlite-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busy.sqlite3");
        let _ = std::fs::remove_file(&path);
        let mut writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE user (email TEXT NOT NULL UNIQUE)")
            .unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        instrument(&other);
        let lock = writer
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let error = other
            .execute("INSERT INTO user VALUES ('ada@example.com')", [])
            .unwrap_err();
        assert_eq!(error.sqlite_error_code(), Some(ErrorCode::DatabaseBusy));
        lock.rollback().unwrap();
        other
            .execute("INSERT INTO user VALUES ('ada@example.com')", [])
            .unwrap();
        // The writer is not instrumented: only the other's two count.
        assert_eq!(statements(&scrape(), "default"), (2, 2));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_statement_time_is_measured_finer_than_sqlites_millisecond() {
    common::isolated(|| {
        common::metrics();
        let db = Connection::open_in_memory().unwrap();
        instrument(&db);
        // A statement of a few milliseconds, by a recursive count.
        let slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT count(*) FROM n";
        let started = Instant::now();
        let n: i64 = db.query_row(slow, [], |row| row.get(0)).unwrap();
        let outside = started.elapsed().as_secs_f64();
        assert_eq!(n, 200_000);
        // Many fast statements: with SQLite's own millisecond figure each
        // would record 0, and the sum would not grow.
        let (_, before) = scrape().histogram(LATENCY, &sqlite("default"));
        for _ in 0..200 {
            let _: i64 = db.query_row("SELECT 1", [], |row| row.get(0)).unwrap();
        }
        let page = scrape();
        let (count, sum) = page.histogram(LATENCY, &sqlite("default"));
        assert_eq!(count, 201);
        // SQLite's own figure is a whole number of milliseconds.
        let fast = (sum - before) * 1000.0;
        assert!(
            fast > 0.0,
            "the fast statements added nothing: {before} then {sum}"
        );
        assert!(
            (fast - fast.round()).abs() > 1e-6,
            "the fast statements took {fast} ms, a whole number"
        );
        // The slow statement alone is within what the test measured around it.
        common::assert_between(before, outside * 0.5, outside);
    });
}

#[model_op(model = "user", op = insert, alias = "users", error_type = rusqlite_error_kind)]
fn insert_user(db: &Connection, email: &str) -> rusqlite::Result<usize> {
    db.execute("INSERT INTO user (email) VALUES (?1)", [email])
}

#[model_op(model = "user", op = insert, alias = "users", many = emails.len(), error_type = rusqlite_error_kind)]
fn insert_users(db: &Connection, emails: &[&str]) -> rusqlite::Result<()> {
    for email in emails {
        db.execute("INSERT INTO user (email) VALUES (?1)", [email])?;
    }
    Ok(())
}

#[test]
fn model_op_next_to_the_integration_counts_models_and_errors_and_no_statement_twice() {
    common::isolated(|| {
        common::install_once(|| Builder::new().django_compat(true).db_vendor("sqlite"));
        let db = users();
        // Before the integration, #[model_op] counts its calls.
        insert_user(&db, "ada@example.com").unwrap();
        let page = scrape();
        assert_eq!(page.count("db_execute_total", &sqlite("users")), 1);
        instrument_as(&db, "users").unwrap();
        // Then the statements, once each: a call of three statements
        // counts three, not four.
        insert_users(
            &db,
            &[
                "grace@example.com",
                "edsger@example.com",
                "barbara@example.com",
            ],
        )
        .unwrap();
        insert_user(&db, "ada@example.com").unwrap_err();
        let page = scrape();
        let db_labels = sqlite("users");
        assert_eq!(page.count("db_execute_total", &db_labels), 1 + 3 + 1);
        assert_eq!(
            page.histogram("db_execute_latency_seconds", &db_labels).0,
            1 + 3 + 1
        );
        assert_eq!(
            page.histogram("db_query_duration_seconds", &db_labels).0,
            1 + 3 + 1
        );
        // #[model_op] keeps what the hook cannot see.
        assert_eq!(
            page.count("model_inserts_total", &[("model", "user")]),
            1 + 3
        );
        assert_eq!(page.count("db_execute_many_total", &db_labels), 3);
        assert_eq!(
            page.value(
                "db_errors_total",
                &[
                    ("alias", "users"),
                    ("vendor", "sqlite"),
                    ("type", "ConstraintViolation")
                ]
            ),
            Some(1.0)
        );
        // The settings' alias (of the binary's other sites) counted nothing.
        assert_eq!(
            page.value("db_execute_total", &sqlite("default")),
            Some(0.0)
        );
    });
}

#[test]
fn fifteen_named_aliases_besides_the_settings_one_and_no_more() {
    common::isolated(|| {
        common::metrics();
        let db = Connection::open_in_memory().unwrap();
        for n in 1..=15 {
            instrument_as(&db, &format!("shard{n}")).unwrap();
        }
        // The same alias again takes no new one.
        instrument_as(&db, "shard3").unwrap();
        let error = instrument_as(&db, "shard16").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("15 named aliases already (shard1, shard2,")
                && message.contains("`shard16` would be one more"),
            "{message}"
        );
        // The connection still counts, on the last alias it was given.
        db.execute_batch("SELECT 1").unwrap();
        assert_eq!(statements(&scrape(), "shard3"), (1, 1));
        assert_eq!(statements(&scrape(), "shard15"), (0, 0));
    });
}

#[test]
fn statements_before_install_are_not_counted_nor_timed_from() {
    common::isolated(|| {
        let db = Connection::open_in_memory().unwrap();
        instrument(&db);
        db.execute_batch("CREATE TABLE t (x)").unwrap();
        let insert = "INSERT INTO t VALUES (1)";
        db.prepare_cached(insert).unwrap().execute([]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(40));
        common::metrics();
        // The same (cached) statement again: its time is its own, not the
        // 40 ms since it ran before install.
        db.prepare_cached(insert).unwrap().execute([]).unwrap();
        let page = scrape();
        assert_eq!(statements(&page, "default"), (1, 1));
        assert_eq!(page.bucket(LATENCY, &sqlite("default"), 0.025), 1);
    });
}

#[test]
fn statements_that_run_at_once_each_have_their_own_time() {
    common::isolated(|| {
        common::metrics();
        let db = users();
        db.execute_batch("INSERT INTO user VALUES ('ada@example.com'), ('grace@example.com')")
            .unwrap();
        instrument(&db);
        let labels = sqlite("default");
        let (count_before, _) = scrape().histogram(LATENCY, &labels);
        let fast_before = scrape().bucket(LATENCY, &labels, 0.025);
        // A statement read in part and left open for 40 ms, while a second
        // one runs from start to end; then the first one ends.
        let mut slow = db.prepare("SELECT email FROM user").unwrap();
        let mut rows = slow.query([]).unwrap();
        assert!(rows.next().unwrap().is_some());
        std::thread::sleep(std::time::Duration::from_millis(40));
        let n: i64 = db
            .query_row("SELECT count(*) FROM user", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 2);
        drop(rows);
        drop(slow);
        let page = scrape();
        let (count, _) = page.histogram(LATENCY, &labels);
        assert_eq!(count - count_before, 2);
        // The second one took no 25 ms; the first one 40 ms and more.
        assert_eq!(page.bucket(LATENCY, &labels, 0.025) - fast_before, 1);
        assert_eq!(page.bucket(LATENCY, &labels, 0.05) - fast_before, 2);
    });
}

#[model_op(model = "report", op = select, alias = "reports", error_type = rusqlite_error_kind)]
fn count_missing(db: &Connection) -> rusqlite::Result<i64> {
    db.query_row("SELECT count(*) FROM missing", [], |row| row.get(0))
}

#[test]
fn an_error_before_any_statement_runs_counts_as_the_calls_execution() {
    common::isolated(|| {
        common::install_once(|| Builder::new().db_vendor("sqlite"));
        let db = Connection::open_in_memory().unwrap();
        instrument_as(&db, "reports").unwrap();
        // "no such table": SQLite refuses to prepare it, so no statement
        // runs and the hook sees nothing.
        count_missing(&db).unwrap_err();
        let page = scrape();
        assert_eq!(statements(&page, "reports"), (1, 1));
        assert_eq!(
            page.value(
                ERRORS,
                &[
                    ("alias", "reports"),
                    ("vendor", "sqlite"),
                    ("type", "Unknown")
                ]
            ),
            Some(1.0)
        );
    });
}

#[test]
fn a_connection_instrumented_before_install_takes_the_statements_from_the_first_call() {
    common::isolated(|| {
        let db = users();
        instrument_as(&db, "users").unwrap();
        common::install_once(|| Builder::new().db_vendor("sqlite"));
        // The first call after install: its statement counts once, by the
        // hook, although the hook has seen no statement yet.
        insert_user(&db, "ada@example.com").unwrap();
        let page = scrape();
        assert_eq!(statements(&page, "users"), (1, 1));
        assert_eq!(page.count("model_inserts_total", &[("model", "user")]), 1);
    });
}
