use instrument_runtime::timed;

struct Region;

struct Service {
    region: Region,
}

impl Service {
    #[timed(name = "service_call_duration_seconds", labels(region = self.region))]
    fn call(&self) -> u32 {
        1
    }
}

fn main() {
    let service = Service { region: Region };
    assert_eq!(service.call(), 1);
    let Region = service.region;
}
