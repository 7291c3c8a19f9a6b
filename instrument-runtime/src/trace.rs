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
