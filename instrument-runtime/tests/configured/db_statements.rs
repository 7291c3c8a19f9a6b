//! What the database integrations' tests read of the page: the statement
//! families of an SQLite alias.

use crate::common::Page;

pub(crate) const EXECUTE: &str = "db_execute_total";
pub(crate) const LATENCY: &str = "db_execute_latency_seconds";
pub(crate) const ERRORS: &str = "db_errors_total";

/// The labels of an SQLite database's series.
pub(crate) fn sqlite(alias: &str) -> [(&str, &str); 2] {
    [("alias", alias), ("vendor", "sqlite")]
}

/// `(statements, latency samples)` counted on the SQLite alias `alias`.
pub(crate) fn statements(page: &Page, alias: &str) -> (u64, u64) {
    (
        page.count(EXECUTE, &sqlite(alias)),
        page.histogram(LATENCY, &sqlite(alias)).0,
    )
}
