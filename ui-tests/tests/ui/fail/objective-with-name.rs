use instrument_runtime::{counted, Objective};

const API: Objective = Objective::new("api").success(99.9);

#[counted(name = "handler_calls_total", objective = API)]
fn handler() {}

fn main() {
    handler();
}
