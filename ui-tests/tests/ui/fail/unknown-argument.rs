use instrument_runtime::counted;

#[counted(nmae = "api_requests_total")]
fn handler() -> u32 {
    1
}

fn main() {
    assert_eq!(handler(), 1);
}
