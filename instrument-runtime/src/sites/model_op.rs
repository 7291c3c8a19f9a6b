//! The call site of `#[model_op]`.

use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use metrics::{Counter, Histogram, Label, SharedString};
use quanta::Instant;

use super::handles::{resolve, Site};
use super::outcome::{exited, Outcome};
use crate::catalogue;
use crate::runtime::{self, Runtime};

/// The operation of a `#[model_op]` function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Counted in `model_inserts_total`.
    Insert,
    /// Counted in `model_updates_total`.
    Update,
    /// Counted in `model_deletes_total`.
    Delete,
    /// Counted in the DB families only.
    Select,
}

/// The site of a `#[model_op]` function.
pub struct ModelOp {
    model: &'static str,
    op: Op,
    alias: Option<&'static str>,
    vendor: Option<&'static str>,
    /// A bulk execution (`many = ..`), counted in `db_execute_many_total` too.
    bulk: bool,
    handles: OnceLock<DbHandles>,
}

struct DbHandles {
    execute: Counter,
    latency: Histogram,
    /// django-prometheus's `db_query_duration_seconds`, with the profile on.
    query_duration: Option<Histogram>,
    /// django-prometheus's `db_execute_many_total`, for a bulk site with the
    /// profile on.
    execute_many: Option<Counter>,
    model: Option<Counter>,
    errors: String,
    alias: SharedString,
    vendor: SharedString,
}

impl ModelOp {
    /// A site for `model`'s `op`; `alias`/`vendor` override the settings;
    /// `bulk` for `many = ..`.
    pub const fn new(
        model: &'static str,
        op: Op,
        alias: Option<&'static str>,
        vendor: Option<&'static str>,
        bulk: bool,
    ) -> Self {
        ModelOp {
            model,
            op,
            alias,
            vendor,
            bulk,
            handles: OnceLock::new(),
        }
    }

    fn resolve(&self, rt: &Runtime) -> DbHandles {
        let alias: SharedString = self.alias.map_or_else(|| rt.db_alias.clone(), Into::into);
        let vendor: SharedString = self.vendor.map_or_else(|| rt.db_vendor.clone(), Into::into);
        let db_labels = || {
            vec![
                Label::new("alias", alias.clone()),
                Label::new("vendor", vendor.clone()),
            ]
        };
        // Every model's three counters exist from the start, as a Django
        // model's do, so dashboards can sum them before the first write.
        let ops = [
            (Op::Insert, &catalogue::MODEL_INSERTS),
            (Op::Update, &catalogue::MODEL_UPDATES),
            (Op::Delete, &catalogue::MODEL_DELETES),
        ];
        let mut model = None;
        for (op, family) in ops {
            let counter = rt.counter(
                rt.builtin(family),
                vec![Label::from_static_parts("model", self.model)],
            );
            if op == self.op {
                model = Some(counter);
            }
        }
        let query_duration = rt.django_compat.then(|| {
            crate::db::register_connection_counters(rt, &alias, &vendor);
            let family = rt.builtin(&catalogue::compat::DB_QUERY_DURATION);
            rt.histogram(family, db_labels())
        });
        let execute_many = (rt.django_compat && self.bulk).then(|| {
            let family = rt.builtin(&catalogue::compat::DB_EXECUTE_MANY);
            rt.counter(family, db_labels())
        });
        DbHandles {
            execute: rt.counter(rt.builtin(&catalogue::DB_EXECUTE), db_labels()),
            execute_many,
            latency: rt.histogram(rt.builtin(&catalogue::DB_EXECUTE_LATENCY), db_labels()),
            query_duration,
            model,
            errors: rt.builtin(&catalogue::DB_ERRORS),
            alias,
            vendor,
        }
    }

    #[inline]
    fn handles(&'static self) -> Option<&'static DbHandles> {
        resolve(&self.handles, |rt| self.resolve(rt))
    }
}

impl Site for ModelOp {
    fn register(&'static self) {
        self.handles();
    }
}

impl DbHandles {
    #[cold]
    #[inline(never)]
    fn error(&self, error_type: SharedString) {
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

/// Counts one DB execution when created, and records its latency, its
/// error or its model operation when dropped.
pub struct DbGuard {
    handles: Option<&'static DbHandles>,
    /// Statements executed: 1, or `many = ..` of a bulk execution.
    statements: u64,
    start: Instant,
    outcome: Option<Result<(), SharedString>>,
    /// See [`DbGuard::exits`].
    exited: Option<Result<(), SharedString>>,
    polling: AtomicBool,
}

impl DbGuard {
    /// Start an execution of `statements` statements: counted now, failed
    /// or not (a bulk execution counts each statement, as
    /// django-prometheus's `executemany` does).
    #[inline]
    pub fn new(site: &'static ModelOp, statements: u64) -> Self {
        let handles = site.handles();
        if let Some(handles) = handles {
            handles.execute.increment(statements);
            if let Some(execute_many) = &handles.execute_many {
                execute_many.increment(statements);
            }
        }
        DbGuard {
            handles,
            statements,
            start: Instant::now(),
            outcome: None,
            exited: None,
            polling: AtomicBool::new(true),
        }
    }

    /// For a body that runs in place, whose value is not inspected: a call
    /// that ends without a panic has this outcome.
    #[inline]
    pub fn exits(mut self, outcome: Result<(), &'static str>) -> Self {
        self.exited = Some(outcome.map_err(SharedString::const_str));
        self
    }

    /// Set while the body runs; see [`polled`].
    #[inline]
    pub fn polling(&self) -> &AtomicBool {
        &self.polling
    }

    /// The call returned; `Err` carries the error's type label.
    #[inline]
    pub fn returned<E: Into<SharedString>>(&mut self, outcome: Result<(), E>) {
        self.outcome = Some(outcome.map_err(Into::into));
    }
}

impl Drop for DbGuard {
    #[inline]
    fn drop(&mut self) {
        let Some(handles) = self.handles else { return };
        let seconds = self.start.elapsed().as_secs_f64();
        handles.latency.record(seconds);
        if let Some(query_duration) = &handles.query_duration {
            query_duration.record(seconds);
        }
        match self
            .outcome
            .take()
            .or_else(|| exited(self.exited.take(), &self.polling))
        {
            Some(Ok(())) => {
                if let Some(model) = &handles.model {
                    model.increment(self.statements);
                }
            }
            Some(Err(error_type)) => handles.error(error_type),
            None => {
                if Outcome::unfinished(&self.polling) == Outcome::Panic {
                    handles.error(SharedString::const_str("panic"));
                }
            }
        }
    }
}

/// The statement count of `many = ..`.
#[inline]
pub fn statements(count: impl TryInto<u64>) -> u64 {
    count.try_into().unwrap_or(0)
}
