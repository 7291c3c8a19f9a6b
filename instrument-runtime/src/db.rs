//! Hooks for what the macros cannot see: the connections a pool opens.
//!
//! django-prometheus counts new database connections
//! (`db_new_connections_total{alias, vendor}`) and failed attempts
//! (`db_new_connection_errors_total`). A Rust pool opens connections on its
//! own, so the application reports them, for example from sqlx's
//! `after_connect`:
//!
//! ```
//! # fn open() -> Result<(), std::io::Error> { Ok(()) }
//! instrument_runtime::Builder::new().django_compat(true).db_vendor("sqlite").install().unwrap();
//! match open() {
//!     Ok(()) => instrument_runtime::db::connection_opened(),
//!     Err(_) => instrument_runtime::db::connection_failed(),
//! }
//! let page = instrument_runtime::installed().unwrap().render();
//! assert!(page.contains(r#"db_new_connections_total{alias="default",vendor="sqlite"} 1"#));
//! ```
//!
//! These families belong to the django-prometheus profile
//! ([`Builder::django_compat`](crate::Builder::django_compat)): without it,
//! the hooks record nothing.

use metrics::Label;

use crate::catalogue::compat::{DB_NEW_CONNECTIONS, DB_NEW_CONNECTION_ERRORS};
use crate::catalogue::Family;
use crate::runtime::{self, Runtime};

/// A connection was opened, on the settings' DB alias and vendor.
///
/// ```
/// instrument_runtime::Builder::new()
///     .django_compat(true)
///     .db_alias("orders")
///     .db_vendor("postgresql")
///     .install()
///     .unwrap();
/// instrument_runtime::db::connection_opened();
/// instrument_runtime::db::connection_opened();
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"db_new_connections_total{alias="orders",vendor="postgresql"} 2"#));
/// ```
pub fn connection_opened() {
    count(&DB_NEW_CONNECTIONS, None);
}

/// Opening a connection failed, on the settings' DB alias and vendor.
///
/// ```
/// instrument_runtime::Builder::new().django_compat(true).install().unwrap();
/// instrument_runtime::db::connection_failed();
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"db_new_connection_errors_total{alias="default",vendor="unknown"} 1"#));
/// // Without the django-prometheus profile, the hooks record nothing.
/// ```
pub fn connection_failed() {
    count(&DB_NEW_CONNECTION_ERRORS, None);
}

/// A connection was opened on `alias` (a database of `vendor`), for an
/// application with more than one database:
///
/// ```
/// instrument_runtime::Builder::new().django_compat(true).install().unwrap();
/// instrument_runtime::db::connection_opened_on("replica", "postgresql");
/// instrument_runtime::db::connection_failed_on("replica", "postgresql");
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"db_new_connections_total{alias="replica",vendor="postgresql"} 1"#));
/// assert!(page.contains(r#"db_new_connection_errors_total{alias="replica",vendor="postgresql"} 1"#));
/// ```
pub fn connection_opened_on(alias: &str, vendor: &str) {
    count(&DB_NEW_CONNECTIONS, Some((alias, vendor)));
}

/// Opening a connection on `alias` (a database of `vendor`) failed.
///
/// ```
/// instrument_runtime::Builder::new().django_compat(true).install().unwrap();
/// instrument_runtime::db::connection_failed_on("analytics", "sqlite");
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"db_new_connection_errors_total{alias="analytics",vendor="sqlite"} 1"#));
/// ```
pub fn connection_failed_on(alias: &str, vendor: &str) {
    count(&DB_NEW_CONNECTION_ERRORS, Some((alias, vendor)));
}

fn count(family: &Family, database: Option<(&str, &str)>) {
    let Some(rt) = runtime::get().filter(|rt| rt.django_compat) else {
        return;
    };
    let (alias, vendor) = match database {
        Some((alias, vendor)) => (alias.to_owned().into(), vendor.to_owned().into()),
        None => (rt.db_alias.clone(), rt.db_vendor.clone()),
    };
    let labels = vec![Label::new("alias", alias), Label::new("vendor", vendor)];
    rt.counter(rt.builtin(family), labels).increment(1);
}

/// Create both connection counters at 0 for a database the program uses.
pub(crate) fn register_connection_counters(rt: &Runtime, alias: &str, vendor: &str) {
    for family in [&DB_NEW_CONNECTIONS, &DB_NEW_CONNECTION_ERRORS] {
        let labels = vec![
            Label::new("alias", alias.to_owned()),
            Label::new("vendor", vendor.to_owned()),
        ];
        // Registering creates the series at 0.
        let _ = rt.counter(rt.builtin(family), labels);
    }
}

/// The kind of a rusqlite error, for `#[model_op(error_type = ..)]`: the
/// `type` of `db_errors_total` is then SQLite's result code
/// (`ConstraintViolation`, `DatabaseBusy`, `DatabaseLocked`, `ReadOnly`,
/// ...) or rusqlite's own kind (`QueryReturnedNoRows`, `InvalidColumnType`,
/// ...), a short and bounded set, rather than `rusqlite::error::Error` for
/// every failure.
///
/// ```
/// use instrument_runtime::model_op;
/// use rusqlite::Connection;
///
/// #[model_op(model = "user", op = insert, error_type = instrument_runtime::db::rusqlite_error_kind)]
/// fn insert(db: &Connection, email: &str) -> rusqlite::Result<usize> {
///     db.execute("INSERT INTO user (email) VALUES (?1)", [email])
/// }
///
/// let metrics = instrument_runtime::Builder::new().db_vendor("sqlite").install()?;
/// let db = Connection::open_in_memory().unwrap();
/// db.execute("CREATE TABLE user (email TEXT UNIQUE)", []).unwrap();
/// insert(&db, "ada@example.com").unwrap();
/// insert(&db, "ada@example.com").unwrap_err(); // the UNIQUE constraint
/// assert!(metrics.render().contains(
///     r#"db_errors_total{alias="default",vendor="sqlite",type="ConstraintViolation"} 1"#
/// ));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
#[cfg(feature = "rusqlite-0_37")]
pub fn rusqlite_error_kind(error: &rusqlite::Error) -> String {
    use rusqlite::Error;
    if let Some(code) = error.sqlite_error_code() {
        return format!("{code:?}");
    }
    let kind = match error {
        Error::SqliteSingleThreadedMode => "SqliteSingleThreadedMode",
        Error::FromSqlConversionFailure(..) => "FromSqlConversionFailure",
        Error::IntegralValueOutOfRange(..) => "IntegralValueOutOfRange",
        Error::Utf8Error(..) => "Utf8Error",
        Error::NulError(..) => "NulError",
        Error::InvalidParameterName(..) => "InvalidParameterName",
        Error::InvalidPath(..) => "InvalidPath",
        Error::ExecuteReturnedResults => "ExecuteReturnedResults",
        Error::QueryReturnedNoRows => "QueryReturnedNoRows",
        Error::QueryReturnedMoreThanOneRow => "QueryReturnedMoreThanOneRow",
        Error::InvalidColumnIndex(..) => "InvalidColumnIndex",
        Error::InvalidColumnName(..) => "InvalidColumnName",
        Error::InvalidColumnType(..) => "InvalidColumnType",
        Error::StatementChangedRows(..) => "StatementChangedRows",
        Error::ToSqlConversionFailure(..) => "ToSqlConversionFailure",
        Error::InvalidQuery => "InvalidQuery",
        Error::MultipleStatement => "MultipleStatement",
        Error::InvalidParameterCount(..) => "InvalidParameterCount",
        // Kinds of features this crate does not turn on, and kinds of
        // later releases.
        _ => "Other",
    };
    kind.to_owned()
}
