//! The call sites of the annotated functions.
//!
//! Every annotated function owns one `static` site. The site registers itself
//! in `SITES` at link time, so `install()` can describe its families and
//! create its statically known series (at 0) before the first call. After
//! that the site holds resolved handles, and a call does only atomic work.
//! A call made before `install()` records nothing and leaves the site
//! untouched, so later calls are counted.

mod cache_lookup;
mod counted;
mod handles;
mod model_op;
mod outcome;
mod timed;

pub use self::cache_lookup::{CacheLookup, CacheResult, Lookup};
pub use self::counted::{CountGuard, Counted};
pub(crate) use self::handles::Indicator;
pub use self::handles::{label, Custom, Site, SITES};
pub use self::model_op::{statements, DbGuard, ModelOp, Op};
pub use self::outcome::{
    call_once, call_with, err_of, polled, suspended, suspending, ExitProbe, Outcome, Probe,
    ProbeOther, ProbeResult,
};
pub use self::timed::{TimeGuard, Timed};
