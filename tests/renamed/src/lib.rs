//! The macros where `::instrument_runtime` does not exist: through a
//! renamed dependency (`instr = { package = "instrument-runtime" }`), found
//! from this crate's Cargo.toml or told with `crate = path`, and through a
//! module that re-exports them, told with `crate = path`.

/// A facade, as a crate wrapping the runtime for its users would be.
pub mod facade {
    pub use instr as instrument;
}

/// Every macro, on the renamed dependency.
pub mod renamed {
    use instr::{cache_lookup, counted, model_op, timed};

    /// Counted, labelled per call.
    #[counted(crate = instr, name = "renamed_calls_total", labels(kind = kind))]
    pub fn call(kind: &str) -> Result<u32, String> {
        if kind == "bad" {
            return Err(kind.to_owned());
        }
        Ok(1)
    }

    /// Timed.
    #[timed(crate = instr)]
    pub fn wait() {}

    /// A model insert.
    #[model_op(crate = instr, model = "row", op = insert)]
    pub fn insert() -> Result<(), String> {
        Ok(())
    }

    /// A cache lookup.
    #[cache_lookup(crate = instr, backend = "memory")]
    pub fn lookup(key: &str) -> Option<u32> {
        (key == "hit").then_some(1)
    }

    /// All four, stacked.
    #[counted(crate = instr)]
    #[timed(crate = instr)]
    #[model_op(crate = instr, model = "row", op = select)]
    #[cache_lookup(crate = instr, backend = "stacked")]
    pub async fn stacked(key: &str) -> Option<u32> {
        (key == "hit").then_some(2)
    }
}

/// Every macro on the renamed dependency without `crate = ..`: the
/// macros read the name from Cargo.toml.
pub mod found {
    use instr::{cache_lookup, counted, model_op, timed};

    /// All four, stacked, on a sync and an async function.
    #[counted]
    #[timed]
    #[model_op(model = "found", op = select)]
    #[cache_lookup(backend = "found")]
    pub fn sync(key: &str) -> Option<u32> {
        (key == "hit").then_some(3)
    }

    /// The same, async.
    #[counted]
    #[timed]
    #[model_op(model = "found", op = select)]
    #[cache_lookup(backend = "found-async")]
    pub async fn later(key: &str) -> Option<u32> {
        (key == "hit").then_some(4)
    }
}

/// The macros through the facade's path.
pub mod through_facade {
    /// Counted through the re-export.
    #[crate::facade::instrument::counted(crate = crate::facade::instrument)]
    pub fn call() -> u8 {
        7
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::{found, renamed, through_facade};

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return value;
            }
        }
    }

    #[test]
    fn every_macro_records_through_the_path_it_is_given() {
        let metrics = instr::install().expect("install");
        assert_eq!(renamed::call("ok"), Ok(1));
        assert!(renamed::call("bad").is_err());
        renamed::wait();
        renamed::insert().unwrap();
        assert_eq!(renamed::lookup("hit"), Some(1));
        assert_eq!(renamed::lookup("miss"), None);
        assert_eq!(block_on(renamed::stacked("hit")), Some(2));
        assert_eq!(through_facade::call(), 7);
        assert_eq!(found::sync("hit"), Some(3));
        assert_eq!(block_on(found::later("miss")), None);
        let page = metrics.render();
        for line in [
            r#"renamed_calls_total{kind="ok"} 1"#,
            r#"renamed_calls_total{kind="bad"} 1"#,
            r#"function_calls_duration_seconds_count{function="wait",module="renamed_dependency::renamed"} 1"#,
            r#"model_inserts_total{model="row"} 1"#,
            r#"cache_hits_total{backend="memory"} 1"#,
            r#"cache_misses_total{backend="memory"} 1"#,
            r#"cache_hits_total{backend="stacked"} 1"#,
            r#"function_calls_total{function="stacked",module="renamed_dependency::renamed",result="ok"} 1"#,
            r#"function_calls_total{function="call",module="renamed_dependency::through_facade",result="ok"} 1"#,
            r#"function_calls_total{function="sync",module="renamed_dependency::found",result="ok"} 1"#,
            r#"cache_hits_total{backend="found"} 1"#,
            r#"cache_misses_total{backend="found-async"} 1"#,
            r#"function_calls_duration_seconds_count{function="later",module="renamed_dependency::found"} 1"#,
        ] {
            assert!(page.lines().any(|l| l == line), "{line} not in:\n{page}");
        }
    }
}
