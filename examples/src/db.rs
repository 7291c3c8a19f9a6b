//! The repository: users and their orders in SQLite, one `#[model_op]` per
//! operation for the model families, and every statement of its connection
//! counted by the rusqlite integration.

use std::path::Path;
use std::sync::Mutex;

// `type` of db_errors_total: SQLite's result code (`ConstraintViolation`).
use instrument_runtime::db::rusqlite_error_kind;
use instrument_runtime::model_op;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// A user as stored and as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
}

/// The fields a client sends to create or update a user.
#[derive(Debug, Deserialize)]
pub(crate) struct NewUser {
    pub(crate) name: String,
    pub(crate) email: String,
}

/// An order as stored and as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Order {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) item: String,
    pub(crate) quantity: i64,
}

/// The fields a client sends to create or update an order.
#[derive(Debug, Deserialize)]
pub(crate) struct NewOrder {
    pub(crate) user_id: i64,
    pub(crate) item: String,
    pub(crate) quantity: i64,
}

/// Schema changes, applied in order at start-up; `user_version` records how
/// many have run. Append, never edit: a database that has run a migration
/// does not run it again.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        name  TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE
    )",
    "CREATE TABLE orders (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        item     TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0)
    );
    CREATE INDEX orders_user_id ON orders (user_id)",
];

pub(crate) struct Repository {
    conn: Mutex<Connection>,
}

impl Repository {
    /// Open (or create) the database file and, with `migrate`, bring its
    /// schema up to date; the migrations run and pending are reported to
    /// `/metrics/` (`django_migrations_applied_total`, `_unapplied_total`).
    pub(crate) fn open(path: &Path, migrate: bool) -> rusqlite::Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Off by default in SQLite: an order for an unknown user is then a
        // constraint error (a 409 and a `db_errors_total` increment).
        conn.pragma_update(None, "foreign_keys", true)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        // 0 for a new file; only ever set below, to a count of migrations.
        let mut applied = usize::try_from(version).unwrap_or(0);
        if migrate {
            let tx = conn.transaction()?;
            for migration in MIGRATIONS.iter().skip(applied) {
                tx.execute_batch(migration)?;
            }
            tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
            tx.commit()?;
            applied = MIGRATIONS.len();
        }
        instrument_runtime::db::migrations(applied, MIGRATIONS.len().saturating_sub(applied));
        // From here on, every statement the repository runs counts in
        // db_execute_total and its latency, once.
        instrument_runtime::db::rusqlite::instrument(&conn);
        Ok(Repository {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[model_op(model = "user", op = select, error_type = rusqlite_error_kind)]
    pub(crate) fn list_users(&self) -> rusqlite::Result<Vec<User>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT id, name, email FROM users ORDER BY id")?;
        let rows = statement.query_map([], row_to_user)?;
        rows.collect()
    }

    #[model_op(model = "user", op = select, error_type = rusqlite_error_kind)]
    pub(crate) fn get_user(&self, id: i64) -> rusqlite::Result<Option<User>> {
        self.conn()
            .query_row(
                "SELECT id, name, email FROM users WHERE id = ?1",
                [id],
                row_to_user,
            )
            .optional()
    }

    #[model_op(model = "user", op = insert, error_type = rusqlite_error_kind)]
    pub(crate) fn insert_user(&self, user: &NewUser) -> rusqlite::Result<User> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO users (name, email) VALUES (?1, ?2)",
            params![user.name, user.email],
        )?;
        Ok(User {
            id: conn.last_insert_rowid(),
            name: user.name.clone(),
            email: user.email.clone(),
        })
    }

    /// `Ok(None)` when there is no such user.
    #[model_op(model = "user", op = update, error_type = rusqlite_error_kind)]
    pub(crate) fn update_user(&self, id: i64, user: &NewUser) -> rusqlite::Result<Option<User>> {
        let changed = self.conn().execute(
            "UPDATE users SET name = ?1, email = ?2 WHERE id = ?3",
            params![user.name, user.email, id],
        )?;
        Ok((changed == 1).then(|| User {
            id,
            name: user.name.clone(),
            email: user.email.clone(),
        }))
    }

    /// `Ok(false)` when there is no such user.
    #[model_op(model = "user", op = delete, error_type = rusqlite_error_kind)]
    pub(crate) fn delete_user(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM users WHERE id = ?1", [id])?
            == 1)
    }

    #[model_op(model = "order", op = select, error_type = rusqlite_error_kind)]
    pub(crate) fn list_orders(&self) -> rusqlite::Result<Vec<Order>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare_cached("SELECT id, user_id, item, quantity FROM orders ORDER BY id")?;
        let rows = statement.query_map([], row_to_order)?;
        rows.collect()
    }

    #[model_op(model = "order", op = select, error_type = rusqlite_error_kind)]
    pub(crate) fn get_order(&self, id: i64) -> rusqlite::Result<Option<Order>> {
        self.conn()
            .query_row(
                "SELECT id, user_id, item, quantity FROM orders WHERE id = ?1",
                [id],
                row_to_order,
            )
            .optional()
    }

    /// A constraint error when the user does not exist or the quantity is
    /// not positive.
    #[model_op(model = "order", op = insert, error_type = rusqlite_error_kind)]
    pub(crate) fn insert_order(&self, order: &NewOrder) -> rusqlite::Result<Order> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO orders (user_id, item, quantity) VALUES (?1, ?2, ?3)",
            params![order.user_id, order.item, order.quantity],
        )?;
        Ok(Order {
            id: conn.last_insert_rowid(),
            user_id: order.user_id,
            item: order.item.clone(),
            quantity: order.quantity,
        })
    }

    /// `Ok(None)` when there is no such order.
    #[model_op(model = "order", op = update, error_type = rusqlite_error_kind)]
    pub(crate) fn update_order(
        &self,
        id: i64,
        order: &NewOrder,
    ) -> rusqlite::Result<Option<Order>> {
        let changed = self.conn().execute(
            "UPDATE orders SET user_id = ?1, item = ?2, quantity = ?3 WHERE id = ?4",
            params![order.user_id, order.item, order.quantity, id],
        )?;
        Ok((changed == 1).then(|| Order {
            id,
            user_id: order.user_id,
            item: order.item.clone(),
            quantity: order.quantity,
        }))
    }

    /// `Ok(false)` when there is no such order.
    #[model_op(model = "order", op = delete, error_type = rusqlite_error_kind)]
    pub(crate) fn delete_order(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM orders WHERE id = ?1", [id])?
            == 1)
    }
}

fn row_to_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
    })
}

fn row_to_order(row: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        user_id: row.get(1)?,
        item: row.get(2)?,
        quantity: row.get(3)?,
    })
}
