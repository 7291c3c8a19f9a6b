//! What the database integrations record, per alias: the runtime's, as
//! `#[model_op]` and the integrations both read it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Per database alias, what an integration records of it.
#[derive(Debug, Default)]
pub(crate) struct Databases {
    aliases: Mutex<Vec<(String, &'static Coverage)>>,
}

impl Databases {
    /// What the integrations record of `alias`; one per alias for the
    /// runtime's life (the runtime is never dropped).
    pub(crate) fn coverage(&self, alias: &str) -> &'static Coverage {
        let mut aliases = self
            .aliases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, coverage)) = aliases.iter().find(|(known, _)| known == alias) {
            return coverage;
        }
        let coverage: &'static Coverage = Box::leak(Box::default());
        aliases.push((alias.to_owned(), coverage));
        coverage
    }
}

/// What an integration records of one database alias.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    /// Every statement: `db_execute_total` and the latency families.
    statements: AtomicBool,
    /// Every failed statement, by its error's kind: `db_errors_total`.
    errors: AtomicBool,
}

impl Coverage {
    /// Does an integration count the alias's statements?
    #[inline]
    pub(crate) fn statements(&self) -> bool {
        self.statements.load(Ordering::Relaxed)
    }

    /// Does an integration count the alias's failed statements?
    #[inline]
    pub(crate) fn errors(&self) -> bool {
        self.errors.load(Ordering::Relaxed)
    }

    /// An integration counts the alias's statements from now on.
    #[cfg_attr(
        not(any(feature = "rusqlite-0_39", feature = "diesel-2")),
        allow(dead_code)
    )]
    pub(crate) fn count_statements(&self) {
        self.statements.store(true, Ordering::Relaxed);
    }

    /// An integration counts the alias's failed statements from now on.
    #[cfg_attr(not(feature = "diesel-2"), allow(dead_code))]
    pub(crate) fn count_errors(&self) {
        self.errors.store(true, Ordering::Relaxed);
    }
}
