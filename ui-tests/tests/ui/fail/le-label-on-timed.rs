use instrument_runtime::timed;

#[timed(name = "render_duration_seconds", labels(le = "0.5"))]
fn render() -> u32 {
    1
}

fn main() {
    assert_eq!(render(), 1);
}
