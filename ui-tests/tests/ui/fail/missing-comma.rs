use instrument_runtime::counted;

#[counted(name = "api_requests_total" help = "API requests.")]
fn handler() -> u32 {
    1
}

fn main() {
    assert_eq!(handler(), 1);
}
