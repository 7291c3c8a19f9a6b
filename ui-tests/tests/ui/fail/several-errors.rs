use instrument_runtime::counted;

// One build reports every mistake in the attribute.
#[counted(
    name = "api-requests",
    help = 5,
    labels(__path = "/", le = "x", le = "y"),
    extra = 1
)]
fn handler() -> u32 {
    1
}

fn main() {
    assert_eq!(handler(), 1);
}
