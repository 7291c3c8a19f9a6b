//! The built-in metric families: names (without the namespace), types, help
//! texts and label names. Every name here is part of the public contract.

/// The latency buckets django-prometheus uses, and the default for every
/// histogram this crate records.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Histogram,
}

/// One built-in family.
#[derive(Debug)]
pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) help: &'static str,
}

macro_rules! families {
    ($($ident:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        $(pub(crate) const $ident: Family = Family { name: $name, kind: Kind::$kind, help: $help };)*
        /// Every built-in family, in catalogue order.
        pub(crate) const ALL: &[Family] = &[$($ident),*];
    };
}

families! {
    FUNCTION_CALLS = "function_calls_total", Counter,
        "Calls of functions annotated with #[counted], by outcome.";
    FUNCTION_DURATION = "function_calls_duration_seconds", Histogram,
        "Duration of calls of functions annotated with #[timed], in seconds.";
    DB_EXECUTE = "db_execute_total", Counter,
        "Database executions, failed ones included.";
    DB_EXECUTE_LATENCY = "db_execute_latency_seconds", Histogram,
        "Database execution latency in seconds.";
    DB_ERRORS = "db_errors_total", Counter,
        "Database executions that returned an error, by error type.";
    CACHE_HITS = "cache_hits_total", Counter,
        "Cache lookups that found a value.";
    CACHE_MISSES = "cache_misses_total", Counter,
        "Cache lookups that found no value.";
    MODEL_INSERTS = "model_inserts_total", Counter,
        "Model insert operations that succeeded.";
    MODEL_UPDATES = "model_updates_total", Counter,
        "Model update operations that succeeded.";
    MODEL_DELETES = "model_deletes_total", Counter,
        "Model delete operations that succeeded.";
}

/// Is `name` a built-in family name (without namespace)?
pub(crate) fn is_builtin(name: &str) -> bool {
    ALL.iter().any(|family| family.name == name)
}
