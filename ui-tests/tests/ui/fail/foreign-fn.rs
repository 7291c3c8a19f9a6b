use instrument_runtime::counted;

extern "C" {
    #[counted]
    fn abs(input: i32) -> i32;
}

fn main() {
    // SAFETY: `abs` from the C library has no preconditions.
    assert_eq!(unsafe { abs(-3) }, 3);
}
