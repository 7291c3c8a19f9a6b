use instrument_runtime::counted;

struct Endpoint {
    path: &'static str,
}

#[counted(name = "api_requests_total", labels(endpoint = endpoint))]
fn handler(endpoint: &Endpoint) -> usize {
    endpoint.path.len()
}

fn main() {
    assert_eq!(handler(&Endpoint { path: "/users" }), 6);
}
