//! Every query of a diesel connection, counted without annotations.
//!
//! diesel reports what a connection does to an [`Instrumentation`]:
//! [`instrument_every_connection`] gives one to each connection diesel
//! establishes from then on (a pool's too: r2d2, deadpool and bb8 establish
//! through diesel), and [`Instrumentation::new`] to one connection. Each
//! query then counts once in `db_execute_total{alias, vendor}` (failed ones
//! too, and the `BEGIN` and `COMMIT` of a transaction), its time in
//! `db_execute_latency_seconds` (and with the django-prometheus profile
//! `db_query_duration_seconds`), and a failed one in
//! `db_errors_total{type}` by diesel's kind of error (`UniqueViolation`,
//! `ForeignKeyViolation`, `NotNullViolation`, `CheckViolation`,
//! `DatabaseBusy`, ...). With the profile, each connection established
//! counts in `db_new_connections_total`, each failure to establish one in
//! `db_new_connection_errors_total`.
//!
//! ```
//! use diesel::connection::SimpleConnection;
//! use diesel::{Connection, RunQueryDsl, SqliteConnection};
//!
//! let metrics = instrument_runtime::install()?;
//! instrument_runtime::db::diesel::instrument_every_connection().unwrap();
//! let mut db = SqliteConnection::establish(":memory:").unwrap();
//! db.batch_execute("CREATE TABLE user (email TEXT UNIQUE)").unwrap();
//! let insert = "INSERT INTO user VALUES ('ada@example.com')";
//! diesel::sql_query(insert).execute(&mut db).unwrap();
//! diesel::sql_query(insert).execute(&mut db).unwrap_err();
//! let page = metrics.render();
//! assert!(page.contains(r#"db_execute_total{alias="default",vendor="sqlite"} 3"#));
//! assert!(page.contains(
//!     r#"db_errors_total{alias="default",vendor="sqlite",type="UniqueViolation"} 1"#
//! ));
//! # Ok::<(), instrument_runtime::Error>(())
//! ```
//!
//! On an alias with the integration, `#[model_op]` leaves the statements
//! and their errors to it and counts the rest (see [the table](crate::db)).
//! Queries before [`install`](crate::install) are not counted.

use ::diesel::connection::{set_default_instrumentation, InstrumentationEvent};
use ::diesel::result::{ConnectionError, DatabaseErrorKind, Error};
use metrics::SharedString;
use quanta::Instant;

use super::{Covers, Statements};
use crate::runtime;

/// Give every diesel connection established from now on an
/// [`Instrumentation`] on the settings' database alias
/// ([`Builder::db_alias`](crate::Builder::db_alias)), its vendor from the
/// database URL (`postgres://` and libpq's `host=.. dbname=..` are
/// `postgresql`, `mysql://` is `mysql`, a file name `sqlite`, as
/// django-prometheus names them).
///
/// diesel keeps one default instrumentation: this one replaces any the
/// application set before, and a later `set_default_instrumentation`
/// replaces this one. To keep an instrumentation of your own too, give
/// each connection both (an [`Instrumentation`] is one of them) from an
/// instrumentation that forwards every event.
///
/// # Errors
///
/// diesel's, when its default instrumentation cannot be set (its lock was
/// poisoned by a panic).
///
/// ```
/// use diesel::{Connection, SqliteConnection};
///
/// let metrics = instrument_runtime::Builder::new().django_compat(true).install()?;
/// instrument_runtime::db::diesel::instrument_every_connection().unwrap();
/// let _db = SqliteConnection::establish(":memory:").unwrap();
/// assert!(SqliteConnection::establish("/nonexistent/directory/app.db").is_err());
/// let page = metrics.render();
/// assert!(page.contains(r#"db_new_connections_total{alias="default",vendor="sqlite"} 1"#));
/// assert!(page.contains(r#"db_new_connection_errors_total{alias="default",vendor="sqlite"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn instrument_every_connection() -> Result<(), Error> {
    set_default_instrumentation(|| Some(Box::new(Instrumentation::from_url())))?;
    super::cover(None, COVERS);
    Ok(())
}

/// What the integration records besides the statements: their errors, on
/// the thread that runs them (diesel's connections are synchronous).
const COVERS: Covers = Covers {
    errors: true,
    same_thread: true,
};

/// What one diesel connection reports, recorded: set it with
/// [`Connection::set_instrumentation`](::diesel::Connection::set_instrumentation),
/// or for every connection with [`instrument_every_connection`].
///
/// ```
/// use diesel::connection::SimpleConnection;
/// use diesel::{Connection, SqliteConnection};
/// use instrument_runtime::db::diesel::Instrumentation;
///
/// let metrics = instrument_runtime::install()?;
/// let mut replica = SqliteConnection::establish(":memory:").unwrap();
/// replica.set_instrumentation(Instrumentation::on_alias("replica", "sqlite"));
/// replica.batch_execute("SELECT 1").unwrap();
/// assert!(metrics.render().contains(r#"db_execute_total{alias="replica",vendor="sqlite"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub struct Instrumentation {
    /// Unset: the settings' alias.
    alias: Option<SharedString>,
    /// Unset until the connection's URL is seen.
    vendor: Option<SharedString>,
    /// Once the runtime is installed and the vendor known.
    statements: Option<Statements>,
    /// The running query's start.
    started: Option<Instant>,
}

impl Instrumentation {
    /// The instrumentation of a connection to a `vendor` database
    /// (`"sqlite"`, `"postgresql"`, `"mysql"`: the `vendor` label), on the
    /// settings' database alias.
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// use diesel::{Connection, SqliteConnection};
    /// use instrument_runtime::db::diesel::Instrumentation;
    ///
    /// let metrics = instrument_runtime::Builder::new().db_alias("orders").install()?;
    /// let mut db = SqliteConnection::establish(":memory:").unwrap();
    /// db.set_instrumentation(Instrumentation::new("sqlite"));
    /// db.batch_execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)").unwrap();
    /// assert!(metrics.render().contains(r#"db_execute_total{alias="orders",vendor="sqlite"} 1"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn new(vendor: &str) -> Self {
        super::cover(None, COVERS);
        Instrumentation {
            vendor: Some(vendor.to_owned().into()),
            ..Instrumentation::from_url()
        }
    }

    /// The instrumentation of a connection to a `vendor` database on the
    /// database alias `alias`, for a program with more than one database.
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// use diesel::{Connection, SqliteConnection};
    /// use instrument_runtime::db::diesel::Instrumentation;
    ///
    /// let metrics = instrument_runtime::install()?;
    /// let mut analytics = SqliteConnection::establish(":memory:").unwrap();
    /// analytics.set_instrumentation(Instrumentation::on_alias("analytics", "sqlite"));
    /// analytics.batch_execute("SELECT 1").unwrap();
    /// let page = metrics.render();
    /// assert!(page.contains(r#"db_execute_total{alias="analytics",vendor="sqlite"} 1"#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn on_alias(alias: &str, vendor: &str) -> Self {
        super::cover(Some(alias), COVERS);
        Instrumentation {
            alias: Some(alias.to_owned().into()),
            vendor: Some(vendor.to_owned().into()),
            ..Instrumentation::from_url()
        }
    }

    /// The vendor comes from the URL of the connection being established.
    fn from_url() -> Self {
        Instrumentation {
            alias: None,
            vendor: None,
            statements: None,
            started: None,
        }
    }

    fn statements(&mut self) -> Option<&Statements> {
        if self.statements.is_none() {
            let rt = runtime::get()?;
            let alias = self.alias.clone().unwrap_or_else(|| rt.db_alias.clone());
            let vendor = self.vendor.clone()?;
            self.statements = Some(Statements::new(rt, alias, vendor));
        }
        self.statements.as_ref()
    }

    fn established(&mut self, url: &str, error: Option<&ConnectionError>) {
        let vendor = self
            .vendor
            .get_or_insert_with(|| vendor_of(url).into())
            .clone();
        let Some(rt) = runtime::get() else { return };
        let alias = self.alias.clone().unwrap_or_else(|| rt.db_alias.clone());
        match error {
            None => super::connection_opened_on(&alias, &vendor),
            Some(_) => super::connection_failed_on(&alias, &vendor),
        }
        // The families exist at 0 from the connection on.
        self.statements();
    }
}

impl ::diesel::connection::Instrumentation for Instrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.vendor.get_or_insert_with(|| vendor_of(url).into());
            }
            InstrumentationEvent::FinishEstablishConnection { url, error, .. } => {
                self.established(url, error);
            }
            InstrumentationEvent::StartQuery { .. } => self.started = Some(Instant::now()),
            InstrumentationEvent::FinishQuery { error, .. } => {
                let started = self.started.take();
                let Some(statements) = self.statements() else {
                    return;
                };
                let seconds = started.map(|started| started.elapsed().as_secs_f64());
                statements.ran(seconds, error.map(error_kind));
            }
            _ => {}
        }
    }
}

/// django-prometheus's vendor name for a database URL.
fn vendor_of(url: &str) -> &'static str {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "postgres" | "postgresql" => "postgresql",
        "mysql" | "mariadb" => "mysql",
        // libpq's keyword/value form: `host=db dbname=app`.
        "" if ["host=", "dbname=", "user="]
            .iter()
            .any(|key| url.contains(key)) =>
        {
            "postgresql"
        }
        _ => "sqlite",
    }
}

/// The `type` of `db_errors_total` for a diesel error: the database's kind
/// of error, or diesel's own.
fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::DatabaseError(kind, information) => match kind {
            DatabaseErrorKind::UniqueViolation => "UniqueViolation",
            DatabaseErrorKind::ForeignKeyViolation => "ForeignKeyViolation",
            DatabaseErrorKind::UnableToSendCommand => "UnableToSendCommand",
            DatabaseErrorKind::SerializationFailure => "SerializationFailure",
            DatabaseErrorKind::ReadOnlyTransaction => "ReadOnlyTransaction",
            DatabaseErrorKind::RestrictViolation => "RestrictViolation",
            DatabaseErrorKind::NotNullViolation => "NotNullViolation",
            DatabaseErrorKind::CheckViolation => "CheckViolation",
            DatabaseErrorKind::ExclusionViolation => "ExclusionViolation",
            DatabaseErrorKind::ClosedConnection => "ClosedConnection",
            // diesel has no kind for these; SQLite's messages for its
            // SQLITE_BUSY and SQLITE_LOCKED name them.
            _ if information.message() == "database is locked" => "DatabaseBusy",
            _ if information
                .message()
                .starts_with("database table is locked") =>
            {
                "DatabaseLocked"
            }
            _ => "DatabaseError",
        },
        Error::NotFound => "NotFound",
        Error::InvalidCString(..) => "InvalidCString",
        Error::QueryBuilderError(..) => "QueryBuilderError",
        Error::DeserializationError(..) => "DeserializationError",
        Error::SerializationError(..) => "SerializationError",
        Error::RollbackErrorOnCommit { .. } => "RollbackErrorOnCommit",
        Error::RollbackTransaction => "RollbackTransaction",
        Error::AlreadyInTransaction => "AlreadyInTransaction",
        Error::NotInTransaction => "NotInTransaction",
        Error::BrokenTransactionManager => "BrokenTransactionManager",
        // Kinds of later releases.
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::vendor_of;

    #[test]
    fn the_vendor_is_the_url_scheme_as_django_prometheus_names_it() {
        for (url, vendor) in [
            ("postgres://app@db/app", "postgresql"),
            ("postgresql://app:secret@db:5432/app", "postgresql"),
            ("host=db dbname=app user=app", "postgresql"),
            ("mysql://app@db/app", "mysql"),
            ("mariadb://app@db/app", "mysql"),
            ("app.db", "sqlite"),
            (":memory:", "sqlite"),
            ("file:app.db?mode=ro", "sqlite"),
            ("sqlite://app.db", "sqlite"),
        ] {
            assert_eq!(vendor_of(url), vendor, "{url}");
        }
    }
}
