//! The trace a recorded value belongs to, named by the application for
//! the exemplars of the OpenMetrics page.

/// The ids of the trace and span a value was recorded in, as W3C trace
/// context and OpenTelemetry name them; rendered as 32 and 16 lowercase
/// hex digits.
///
/// ```
/// use instrument_runtime::TraceContext;
///
/// let trace = TraceContext::new(0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7)
///     .expect("ids that are not zero");
/// assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(trace.span_id_hex(), "00f067aa0ba902b7");
/// // All-zero ids are invalid in W3C trace context.
/// assert!(TraceContext::new(0, 1).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
}

impl TraceContext {
    /// The context of `trace_id` and `span_id`, or `None` when either is
    /// zero (W3C trace context's invalid ids).
    ///
    /// ```
    /// use instrument_runtime::TraceContext;
    ///
    /// assert!(TraceContext::new(1, 2).is_some());
    /// assert!(TraceContext::new(1, 0).is_none());
    /// ```
    pub const fn new(trace_id: u128, span_id: u64) -> Option<Self> {
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(TraceContext { trace_id, span_id })
    }

    /// The trace id.
    ///
    /// ```
    /// let trace = instrument_runtime::TraceContext::new(7, 9).unwrap();
    /// assert_eq!((trace.trace_id(), trace.span_id()), (7, 9));
    /// ```
    pub const fn trace_id(&self) -> u128 {
        self.trace_id
    }

    /// The span id.
    ///
    /// ```
    /// let trace = instrument_runtime::TraceContext::new(7, 9).unwrap();
    /// assert_eq!(trace.span_id(), 9);
    /// ```
    pub const fn span_id(&self) -> u64 {
        self.span_id
    }

    /// The trace id as 32 lowercase hex digits.
    ///
    /// ```
    /// let trace = instrument_runtime::TraceContext::new(255, 1).unwrap();
    /// assert_eq!(trace.trace_id_hex(), "000000000000000000000000000000ff");
    /// ```
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    ///
    /// ```
    /// let trace = instrument_runtime::TraceContext::new(1, 255).unwrap();
    /// assert_eq!(trace.span_id_hex(), "00000000000000ff");
    /// ```
    pub fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }
}

#[cfg(feature = "opentelemetry-0_33")]
pub use self::opentelemetry::ExemplarLayer;

#[cfg(feature = "opentelemetry-0_33")]
mod opentelemetry {
    use std::cell::Cell;

    use opentelemetry::trace::TraceContextExt as _;
    use tracing::{span, Subscriber};
    use tracing_subscriber::layer::{Context, Layer};

    use super::TraceContext;

    thread_local! {
        /// The trace of the innermost span this thread has entered that
        /// OpenTelemetry traces and samples.
        static CURRENT: Cell<Option<TraceContext>> = const { Cell::new(None) };
    }

    /// A `tracing` layer that keeps, for each thread, the OpenTelemetry
    /// trace of the span it is in, so that
    /// [`Builder::exemplars`](crate::Builder::exemplars) can read it with
    /// one thread-local access: give it [`ExemplarLayer::current`]. Add it
    /// after tracing-opentelemetry's layer (0.34, on opentelemetry 0.33,
    /// with its context activation, the default), which makes a span's
    /// OpenTelemetry context current when the span is entered. Spans of
    /// traces that are not sampled give no exemplar: there would be no
    /// trace to follow.
    ///
    /// ```
    /// use instrument_runtime::{timed, Builder, ExemplarLayer};
    /// use opentelemetry::trace::TracerProvider as _;
    /// use tracing_subscriber::prelude::*;
    ///
    /// #[timed]
    /// fn render_invoice() {}
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// tracing_subscriber::registry()
    ///     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("billing")))
    ///     .with(ExemplarLayer)
    ///     .init();
    /// let metrics = Builder::new().exemplars(ExemplarLayer::current).install()?;
    ///
    /// tracing::info_span!("request").in_scope(render_invoice);
    /// let page = metrics.render_openmetrics().unwrap();
    /// assert!(page.contains("function_calls_duration_seconds_bucket{"));
    /// assert!(page.contains(r#" # {trace_id=""#));
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    #[derive(Clone, Copy, Debug, Default)]
    pub struct ExemplarLayer;

    impl ExemplarLayer {
        /// The trace of the span this thread is in, as the layer last saw
        /// it entered or left: the source for
        /// [`Builder::exemplars`](crate::Builder::exemplars).
        ///
        /// ```
        /// // Outside any span, and without the layer: no trace.
        /// assert_eq!(instrument_runtime::ExemplarLayer::current(), None);
        /// ```
        pub fn current() -> Option<TraceContext> {
            CURRENT.try_with(Cell::get).ok().flatten()
        }
    }

    /// OpenTelemetry's current context, as tracing-opentelemetry set it.
    fn refresh() {
        let trace = opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let context = span.span_context();
            if !context.is_sampled() {
                return None;
            }
            TraceContext::new(
                u128::from_be_bytes(context.trace_id().to_bytes()),
                u64::from_be_bytes(context.span_id().to_bytes()),
            )
        });
        let _ = CURRENT.try_with(|current| current.set(trace));
    }

    impl<S: Subscriber> Layer<S> for ExemplarLayer {
        fn on_enter(&self, _: &span::Id, _: Context<'_, S>) {
            refresh();
        }

        fn on_exit(&self, _: &span::Id, _: Context<'_, S>) {
            refresh();
        }
    }
}
