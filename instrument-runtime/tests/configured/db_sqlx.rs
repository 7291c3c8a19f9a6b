//! `db::sqlx::SqlxLayer`: every query sqlx reports counted once with its
//! time, next to a log output with a filter of its own, and next to
//! `#[model_op]` without counting twice.
//!
//! Each test runs in a process of its own (a global subscriber each).

use crate::common;

use instrument_runtime::db::sqlx::SqlxLayer;
use instrument_runtime::model_op;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use common::scrape;

use crate::db_statements::{sqlite, statements as queries, EXECUTE, LATENCY};

/// The layer, next to a log output that shows only warnings: the layer
/// sees sqlx's `DEBUG` events all the same.
fn subscribe(layer: SqlxLayer) {
    let logs = tracing_subscriber::fmt::layer()
        .with_test_writer()
        .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
    let subscriber = tracing_subscriber::registry().with(layer).with(logs);
    tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// One connection, so that the count of sqlx's set-up statements is known:
/// it runs one (`PRAGMA foreign_keys = ON`) when it opens a connection.
async fn pool() -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().in_memory(true))
        .await
        .expect("an in-memory database");
    sqlx::query("CREATE TABLE user (email TEXT NOT NULL UNIQUE)")
        .execute(&pool)
        .await
        .expect("the table");
    pool
}

#[test]
fn every_query_counts_once_failed_ones_included() {
    common::isolated(|| {
        common::metrics();
        subscribe(SqlxLayer::new("sqlite"));
        block_on(async {
            let pool = pool().await;
            // The connection's set-up and the table.
            assert_eq!(queries(&scrape(), "default"), (2, 2));
            let insert = "INSERT INTO user (email) VALUES (?)";
            for email in ["ada@example.com", "grace@example.com"] {
                sqlx::query(insert)
                    .bind(email)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            let error = sqlx::query(insert)
                .bind("ada@example.com")
                .execute(&pool)
                .await
                .unwrap_err();
            assert!(error.as_database_error().unwrap().is_unique_violation());
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(insert)
                .bind("edsger@example.com")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM user")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(count, 3);
        });
        // Three inserts (one failed), the one in the transaction (whose
        // BEGIN and COMMIT sqlx does not report), the count.
        assert_eq!(queries(&scrape(), "default"), (2 + 5, 2 + 5));
    });
}

#[test]
fn a_slow_query_counts_with_its_time() {
    common::isolated(|| {
        common::metrics();
        subscribe(SqlxLayer::on_alias("reports", "sqlite"));
        let slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT count(*) FROM n";
        let (n, outside) = block_on(async {
            let pool = pool().await;
            let started = std::time::Instant::now();
            let n: i64 = sqlx::query_scalar(slow).fetch_one(&pool).await.unwrap();
            (n, started.elapsed().as_secs_f64())
        });
        assert_eq!(n, 300_000);
        let page = scrape();
        let (count, sum) = page.histogram(LATENCY, &sqlite("reports"));
        assert_eq!(count, 3);
        // Nearly all of it is the slow query, within what the test measured
        // around it (which includes sqlx's hop to its worker thread).
        common::assert_between(sum, outside * 0.5, outside * 1.5);
        // The settings' alias counts nothing of it.
        assert_eq!(page.value(EXECUTE, &sqlite("default")), None);
    });
}

fn error_kind(error: &sqlx::Error) -> &'static str {
    match error.as_database_error() {
        Some(error) if error.is_unique_violation() => "UniqueViolation",
        Some(_) => "DatabaseError",
        None => "Other",
    }
}

#[model_op(model = "user", op = insert, alias = "users", error_type = error_kind)]
async fn insert_user(pool: &SqlitePool, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO user (email) VALUES (?)")
        .bind(email)
        .execute(pool)
        .await
        .map(drop)
}

#[test]
fn model_op_next_to_the_layer_counts_models_and_errors_and_no_query_twice() {
    common::isolated(|| {
        // The vendor of #[model_op]'s series, as the layer's.
        common::install_once(|| instrument_runtime::Builder::new().db_vendor("sqlite"));
        subscribe(SqlxLayer::on_alias("users", "sqlite"));
        block_on(async {
            let pool = pool().await;
            insert_user(&pool, "ada@example.com").await.unwrap();
            insert_user(&pool, "ada@example.com").await.unwrap_err();
        });
        let page = scrape();
        assert_eq!(queries(&page, "users"), (2 + 2, 2 + 2));
        assert_eq!(page.count("model_inserts_total", &[("model", "user")]), 1);
        assert_eq!(
            page.value(
                "db_errors_total",
                &[
                    ("alias", "users"),
                    ("vendor", "sqlite"),
                    ("type", "UniqueViolation")
                ]
            ),
            Some(1.0)
        );
    });
}

#[test]
fn a_busy_database_fails_a_query_that_still_counts() {
    common::isolated(|| {
        common::metrics();
        subscribe(SqlxLayer::new("sqlite"));
        let dir = std::env::temp_dir().join(format!("db-sqlx-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busy.sqlite3");
        let _ = std::fs::remove_file(&path);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let error = block_on(async {
            let connect = || {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options.clone())
            };
            let writer = connect().await.unwrap();
            sqlx::query("CREATE TABLE user (email TEXT NOT NULL UNIQUE)")
                .execute(&writer)
                .await
                .unwrap();
            let other = connect().await.unwrap();
            let mut lock = writer.acquire().await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *lock)
                .await
                .unwrap();
            let error = sqlx::query("INSERT INTO user VALUES ('ada@example.com')")
                .execute(&other)
                .await
                .unwrap_err();
            sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
            sqlx::query("INSERT INTO user VALUES ('ada@example.com')")
                .execute(&other)
                .await
                .unwrap();
            error
        });
        let code = error
            .as_database_error()
            .and_then(|e| e.code())
            .unwrap_or_default();
        assert_eq!(code, "5", "SQLITE_BUSY: {error}");
        // Two connections' set-up, the table, BEGIN IMMEDIATE, the busy
        // insert, ROLLBACK, the insert.
        assert_eq!(queries(&scrape(), "default"), (2 + 1 + 4, 2 + 1 + 4));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn migrations_are_reported_pending_then_applied() {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use sqlx::SqlSafeStr;

    common::isolated(|| {
        common::metrics();
        let migration = |version, sql: &'static str| {
            Migration::new(
                version,
                "".into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        };
        let migrator = Migrator::with_migrations(vec![
            migration(1, "CREATE TABLE user (email TEXT)"),
            migration(2, "CREATE TABLE orders (item TEXT)"),
            migration(3, "CREATE INDEX user_email ON user (email)"),
        ]);
        let reported = || {
            let page = scrape();
            let get = |family| page.get(family, &[("connection", "default")]);
            (
                get("migrations_applied_total"),
                get("migrations_unapplied_total"),
            )
        };
        block_on(async {
            let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
            let report = instrument_runtime::db::sqlx::report_migrations;
            report(&migrator, &pool).await.unwrap();
            assert_eq!(reported(), (0.0, 3.0));
            migrator.run(&pool).await.unwrap();
            report(&migrator, &pool).await.unwrap();
            assert_eq!(reported(), (3.0, 0.0));
        });
    });
}
