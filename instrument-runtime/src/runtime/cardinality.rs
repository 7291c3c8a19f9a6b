//! The cardinality guard: a per-family limit on the distinct label sets that
//! runtime data can create (label values taken from arguments, error type
//! labels from a user function).
//!
//! Past the limit, a new label set is folded into one set whose runtime
//! values are all [`OVERFLOW`]: the call is still counted (the totals over
//! all series still equal the number of calls), `cardinality_overflow_total
//! {family}` counts the folded calls, and a warning is reported once per
//! family.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{Counter, Label, SharedString};

use super::registry::Registry;
use crate::catalogue::{self, OVERFLOW};

/// The limits, and the label sets seen so far, of every guarded family.
#[derive(Debug)]
pub(crate) struct Cardinality {
    default_limit: usize,
    /// Full family name -> limit.
    limits: HashMap<String, usize>,
    families: RwLock<HashMap<String, Arc<Family>>>,
}

#[derive(Debug)]
struct Family {
    limit: usize,
    seen: RwLock<HashSet<Box<[SharedString]>>>,
    overflow: Counter,
    warned: AtomicBool,
}

impl Cardinality {
    pub(crate) fn new(default_limit: usize, limits: HashMap<String, usize>) -> Self {
        Cardinality {
            default_limit,
            limits,
            families: RwLock::default(),
        }
    }

    /// `values` when the family may have this label set, else the overflow
    /// set (every value [`OVERFLOW`]).
    pub(crate) fn admit(
        &self,
        registry: &Registry,
        family: &str,
        values: Vec<SharedString>,
    ) -> Vec<SharedString> {
        self.admit_or_fold(registry, family, values).0
    }

    /// As [`admit`](Self::admit), and whether the values were folded.
    pub(crate) fn admit_or_fold(
        &self,
        registry: &Registry,
        family: &str,
        values: Vec<SharedString>,
    ) -> (Vec<SharedString>, bool) {
        let family_state = self.family(registry, family);
        if family_state.admit(&values) {
            return (values, false);
        }
        family_state.overflow.increment(1);
        if !family_state.warned.swap(true, Ordering::Relaxed) {
            crate::diagnostics::cardinality_overflow(family, family_state.limit);
        }
        (vec![SharedString::const_str(OVERFLOW); values.len()], true)
    }

    fn family(&self, registry: &Registry, name: &str) -> Arc<Family> {
        if let Some(family) = self
            .families
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Arc::clone(family);
        }
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        let family = families.entry(name.to_owned()).or_insert_with(|| {
            let overflow_family = registry.builtin(&catalogue::CARDINALITY_OVERFLOW);
            let labels = vec![Label::new("family", name.to_owned())];
            Arc::new(Family {
                limit: self.limits.get(name).copied().unwrap_or(self.default_limit),
                seen: RwLock::default(),
                overflow: registry.counter(overflow_family, labels),
                warned: AtomicBool::new(false),
            })
        });
        Arc::clone(family)
    }
}

impl Family {
    fn admit(&self, values: &[SharedString]) -> bool {
        if self
            .seen
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(values)
        {
            return true;
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.contains(values) {
            return true;
        }
        if seen.len() >= self.limit {
            return false;
        }
        seen.insert(values.into());
        true
    }
}
