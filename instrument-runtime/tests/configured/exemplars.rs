//! `Builder::exemplars`: the trace of the newest value on each counter and
//! histogram bucket of the OpenMetrics page, from the application's source
//! of the current trace; none outside a trace, none on the text page.

use std::cell::Cell;

use instrument_runtime::{counted, timed, Builder, TraceContext};

use crate::common;
use crate::openmetrics::{self, Exposition, Sample};

thread_local! {
    static TRACE: Cell<Option<TraceContext>> = const { Cell::new(None) };
}

fn in_trace<T>(trace: Option<TraceContext>, call: impl FnOnce() -> T) -> T {
    TRACE.with(|t| t.set(trace));
    let out = call();
    TRACE.with(|t| t.set(None));
    out
}

#[counted]
#[timed]
fn quote() {}

fn trace(n: u64) -> TraceContext {
    TraceContext::new(u128::from(n) << 64 | 0xfeed, n).expect("ids that are not zero")
}

/// The samples of `name` with `labels` among their labels that carry an
/// exemplar.
fn with_exemplars<'a>(
    page: &'a Exposition,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a Sample> {
    page.samples()
        .filter(|s| s.name == name && s.exemplar.is_some())
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(key, value)| key == k && value == v))
        })
        .collect()
}

fn ids(sample: &Sample) -> (String, String) {
    let exemplar = sample.exemplar.as_ref().expect("an exemplar");
    let get = |name: &str| {
        exemplar
            .labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (get("trace_id"), get("span_id"))
}

#[test]
fn counters_and_buckets_keep_the_trace_of_their_newest_value() {
    common::isolated(|| {
        let metrics = Builder::new()
            .exemplars(|| TRACE.with(Cell::get))
            .install()
            .expect("installed");
        let function = [("function", "quote")];
        // Outside a trace: no exemplar anywhere.
        quote();
        metrics::histogram!("payload_bytes").record(1_500.0);
        let page = metrics.render_openmetrics().expect("the store");
        let parsed = openmetrics::parse(&page).unwrap_or_else(|why| panic!("{why}\n{page}"));
        assert_eq!(
            parsed.samples().filter(|s| s.exemplar.is_some()).count(),
            0,
            "{page}"
        );

        in_trace(Some(trace(1)), quote);
        in_trace(Some(trace(2)), quote);
        in_trace(Some(trace(3)), || {
            metrics::histogram!("payload_bytes").record(1_500.0);
            // A counter not named `_total` is `unknown` in OpenMetrics,
            // where an exemplar is not allowed.
            metrics::counter!("responses_total_by_status").increment(1);
        });
        // Recorded outside a trace after them: the exemplars stay.
        quote();

        let page = metrics.render_openmetrics().expect("the store");
        let parsed = openmetrics::parse(&page).unwrap_or_else(|why| panic!("{why}\n{page}"));
        let newest = (trace(2).trace_id_hex(), trace(2).span_id_hex());
        assert_eq!(newest.0, "0000000000000002000000000000feed");

        let calls = with_exemplars(&parsed, "function_calls_total", &function);
        assert_eq!(calls.len(), 1, "{page}");
        assert_eq!(ids(calls[0]), newest);
        assert!(calls[0]
            .labels
            .contains(&("result".to_owned(), "ok".to_owned())));
        assert_eq!(calls[0].exemplar.as_ref().unwrap().value, 1.0);

        // The bucket the call's duration fell in, and no other.
        let buckets = with_exemplars(&parsed, "function_calls_duration_seconds_bucket", &function);
        assert_eq!(buckets.len(), 1, "{page}");
        assert_eq!(ids(buckets[0]), newest);
        let exemplar = buckets[0].exemplar.as_ref().unwrap();
        let le: f64 = openmetrics::parse_number(&buckets[0].label_map()["le"]).unwrap();
        assert!(
            exemplar.value >= 0.0 && exemplar.value <= le,
            "{exemplar:?} in le={le}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let at = exemplar.timestamp.expect("a timestamp");
        assert!((now - at).abs() < 60.0, "exemplar at {at}, now {now}");

        let payload = with_exemplars(&parsed, "payload_bytes_bucket", &[]);
        assert_eq!(payload.len(), 1, "{page}");
        assert_eq!(
            ids(payload[0]),
            (trace(3).trace_id_hex(), trace(3).span_id_hex())
        );
        assert_eq!(payload[0].exemplar.as_ref().unwrap().value, 1_500.0);
        // Above the largest default bound (75): the +Inf bucket.
        assert_eq!(payload[0].label_map()["le"], "+Inf");
        assert!(
            page.contains(
                "# TYPE responses_total_by_status unknown\nresponses_total_by_status 1\n"
            ),
            "{page}"
        );

        // The text format has no exemplars.
        let text = metrics.render();
        assert!(!text.contains(" # {"), "{text}");
        crate::text_format::parse(&text).expect("a valid text page");
    });
}

/// `ExemplarLayer` with tracing-opentelemetry: the innermost sampled span's
/// trace, its parent's again once it is left, none outside spans or in a
/// trace that is not sampled; and the page's exemplars carry those ids.
#[cfg(feature = "opentelemetry-0_33")]
#[test]
fn the_exemplar_layer_follows_the_opentelemetry_span_entered() {
    use instrument_runtime::ExemplarLayer;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use tracing_subscriber::prelude::*;

    common::isolated(|| {
        let metrics = Builder::new()
            .exemplars(ExemplarLayer::current)
            .install()
            .expect("installed");
        let subscriber = |sampler: Sampler| {
            let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
                .with(ExemplarLayer)
        };
        let (outer, inner) =
            tracing::subscriber::with_default(subscriber(Sampler::AlwaysOn), || {
                assert_eq!(ExemplarLayer::current(), None);
                let outer_span = tracing::info_span!("outer").entered();
                let outer = ExemplarLayer::current().expect("the outer span's trace");
                let inner = tracing::info_span!("inner").in_scope(|| {
                    let inner = ExemplarLayer::current().expect("the inner span's trace");
                    quote();
                    inner
                });
                assert_eq!(inner.trace_id(), outer.trace_id(), "one trace");
                assert_ne!(inner.span_id(), outer.span_id(), "two spans");
                assert_eq!(ExemplarLayer::current(), Some(outer), "the parent again");
                drop(outer_span);
                assert_eq!(ExemplarLayer::current(), None);
                (outer, inner)
            });
        let _ = outer;
        tracing::subscriber::with_default(subscriber(Sampler::AlwaysOff), || {
            let _span = tracing::info_span!("unsampled").entered();
            assert_eq!(ExemplarLayer::current(), None);
        });

        let page = metrics.render_openmetrics().expect("the store");
        let parsed = openmetrics::parse(&page).unwrap_or_else(|why| panic!("{why}\n{page}"));
        let calls = with_exemplars(&parsed, "function_calls_total", &[("function", "quote")]);
        assert_eq!(calls.len(), 1, "{page}");
        assert_eq!(ids(calls[0]), (inner.trace_id_hex(), inner.span_id_hex()));
    });
}
