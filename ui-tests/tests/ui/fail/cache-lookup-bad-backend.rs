use instrument_runtime::cache_lookup;

#[cache_lookup(backend = redis)]
fn get(key: &str) -> Option<u32> {
    key.parse().ok()
}

fn main() {
    assert_eq!(get("1"), Some(1));
}
