use instrument_runtime::cache_lookup;

#[cache_lookup(backend = "redis")]
trait Cache {
    fn get(&self, key: &str) -> Option<String>;
}

struct Memory;

impl Cache for Memory {
    fn get(&self, _key: &str) -> Option<String> {
        None
    }
}

fn main() {
    assert_eq!(Memory.get("a"), None);
}
