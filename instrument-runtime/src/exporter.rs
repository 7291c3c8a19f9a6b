//! metrics-exporter-prometheus as the backend (feature
//! `metrics-exporter-prometheus`): the call sites and the HTTP layer record
//! into its recorder, and `/metrics/` serves its page.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::install::{family_buckets, install_runtime, Target};
use crate::{catalogue, Builder, Error, Metrics};

/// How often the exporter's histograms are folded into their buckets, as
/// the exporter's own `install()` does.
const UPKEEP: Duration = Duration::from_secs(5);

impl Builder {
    /// Install metrics-exporter-prometheus's recorder, built from
    /// `exporter`, as the global recorder, and record every annotated
    /// function and the HTTP layer into it.
    ///
    /// Every histogram family of this crate (the built-in ones and those of
    /// `#[timed(name = "..")]`) gets these settings' buckets, so it is
    /// rendered as a histogram, never as a summary; the settings' global
    /// labels are added to the exporter's. `/metrics/` and the standalone
    /// listener serve the exporter's page, behind the same protection. A
    /// thread runs the exporter's upkeep every 5 seconds, as its own
    /// `install()` does.
    ///
    /// ```
    /// use instrument_runtime::counted;
    /// use metrics_exporter_prometheus::PrometheusBuilder;
    ///
    /// #[counted]
    /// fn ping() {}
    ///
    /// let metrics = instrument_runtime::Builder::new()
    ///     .install_prometheus(PrometheusBuilder::new())
    ///     .unwrap();
    /// ping();
    /// // `module` is the module path of the function (`module_path!()`).
    /// let module = module_path!();
    /// assert!(metrics.render().contains(&format!(r#"function_calls_total{{function="ping",module="{module}",result="ok"}} 1"#)));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`install`](Self::install), and [`Error::InvalidSetting`] when
    /// the exporter refuses a bucket setting.
    pub fn install_prometheus(self, exporter: PrometheusBuilder) -> Result<Metrics, Error> {
        self.validate()?;
        let access = crate::access::Access::resolve(&self)?;
        let exporter = self.configure(exporter)?;
        let recorder = exporter.build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics::prometheus(handle.clone());
        install_runtime(
            self,
            access,
            Target::install(recorder, Some(metrics.clone())),
        )?;
        let upkeep = std::thread::Builder::new()
            .name("instrument-runtime-upkeep".to_owned())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP);
                handle.run_upkeep();
            });
        if let Err(error) = upkeep {
            crate::diagnostics::upkeep_not_started(&error);
        }
        Ok(metrics)
    }

    /// Record every annotated function and the HTTP layer into the
    /// metrics-exporter-prometheus recorder that the application has
    /// installed already (with the exporter's own `install_recorder()`, or
    /// through axum-prometheus), and serve its page, from `handle`, on
    /// `/metrics/`.
    ///
    /// The exporter keeps its own buckets: give this crate's histogram
    /// families buckets there (`PrometheusBuilder::set_buckets` or
    /// `set_buckets_for_metric`), or they are rendered as summaries.
    ///
    /// ```
    /// use instrument_runtime::timed;
    /// use metrics_exporter_prometheus::PrometheusBuilder;
    ///
    /// #[timed]
    /// fn render_invoice() {}
    ///
    /// // The application's own exporter, installed its own way.
    /// let handle = PrometheusBuilder::new()
    ///     .set_buckets(&[0.05, 0.5])
    ///     .unwrap()
    ///     .install_recorder()
    ///     .unwrap();
    /// let metrics = instrument_runtime::Builder::new()
    ///     .attach_prometheus(handle)
    ///     .unwrap();
    /// render_invoice();
    /// let page = metrics.render();
    /// assert!(page.contains("# TYPE function_calls_duration_seconds histogram"));
    /// assert!(page.contains(r#"function="render_invoice""#));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`attach`](Self::attach).
    pub fn attach_prometheus(self, handle: PrometheusHandle) -> Result<Metrics, Error> {
        self.validate()?;
        self.validate_foreign()?;
        let access = crate::access::Access::resolve(&self)?;
        let metrics = Metrics::prometheus(handle);
        install_runtime(self, access, Target::global(Some(metrics.clone())))?;
        Ok(metrics)
    }

    /// `exporter` with this crate's buckets for each of its histogram
    /// families, and the global labels.
    fn configure(&self, mut exporter: PrometheusBuilder) -> Result<PrometheusBuilder, Error> {
        let own = family_buckets(self);
        let builtin = catalogue::ALL.iter().chain(catalogue::compat::ALL);
        let builtin = builtin
            .filter(|family| family.kind == catalogue::Kind::Histogram)
            .map(|family| catalogue::full_name(&self.namespace, family.name));
        let custom = crate::sites::SITES
            .iter()
            .filter_map(|site| site.family())
            .filter(|(_, kind, _)| *kind == catalogue::Kind::Histogram)
            .map(|(custom, ..)| custom.name.to_owned());
        let named = own.iter().map(|(family, _)| family.clone());
        for name in builtin.chain(custom).chain(named) {
            let buckets = own
                .iter()
                .rev()
                .find(|(family, _)| *family == name)
                .map_or(self.buckets.as_slice(), |(_, buckets)| buckets.as_slice());
            exporter = exporter
                .set_buckets_for_metric(Matcher::Full(name), buckets)
                .map_err(|error| Error::InvalidSetting {
                    setting: "buckets",
                    reason: error.to_string(),
                })?;
        }
        for (name, value) in &self.global_labels {
            exporter = exporter.add_global_label(name, value);
        }
        Ok(exporter)
    }
}
