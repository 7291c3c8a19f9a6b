use instrument_runtime::counted;

#[counted(name = "api_requests_total", labels(method = method, method = "GET"))]
fn handler(method: &str) -> usize {
    method.len()
}

fn main() {
    assert_eq!(handler("GET"), 3);
}
