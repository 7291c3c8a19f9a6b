//! What the macros cannot see: the statements a connection runs, the
//! connections a pool opens, and the migrations a database has run.
//!
//! **Statements.** `#[model_op]` counts the calls of a repository function;
//! django-prometheus counts every statement of every connection, because it
//! wraps the database backend. An integration does the same for a
//! connection of a Rust driver: one line where the connection is opened,
//! and every statement it runs counts in `db_execute_total` and
//! `db_execute_latency_seconds` (and with the django-prometheus profile
//! `db_query_duration_seconds`), with its alias and the driver's vendor.
//! [`rusqlite::instrument`] does it for a rusqlite connection,
//! [`diesel::instrument_every_connection`] for every diesel connection
//! (errors by kind and new connections too), [`sqlx::SqlxLayer`] for the
//! queries sqlx reports to `tracing`.
//!
//! Next to an integration, `#[model_op]` keeps the families the integration
//! does not record, and counts nothing twice (set
//! [`Builder::db_vendor`](crate::Builder::db_vendor) to the integration's
//! vendor, so that both label the alias alike):
//!
//! | family | no integration | rusqlite | diesel | sqlx |
//! |---|---|---|---|---|
//! | `db_execute_total`, `db_execute_latency_seconds`, `db_query_duration_seconds` | `#[model_op]`, per call | the integration, per statement | the integration, per query | the layer, per query sqlx reports |
//! | `db_errors_total{type}` | `#[model_op]` | `#[model_op]` (SQLite's hooks do not see a statement's result) | the integration, by diesel's kind | `#[model_op]` (sqlx's event does not carry the result) |
//! | `db_new_connections_total`, `db_new_connection_errors_total` | [`connection_opened`] / [`connection_failed`] | the same | the integration | [`sqlx::count_connection`] as the pool's `after_connect` |
//! | `db_execute_many_total`, `model_{inserts,updates,deletes}_total` | `#[model_op]` | `#[model_op]` | `#[model_op]` | `#[model_op]` |
//!
//! **Connections.** django-prometheus counts new database connections
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
//!
//! **Migrations.** [`migrations`] reports how many of a database's
//! migrations have run and how many have not, in django-prometheus's
//! `migrations_applied_total` and `migrations_unapplied_total` gauges, which
//! the django-mixin dashboards show and its `DjangoMigrationsUnapplied`
//! alert reads. [`refinery::report_migrations`] and
//! [`sqlx::report_migrations`] report them from refinery's and sqlx's
//! migrators.

#[cfg(feature = "diesel-2")]
pub mod diesel;
#[cfg(feature = "refinery-0_10")]
pub mod refinery;
#[cfg(feature = "rusqlite-0_39")]
pub mod rusqlite;
#[cfg(feature = "sqlx-0_9")]
pub mod sqlx;

use std::sync::{Mutex, PoisonError};

use metrics::{Counter, Histogram, Label, SharedString};

use crate::catalogue::compat::{DB_NEW_CONNECTIONS, DB_NEW_CONNECTION_ERRORS};
use crate::catalogue::{self, Family};
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

/// The migrations of the settings' database ([`Builder::db_alias`](crate::Builder::db_alias)):
/// how many have run and how many have not, in
/// `migrations_applied_total{connection}` and
/// `migrations_unapplied_total{connection}`, as django-prometheus reports
/// Django's. Report them after start-up migrations run, and again whenever
/// they change.
///
/// ```
/// instrument_runtime::install()?;
/// // Deployed with two migrations not yet run.
/// instrument_runtime::db::migrations(5, 2);
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"migrations_applied_total{connection="default"} 5"#));
/// assert!(page.contains(r#"migrations_unapplied_total{connection="default"} 2"#));
/// // After running them.
/// instrument_runtime::db::migrations(7, 0);
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"migrations_unapplied_total{connection="default"} 0"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn migrations(applied: usize, unapplied: usize) {
    let Some(rt) = runtime::get() else { return };
    let alias = rt.db_alias.clone();
    set_migrations(rt, alias, applied, unapplied);
}

/// The migrations of the database `alias`, for an application with more
/// than one.
///
/// ```
/// instrument_runtime::install()?;
/// instrument_runtime::db::migrations_on("analytics", 3, 1);
/// let page = instrument_runtime::installed().unwrap().render();
/// assert!(page.contains(r#"migrations_unapplied_total{connection="analytics"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn migrations_on(alias: &str, applied: usize, unapplied: usize) {
    let Some(rt) = runtime::get() else { return };
    set_migrations(rt, alias.to_owned().into(), applied, unapplied);
}

fn set_migrations(rt: &Runtime, alias: SharedString, applied: usize, unapplied: usize) {
    for (family, count) in [
        (&catalogue::MIGRATIONS_APPLIED, applied),
        (&catalogue::MIGRATIONS_UNAPPLIED, unapplied),
    ] {
        let labels = vec![Label::new("connection", alias.clone())];
        // Counts of migrations are far below f64's exact integers.
        #[allow(clippy::cast_precision_loss)]
        rt.gauge(rt.builtin(family), labels).set(count as f64);
    }
}

/// What an integration records of a database alias, besides its
/// statements.
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(
    not(any(feature = "rusqlite-0_39", feature = "diesel-2", feature = "sqlx-0_9")),
    allow(dead_code)
)]
pub(crate) struct Covers {
    /// Its failed statements, by kind.
    pub(crate) errors: bool,
    /// On the thread that runs each statement.
    pub(crate) same_thread: bool,
}

/// Integrations set up before [`install`](crate::install): their aliases
/// (`None`, the settings' one), covered once it runs.
static PENDING: Mutex<Vec<(Option<String>, Covers)>> = Mutex::new(Vec::new());

/// An integration records the statements of `alias` (`None`: the
/// settings' one) from now on: `#[model_op]` leaves them to it. Before
/// `install()`, from when it runs.
#[cfg_attr(
    not(any(feature = "rusqlite-0_39", feature = "diesel-2", feature = "sqlx-0_9")),
    allow(dead_code)
)]
pub(crate) fn cover(alias: Option<&str>, covers: Covers) {
    let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    match runtime::get() {
        Some(rt) => apply(rt, alias, covers),
        None => pending.push((alias.map(str::to_owned), covers)),
    }
}

/// Cover the aliases of the integrations set up before `install()`.
pub(crate) fn cover_pending(rt: &Runtime) {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(PoisonError::into_inner));
    for (alias, covers) in pending {
        apply(rt, alias.as_deref(), covers);
    }
}

fn apply(rt: &Runtime, alias: Option<&str>, covers: Covers) {
    let coverage = rt.databases.coverage(alias.unwrap_or(&rt.db_alias));
    coverage.count_statements();
    if covers.errors {
        coverage.count_errors();
    }
    if covers.same_thread {
        coverage.on_the_same_thread();
    }
}

/// The statement families of one database: its alias and vendor.
pub(crate) struct Statements {
    execute: Counter,
    latency: Histogram,
    /// django-prometheus's `db_query_duration_seconds`, with the profile on.
    query_duration: Option<Histogram>,
    /// The full name of `db_errors_total`.
    errors: String,
    pub(crate) alias: SharedString,
    pub(crate) vendor: SharedString,
    /// What an integration records of the alias.
    pub(crate) coverage: &'static runtime::Coverage,
}

impl Statements {
    /// The families of the database `alias` of `vendor`, created at 0 (with
    /// the profile, its connection counters too).
    pub(crate) fn new(rt: &Runtime, alias: SharedString, vendor: SharedString) -> Self {
        let labels = || {
            vec![
                Label::new("alias", alias.clone()),
                Label::new("vendor", vendor.clone()),
            ]
        };
        let query_duration = rt.django_compat.then(|| {
            register_connection_counters(rt, &alias, &vendor);
            rt.histogram(rt.builtin(&catalogue::compat::DB_QUERY_DURATION), labels())
        });
        Statements {
            execute: rt.counter(rt.builtin(&catalogue::DB_EXECUTE), labels()),
            latency: rt.histogram(rt.builtin(&catalogue::DB_EXECUTE_LATENCY), labels()),
            query_duration,
            errors: rt.builtin(&catalogue::DB_ERRORS),
            coverage: rt.databases.coverage(&alias),
            alias,
            vendor,
        }
    }

    /// `statements` statements ran (or started: failed ones count too).
    #[inline]
    pub(crate) fn executed(&self, statements: u64) {
        self.execute.increment(statements);
    }

    /// An execution took `seconds`.
    #[inline]
    pub(crate) fn took(&self, seconds: f64) {
        self.latency.record(seconds);
        if let Some(query_duration) = &self.query_duration {
            query_duration.record(seconds);
        }
    }

    /// A statement that a synchronous integration saw ran for `seconds`,
    /// on this thread; `failed` with an error of that type.
    #[cfg_attr(
        not(any(feature = "rusqlite-0_39", feature = "diesel-2")),
        allow(dead_code)
    )]
    pub(crate) fn ran(&self, seconds: Option<f64>, failed: Option<&'static str>) {
        self.executed(1);
        if let Some(seconds) = seconds {
            self.took(seconds);
        }
        runtime::Traced::statement(failed.is_some());
        if let Some(error_type) = failed {
            self.failed(SharedString::const_str(error_type));
        }
    }

    /// An execution failed with an error of `error_type`, admitted by the
    /// cardinality guard.
    #[cold]
    #[inline(never)]
    pub(crate) fn failed(&self, error_type: SharedString) {
        let Some(rt) = runtime::get() else { return };
        let error_type = rt
            .cardinality
            .admit(&rt.registry, &self.errors, vec![error_type]);
        let labels = vec![
            Label::new("alias", self.alias.clone()),
            Label::new("vendor", self.vendor.clone()),
            Label::new("type", error_type.into_iter().next().unwrap_or_default()),
        ];
        rt.counter(self.errors.clone(), labels).increment(1);
    }
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
#[cfg(feature = "rusqlite-0_39")]
pub fn rusqlite_error_kind(error: &::rusqlite::Error) -> String {
    use ::rusqlite::Error;
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
