use instrument_runtime::timed;

struct Handler;

#[timed]
impl Handler {
    fn call(&self) -> u32 {
        1
    }
}

fn main() {
    assert_eq!(Handler.call(), 1);
}
