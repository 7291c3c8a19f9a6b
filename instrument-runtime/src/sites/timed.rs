//! The call site of `#[timed]`.

use std::sync::OnceLock;

use metrics::{Histogram, Label, SharedString};
use quanta::Instant;

use super::handles::{resolve, Custom, Indicator, LabelCache, Site, SiteObjectives};
use crate::catalogue::{self, Kind};
use crate::objective::Objective;
use crate::runtime::{self, Runtime};

/// The site of a `#[timed]` function.
pub struct Timed {
    function: &'static str,
    module: &'static str,
    custom: Option<Custom>,
    objectives: &'static [Objective],
    /// `Err` when the label values are computed per call.
    handles: OnceLock<Result<Histogram, LabelCache<Histogram>>>,
}

impl Timed {
    /// A site recording `function_calls_duration_seconds`, or `custom` when given.
    pub const fn new(
        function: &'static str,
        module: &'static str,
        custom: Option<Custom>,
        objectives: &'static [Objective],
    ) -> Self {
        Timed {
            function,
            module,
            custom,
            objectives,
            handles: OnceLock::new(),
        }
    }

    fn resolve(&self, rt: &Runtime) -> Result<Histogram, LabelCache<Histogram>> {
        match &self.custom {
            None => {
                let name = rt.builtin(&catalogue::FUNCTION_DURATION);
                let mut labels = vec![
                    Label::from_static_parts("function", self.function),
                    Label::from_static_parts("module", self.module),
                ];
                labels.extend(rt.service_name_label());
                // autometrics carries one objective per function: the
                // first with a latency target.
                let latency = self
                    .objectives
                    .iter()
                    .find_map(|o| Some((o.name, o.latency?)));
                if let Some((objective, latency)) = latency {
                    let threshold = Some(latency.threshold);
                    labels.extend(rt.objective_labels(objective, latency.target, threshold));
                }
                Ok(rt.histogram(name, labels))
            }
            Some(custom) => {
                rt.describe(custom.name, Kind::Histogram, custom.help);
                if custom.is_static() {
                    Ok(rt.histogram(custom.name, custom.labels(&[])))
                } else {
                    Err(LabelCache::new())
                }
            }
        }
    }

    #[inline]
    fn record(&'static self, seconds: f64, labels: &[SharedString]) {
        match resolve(&self.handles, |rt| self.resolve(rt)) {
            Some(Ok(histogram)) => histogram.record(seconds),
            Some(Err(cache)) => self.record_dynamic(cache, seconds, labels),
            None => {}
        }
    }

    #[inline(never)]
    fn record_dynamic(
        &'static self,
        cache: &LabelCache<Histogram>,
        seconds: f64,
        values: &[SharedString],
    ) {
        let (Some(rt), Some(custom)) = (runtime::get(), &self.custom) else {
            return;
        };
        let histogram = cache.get(values, || {
            let (values, folded) =
                rt.cardinality
                    .admit_or_fold(&rt.registry, custom.name, values.to_vec());
            (rt.histogram(custom.name, custom.labels(&values)), folded)
        });
        histogram.record(seconds);
    }
}

impl Site for Timed {
    fn register(&'static self) {
        resolve(&self.handles, |rt| self.resolve(rt));
    }

    fn family(&'static self) -> Option<(&'static Custom, Kind, &'static str)> {
        let custom = self.custom.as_ref()?;
        Some((custom, Kind::Histogram, "#[timed]"))
    }

    fn objectives(&'static self) -> Option<SiteObjectives> {
        SiteObjectives::of(
            self.function,
            self.module,
            Indicator::Latency,
            self.objectives,
        )
    }
}

/// Records the duration of one call of a `#[timed]` function when dropped,
/// whether it returned, panicked or was cancelled.
pub struct TimeGuard<L: AsRef<[SharedString]>> {
    site: &'static Timed,
    /// The per-call label values: borrowed from the call's frame (`&[..; N]`),
    /// or owned (`[..; N]`) by a guard that moves into the future a
    /// `-> impl Future` function returns.
    labels: L,
    start: Instant,
}

impl<L: AsRef<[SharedString]>> TimeGuard<L> {
    /// Start timing a call.
    #[inline]
    pub fn new(site: &'static Timed, labels: L) -> Self {
        TimeGuard {
            site,
            labels,
            start: Instant::now(),
        }
    }
}

impl<L: AsRef<[SharedString]>> Drop for TimeGuard<L> {
    #[inline]
    fn drop(&mut self) {
        self.site
            .record(self.start.elapsed().as_secs_f64(), self.labels.as_ref());
    }
}
