use instrument_runtime::counted;

#[counted(name = "api-requests-total")]
fn handler() -> u32 {
    1
}

fn main() {
    assert_eq!(handler(), 1);
}
