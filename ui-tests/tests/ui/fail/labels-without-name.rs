use instrument_runtime::counted;

#[counted(labels(endpoint = "/users"))]
fn handler() -> u32 {
    1
}

fn main() {
    assert_eq!(handler(), 1);
}
