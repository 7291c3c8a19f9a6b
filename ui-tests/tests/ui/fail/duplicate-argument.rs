use instrument_runtime::timed;

#[timed(name = "render_seconds", name = "render_duration_seconds")]
fn render() -> u32 {
    1
}

fn main() {
    assert_eq!(render(), 1);
}
