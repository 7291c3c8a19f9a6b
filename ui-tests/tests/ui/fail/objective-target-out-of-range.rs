use instrument_runtime::{counted, Objective};

const API: Objective = Objective::new("api").success(100.0);

#[counted(objective = API)]
fn handler() {}

fn main() {
    handler();
}
