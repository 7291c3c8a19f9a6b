use instrument_runtime::counted;

#[counted]
#[derive(Debug, Default)]
struct Handler {
    calls: u32,
}

fn main() {
    assert_eq!(Handler::default().calls, 0);
}
