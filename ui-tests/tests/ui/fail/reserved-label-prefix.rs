use instrument_runtime::counted;

#[counted(name = "api_requests_total", labels(__name = "ok"))]
fn handler() -> u32 {
    1
}

fn main() {
    assert_eq!(handler(), 1);
}
