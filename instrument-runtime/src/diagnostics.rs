//! What the runtime reports about itself, as `tracing` events with the
//! target `instrument_runtime`: the ecosystem of axum, tower and hyper logs
//! through `tracing`, so these land wherever the application's subscriber
//! sends its own (and in `log` loggers through `tracing`'s `log` feature).
//! Each is said once, or once a minute for a condition that repeats.

use crate::catalogue::OVERFLOW;

/// The target of every event.
pub(crate) const TARGET: &str = "instrument_runtime";

/// A family reached its cardinality limit (said once per family).
pub(crate) fn cardinality_overflow(family: &str, limit: usize) {
    tracing::warn!(
        target: TARGET,
        family,
        limit,
        "{family} reached its limit of {limit} label sets; new label values are counted under \"{OVERFLOW}\""
    );
}

/// A series could not be created: its name clashes with a family of
/// another type (said once per name and type).
pub(crate) fn name_clash(name: &str, kind: &str, clash: &str) {
    tracing::warn!(
        target: TARGET,
        name,
        kind,
        "{clash}; a {kind} named {name} is not recorded"
    );
}

/// The standalone listener's thread could not be started.
#[cfg(feature = "axum")]
pub(crate) fn listener_not_started(error: &std::io::Error) {
    tracing::error!(
        target: TARGET,
        %error,
        "cannot start the /metrics/ listener: {error}"
    );
}

/// The standalone listener cannot accept connections (said once a minute
/// while it lasts).
#[cfg(feature = "axum")]
pub(crate) fn accept_failing(error: &std::io::Error) {
    tracing::warn!(
        target: TARGET,
        %error,
        "the /metrics/ listener cannot accept connections ({error}); retrying"
    );
}

/// The exporter's upkeep thread could not be started.
#[cfg(feature = "metrics-exporter-prometheus")]
pub(crate) fn upkeep_not_started(error: &std::io::Error) {
    tracing::error!(
        target: TARGET,
        %error,
        "cannot start the upkeep of metrics-exporter-prometheus: {error}; its histograms grow until scraped"
    );
}

/// The listener's certificate files changed and were read again.
#[cfg(feature = "tls")]
pub(crate) fn tls_reloaded() {
    tracing::info!(
        target: TARGET,
        "the /metrics/ listener's certificate files changed; new connections use them"
    );
}

/// The listener's certificate files changed but cannot be used (said once
/// per change); the certificate in use is kept.
#[cfg(feature = "tls")]
pub(crate) fn tls_reload_failed(reason: &str) {
    tracing::error!(
        target: TARGET,
        reason,
        "the /metrics/ listener's changed certificate files cannot be used ({reason}); it keeps serving the previous certificate"
    );
}
