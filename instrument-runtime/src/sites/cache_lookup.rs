//! The call site of `#[cache_lookup]`.

use std::sync::OnceLock;

use metrics::{Counter, Label};

use super::handles::{resolve, Site};
use crate::catalogue::{self, Family};
use crate::runtime::Runtime;

/// The site of a `#[cache_lookup]` function.
pub struct CacheLookup {
    backend: &'static str,
    handles: OnceLock<CacheHandles>,
}

struct CacheHandles {
    hits: Counter,
    misses: Counter,
    /// django-prometheus's `cache_get_total`, `_hits_total`, `_misses_total`
    /// and `_fail_total`, with the profile on.
    compat: Option<[Counter; 4]>,
}

impl CacheLookup {
    /// A site counting hits and misses of `backend`.
    pub const fn new(backend: &'static str) -> Self {
        CacheLookup {
            backend,
            handles: OnceLock::new(),
        }
    }

    fn resolve(&self, rt: &Runtime) -> CacheHandles {
        let counter = |family: &Family| {
            let labels = vec![Label::from_static_parts("backend", self.backend)];
            rt.counter(rt.builtin(family), labels)
        };
        let compat = rt.django_compat.then(|| {
            use catalogue::compat::{CACHE_GET, CACHE_GET_FAIL, CACHE_GET_HITS, CACHE_GET_MISSES};
            [CACHE_GET, CACHE_GET_HITS, CACHE_GET_MISSES, CACHE_GET_FAIL].map(|f| counter(&f))
        });
        CacheHandles {
            hits: counter(&catalogue::CACHE_HITS),
            misses: counter(&catalogue::CACHE_MISSES),
            compat,
        }
    }

    /// Count one lookup.
    #[inline]
    pub fn record(&'static self, outcome: Lookup) {
        let Some(handles) = resolve(&self.handles, |rt| self.resolve(rt)) else {
            return;
        };
        match outcome {
            Lookup::Hit => handles.hits.increment(1),
            Lookup::Miss => handles.misses.increment(1),
            Lookup::Failed => {}
        }
        if let Some([gets, hits, misses, fails]) = &handles.compat {
            gets.increment(1);
            match outcome {
                Lookup::Hit => hits.increment(1),
                Lookup::Miss => misses.increment(1),
                Lookup::Failed => fails.increment(1),
            }
        }
    }
}

impl Site for CacheLookup {
    fn register(&'static self) {
        resolve(&self.handles, |rt| self.resolve(rt));
    }
}

/// What a cache lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A value.
    Hit,
    /// No value.
    Miss,
    /// The cache failed (`Err`): neither a hit nor a miss.
    Failed,
}

/// Return types a `#[cache_lookup]` function may have.
#[diagnostic::on_unimplemented(
    message = "`#[cache_lookup]` needs a function returning `Option<T>` or `Result<Option<T>, E>`, not `{Self}`",
    label = "`Some` is counted as a hit and `None` as a miss"
)]
pub trait CacheResult {
    /// Classify the lookup.
    fn lookup(&self) -> Lookup;
}

impl<T> CacheResult for Option<T> {
    #[inline]
    fn lookup(&self) -> Lookup {
        if self.is_some() {
            Lookup::Hit
        } else {
            Lookup::Miss
        }
    }
}

impl<T, E> CacheResult for Result<Option<T>, E> {
    #[inline]
    fn lookup(&self) -> Lookup {
        match self {
            Ok(value) => value.lookup(),
            Err(_) => Lookup::Failed,
        }
    }
}
