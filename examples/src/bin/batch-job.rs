//! A batch job: imports the day's orders into SQLite, then pushes its
//! metrics to a Prometheus Pushgateway. It is gone before any scrape could
//! reach it, so it pushes once, when it finishes, successful or not.
//!
//! Settings (environment): `PUSHGATEWAY_URL` (default
//! `http://127.0.0.1:9091`), `ORDERS` (lines in the day's export, default
//! 100), `DATABASE_PATH` (default: an in-memory database). Exits non-zero
//! when the import or the push fails, saying which.
//!
//! ```sh
//! PUSHGATEWAY_URL=http://127.0.0.1:9091 cargo run -p example-service --bin batch-job
//! ```

use std::process::ExitCode;

use instrument_runtime::{counted, model_op, timed, Push};
use rusqlite::{params, Connection};

/// The job's name in the Pushgateway: the `job` label of what it pushes.
const JOB: &str = "order-import";

/// One line of the day's export.
struct Row {
    line: u32,
    item: String,
    quantity: i64,
}

/// The day's export, `line,item,quantity`; every 25th line is malformed,
/// as real exports sometimes are.
fn export(orders: u32) -> Vec<String> {
    (1..=orders)
        .map(|n| match n % 25 {
            0 => format!("{n},widget-{n},many"),
            _ => format!("{n},widget-{n},{}", n % 7 + 1),
        })
        .collect()
}

/// Counted with `result="error"` for each malformed line.
#[counted]
fn parse_row(text: &str) -> Result<Row, String> {
    let mut fields = text.split(',');
    let (Some(line), Some(item), Some(quantity), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!("{text:?}: expected line,item,quantity"));
    };
    let line = line
        .parse()
        .map_err(|e| format!("{text:?}: line number: {e}"))?;
    let quantity = quantity
        .parse()
        .map_err(|e| format!("line {line}: quantity {quantity:?}: {e}"))?;
    Ok(Row {
        line,
        item: item.to_owned(),
        quantity,
    })
}

struct Store {
    conn: Connection,
}

impl Store {
    fn open(path: Option<&str>) -> rusqlite::Result<Store> {
        let conn = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS orders (
                id       INTEGER PRIMARY KEY AUTOINCREMENT,
                item     TEXT NOT NULL,
                quantity INTEGER NOT NULL CHECK (quantity > 0),
                status   TEXT NOT NULL DEFAULT 'new'
            )",
        )?;
        Ok(Store { conn })
    }

    #[model_op(model = "order", op = insert)]
    fn insert(&self, row: &Row) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO orders (item, quantity) VALUES (?1, ?2)",
            params![row.item, row.quantity],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    #[model_op(model = "order", op = update)]
    fn ship(&self, id: i64) -> rusqlite::Result<usize> {
        self.conn
            .execute("UPDATE orders SET status = 'shipped' WHERE id = ?1", [id])
    }

    #[model_op(model = "order", op = delete)]
    fn cancel(&self, id: i64) -> rusqlite::Result<usize> {
        self.conn.execute("DELETE FROM orders WHERE id = ?1", [id])
    }
}

#[derive(Debug, Default)]
struct Summary {
    imported: u32,
    rejected: u32,
    shipped: u32,
    cancelled: u32,
}

/// Import every well-formed line; every 10th order is cancelled at once,
/// every 3rd of the others shipped.
#[counted]
#[timed]
fn import(store: &Store, lines: &[String]) -> rusqlite::Result<Summary> {
    let mut summary = Summary::default();
    for text in lines {
        let row = match parse_row(text) {
            Ok(row) => row,
            Err(reason) => {
                eprintln!("batch-job: skipping {reason}");
                summary.rejected += 1;
                continue;
            }
        };
        let id = store.insert(&row)?;
        summary.imported += 1;
        if row.line % 10 == 0 {
            store.cancel(id)?;
            summary.cancelled += 1;
        } else if row.line % 3 == 0 {
            store.ship(id)?;
            summary.shipped += 1;
        }
    }
    Ok(summary)
}

fn run() -> Result<Summary, String> {
    let orders: u32 = match std::env::var("ORDERS") {
        Ok(value) => value
            .parse()
            .map_err(|e| format!("ORDERS={value:?}: {e}"))?,
        Err(_) => 100,
    };
    let path = std::env::var("DATABASE_PATH").ok();
    let store =
        Store::open(path.as_deref()).map_err(|e| format!("opening the database {path:?}: {e}"))?;
    import(&store, &export(orders)).map_err(|e| format!("importing orders: {e}"))
}

fn main() -> ExitCode {
    let gateway =
        std::env::var("PUSHGATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:9091".to_owned());
    let metrics = match instrument_runtime::Builder::new()
        .namespace("django")
        .db_vendor("sqlite")
        .install()
    {
        Ok(metrics) => metrics,
        Err(e) => {
            eprintln!("batch-job: {e}");
            return ExitCode::FAILURE;
        }
    };

    let outcome = run();
    match &outcome {
        Ok(summary) => eprintln!(
            "batch-job: imported {} orders ({} rejected), shipped {}, cancelled {}",
            summary.imported, summary.rejected, summary.shipped, summary.cancelled
        ),
        Err(e) => eprintln!("batch-job: {e}"),
    }

    // Push whatever happened: a failed run's counters are what an alert needs.
    let push = Push::new(gateway, JOB);
    if let Err(e) = push.send(&metrics) {
        eprintln!("batch-job: the metrics were not pushed: {e}");
        return ExitCode::FAILURE;
    }
    let url = push.url().unwrap_or_default();
    eprintln!("batch-job: metrics pushed to {url}");
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
