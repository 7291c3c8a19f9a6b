// A body whose type does not match the signature is reported at the body
// or the return type, as without the attribute, never at the attribute.

use instrument_runtime::{cache_lookup, counted, model_op};

#[model_op(model = "user", op = insert)]
fn insert_user(name: &str) -> Result<i64, std::io::Error> {
    let _ = name;
}

#[cache_lookup(backend = "locmem")]
fn cached(key: &str) -> Option<String> {
    let _ = key;
}

#[counted]
fn wrong_type() -> u32 {
    "seven"
}

#[counted]
fn with_try(s: &str) -> Result<u32, std::num::ParseIntError> {
    let _n: u32 = s.parse()?;
}

#[counted]
async fn wrong_async() -> Result<u32, String> {
    let _x = 1;
}

fn main() {}
