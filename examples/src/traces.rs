//! Traces: every request is a `tracing` span, an OpenTelemetry span of the
//! caller's trace when the request carries a W3C `traceparent` header and
//! of a new trace otherwise. The HTTP layer's latency buckets and the
//! handlers' counters and histograms carry the newest traced value as an
//! exemplar on the OpenMetrics page, so a slow bucket leads to its trace.
//!
//! The tracer provider samples every new trace, follows the caller's
//! decision for the others (parent-based), and exports nowhere, so the
//! service runs offline; an application adds its exporter (OTLP) to the
//! builder.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Install the tracing subscriber: OpenTelemetry spans, and
/// [`ExemplarLayer`](instrument_runtime::ExemplarLayer) after them for the
/// exemplars' trace. The provider is returned to be shut down on exit.
pub(crate) fn install() -> Result<SdkTracerProvider, Box<dyn std::error::Error>> {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("example-service")))
        .with(instrument_runtime::ExemplarLayer);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("installing the tracing subscriber: {e}"))?;
    Ok(provider)
}

/// Middleware: run the request inside its span, continuing the trace its
/// `traceparent` header names. It wraps the HTTP metrics layer, so the
/// layer records while the span is entered.
pub(crate) async fn continue_trace(request: Request, next: Next) -> Response {
    let parent = TraceContextPropagator::new().extract(&Headers(request.headers()));
    let span = tracing::info_span!(
        "request",
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
    );
    // Fails only without the OpenTelemetry layer, which `install` adds.
    let _ = span.set_parent(parent);
    next.run(request).instrument(span).await
}

/// The request's headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
