use async_trait::async_trait;
use instrument_runtime::counted;

#[async_trait]
trait Repo {
    async fn get(&self, id: u32) -> Option<u32>;
}

struct Db;

#[async_trait]
impl Repo for Db {
    #[counted(labels(id = id))]
    async fn get(&self, id: u32) -> Option<u32> {
        Some(id)
    }
}

fn main() {
    drop(Db.get(1));
}
