//! What the database integrations record, per alias: the runtime's, as
//! `#[model_op]` and the integrations both read it.

use std::cell::Cell;
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
    /// The integration records a statement on the thread that runs it (a
    /// synchronous driver's hook): see [`Traced`].
    same_thread: AtomicBool,
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

    /// Does the integration record statements on the thread that runs
    /// them?
    #[inline]
    pub(crate) fn same_thread(&self) -> bool {
        self.same_thread.load(Ordering::Relaxed)
    }

    /// An integration counts the alias's statements from now on.
    pub(crate) fn count_statements(&self) {
        self.statements.store(true, Ordering::Relaxed);
    }

    /// The integration records statements on the thread that runs them.
    pub(crate) fn on_the_same_thread(&self) {
        self.same_thread.store(true, Ordering::Relaxed);
    }

    /// An integration counts the alias's failed statements from now on.
    pub(crate) fn count_errors(&self) {
        self.errors.store(true, Ordering::Relaxed);
    }
}

/// What the synchronous integrations recorded on one thread: a call of
/// `#[model_op]` compares it before and after, to learn whether the
/// statements it ran reached the integration (an error before a statement
/// starts, such as SQL that does not prepare, reaches no hook).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Traced {
    /// The thread (the address of its record), so that a call that ends on
    /// another thread (an `async fn` moved by its executor) compares
    /// nothing.
    thread: usize,
    statements: u64,
    failures: u64,
}

thread_local! {
    static TRACED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl Traced {
    /// This thread's record now.
    #[inline]
    pub(crate) fn now() -> Traced {
        TRACED.with(|traced| {
            let (statements, failures) = traced.get();
            Traced {
                thread: std::ptr::from_ref(traced) as usize,
                statements,
                failures,
            }
        })
    }

    /// A statement ran on this thread, failed or not.
    #[cfg_attr(
        not(any(feature = "rusqlite-0_39", feature = "diesel-2")),
        allow(dead_code)
    )]
    pub(crate) fn statement(failed: bool) {
        TRACED.with(|traced| {
            let (statements, failures) = traced.get();
            traced.set((statements + 1, failures + u64::from(failed)));
        });
    }

    /// Since `earlier` on this thread: `(statements, failures)`, or `None`
    /// from another thread.
    #[inline]
    pub(crate) fn since(earlier: Traced) -> Option<(u64, u64)> {
        let now = Traced::now();
        (now.thread == earlier.thread).then(|| {
            (
                now.statements - earlier.statements,
                now.failures - earlier.failures,
            )
        })
    }
}
