//! When another crate installed a recorder for the `metrics` facade first,
//! `install()` says so instead of panicking, and annotated functions keep
//! working without recording anything of ours.

use instrument_runtime::{counted, model_op, Error};

#[counted]
#[model_op(model = "thing", op = insert)]
fn still_works(n: u32) -> Result<u32, String> {
    if n == 0 {
        Err("zero".to_owned())
    } else {
        Ok(n)
    }
}

#[test]
fn install_after_a_foreign_recorder_is_already_installed() {
    metrics::set_global_recorder(metrics::NoopRecorder).expect("the first recorder");
    let result = instrument_runtime::install();
    assert!(matches!(result, Err(Error::AlreadyInstalled)), "{result:?}");
    assert!(instrument_runtime::installed().is_none());
    // Nothing half-installed: a second attempt fails the same way.
    let again = instrument_runtime::Builder::new().namespace("x").install();
    assert!(matches!(again, Err(Error::AlreadyInstalled)), "{again:?}");
    assert!(instrument_runtime::installed().is_none());
    assert_eq!(still_works(2), Ok(2));
    assert_eq!(still_works(0), Err("zero".to_owned()));
}
