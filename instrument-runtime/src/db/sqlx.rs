//! Every query of sqlx, counted without annotations: from the event sqlx
//! emits when a query finishes.
//!
//! sqlx reports each query it runs as a `tracing` event (target
//! `sqlx::query`, at `DEBUG` unless `ConnectOptions::log_statements` says
//! otherwise) with the time it took. [`SqlxLayer`], a layer of the
//! application's `tracing` subscriber, counts each one in
//! `db_execute_total{alias, vendor}` and its time in
//! `db_execute_latency_seconds` (and with the django-prometheus profile
//! `db_query_duration_seconds`):
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let metrics = instrument_runtime::install()?;
//! let subscriber = tracing_subscriber::registry()
//!     .with(instrument_runtime::db::sqlx::SqlxLayer::new("sqlite"));
//! tracing::subscriber::set_global_default(subscriber).unwrap();
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! runtime.block_on(async {
//!     let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
//!     sqlx::query("SELECT 1").execute(&pool).await.unwrap();
//! });
//! let page = metrics.render();
//! // The connection's set-up (sqlx's `PRAGMA foreign_keys = ON`) and the query.
//! assert!(page.contains(r#"db_execute_total{alias="default",vendor="sqlite"} 2"#));
//! # Ok::<(), instrument_runtime::Error>(())
//! ```
//!
//! The event reaches the layer when the subscriber lets it through: give
//! the other layers filters of their own (`fmt::layer().with_filter(..)`),
//! as above, or let `sqlx::query=debug` through a filter on the whole
//! subscriber, and keep sqlx's `log_statements` and
//! `log_slow_statements` levels on (their defaults): a query sqlx does not
//! log is not counted. The statements a connection runs when it opens
//! count too; the `BEGIN` and `COMMIT` of sqlx's transactions do not (sqlx
//! does not report them). sqlx's event carries neither the pool nor the
//! query's result: one layer counts one alias, and the `type` of
//! `db_errors_total` comes from the functions that see the error
//! (`#[model_op(error_type = ..)]`), which leave the statements to the
//! layer (see [the table](crate::db)). With the django-prometheus profile,
//! [`count_connection`] as the pool's `after_connect` counts the
//! connections it opens. [`report_migrations`] reports what sqlx's
//! migrator has run and has still to run.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::OnceLock;

use metrics::SharedString;
use sqlx_core::acquire::Acquire;
use sqlx_core::migrate::{Migrate, MigrateError, Migrator};
use sqlx_core::pool::PoolConnectionMetadata;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::{Covers, Statements};
use crate::runtime;

/// The target of the event sqlx emits when a query finishes.
const TARGET: &str = "sqlx::query";

/// The field of that event that holds the query's time, in seconds.
const ELAPSED: &str = "elapsed_secs";

/// A `tracing` layer that counts the queries sqlx reports: see the
/// [module](self).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::Layer;
///
/// let layer = instrument_runtime::db::sqlx::SqlxLayer::new("postgresql");
/// // Next to a log output whose filter is its own.
/// let logs = tracing_subscriber::fmt::layer()
///     .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
/// let subscriber = tracing_subscriber::registry().with(layer).with(logs);
/// # drop(subscriber);
/// ```
pub struct SqlxLayer {
    /// Unset: the settings' alias.
    alias: Option<SharedString>,
    vendor: SharedString,
    statements: OnceLock<Statements>,
}

impl SqlxLayer {
    /// Count the queries of a `vendor` database (`"sqlite"`,
    /// `"postgresql"`, `"mysql"`: the `vendor` label) on the settings'
    /// database alias.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(instrument_runtime::db::sqlx::SqlxLayer::new("mysql"));
    /// # drop(subscriber);
    /// ```
    pub fn new(vendor: &str) -> Self {
        super::cover(None, Covers::default());
        SqlxLayer {
            alias: None,
            vendor: vendor.to_owned().into(),
            statements: OnceLock::new(),
        }
    }

    /// Count the queries of a `vendor` database on the database alias
    /// `alias` instead of the settings' one.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let layer = instrument_runtime::db::sqlx::SqlxLayer::on_alias("orders", "postgresql");
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// ```
    pub fn on_alias(alias: &str, vendor: &str) -> Self {
        super::cover(Some(alias), Covers::default());
        SqlxLayer {
            alias: Some(alias.to_owned().into()),
            vendor: vendor.to_owned().into(),
            statements: OnceLock::new(),
        }
    }

    fn statements(&self) -> Option<&Statements> {
        if let Some(statements) = self.statements.get() {
            return Some(statements);
        }
        let rt = runtime::get()?;
        Some(self.statements.get_or_init(|| {
            let alias = self.alias.clone().unwrap_or_else(|| rt.db_alias.clone());
            Statements::new(rt, alias, self.vendor.clone())
        }))
    }
}

/// Is `metadata` sqlx's event of a finished query?
fn is_query(metadata: &Metadata<'_>) -> bool {
    metadata.target() == TARGET && metadata.is_event() && metadata.fields().field(ELAPSED).is_some()
}

impl<S: Subscriber> Layer<S> for SqlxLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if !is_query(event.metadata()) {
            return;
        }
        let Some(statements) = self.statements() else {
            return;
        };
        let mut elapsed = Elapsed(None);
        event.record(&mut elapsed);
        statements.executed(1);
        if let Some(seconds) = elapsed.0 {
            statements.took(seconds);
        }
    }
}

/// The query's time, from the event's `elapsed_secs`.
struct Elapsed(Option<f64>);

impl Visit for Elapsed {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == ELAPSED {
            self.0 = Some(value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// A pool's `after_connect`: counts each connection the pool opens in
/// `db_new_connections_total` on the settings' database alias and vendor
/// ([`db::connection_opened`](crate::db::connection_opened), with the
/// django-prometheus profile). sqlx calls it for the connections it opens,
/// not for the attempts that fail.
///
/// # Errors
///
/// None: the signature is the one `after_connect` takes.
///
/// ```
/// let metrics = instrument_runtime::Builder::new()
///     .django_compat(true)
///     .db_vendor("sqlite")
///     .install()?;
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// runtime.block_on(async {
///     let pool = sqlx::sqlite::SqlitePoolOptions::new()
///         .after_connect(instrument_runtime::db::sqlx::count_connection)
///         .connect("sqlite::memory:")
///         .await
///         .unwrap();
///     drop(pool.acquire().await.unwrap());
/// });
/// let page = metrics.render();
/// assert!(page.contains(r#"db_new_connections_total{alias="default",vendor="sqlite"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn count_connection<C>(
    _connection: &mut C,
    _metadata: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<(), sqlx_core::Error>> + Send + '_>> {
    super::connection_opened();
    Box::pin(std::future::ready(Ok(())))
}

/// Report how many of `migrator`'s migrations the database behind
/// `connection` has run and how many it has not, on the settings' database
/// alias: [`db::migrations`](crate::db::migrations) with sqlx's figures (its
/// migrations table, created as `Migrator::run` creates it).
///
/// # Errors
///
/// sqlx's, when the applied migrations cannot be read.
///
/// ```
/// use sqlx::migrate::{Migration, MigrationType, Migrator};
/// use sqlx::SqlSafeStr;
///
/// let metrics = instrument_runtime::install()?;
/// let migration = |version, sql: &'static str| {
///     Migration::new(version, "".into(), MigrationType::Simple, sql.into_sql_str(), false)
/// };
/// let first = Migrator::with_migrations(vec![migration(1, "CREATE TABLE user (email TEXT)")]);
/// let both = Migrator::with_migrations(vec![
///     migration(1, "CREATE TABLE user (email TEXT)"),
///     migration(2, "CREATE INDEX user_email ON user (email)"),
/// ]);
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// runtime.block_on(async {
///     let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
///     // The release before: one migration run. This one has two.
///     first.run(&pool).await.unwrap();
///     instrument_runtime::db::sqlx::report_migrations(&both, &pool).await.unwrap();
/// });
/// let page = metrics.render();
/// assert!(page.contains(r#"migrations_applied_total{connection="default"} 1"#));
/// assert!(page.contains(r#"migrations_unapplied_total{connection="default"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub async fn report_migrations<'a, A>(
    migrator: &Migrator,
    connection: A,
) -> Result<(), MigrateError>
where
    A: Acquire<'a>,
    <A::Connection as Deref>::Target: Migrate,
{
    let (applied, unapplied) = count_migrations(migrator, connection).await?;
    super::migrations(applied, unapplied);
    Ok(())
}

/// [`report_migrations`] on the database alias `alias`.
///
/// # Errors
///
/// sqlx's, when the applied migrations cannot be read.
///
/// ```
/// use sqlx::migrate::Migrator;
///
/// let metrics = instrument_runtime::install()?;
/// let none = Migrator::with_migrations(Vec::new());
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// runtime.block_on(async {
///     let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
///     instrument_runtime::db::sqlx::report_migrations_on("events", &none, &pool).await.unwrap();
/// });
/// assert!(metrics.render().contains(r#"migrations_unapplied_total{connection="events"} 0"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub async fn report_migrations_on<'a, A>(
    alias: &str,
    migrator: &Migrator,
    connection: A,
) -> Result<(), MigrateError>
where
    A: Acquire<'a>,
    <A::Connection as Deref>::Target: Migrate,
{
    let (applied, unapplied) = count_migrations(migrator, connection).await?;
    super::migrations_on(alias, applied, unapplied);
    Ok(())
}

/// `(applied, unapplied)`: the migrations the database lists as run, and
/// the migrator's (up) migrations it does not list.
async fn count_migrations<'a, A>(
    migrator: &Migrator,
    connection: A,
) -> Result<(usize, usize), MigrateError>
where
    A: Acquire<'a>,
    <A::Connection as Deref>::Target: Migrate,
{
    let mut connection = connection.acquire().await?;
    let table = &migrator.table_name;
    connection.ensure_migrations_table(table).await?;
    // A migration that failed part-way is listed, and is not applied.
    let dirty = connection.dirty_version(table).await?;
    let applied: Vec<i64> = connection
        .list_applied_migrations(table)
        .await?
        .into_iter()
        .map(|migration| migration.version)
        .filter(|version| Some(*version) != dirty)
        .collect();
    let unapplied = migrator
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
        .filter(|migration| !applied.contains(&migration.version))
        .count();
    Ok((applied.len(), unapplied))
}
