use instrument_runtime::timed;

#[timed(help = "Time spent rendering.")]
fn render() -> u32 {
    1
}

fn main() {
    assert_eq!(render(), 1);
}
