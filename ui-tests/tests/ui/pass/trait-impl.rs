#![deny(warnings)]

// Methods of a trait impl, and default bodies in the trait itself.

use std::collections::BTreeMap;

use instrument_runtime::{cache_lookup, counted, model_op, timed};

trait Repository {
    fn get(&self, id: u32) -> Option<String>;

    fn put(&mut self, id: u32, name: &str) -> Result<(), String>;

    fn remove(&mut self, id: u32) -> Result<String, String>;

    #[counted]
    #[timed]
    fn contains(&self, id: u32) -> bool {
        self.get(id).is_some()
    }

    #[cache_lookup(backend = "repository")]
    fn cached(&self, id: u32) -> Option<String> {
        self.get(id)
    }

    fn into_ids(self) -> Vec<u32>
    where
        Self: Sized;
}

#[derive(Default)]
struct Memory(BTreeMap<u32, String>);

impl Repository for Memory {
    #[counted]
    fn get(&self, id: u32) -> Option<String> {
        self.0.get(&id).cloned()
    }

    #[model_op(model = "person", op = insert)]
    fn put(&mut self, id: u32, name: &str) -> Result<(), String> {
        match self.0.insert(id, name.to_owned()) {
            Some(old) => Err(format!("{id} was {old}")),
            None => Ok(()),
        }
    }

    #[model_op(model = "person", op = delete)]
    #[timed]
    fn remove(&mut self, id: u32) -> Result<String, String> {
        self.0.remove(&id).ok_or_else(|| format!("no {id}"))
    }

    #[counted]
    fn into_ids(self) -> Vec<u32> {
        self.0.into_keys().collect()
    }
}

impl std::fmt::Display for Memory {
    #[counted]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} people", self.0.len())
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut repo = Memory::default();
    assert_eq!(repo.put(1, "ann"), Ok(()));
    assert_eq!(repo.put(2, "bob"), Ok(()));
    assert_eq!(repo.put(1, "cid"), Err("1 was ann".to_owned()));
    assert!(repo.contains(1));
    assert_eq!(repo.cached(2), Some("bob".to_owned()));
    assert_eq!(repo.cached(3), None);
    assert_eq!(repo.remove(2), Ok("bob".to_owned()));
    assert_eq!(repo.remove(2), Err("no 2".to_owned()));
    assert_eq!(repo.to_string(), "1 people");
    assert_eq!(repo.into_ids(), vec![1]);

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="get",module="{m}",result="ok"}}"#),
            3,
        ),
        (
            format!(r#"function_calls_total{{function="contains",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="fmt",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="into_ids",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="remove",module="{m}"}}"#),
            2,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            5,
        ),
        (r#"model_inserts_total{model="person"}"#.to_owned(), 2),
        (r#"model_deletes_total{model="person"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="repository"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="repository"}"#.to_owned(), 1),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, &series), value, "{series}");
    }
}

/// The value of `series` on the exposition page.
fn sample(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{page}"))
        .parse()
        .unwrap()
}
