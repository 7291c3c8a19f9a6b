use instrument_runtime::counted;

fn main() {
    let add = #[counted]
    |a: u32, b: u32| a + b;
    let _ = add(1, 2);
}
