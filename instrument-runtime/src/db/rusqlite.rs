//! Every statement of a rusqlite connection, counted without annotations.
//!
//! [`instrument`] sets SQLite's trace hook on a connection: from then on
//! each statement it runs, `BEGIN` and `COMMIT` included, counts once in
//! `db_execute_total{alias, vendor="sqlite"}` when it finishes (failed ones
//! too) and its time in `db_execute_latency_seconds`, measured from its
//! first step to its end (the last row read, or the reset of a statement
//! read in part). With the django-prometheus profile it counts in
//! `db_query_duration_seconds` too.
//!
//! ```
//! use rusqlite::Connection;
//!
//! let metrics = instrument_runtime::install()?;
//! let db = Connection::open_in_memory().unwrap();
//! instrument_runtime::db::rusqlite::instrument(&db);
//! db.execute_batch("CREATE TABLE user (email TEXT UNIQUE)").unwrap();
//! db.execute("INSERT INTO user VALUES (?1)", ["ada@example.com"]).unwrap();
//! db.execute("INSERT INTO user VALUES (?1)", ["ada@example.com"]).unwrap_err();
//! let page = metrics.render();
//! assert!(page.contains(r#"db_execute_total{alias="default",vendor="sqlite"} 3"#));
//! assert!(page.contains(r#"db_execute_latency_seconds_count{alias="default",vendor="sqlite"} 3"#));
//! # Ok::<(), instrument_runtime::Error>(())
//! ```
//!
//! SQLite's hooks tell when a statement ends, not how: the `type` of
//! `db_errors_total` comes from the functions that see the error, with
//! [`#[model_op(error_type = db::rusqlite_error_kind)]`](crate::db::rusqlite_error_kind).
//! On an alias with an instrumented connection, `#[model_op]` leaves the
//! statements to the hook and counts the rest (see [the table](crate::db)):
//! instrument every connection of that alias. A call that fails before
//! any statement runs (SQL that does not prepare) counts as the
//! execution, as it would without the hook.
//!
//! A connection has one trace hook: [`Connection::trace_v2`] after
//! [`instrument`] replaces this one, and [`instrument`] replaces any other.
//! Statements before [`install`](crate::install) are not counted.

use std::cell::RefCell;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use ::rusqlite::trace::{TraceEvent, TraceEventCodes};
use ::rusqlite::Connection;
use metrics::SharedString;
use quanta::Instant;

use super::{Covers, Statements};
use crate::runtime;
use crate::Error;

/// How many database aliases connections can be instrumented on: SQLite's
/// hook is a plain function, so each alias has its own.
const ALIASES: usize = 16;

/// Statements that started on this thread and have not finished, at most.
const RUNNING: usize = 16;

/// Count every statement `connection` runs, on the settings' database alias
/// ([`Builder::db_alias`](crate::Builder::db_alias)).
///
/// ```
/// use rusqlite::Connection;
///
/// let metrics = instrument_runtime::Builder::new().db_alias("users").install()?;
/// let db = Connection::open_in_memory().unwrap();
/// instrument_runtime::db::rusqlite::instrument(&db);
/// let one: i64 = db.query_row("SELECT 1", [], |row| row.get(0)).unwrap();
/// assert!(metrics.render().contains(r#"db_execute_total{alias="users",vendor="sqlite"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn instrument(connection: &Connection) {
    hook(connection, 0);
}

/// Count every statement `connection` runs, on the database alias `alias`,
/// for a program with more than one database.
///
/// # Errors
///
/// [`Error::InvalidSetting`] when `alias` would be a sixteenth named alias:
/// connections can be instrumented on fifteen named aliases besides the
/// settings' one.
///
/// ```
/// use rusqlite::Connection;
///
/// let metrics = instrument_runtime::install()?;
/// let cache = Connection::open_in_memory().unwrap();
/// instrument_runtime::db::rusqlite::instrument_as(&cache, "cache")?;
/// cache.execute_batch("CREATE TABLE entry (key TEXT PRIMARY KEY, value BLOB)").unwrap();
/// assert!(metrics.render().contains(r#"db_execute_total{alias="cache",vendor="sqlite"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn instrument_as(connection: &Connection, alias: &str) -> Result<(), Error> {
    hook(connection, slot_of(alias)?);
    Ok(())
}

fn hook(connection: &Connection, slot: usize) {
    // `#[model_op]` leaves the alias's statements to the hook.
    let alias = SLOTS[slot].alias.get().map(|alias| &**alias);
    let covers = Covers {
        errors: false,
        same_thread: true,
    };
    super::cover(alias, covers);
    let events = TraceEventCodes::SQLITE_TRACE_STMT | TraceEventCodes::SQLITE_TRACE_PROFILE;
    connection.trace_v2(events, Some(HOOKS[slot]));
    // The series exist at 0 from now on, when the runtime is installed.
    SLOTS[slot].statements();
}

/// The slot of a named alias: the one it has, or the first free one.
fn slot_of(alias: &str) -> Result<usize, Error> {
    static ASSIGNING: Mutex<()> = Mutex::new(());
    let _assigning = ASSIGNING.lock().unwrap_or_else(PoisonError::into_inner);
    for (index, slot) in SLOTS.iter().enumerate().skip(1) {
        match slot.alias.get() {
            Some(known) if **known == *alias => return Ok(index),
            Some(_) => {}
            None => {
                let _ = slot.alias.set(alias.to_owned().into());
                return Ok(index);
            }
        }
    }
    let known: Vec<&str> = SLOTS[1..]
        .iter()
        .filter_map(|slot| slot.alias.get())
        .map(|alias| &**alias)
        .collect();
    Err(Error::InvalidSetting {
        setting: "db::rusqlite::instrument_as",
        reason: format!(
            "connections are instrumented on {} named aliases already ({}), the most there can be; `{alias}` would be one more",
            known.len(),
            known.join(", ")
        ),
    })
}

/// One database alias: its name, and its families once the runtime is
/// installed.
struct Slot {
    /// Unset for the first slot: the settings' alias.
    alias: OnceLock<SharedString>,
    statements: OnceLock<Statements>,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            alias: OnceLock::new(),
            statements: OnceLock::new(),
        }
    }

    #[inline]
    fn statements(&self) -> Option<&Statements> {
        if let Some(statements) = self.statements.get() {
            return Some(statements);
        }
        let rt = runtime::get()?;
        Some(self.statements.get_or_init(|| {
            let alias = self
                .alias
                .get()
                .cloned()
                .unwrap_or_else(|| rt.db_alias.clone());
            Statements::new(rt, alias, SharedString::const_str("sqlite"))
        }))
    }
}

static SLOTS: [Slot; ALIASES] = [const { Slot::new() }; ALIASES];

/// The hook of each slot.
const HOOKS: [fn(TraceEvent<'_>); ALIASES] = [
    traced::<0>,
    traced::<1>,
    traced::<2>,
    traced::<3>,
    traced::<4>,
    traced::<5>,
    traced::<6>,
    traced::<7>,
    traced::<8>,
    traced::<9>,
    traced::<10>,
    traced::<11>,
    traced::<12>,
    traced::<13>,
    traced::<14>,
    traced::<15>,
];

fn traced<const SLOT: usize>(event: TraceEvent<'_>) {
    match event {
        TraceEvent::Stmt(statement, text) => {
            if runtime::get().is_none() {
                // Not counted: no start to keep.
                return;
            }
            if text.starts_with("-- ") {
                // A trigger's subprogram (its statement started already), a
                // statement run inside another's step, or one that begins
                // with a comment: the statement's own text tells them
                // apart.
                started(statement.sql().as_ptr() as usize);
            } else {
                // The statement's own text, which SQLite passes as it is.
                started(text.as_ptr() as usize);
            }
        }
        TraceEvent::Profile(statement, sqlite_elapsed) => {
            // SQLite's own figure has the resolution of its clock, a
            // millisecond: the hook's start, when it saw it, is finer.
            let elapsed = finished(|| statement.sql().as_ptr() as usize).unwrap_or(sqlite_elapsed);
            let Some(statements) = SLOTS[SLOT].statements() else {
                return;
            };
            statements.ran(Some(elapsed.as_secs_f64()), None);
        }
        _ => {}
    }
}

thread_local! {
    /// The statements that started on this thread and have not finished,
    /// by the address of their SQL text, which SQLite keeps for the
    /// statement's life.
    static STARTED: RefCell<Vec<(usize, Instant)>> = const { RefCell::new(Vec::new()) };
}

fn started(statement: usize) {
    STARTED.with_borrow_mut(|started| {
        if started.iter().any(|(known, _)| *known == statement) {
            return;
        }
        if started.len() == RUNNING {
            // A start whose end the hook missed (another hook replaced
            // this one meanwhile).
            started.remove(0);
        }
        started.push((statement, Instant::now()));
    });
}

/// The time since `statement` (its SQL text's address) started. A
/// statement ends on the thread it started on (rusqlite's statements stay
/// on their thread), so with one started the end is its own, and the text
/// is read only when several run at once.
fn finished(statement: impl FnOnce() -> usize) -> Option<Duration> {
    STARTED.with_borrow_mut(|started| {
        let index = match started.len() {
            0 => return None,
            1 => 0,
            _ => {
                let statement = statement();
                started.iter().rposition(|(known, _)| *known == statement)?
            }
        };
        Some(started.remove(index).1.elapsed())
    })
}
