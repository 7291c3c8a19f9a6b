use instrument_runtime::cache_lookup;

#[cache_lookup(backend = "redis")]
fn get(key: &str) -> u32 {
    key.len() as u32
}

fn main() {
    assert_eq!(get("a"), 1);
}
