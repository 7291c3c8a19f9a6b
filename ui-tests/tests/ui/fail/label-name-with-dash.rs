use instrument_runtime::counted;

#[counted(name = "requests_total", labels(http-method = "GET"))]
fn handler() {}

fn main() {
    handler();
}
