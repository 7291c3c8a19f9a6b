//! Installing: the settings checked, the credentials read and the listener
//! bound, then the recorder the application chose put in place, every
//! call site registered with it, and the listener started.

use std::sync::Arc;

use crate::access::Access;
use crate::catalogue::{self, Kind};
use crate::objective::{Attached, Objective, Subject};
use crate::runtime::{self, Cardinality, Registry, Runtime};
use crate::sites::Indicator;
use crate::store::{Store, StoreRecorder};
use crate::{Builder, Error, Metrics};

impl Builder {
    /// Install this crate's recorder with these settings, as the global
    /// recorder of the `metrics` facade. See [`install`](crate::install).
    ///
    /// # Errors
    ///
    /// A setting that cannot be used, the listener that cannot be bound, or
    /// [`Error::AlreadyInstalled`]. Nothing is installed then.
    ///
    /// ```
    /// #[instrument_runtime::counted]
    /// fn checkout() {}
    ///
    /// let metrics = instrument_runtime::Builder::new()
    ///     .namespace("shop")
    ///     .install()?;
    /// checkout();
    /// let module = module_path!();
    /// assert!(metrics.render().contains(&format!(
    ///     r#"shop_function_calls_total{{function="checkout",module="{module}",result="ok"}} 1"#
    /// )));
    /// // Once per process.
    /// assert!(matches!(
    ///     instrument_runtime::Builder::new().install(),
    ///     Err(instrument_runtime::Error::AlreadyInstalled)
    /// ));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn install(self) -> Result<Metrics, Error> {
        self.install_with(|ours| ours)
    }

    /// Install this crate's recorder inside a composition of recorders:
    /// `compose` receives it and returns the recorder to install as the
    /// global one, for example a metrics-util fanout that also sends every
    /// value to another exporter, or a layer around it. Call sites and the
    /// HTTP layer register their handles through the composition; the
    /// returned [`Metrics`](Metrics) (and `/metrics/`) render this
    /// crate's part.
    ///
    /// ```
    /// use instrument_runtime::counted;
    /// use metrics_util::layers::FanoutBuilder;
    /// use metrics_util::debugging::DebuggingRecorder;
    ///
    /// #[counted]
    /// fn ping() {}
    ///
    /// let other = DebuggingRecorder::new();
    /// let snapshotter = other.snapshotter();
    /// let metrics = instrument_runtime::Builder::new()
    ///     .install_with(|ours| FanoutBuilder::default().add_recorder(ours).add_recorder(other).build())
    ///     .unwrap();
    /// ping();
    /// // `module` is the module path of the function (`module_path!()`).
    /// let module = module_path!();
    /// assert!(metrics.render().contains(&format!(r#"function_calls_total{{function="ping",module="{module}",result="ok"}} 1"#)));
    /// assert!(snapshotter.snapshot().into_vec().iter().any(|(key, ..)| key.key().name() == "function_calls_total"));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`install`](Self::install).
    pub fn install_with<R>(self, compose: impl FnOnce(StoreRecorder) -> R) -> Result<Metrics, Error>
    where
        R: metrics::Recorder + Sync + 'static,
    {
        self.validate()?;
        let access = Access::resolve(&self)?;
        let store = Arc::new(store(&self));
        let metrics = Metrics::store(Arc::clone(&store));
        let recorder = compose(StoreRecorder::new(store));
        #[cfg(feature = "exemplars")]
        let exemplars = self.exemplars;
        install_runtime(
            self,
            access,
            Target::install(recorder, Some(metrics.clone())),
        )?;
        #[cfg(feature = "exemplars")]
        if let Some(current) = exemplars {
            crate::store::exemplar::set_source(current);
        }
        Ok(metrics)
    }

    /// Install a recorder of another crate (a Datadog, StatsD or
    /// OpenTelemetry exporter, metrics-util's `DebuggingRecorder`, ...) as
    /// the global recorder, and record every annotated function and the HTTP
    /// layer into it, with these settings' namespace, profile, database
    /// labels and cardinality limits.
    ///
    /// Histogram buckets and global labels are that recorder's own
    /// settings: setting them here is an error. `/metrics/` answers
    /// `501 Not Implemented`, since the page (if any) is that exporter's.
    ///
    /// ```
    /// use instrument_runtime::counted;
    /// use metrics_util::debugging::DebuggingRecorder;
    ///
    /// #[counted]
    /// fn ping() {}
    ///
    /// let recorder = DebuggingRecorder::new();
    /// let snapshotter = recorder.snapshotter();
    /// instrument_runtime::Builder::new().install_recorder(recorder).unwrap();
    /// ping();
    /// let calls = snapshotter.snapshot().into_vec();
    /// assert!(calls.iter().any(|(key, ..)| key.key().name() == "function_calls_total"));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`install`](Self::install), and [`Error::InvalidSetting`] for a
    /// bucket or global-label setting.
    pub fn install_recorder<R>(self, recorder: R) -> Result<(), Error>
    where
        R: metrics::Recorder + Sync + 'static,
    {
        self.validate()?;
        self.validate_foreign()?;
        let access = Access::resolve(&self)?;
        install_runtime(self, access, Target::install(recorder, None))
    }

    /// Record every annotated function and the HTTP layer into the global
    /// recorder that another crate has installed already (an exporter's own
    /// `install()`, axum-prometheus's layer, ...), with these settings'
    /// namespace, profile, database labels and cardinality limits.
    ///
    /// Histogram buckets and global labels are that recorder's own
    /// settings: setting them here is an error. `/metrics/` answers
    /// `501 Not Implemented`, since the page (if any) is that exporter's.
    ///
    /// ```
    /// use instrument_runtime::counted;
    /// use metrics_util::debugging::DebuggingRecorder;
    ///
    /// #[counted]
    /// fn ping() {}
    ///
    /// let recorder = DebuggingRecorder::new();
    /// let snapshotter = recorder.snapshotter();
    /// recorder.install().unwrap();
    /// instrument_runtime::Builder::new().attach().unwrap();
    /// ping();
    /// let calls = snapshotter.snapshot().into_vec();
    /// assert!(calls.iter().any(|(key, ..)| key.key().name() == "function_calls_total"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NoRecorder`] when no global recorder is installed (a
    /// recorder type of zero size cannot be told from none: pass it to
    /// [`install_recorder`](Self::install_recorder) instead),
    /// [`Error::AlreadyInstalled`] when this crate is installed or attached
    /// already, and the errors of [`install_recorder`](Self::install_recorder).
    pub fn attach(self) -> Result<(), Error> {
        self.validate()?;
        self.validate_foreign()?;
        let access = Access::resolve(&self)?;
        install_runtime(self, access, Target::global(None))
    }
}

/// The recorder the application chose, and the page it renders, if it does.
pub(crate) struct Target {
    /// Installs the recorder as the global one (`false` when one is
    /// installed already); `None` for the global recorder another crate
    /// has installed.
    install: Option<Box<dyn FnOnce() -> bool>>,
    metrics: Option<Metrics>,
}

impl Target {
    /// `recorder`, to install as the global one.
    pub(crate) fn install<R>(recorder: R, metrics: Option<Metrics>) -> Target
    where
        R: metrics::Recorder + Sync + 'static,
    {
        Target {
            install: Some(Box::new(move || {
                metrics::set_global_recorder(recorder).is_ok()
            })),
            metrics,
        }
    }

    /// The global recorder another crate has installed.
    pub(crate) fn global(metrics: Option<Metrics>) -> Target {
        Target {
            install: None,
            metrics,
        }
    }
}

/// The store that `settings` describe: its buckets and global labels.
pub(crate) fn store(settings: &Builder) -> Store {
    Store::new(
        &settings.buckets,
        family_buckets(settings),
        settings.global_labels.clone(),
    )
}

/// The buckets of the families that do not have the default ones, by full
/// name: the package's body-size buckets with the profile, then the
/// settings' (later entries win).
pub(crate) fn family_buckets(settings: &Builder) -> Vec<(String, Vec<f64>)> {
    let compat_buckets = [
        &catalogue::compat::REQUEST_BODY_BYTES,
        &catalogue::compat::RESPONSE_BODY_BYTES,
    ]
    .into_iter()
    .filter(|_| settings.django_compat)
    .map(|family| (family.name.to_owned(), catalogue::BYTES_BUCKETS.to_vec()));
    compat_buckets
        .chain(settings.family_buckets.iter().cloned())
        .map(|(family, buckets)| (catalogue::full_name(&settings.namespace, &family), buckets))
        .collect()
}

pub(crate) fn install_runtime(
    settings: Builder,
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))] mut access: Access,
    target: Target,
) -> Result<(), Error> {
    if runtime::get().is_some() {
        return Err(Error::AlreadyInstalled);
    }
    check_families(&settings)?;
    let objectives = attach_objectives(&settings)?;
    // Bind before installing, so a bad address leaves nothing installed.
    #[cfg(feature = "axum")]
    let listener = match settings.listen {
        Some(addr) => {
            #[cfg(feature = "tls")]
            let tls = match access.web.tls.take() {
                Some((tls, setting, origin)) => Some(std::sync::Arc::new(
                    crate::tls::TlsServer::new(tls).map_err(|reason| Error::InvalidSetting {
                        setting,
                        reason: match origin {
                            Some(path) => format!("{}: {reason}", path.display()),
                            None => reason,
                        },
                    })?,
                )),
                None => None,
            };
            #[cfg(not(feature = "tls"))]
            let tls = None;
            Some(
                std::net::TcpListener::bind(addr)
                    .and_then(|tcp| {
                        crate::http::listener::Standalone::prepare(tcp, settings.listen_limits, tls)
                    })
                    .map_err(|source| Error::Listen { addr, source })?,
            )
        }
        None => None,
    };
    let limits = settings.family_cardinality_limits.iter();
    let limits =
        limits.map(|(family, limit)| (catalogue::full_name(&settings.namespace, family), *limit));
    let cardinality = Cardinality::new(settings.cardinality_limit, limits.collect());
    if let Some(install) = target.install {
        if !install() {
            return Err(Error::AlreadyInstalled);
        }
    }
    let build_info = settings.build_info;
    // As OpenTelemetry's SDKs read it, unless the program names the service.
    let service_name = settings.service_name.or_else(|| {
        std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|name| !name.is_empty())
    });
    let registry = Registry::global(settings.namespace).ok_or(Error::NoRecorder)?;
    let runtime = runtime::set(Runtime {
        registry,
        metrics: target.metrics,
        db_alias: settings.db_alias.into(),
        db_vendor: settings.db_vendor.into(),
        service_name: service_name.clone().map(metrics::SharedString::from),
        objectives,
        django_compat: settings.django_compat,
        cardinality,
        access,
        databases: Default::default(),
    })?;
    crate::db::cover_pending(runtime);
    if let Some(info) = build_info {
        let name = runtime.builtin(&catalogue::BUILD_INFO);
        let labels = info
            .labels(service_name)
            .map(|(key, value)| metrics::Label::new(key, value));
        runtime.gauge(name, labels.into()).set(1.0);
    }
    if runtime.django_compat {
        // The package lists all its families, with HELP and TYPE, from the start.
        for family in catalogue::compat::ALL {
            runtime.builtin(family);
        }
    }
    // The layer's families have HELP and TYPE from the start when a layer is
    // built already, and with the profile (the package's unlabelled HTTP
    // series exist from the start) even before one is.
    #[cfg(feature = "axum")]
    crate::http::layer::register(runtime.django_compat);
    for site in crate::sites::SITES {
        site.register();
    }
    #[cfg(feature = "axum")]
    if let Some(listener) = listener {
        // Only a failure to spawn a thread is left; metrics work without it.
        if let Err(error) = listener.spawn() {
            crate::diagnostics::listener_not_started(&error);
        }
    }
    Ok(())
}

/// The buckets of the built-in histogram `family`, as the settings give it.
fn bounds<'a>(settings: &'a Builder, family: &catalogue::Family) -> &'a [f64] {
    settings
        .family_buckets
        .iter()
        .rev()
        .find(|(name, _)| name == family.name)
        .map_or(&settings.buckets, |(_, buckets)| buckets)
}

/// Every objective of the program's call sites and HTTP routes, checked:
/// each part of an objective is measured where it is attached, its latency
/// threshold is a boundary of the family's buckets, and one name means one
/// objective.
fn attach_objectives(settings: &Builder) -> Result<Vec<Attached>, Error> {
    let mut attached: Vec<(Attached, Vec<Indicator>)> = Vec::new();
    let mut add = |objective: Objective, subject: Subject, indicator: Indicator| match attached
        .iter_mut()
        .find(|(a, _)| a.objective.name == objective.name && a.subject == subject)
    {
        Some((_, indicators)) => indicators.push(indicator),
        None => attached.push((Attached { objective, subject }, vec![indicator])),
    };
    for site in crate::sites::SITES {
        let Some(site) = site.objectives() else {
            continue;
        };
        let subject = Subject::Function {
            function: site.function,
            module: site.module,
        };
        for &objective in site.objectives {
            add(objective, subject.clone(), site.indicator);
        }
    }
    for (route, objective) in &settings.http_objectives {
        let subject = Subject::route(route).map_err(|reason| Error::Objective {
            objective: objective.name,
            target: format!("route {route}"),
            reason,
        })?;
        add(*objective, subject.clone(), Indicator::Success);
        add(*objective, subject, Indicator::Latency);
    }
    // The linker's order is no order: sort, so that errors and rules come
    // out the same in every build.
    attached.sort_by(|(a, _), (b, _)| {
        (a.objective.name, &a.subject).cmp(&(b.objective.name, &b.subject))
    });
    for (i, (a, indicators)) in attached.iter().enumerate() {
        let error = |reason: String| Error::Objective {
            objective: a.objective.name,
            target: match &a.subject {
                Subject::Function { .. } => format!("function {}", a.subject),
                Subject::Route { .. } => format!("route {}", a.subject),
            },
            reason,
        };
        if let Some((other, _)) = attached[..i].iter().find(|(other, _)| {
            other.objective.name == a.objective.name && other.objective != a.objective
        }) {
            return Err(error(format!(
                "another objective of that name, with other targets, holds {}: {:?} and {:?}",
                other.subject, other.objective, a.objective
            )));
        }
        let measured = |indicator| indicators.contains(&indicator);
        let function = matches!(a.subject, Subject::Function { .. });
        if a.objective.success.is_some() && !measured(Indicator::Success) {
            return Err(error(
                "its success target is measured by #[counted]: add #[counted(objective = ..)] to the function".to_owned(),
            ));
        }
        if a.objective.success.is_none() && measured(Indicator::Success) && function {
            return Err(error(
                "#[counted] measures an objective's success target, and this one has none"
                    .to_owned(),
            ));
        }
        match a.objective.latency {
            Some(latency) => {
                if !measured(Indicator::Latency) {
                    return Err(error(
                        "its latency target is measured by #[timed]: add #[timed(objective = ..)] to the function".to_owned(),
                    ));
                }
                let family = match function {
                    true => &catalogue::FUNCTION_DURATION,
                    false => &catalogue::HTTP_LATENCY,
                };
                let bounds = bounds(settings, family);
                let seconds = latency.threshold.as_secs_f64();
                if !bounds.contains(&seconds) {
                    return Err(error(format!(
                        "the latency threshold {seconds} s is not a bucket boundary of {}: it lies {}",
                        catalogue::prefixed(&settings.namespace, family.name),
                        crate::objective::nearest(bounds, seconds)
                    )));
                }
            }
            None if measured(Indicator::Latency) && function => {
                return Err(error(
                    "#[timed] measures an objective's latency target, and this one has none"
                        .to_owned(),
                ));
            }
            None => {}
        }
    }
    Ok(attached.into_iter().map(|(a, _)| a).collect())
}

/// One family the page may hold, and where it comes from.
struct Declared {
    name: String,
    kind: Kind,
    origin: String,
}

/// Every family the program's call sites and the catalogue may put on the
/// page, checked pairwise for what a Prometheus parser rejects: one name
/// used as two types, or a family named like the samples of another.
fn check_families(settings: &Builder) -> Result<(), Error> {
    let build_info = settings.build_info.as_ref().map(|_| &catalogue::BUILD_INFO);
    let builtin = catalogue::ALL
        .iter()
        .chain(
            catalogue::compat::ALL
                .iter()
                .filter(|_| settings.django_compat),
        )
        .chain(build_info);
    let mut declared: Vec<Declared> = builtin
        .map(|family| {
            let name = catalogue::prefixed(&settings.namespace, family.name);
            Declared {
                origin: format!("the built-in {} `{name}`", family.kind.name()),
                name,
                kind: family.kind,
            }
        })
        .collect();
    for site in crate::sites::SITES {
        if let Some((custom, kind, attribute)) = site.family() {
            let origin = format!(
                "the {} `{}` of {attribute} at {}",
                kind.name(),
                custom.name,
                custom.location
            );
            if !declared.iter().any(|d| d.origin == origin) {
                declared.push(Declared {
                    name: custom.name.to_owned(),
                    kind,
                    origin,
                });
            }
        }
    }
    let mut collisions = Vec::new();
    for (i, a) in declared.iter().enumerate() {
        for b in &declared[i + 1..] {
            // The family whose samples are taken first; else in the order
            // of their origins, so that the message does not depend on the
            // order in which the linker gathered the sites.
            let (first, second) = match a.origin <= b.origin {
                true => (a, b),
                false => (b, a),
            };
            let found = if first.name == second.name {
                collision(first, second).map(|why| (first, second, why))
            } else if let Some(why) = collision(second, first) {
                Some((second, first, why))
            } else {
                collision(first, second).map(|why| (first, second, why))
            };
            if let Some((x, y, why)) = found {
                collisions.push(format!("{} and {}: {why}", x.origin, y.origin));
            }
        }
    }
    if collisions.is_empty() {
        Ok(())
    } else {
        Err(Error::FamilyCollision { collisions })
    }
}

/// Why `a` and `b` cannot both be on the page, if they cannot.
fn collision(a: &Declared, b: &Declared) -> Option<String> {
    if a.name == b.name && a.kind != b.kind {
        return Some("one name, two types".to_owned());
    }
    // The samples of the text format (0.0.4) that are not the family's
    // own name.
    let samples: &[&str] = match a.kind {
        Kind::Histogram => &["_bucket", "_sum", "_count"],
        Kind::Counter | Kind::Gauge => &[],
    };
    samples
        .iter()
        .find(|suffix| b.name == format!("{}{suffix}", a.name))
        .map(|suffix| {
            format!(
                "`{}` is also a sample of the {} `{}` ({}{suffix})",
                b.name,
                a.kind.name(),
                a.name,
                a.name
            )
        })
}
