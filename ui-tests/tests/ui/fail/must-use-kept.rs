#![deny(unused_must_use)]

use instrument_runtime::{counted, timed};

#[counted]
#[timed]
#[must_use = "the total is the point"]
fn total(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {
    total(1, 2);
}
