//! The repository: users in SQLite, one `#[model_op]` per operation.

use std::path::Path;
use std::sync::Mutex;

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

/// Schema changes, applied in order at start-up; `user_version` records how
/// many have run.
const MIGRATIONS: &[&str] = &["CREATE TABLE users (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        name  TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE
    )"];

pub(crate) struct Repository {
    conn: Mutex<Connection>,
}

impl Repository {
    /// Open (or create) the database file and bring its schema up to date.
    pub(crate) fn open(path: &Path) -> rusqlite::Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let applied: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let tx = conn.transaction()?;
        for migration in MIGRATIONS.iter().skip(applied) {
            tx.execute_batch(migration)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
        tx.commit()?;
        Ok(Repository {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[model_op(model = "user", op = select)]
    pub(crate) fn list(&self) -> rusqlite::Result<Vec<User>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT id, name, email FROM users ORDER BY id")?;
        let rows = statement.query_map([], row_to_user)?;
        rows.collect()
    }

    #[model_op(model = "user", op = select)]
    pub(crate) fn get(&self, id: i64) -> rusqlite::Result<Option<User>> {
        self.conn()
            .query_row(
                "SELECT id, name, email FROM users WHERE id = ?1",
                [id],
                row_to_user,
            )
            .optional()
    }

    #[model_op(model = "user", op = insert)]
    pub(crate) fn insert(&self, user: &NewUser) -> rusqlite::Result<User> {
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
    #[model_op(model = "user", op = update)]
    pub(crate) fn update(&self, id: i64, user: &NewUser) -> rusqlite::Result<Option<User>> {
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
    #[model_op(model = "user", op = delete)]
    pub(crate) fn delete(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM users WHERE id = ?1", [id])?
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
