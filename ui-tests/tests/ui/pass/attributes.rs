#![deny(warnings)]
#![deny(missing_docs)]
//! The user's attributes and doc comments stay on the function: with
//! `missing_docs` denied, a lost doc comment fails the build, and a lost
//! `#[allow]` turns the unused argument into an error.

use instrument_runtime::{cache_lookup, counted, model_op, timed};

/// Documented, `#[must_use]`, counted.
#[must_use]
#[counted]
pub fn documented(n: u32) -> u32 {
    n + 1
}

/// Documented, with the doc comment between the attributes.
#[timed]
#[must_use = "the sum is the point"]
/// More documentation after an attribute.
#[inline]
pub fn sum(a: u32, b: u32) -> u32 {
    a + b
}

#[doc = "Documented with `#[doc]`."]
#[allow(unused_variables)]
#[model_op(model = "doc", op = update)]
pub fn ignores_argument(unused: u32) -> Result<(), String> {
    Ok(())
}

/// Inner attributes of the body still apply to the whole function.
#[counted]
pub fn inner_attribute() -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    2
}

/// Arguments can carry attributes too.
#[cache_lookup(backend = "attrs")]
pub fn lookup(#[allow(unused_variables)] key: &str) -> Option<u32> {
    None
}

/// Only compiled in a configuration that never holds.
#[counted]
#[cfg(any())]
pub fn configured_away() -> u32 {
    missing_function()
}

/// `cfg_attr` attributes are kept as well.
#[cfg_attr(all(), must_use)]
#[counted]
pub(crate) extern "C" fn c_abi(n: u32) -> u32 {
    n * 2
}

/// A method, documented.
pub struct Thing;

impl Thing {
    /// Documented method.
    #[counted]
    #[must_use]
    pub fn value(&self) -> u32 {
        1
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(documented(1), 2);
    assert_eq!(sum(1, 2), 3);
    assert_eq!(ignores_argument(0), Ok(()));
    assert_eq!(lookup("key"), None);
    assert_eq!(c_abi(2), 4);
    assert_eq!(inner_attribute(), 2);
    assert_eq!(Thing.value(), 1);
    let page = metrics.render();
    let series = format!(
        r#"function_calls_total{{function="documented",module="{}",result="ok"}} 1"#,
        module_path!()
    );
    assert!(page.lines().any(|line| line == series), "{page}");
}
