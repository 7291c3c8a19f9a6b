use std::time::Duration;

use instrument_runtime::{timed, Objective};

// 300 ms lies between the default boundaries 0.25 and 0.5.
const API: Objective = Objective::new("api").latency(Duration::from_millis(300), 99.0);

#[timed(objective = API)]
fn handler() {}

fn main() {
    handler();
}
