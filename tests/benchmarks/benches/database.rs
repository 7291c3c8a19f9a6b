//! What the rusqlite integration costs per statement, in one run:
//!
//! - `select_1`: an in-memory SQLite `SELECT 1` (a cached statement, read
//!   to its row) on a plain connection, on one whose trace hook does
//!   nothing (the floor: what SQLite's hook costs before any of ours), on
//!   one instrumented with `db::rusqlite::instrument`, and under
//!   `#[model_op]` on the plain connection;
//! - `select_by_id`: a primary-key lookup in a table of 10,000 rows, plain
//!   and instrumented: a statement that reads a table;
//! - `insert`: an insert into that table (a primary key and a UNIQUE
//!   index to update), plain and instrumented: a statement that writes.
//!
//! `cargo bench -p benchmarks --bench database` prints criterion's figures,
//! then the medians and the ratios, with the target in brackets.

// Shared with `overhead`, which uses all of it.
#[allow(dead_code)]
mod ratios;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::Criterion;
use instrument_runtime::model_op;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::Connection;

use crate::ratios::{estimate, ratio_line, ratios_header, Target};

const ROWS: i64 = 10_000;

#[inline(never)]
fn select_one(db: &Connection) -> rusqlite::Result<i64> {
    let mut statement = db.prepare_cached("SELECT 1")?;
    statement.query_row([], |row| row.get(0))
}

#[model_op(model = "bench", op = select)]
#[inline(never)]
fn select_one_model_op(db: &Connection) -> rusqlite::Result<i64> {
    select_one(db)
}

#[inline(never)]
fn select_by_id(db: &Connection, id: i64) -> rusqlite::Result<String> {
    let mut statement = db.prepare_cached("SELECT email FROM user WHERE id = ?1")?;
    statement.query_row([id], |row| row.get(0))
}

#[inline(never)]
fn insert(db: &Connection, email: &str) -> rusqlite::Result<usize> {
    let mut statement = db.prepare_cached("INSERT INTO user (email) VALUES (?1)")?;
    statement.execute([email])
}

/// A trace hook that does nothing, on the events the integration uses.
fn nothing(_: TraceEvent<'_>) {}

fn users() -> Connection {
    let db = Connection::open_in_memory().expect("an in-memory database");
    db.execute_batch(
        "CREATE TABLE user (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO user SELECT i, 'user' || i || '@example.com' FROM n;",
    )
    .expect("the table");
    db
}

fn benches(c: &mut Criterion) {
    let plain = users();
    let floor = users();
    floor.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT | TraceEventCodes::SQLITE_TRACE_PROFILE,
        Some(nothing),
    );
    let instrumented = users();
    // An alias of its own: `#[model_op]` on the settings' alias keeps
    // counting executions itself.
    instrument_runtime::db::rusqlite::instrument_as(&instrumented, "instrumented")
        .expect("the first named alias");

    let mut group = c.benchmark_group("select_1");
    for (id, db) in [
        ("plain", &plain),
        ("hook_floor", &floor),
        ("integration", &instrumented),
    ] {
        group.bench_function(id, |b| b.iter(|| black_box(select_one(black_box(db)))));
    }
    group.bench_function("model_op", |b| {
        b.iter(|| black_box(select_one_model_op(black_box(&plain))));
    });
    group.finish();

    let mut group = c.benchmark_group("select_by_id");
    for (id, db) in [("plain", &plain), ("integration", &instrumented)] {
        let mut next = 0;
        group.bench_function(id, |b| {
            b.iter(|| {
                // Every row in turn, spread over the table's pages.
                next = (next + 7919) % ROWS;
                black_box(select_by_id(black_box(db), next + 1))
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("insert");
    for (id, db) in [("plain", &plain), ("integration", &instrumented)] {
        let mut n = 0_u64;
        let mut email = String::new();
        group.bench_function(id, |b| {
            b.iter(|| {
                n += 1;
                email.clear();
                // Both connections insert the same addresses, each into its
                // own database.
                std::fmt::Write::write_fmt(&mut email, format_args!("bench{n}@example.com"))
                    .expect("a String");
                black_box(insert(black_box(db), &email))
            });
        });
    }
    group.finish();
}

fn report(dir: &Path) {
    let get = |group: &str, id: &str| estimate(dir, group, id);
    let (
        Some(plain),
        Some(floor),
        Some(integration),
        Some(model_op),
        Some(by_id),
        Some(by_id_on),
        Some(insert),
        Some(insert_on),
    ) = (
        get("select_1", "plain"),
        get("select_1", "hook_floor"),
        get("select_1", "integration"),
        get("select_1", "model_op"),
        get("select_by_id", "plain"),
        get("select_by_id", "integration"),
        get("insert", "plain"),
        get("insert", "integration"),
    )
    else {
        println!("(no figures for every benchmark: run the whole bench for the ratios)");
        return;
    };
    println!("\n## Medians (ns per statement)\n");
    for (id, e) in [
        ("select_1/plain", plain),
        ("select_1/hook_floor", floor),
        ("select_1/integration", integration),
        ("select_1/model_op", model_op),
        ("select_by_id/plain", by_id),
        ("select_by_id/integration", by_id_on),
        ("insert/plain", insert),
        ("insert/integration", insert_on),
    ] {
        println!(
            "  {id:<26} {:>9.1}  ({:.1}..{:.1})",
            e.median, e.low, e.high
        );
    }
    ratios_header();
    ratio_line(
        "SELECT 1: instrumented / plain",
        integration,
        plain,
        Target::AtMost(1.05),
    );
    ratio_line(
        "SELECT 1: a hook doing nothing / plain (floor)",
        floor,
        plain,
        Target::None,
    );
    ratio_line(
        "SELECT 1: instrumented / a hook doing nothing",
        integration,
        floor,
        Target::None,
    );
    ratio_line(
        "SELECT 1: #[model_op] around it / plain",
        model_op,
        plain,
        Target::None,
    );
    ratio_line(
        "lookup by id: instrumented / plain",
        by_id_on,
        by_id,
        Target::AtMost(1.05),
    );
    ratio_line(
        "insert: instrumented / plain",
        insert_on,
        insert,
        Target::AtMost(1.05),
    );
}

fn main() {
    drop(
        instrument_runtime::Builder::new()
            .db_vendor("sqlite")
            .install()
            .expect("the recorder installs once"),
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut criterion = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
    report(&dir);
}
