//! The call site of `#[model_op]`.

use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use metrics::{Counter, Label, SharedString};
use quanta::Instant;

use super::handles::{resolve, Site};
use super::outcome::{exited, Outcome};
use crate::catalogue;
use crate::db::Statements;
use crate::runtime::{Runtime, Traced};

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
    statements: Statements,
    /// django-prometheus's `db_execute_many_total`, for a bulk site with the
    /// profile on.
    execute_many: Option<Counter>,
    model: Option<Counter>,
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
        let execute_many = (rt.django_compat && self.bulk).then(|| {
            let family = rt.builtin(&catalogue::compat::DB_EXECUTE_MANY);
            rt.counter(family, db_labels())
        });
        DbHandles {
            statements: Statements::new(rt, alias, vendor),
            execute_many,
            model,
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
    /// Next to an integration that records on the calling thread: what it
    /// had recorded on this thread when the call started.
    traced: Option<Traced>,
}

impl DbGuard {
    /// Start an execution of `statements` statements: counted now, failed
    /// or not (a bulk execution counts each statement, as
    /// django-prometheus's `executemany` does).
    #[inline]
    pub fn new(site: &'static ModelOp, statements: u64) -> Self {
        let handles = site.handles();
        let mut traced = None;
        if let Some(handles) = handles {
            // Next to an integration, which counts each statement itself,
            // the call counts in the families the integration does not.
            let coverage = handles.statements.coverage;
            if !coverage.statements() {
                handles.statements.executed(statements);
            } else if coverage.same_thread() {
                traced = Some(Traced::now());
            }
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
            traced,
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
        let statements = &handles.statements;
        let start = self.start;
        let seconds = move || start.elapsed().as_secs_f64();
        if !statements.coverage.statements() {
            statements.took(seconds());
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
            Some(Err(error_type)) => {
                // What the integration saw of the call, when it records on
                // this thread.
                let seen = self.traced.and_then(Traced::since);
                if seen.is_some_and(|(ran, _)| ran == 0) {
                    // The error came before a statement ran (SQL that does
                    // not prepare, a parameter that does not bind): the call
                    // counts as the execution, as without an integration.
                    statements.executed(self.statements);
                    statements.took(seconds());
                }
                // An integration that names errors has named this one,
                // unless it saw the call fail nowhere (diesel reports no
                // error for a query that fails while rows are read).
                let named =
                    statements.coverage.errors() && seen.is_none_or(|(_, failed)| failed > 0);
                if !named {
                    statements.failed(error_type);
                }
            }
            None => {
                if Outcome::unfinished(&self.polling) == Outcome::Panic {
                    handles.statements.failed(SharedString::const_str("panic"));
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
