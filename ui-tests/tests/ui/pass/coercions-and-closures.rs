#![deny(warnings)]

// What the declared return type does for the body goes on doing it under
// every macro: an early `return` coerces to it, a closure in the body gets
// its signature from it, and a body of one expression in braces stays
// lint-free.

use std::cmp::Ordering;
use std::fmt::Display;

use instrument_runtime::{cache_lookup, counted, model_op, timed};

macro_rules! under_each_macro {
    ($($item:item)*) => {
        mod counted_ {
            use super::*;
            $(#[counted] $item)*
        }
        mod timed_ {
            use super::*;
            $(#[timed] $item)*
        }
        mod model_op_ {
            use super::*;
            $(#[model_op(model = "row", op = select)] $item)*
        }
        mod stacked {
            use super::*;
            $(#[counted] #[timed] #[model_op(model = "row", op = select)] $item)*
        }
    };
}

under_each_macro! {
    pub fn pick<'a>(first: bool, s: &'a String) -> &'a str {
        if first {
            return s;
        }
        "default"
    }

    pub fn boxed(first: bool) -> Box<dyn Display> {
        if first {
            return Box::new(1_u8);
        }
        Box::new("two")
    }

    pub fn pointer(first: bool) -> fn(u32) -> u32 {
        fn double(n: u32) -> u32 {
            n * 2
        }
        fn triple(n: u32) -> u32 {
            n * 3
        }
        if first {
            return double;
        }
        triple
    }

    pub fn trimmer() -> impl Fn(&str) -> &str {
        |s| s.trim()
    }

    pub fn boxed_trimmer() -> Box<dyn Fn(&str) -> &str> {
        Box::new(|s| s.trim())
    }

    pub fn maybe_trimmer(some: bool) -> Option<Box<dyn Fn(&str) -> &str>> {
        if !some {
            return None;
        }
        Some(Box::new(|s| s.trim()))
    }

    pub fn comparator() -> impl FnMut(&u32, &u32) -> Ordering {
        |a, b| b.cmp(a)
    }

    pub fn len(v: &[u32]) -> usize {
        v.len()
    }

    pub async fn len_async(v: &[u32]) -> usize {
        v.len()
    }

    pub async fn pick_async<'a>(first: bool, s: &'a String) -> &'a str {
        if first {
            return s;
        }
        "default"
    }
}

#[cache_lookup(backend = "memory")]
fn cached<'a>(key: &str, s: &'a String) -> Option<&'a str> {
    if key == "hit" {
        return Some(s);
    }
    None
}

#[cache_lookup(backend = "memory")]
fn cached_trimmer(key: &str) -> Option<Box<dyn Fn(&str) -> &str>> {
    if key == "hit" {
        return Some(Box::new(|s| s.trim()));
    }
    None
}

fn main() {
    let s = String::from("given");
    assert_eq!(counted_::pick(true, &s), "given");
    assert_eq!(stacked::pick(false, &s), "default");
    assert_eq!(timed_::boxed(true).to_string(), "1");
    assert_eq!(model_op_::pointer(true)(5), 10);
    assert_eq!(counted_::trimmer()("  x "), "x");
    assert_eq!(stacked::boxed_trimmer()("  y "), "y");
    assert!(model_op_::maybe_trimmer(false).is_none());
    let mut v = vec![1, 3, 2];
    v.sort_by(counted_::comparator());
    assert_eq!(v, [3, 2, 1]);
    assert_eq!(timed_::len(&v), 3);
    drop(counted_::len_async(&v));
    drop(stacked::pick_async(true, &s));
    assert_eq!(cached("hit", &s), Some("given"));
    assert!(cached_trimmer("miss").is_none());
}
