//! HTTP: the layer that records every request, and `/metrics/`, mounted
//! on the application's router or on a listener of its own.

mod endpoint;
pub(crate) mod layer;
pub(crate) mod listener;

pub use self::endpoint::{metrics_handler, metrics_router, CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE};
pub use self::layer::{HttpMetrics, HttpMetricsFuture, HttpMetricsLayer};
