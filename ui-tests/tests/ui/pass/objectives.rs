//! Objectives on functions of every shape the macros take: one constant,
//! an array of them, a path into a module; sync and async; both macros.

use std::time::Duration;

use instrument_runtime::{counted, timed, Objective};

const API: Objective = Objective::new("api")
    .success(99.9)
    .latency(Duration::from_millis(250), 99.0);

mod slo {
    pub const WEEKLY: instrument_runtime::Objective =
        instrument_runtime::Objective::new("weekly").success(99.0).over(std::time::Duration::from_secs(7 * 86_400));
}

#[counted(objective = API)]
#[timed(objective = API)]
fn get(id: u32) -> Result<u32, String> {
    Ok(id)
}

#[counted(objective = [API, slo::WEEKLY])]
#[timed(objective = [API])]
async fn list() -> Result<Vec<u32>, String> {
    Ok(vec![1, 2])
}

fn main() {
    assert_eq!(get(7), Ok(7));
    let _ = list();
}

/// A user constant of the name the expansion uses inside is not shadowed.
#[allow(dead_code)]
mod named_objectives {
    use instrument_runtime::{counted, Objective};

    const OBJECTIVES: Objective = Objective::new("objectives").success(99.0);

    #[counted(objective = OBJECTIVES)]
    fn call() {}

    #[counted(objective = [OBJECTIVES])]
    fn again() {}
}
