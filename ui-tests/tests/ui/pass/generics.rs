#![deny(warnings)]

// Generic functions: type and const parameters, where-clauses, lifetimes,
// and return values that borrow from the arguments.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use instrument_runtime::{cache_lookup, counted, model_op, timed};

// `&mut Vec` on purpose: the signature under test.
#[allow(clippy::ptr_arg)]
#[counted]
fn first<'a>(v: &'a mut Vec<i32>) -> &'a mut i32 {
    &mut v[0]
}

#[counted]
#[timed]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> &'a str {
    if a.len() >= b.len() {
        a
    } else {
        b
    }
}

#[counted]
fn total<I, T>(items: I) -> T
where
    I: IntoIterator<Item = T>,
    T: std::iter::Sum<T>,
{
    items.into_iter().sum()
}

#[timed]
fn sum_array<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

#[model_op(model = "item", op = select)]
fn find<'a, T, F>(items: &'a [T], matches: F) -> Result<&'a T, String>
where
    T: Debug,
    F: Fn(&T) -> bool,
{
    items
        .iter()
        .find(|item| matches(item))
        .ok_or_else(|| format!("none of {items:?}"))
}

#[cache_lookup(backend = "map")]
fn cached<'m, K, V>(map: &'m HashMap<K, V>, key: &K) -> Option<&'m V>
where
    K: Hash + Eq,
{
    map.get(key)
}

#[cache_lookup(backend = "map")]
fn cached_mut<'m, K: Hash + Eq, V>(
    map: &'m mut HashMap<K, V>,
    key: K,
) -> Result<Option<&'m mut V>, String> {
    Ok(map.get_mut(&key))
}

struct Stack<T>(Vec<T>);

impl<T: Clone> Stack<T> {
    #[counted]
    fn top_mut(&mut self) -> Option<&mut T> {
        self.0.last_mut()
    }

    #[counted]
    fn take<'s>(&'s mut self, n: usize) -> std::vec::Drain<'s, T>
    where
        T: 's,
    {
        self.0.drain(..n)
    }

    #[timed]
    fn map<U, F: FnMut(T) -> U>(self, f: F) -> Stack<U> {
        Stack(self.0.into_iter().map(f).collect())
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut v = vec![1, 2, 3];
    *first(&mut v) = 10;
    assert_eq!(v, [10, 2, 3]);
    assert_eq!(longest("abc", "de"), "abc");
    assert_eq!(total::<_, i32>(vec![1, 2, 3]), 6);
    assert_eq!(sum_array([1, 2, 3, 4]), 10);
    assert_eq!(find(&[1, 2, 3], |n| *n > 1), Ok(&2));
    assert_eq!(find(&[1], |n| *n > 1), Err("none of [1]".to_owned()));
    let mut map = HashMap::from([("a", 1)]);
    assert_eq!(cached(&map, &"a"), Some(&1));
    assert_eq!(cached(&map, &"b"), None);
    *cached_mut(&mut map, "a").unwrap().unwrap() = 5;
    assert_eq!(map["a"], 5);
    let mut stack = Stack(vec![1, 2, 3]);
    *stack.top_mut().unwrap() = 4;
    assert_eq!(stack.take(1).collect::<Vec<_>>(), [1]);
    assert_eq!(stack.map(|n| n * 2).0, [4, 8]);

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="first",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="longest",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="total",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="top_mut",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="take",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(
                r#"function_calls_duration_seconds_count{{function="sum_array",module="{m}"}}"#
            ),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="map",module="{m}"}}"#),
            1,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"cache_hits_total{backend="map"}"#.to_owned(), 2),
        (r#"cache_misses_total{backend="map"}"#.to_owned(), 1),
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
