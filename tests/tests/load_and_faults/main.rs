//! The load and fault tests, end to end, in one test binary so that they
//! run in parallel (cargo runs test binaries one after another): about
//! 40 s on two cores (the harness runs two tests at a time there) instead
//! of about 75 s in a row; the 30 s `wrk` run overlaps the restarts. The
//! counts they compare do not depend on timing, so sharing the cores does
//! not change them; the few time bounds leave seconds of room.
//!
//! - `load_http`: the example service under `wrk` for 30 s with scrapes in
//!   a loop; the requests counted equal those `wrk` completed.
//! - `fault_panic`: a panicking handler under load; every panic counted,
//!   the server keeps serving.
//! - `fault_disconnect`: clients that leave mid-request; counted once,
//!   nothing left behind.
//! - `fault_restart`: Prometheus or the service killed and restarted
//!   mid-measurement; `increase()` still matches the traffic.

mod fault_disconnect;
mod fault_panic;
mod fault_restart;
mod load_http;

use e2e::sample;

/// A count read from a page: 0 for a series that does not exist yet.
#[track_caller]
fn count(page: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    let value = sample(page, name, labels).unwrap_or(0.0);
    assert!(
        value >= 0.0 && value.fract() == 0.0,
        "{name}{labels:?} = {value}"
    );
    value as u64
}
