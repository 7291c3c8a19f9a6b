use instrument_runtime::counted;

#[counted(objective = "api")]
fn handler() {}

fn main() {
    handler();
}
