//! What every call site shares: its registration at link time, the
//! families a macro names itself, and the resolution of handles once a
//! recorder is installed.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use metrics::{Label, SharedString};

use crate::catalogue::Kind;
use crate::objective::Objective;
use crate::runtime::{self, Runtime};

/// Every annotated call site in the program, gathered by the linker.
#[linkme::distributed_slice]
pub static SITES: [&'static dyn Site];

/// A call site that can resolve its handles once a recorder is installed.
pub trait Site: Sync {
    /// Resolve the handles (creating the statically known series at 0).
    fn register(&'static self);

    /// The family of its own that the site records into, if any
    /// (`name = ".."`), with its type and the attribute's name: checked
    /// against every other family at `install()`, and given its buckets by
    /// a backend that sets them by name.
    fn family(&'static self) -> Option<(&'static Custom, Kind, &'static str)> {
        None
    }

    /// The objectives attached to the site (`objective = ..`), and what it
    /// measures of them.
    fn objectives(&'static self) -> Option<SiteObjectives> {
        None
    }
}

/// What a call site or route measures of an objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Indicator {
    /// The share of calls that succeed.
    Success,
    /// The share of calls within the latency threshold.
    Latency,
}

/// The objectives of one call site: the function's calls (`#[counted]`,
/// their success) or durations (`#[timed]`, their latency).
#[derive(Clone, Copy, Debug)]
pub struct SiteObjectives {
    /// The `function` label.
    pub function: &'static str,
    /// The `module` label.
    pub module: &'static str,
    /// What the site measures of each objective.
    pub indicator: Indicator,
    /// The objectives, in the attribute's order.
    pub objectives: &'static [Objective],
}

impl SiteObjectives {
    /// The objectives of a site, `None` when it has none.
    pub(super) fn of(
        function: &'static str,
        module: &'static str,
        indicator: Indicator,
        objectives: &'static [Objective],
    ) -> Option<SiteObjectives> {
        (!objectives.is_empty()).then_some(SiteObjectives {
            function,
            module,
            indicator,
            objectives,
        })
    }
}

/// A family named by the user (`name = ".."` in a macro).
#[derive(Debug)]
pub struct Custom {
    /// The family name, used as written (no namespace).
    pub name: &'static str,
    /// The HELP text.
    pub help: &'static str,
    /// Label names in order, with their value when it is known at compile
    /// time; `None` marks a value computed per call from the arguments.
    pub labels: &'static [(&'static str, Option<&'static str>)],
    /// Where the family is named: `file:line` of `name = ".."`.
    pub location: &'static str,
}

impl Custom {
    pub(super) fn is_static(&self) -> bool {
        self.labels.iter().all(|(_, value)| value.is_some())
    }

    /// The label set of one call: static values from the site, dynamic ones
    /// from `values`, in declaration order.
    pub(super) fn labels(&self, values: &[SharedString]) -> Vec<Label> {
        let mut values = values.iter();
        self.labels
            .iter()
            .map(|&(name, value)| match value {
                Some(value) => Label::from_static_parts(name, value),
                None => Label::new(name, values.next().cloned().unwrap_or_default()),
            })
            .collect()
    }
}

/// Turn a label expression's value into a label value.
pub fn label<T: std::fmt::Display + ?Sized>(value: &T) -> SharedString {
    SharedString::from(value.to_string())
}

/// Resolve a site's handles: now if installed, otherwise nothing (and try
/// again on the next call).
#[inline]
pub(super) fn resolve<H>(
    cell: &'static OnceLock<H>,
    init: impl FnOnce(&'static Runtime) -> H,
) -> Option<&'static H> {
    match cell.get() {
        Some(handles) => Some(handles),
        None => resolve_cold(cell, init),
    }
}

#[cold]
#[inline(never)]
fn resolve_cold<H>(
    cell: &'static OnceLock<H>,
    init: impl FnOnce(&'static Runtime) -> H,
) -> Option<&'static H> {
    let runtime = runtime::get()?;
    Some(cell.get_or_init(|| init(runtime)))
}

/// The handles of the label sets a site with per-call label values has
/// seen, found by the values alone: a repeated label set costs one hash
/// lookup under a read lock. Bounded by the family's cardinality limit:
/// folded label sets are not kept.
pub(super) struct LabelCache<H>(RwLock<HashMap<Box<[SharedString]>, H>>);

impl<H: Clone> LabelCache<H> {
    pub(super) fn new() -> Self {
        LabelCache(RwLock::new(HashMap::new()))
    }

    /// The handle of `values`, or `resolve`'s (kept unless it says the
    /// values were folded into the overflow set).
    pub(super) fn get(&self, values: &[SharedString], resolve: impl FnOnce() -> (H, bool)) -> H {
        if let Some(handle) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(values) {
            return handle.clone();
        }
        let (handle, folded) = resolve();
        if !folded {
            let mut cache = self.0.write().unwrap_or_else(|e| e.into_inner());
            cache.entry(values.into()).or_insert_with(|| handle.clone());
        }
        handle
    }
}
