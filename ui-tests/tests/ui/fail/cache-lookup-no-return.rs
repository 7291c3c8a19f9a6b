use instrument_runtime::cache_lookup;

#[cache_lookup(backend = "redis")]
fn warm(keys: &mut Vec<String>) {
    keys.clear();
}

fn main() {
    warm(&mut Vec::new());
}
