//! `db::diesel`: every query of a diesel connection counted once, its time
//! measured, a failed one by diesel's kind of error; connections counted
//! with the profile; `#[model_op]` next to it without counting twice.
//!
//! Each test runs in a process of its own.

use crate::common;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use instrument_runtime::db::diesel::{instrument_every_connection, Instrumentation};
use instrument_runtime::{model_op, Builder};

use common::{scrape, Page};

use crate::db_statements::{sqlite, statements as queries, ERRORS};

fn errors(page: &Page, alias: &str, kind: &str) -> Option<f64> {
    page.value(
        ERRORS,
        &[("alias", alias), ("vendor", "sqlite"), ("type", kind)],
    )
}

const SCHEMA: &str = "CREATE TABLE user (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    age   INTEGER CHECK (age >= 0)
)";

fn run(db: &mut SqliteConnection, sql: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query(sql).execute(db)
}

#[test]
fn every_query_counts_once_and_a_failed_one_by_its_kind() {
    common::isolated(|| {
        common::metrics();
        instrument_every_connection().unwrap();
        let mut db = SqliteConnection::establish(":memory:").unwrap();
        // Created at 0 with the connection.
        assert_eq!(queries(&scrape(), "default"), (0, 0));
        db.batch_execute(SCHEMA).unwrap();
        run(
            &mut db,
            "INSERT INTO user (email, age) VALUES ('ada@example.com', 36)",
        )
        .unwrap();
        run(
            &mut db,
            "INSERT INTO user (email, age) VALUES ('grace@example.com', 85)",
        )
        .unwrap();
        run(
            &mut db,
            "INSERT INTO user (email) VALUES ('ada@example.com')",
        )
        .unwrap_err();
        run(&mut db, "INSERT INTO user (email) VALUES (NULL)").unwrap_err();
        run(
            &mut db,
            "INSERT INTO user (email, age) VALUES ('x@example.com', -1)",
        )
        .unwrap_err();
        db.transaction(|db| {
            run(db, "INSERT INTO user (email) VALUES ('edsger@example.com')")?;
            run(
                db,
                "INSERT INTO user (email) VALUES ('barbara@example.com')",
            )
        })
        .unwrap();
        let page = scrape();
        // The schema, five inserts (three failed), BEGIN, two inserts, COMMIT.
        assert_eq!(queries(&page, "default"), (10, 10));
        assert_eq!(errors(&page, "default", "UniqueViolation"), Some(1.0));
        assert_eq!(errors(&page, "default", "NotNullViolation"), Some(1.0));
        assert_eq!(errors(&page, "default", "CheckViolation"), Some(1.0));
        assert_eq!(page.series(ERRORS).len(), 3, "{:?}", page.series(ERRORS));
    });
}

#[test]
fn a_busy_database_fails_a_query_as_database_busy() {
    common::isolated(|| {
        common::metrics();
        let dir = std::env::temp_dir().join(format!("db-diesel-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busy.sqlite3");
        let _ = std::fs::remove_file(&path);
        let url = path.to_str().unwrap();
        let mut writer = SqliteConnection::establish(url).unwrap();
        writer.batch_execute(SCHEMA).unwrap();
        let mut other = SqliteConnection::establish(url).unwrap();
        other.batch_execute("PRAGMA busy_timeout = 0").unwrap();
        other.set_instrumentation(Instrumentation::new("sqlite"));
        writer.batch_execute("BEGIN IMMEDIATE").unwrap();
        run(
            &mut other,
            "INSERT INTO user (email) VALUES ('ada@example.com')",
        )
        .unwrap_err();
        writer.batch_execute("ROLLBACK").unwrap();
        run(
            &mut other,
            "INSERT INTO user (email) VALUES ('ada@example.com')",
        )
        .unwrap();
        let page = scrape();
        // Only the instrumented connection's two inserts.
        assert_eq!(queries(&page, "default"), (2, 2));
        assert_eq!(errors(&page, "default", "DatabaseBusy"), Some(1.0));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn connections_and_failures_to_connect_count_with_the_profile() {
    common::isolated(|| {
        common::install_once(|| Builder::new().django_compat(true));
        instrument_every_connection().unwrap();
        let _one = SqliteConnection::establish(":memory:").unwrap();
        let _two = SqliteConnection::establish(":memory:").unwrap();
        assert!(SqliteConnection::establish("/nonexistent/directory/app.db").is_err());
        let page = scrape();
        assert_eq!(
            page.count("db_new_connections_total", &sqlite("default")),
            2
        );
        assert_eq!(
            page.count("db_new_connection_errors_total", &sqlite("default")),
            1
        );
    });
}

fn diesel_kind(error: &diesel::result::Error) -> String {
    format!("{error:?}")
}

#[model_op(model = "user", op = insert, alias = "users", error_type = diesel_kind)]
fn insert_user(db: &mut SqliteConnection, email: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query("INSERT INTO user (email) VALUES (?)")
        .bind::<diesel::sql_types::Text, _>(email)
        .execute(db)
}

#[test]
fn model_op_next_to_the_integration_counts_models_and_no_query_or_error_twice() {
    common::isolated(|| {
        common::install_once(|| Builder::new().db_vendor("sqlite"));
        let mut db = SqliteConnection::establish(":memory:").unwrap();
        db.batch_execute(SCHEMA).unwrap();
        db.set_instrumentation(Instrumentation::on_alias("users", "sqlite"));
        insert_user(&mut db, "ada@example.com").unwrap();
        insert_user(&mut db, "ada@example.com").unwrap_err();
        let page = scrape();
        assert_eq!(queries(&page, "users"), (2, 2));
        assert_eq!(page.count("model_inserts_total", &[("model", "user")]), 1);
        // The integration's kind, once; none of #[model_op]'s own.
        assert_eq!(errors(&page, "users", "UniqueViolation"), Some(1.0));
        assert_eq!(page.series(ERRORS).len(), 1, "{:?}", page.series(ERRORS));
    });
}

#[model_op(model = "report", op = select, alias = "reports", error_type = diesel_kind)]
fn overflow(db: &mut SqliteConnection) -> diesel::QueryResult<i64> {
    // Fails while its row is read: diesel reports the query without an error.
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "abs(-9223372036854775807 - 1)",
    ))
    .get_result(db)
}

#[test]
fn an_error_diesel_does_not_report_is_model_ops_to_count() {
    common::isolated(|| {
        common::install_once(|| Builder::new().db_vendor("sqlite"));
        let mut db = SqliteConnection::establish(":memory:").unwrap();
        db.set_instrumentation(Instrumentation::on_alias("reports", "sqlite"));
        let error = overflow(&mut db).unwrap_err();
        assert!(error.to_string().contains("integer overflow"), "{error}");
        let page = scrape();
        assert_eq!(queries(&page, "reports"), (1, 1));
        let errors = page.series(ERRORS);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0]["type"].starts_with("DatabaseError"), "{errors:?}");
        // #[model_op]'s own series on the alias carry the same vendor.
        assert_eq!(
            page.value(
                crate::db_statements::EXECUTE,
                &[("alias", "reports"), ("vendor", "unknown")]
            ),
            None
        );
    });
}
