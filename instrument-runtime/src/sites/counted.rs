//! The call site of `#[counted]`.

use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use metrics::{Counter, Label, SharedString};

use super::handles::{resolve, Custom, Indicator, LabelCache, Site, SiteObjectives};
use super::outcome::{exit_outcome, exited, Outcome};
use crate::catalogue::{self, Kind};
use crate::objective::Objective;
use crate::runtime::{self, Runtime};

/// The site of a `#[counted]` function.
pub struct Counted {
    function: &'static str,
    module: &'static str,
    custom: Option<Custom>,
    objectives: &'static [Objective],
    handles: OnceLock<CountedHandles>,
}

enum CountedHandles {
    /// `function_calls_total{function, module, result}` for ok, error, panic.
    Outcomes([Counter; 3]),
    /// A custom family whose labels are all static.
    Single(Counter),
    /// A custom family with per-call label values.
    Dynamic(LabelCache<Counter>),
}

impl Counted {
    /// A site recording `function_calls_total`, or `custom` when given.
    pub const fn new(
        function: &'static str,
        module: &'static str,
        custom: Option<Custom>,
        objectives: &'static [Objective],
    ) -> Self {
        Counted {
            function,
            module,
            custom,
            objectives,
            handles: OnceLock::new(),
        }
    }

    fn resolve(&self, rt: &Runtime) -> CountedHandles {
        match &self.custom {
            None => {
                let name = rt.builtin(&catalogue::FUNCTION_CALLS);
                CountedHandles::Outcomes(std::array::from_fn(|i| {
                    rt.counter(name.clone(), self.outcome_labels(rt, Outcome::LABELS[i]))
                }))
            }
            Some(custom) => {
                rt.describe(custom.name, Kind::Counter, custom.help);
                if custom.is_static() {
                    CountedHandles::Single(rt.counter(custom.name, custom.labels(&[])))
                } else {
                    CountedHandles::Dynamic(LabelCache::new())
                }
            }
        }
    }

    fn outcome_labels(&self, rt: &Runtime, result: &'static str) -> Vec<Label> {
        let mut labels = vec![
            Label::from_static_parts("function", self.function),
            Label::from_static_parts("module", self.module),
        ];
        labels.extend(rt.service_name_label());
        // autometrics carries one objective per function: the first with a
        // success target.
        if let Some(objective) = self.objectives.iter().find(|o| o.success.is_some()) {
            let target = objective.success.expect("found by its success target");
            labels.extend(rt.objective_labels(objective.name, target, None));
        }
        labels.push(Label::from_static_parts("result", result));
        labels
    }

    #[inline]
    fn record(&'static self, outcome: Outcome, labels: &[SharedString]) {
        match resolve(&self.handles, |rt| self.resolve(rt)) {
            Some(CountedHandles::Outcomes(counters)) if outcome != Outcome::Cancelled => {
                counters[outcome as usize].increment(1)
            }
            Some(CountedHandles::Single(counter)) => counter.increment(1),
            Some(CountedHandles::Dynamic(cache)) => self.record_dynamic(cache, labels),
            Some(CountedHandles::Outcomes(_)) => self.record_cold(outcome, labels),
            None => {}
        }
    }

    #[inline(never)]
    fn record_dynamic(&'static self, cache: &LabelCache<Counter>, values: &[SharedString]) {
        let (Some(rt), Some(custom)) = (runtime::get(), &self.custom) else {
            return;
        };
        let counter = cache.get(values, || {
            let (values, folded) =
                rt.cardinality
                    .admit_or_fold(&rt.registry, custom.name, values.to_vec());
            (rt.counter(custom.name, custom.labels(&values)), folded)
        });
        counter.increment(1);
    }

    /// A cancelled call of a site of `function_calls_total`.
    #[cold]
    #[inline(never)]
    fn record_cold(&'static self, outcome: Outcome, _labels: &[SharedString]) {
        let Some(rt) = runtime::get() else { return };
        let name = rt.builtin(&catalogue::FUNCTION_CALLS);
        let labels = self.outcome_labels(rt, Outcome::LABELS[outcome as usize]);
        rt.counter(name, labels).increment(1);
    }
}

impl Site for Counted {
    fn register(&'static self) {
        resolve(&self.handles, |rt| self.resolve(rt));
    }

    fn family(&'static self) -> Option<(&'static Custom, Kind, &'static str)> {
        let custom = self.custom.as_ref()?;
        Some((custom, Kind::Counter, "#[counted]"))
    }

    fn objectives(&'static self) -> Option<SiteObjectives> {
        SiteObjectives::of(
            self.function,
            self.module,
            Indicator::Success,
            self.objectives,
        )
    }
}

/// Counts one call of a `#[counted]` function when dropped.
pub struct CountGuard<L: AsRef<[SharedString]>> {
    site: &'static Counted,
    /// The per-call label values: borrowed from the call's frame (`&[..; N]`),
    /// or owned (`[..; N]`) by a guard that moves into the future a
    /// `-> impl Future` function returns.
    labels: L,
    outcome: Option<Outcome>,
    /// The outcome when the guard is dropped without `returned` and without
    /// a panic of the call (see [`CountGuard::exits`]).
    exited: Option<Outcome>,
    polling: AtomicBool,
}

impl<L: AsRef<[SharedString]>> CountGuard<L> {
    /// Start a call; `labels` are the per-call label values, if any.
    #[inline]
    pub fn new(site: &'static Counted, labels: L) -> Self {
        CountGuard {
            site,
            labels,
            outcome: None,
            exited: None,
            polling: AtomicBool::new(true),
        }
    }

    /// For a body that runs in place, whose value is not inspected: a call
    /// that ends without a panic has this outcome.
    #[inline]
    pub fn exits(mut self, outcome: Result<(), &'static str>) -> Self {
        self.exited = Some(exit_outcome(outcome.is_ok()));
        self
    }

    /// Set while the body runs; see [`polled`].
    #[inline]
    pub fn polling(&self) -> &AtomicBool {
        &self.polling
    }

    /// The call returned; `outcome` comes from the return value's probe.
    #[inline]
    pub fn returned(&mut self, outcome: Result<(), &'static str>) {
        self.outcome = Some(if outcome.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        });
    }
}

impl<L: AsRef<[SharedString]>> Drop for CountGuard<L> {
    #[inline]
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .or_else(|| exited(self.exited, &self.polling))
            .unwrap_or_else(|| Outcome::unfinished(&self.polling));
        self.site.record(outcome, self.labels.as_ref());
    }
}
