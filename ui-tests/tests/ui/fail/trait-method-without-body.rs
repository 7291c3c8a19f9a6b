use instrument_runtime::counted;

trait Handler {
    #[counted]
    fn call(&self) -> u32;
}

struct Users;

impl Handler for Users {
    fn call(&self) -> u32 {
        1
    }
}

fn main() {
    assert_eq!(Users.call(), 1);
}
