use instrument_runtime::counted;

#[counted(name = "api_requests_total", labels(endpoint))]
fn handler(endpoint: &str) -> usize {
    endpoint.len()
}

fn main() {
    assert_eq!(handler("/users"), 6);
}
