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
//! subscriber. The statements a connection runs when it opens count too;
//! the `BEGIN` and `COMMIT` of sqlx's transactions do not (sqlx does not
//! report them). sqlx's event carries neither the pool nor the query's
//! result: one layer counts one alias, and the `type` of `db_errors_total`
//! comes from the functions that see the error (`#[model_op(error_type =
//! ..)]`), which leave the statements to the layer (see [the
//! table](crate::db)). sqlx's own pool opens connections with
//! `after_connect`: [`connection_opened`](crate::db::connection_opened)
//! counts them there.

use std::sync::OnceLock;

use metrics::SharedString;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::Statements;
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
        SqlxLayer {
            alias: None,
            vendor: vendor.to_owned().into(),
            statements: OnceLock::new(),
        }
    }

    /// On the database alias `alias` instead of the settings' one.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let layer = instrument_runtime::db::sqlx::SqlxLayer::new("postgresql").alias("orders");
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// ```
    #[must_use]
    pub fn alias(mut self, alias: &str) -> Self {
        self.alias = Some(alias.to_owned().into());
        self
    }

    fn statements(&self) -> Option<&Statements> {
        if let Some(statements) = self.statements.get() {
            return Some(statements);
        }
        let rt = runtime::get()?;
        Some(self.statements.get_or_init(|| {
            let alias = self.alias.clone().unwrap_or_else(|| rt.db_alias.clone());
            let statements = Statements::new(rt, alias, self.vendor.clone());
            statements.coverage.count_statements();
            statements
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
