use instrument_runtime::cache_lookup;

#[cache_lookup(backend = "redis")]
fn get(key: &str) -> ! {
    panic!("no {key}")
}

fn main() {
    if std::env::args().count() > 5 {
        get("a");
    }
}
