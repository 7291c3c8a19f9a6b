//! What refinery's runner has applied and has still to apply, in the
//! migration gauges.

use ::refinery_core::{Error, Migrate, Runner};

/// Report how many of `runner`'s migrations the database behind
/// `connection` has applied and how many it has not, on the settings'
/// database alias: [`db::migrations`](crate::db::migrations) with
/// refinery's figures. refinery creates its history table when it first
/// runs; report after that (at start-up, after `runner.run(..)`, or with
/// the migrations left for later).
///
/// # Errors
///
/// refinery's, when its history of applied migrations cannot be read.
///
/// ```
/// use refinery_core::{Migration, Runner};
///
/// let metrics = instrument_runtime::install()?;
/// let create = Migration::unapplied("V1__create_user", "CREATE TABLE user (email TEXT)").unwrap();
/// let index = Migration::unapplied("V2__index_email", "CREATE INDEX user_email ON user (email)").unwrap();
/// let mut db = rusqlite::Connection::open_in_memory().unwrap();
/// // The release before: one migration. This one has two.
/// Runner::new(&[create.clone()]).run(&mut db).unwrap();
/// let runner = Runner::new(&[create, index]);
/// instrument_runtime::db::refinery::report_migrations(&runner, &mut db).unwrap();
/// let page = metrics.render();
/// assert!(page.contains(r#"migrations_applied_total{connection="default"} 1"#));
/// assert!(page.contains(r#"migrations_unapplied_total{connection="default"} 1"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn report_migrations<C: Migrate>(runner: &Runner, connection: &mut C) -> Result<(), Error> {
    let (applied, unapplied) = count_migrations(runner, connection)?;
    super::migrations(applied, unapplied);
    Ok(())
}

/// [`report_migrations`] on the database alias `alias`.
///
/// # Errors
///
/// refinery's, when its history of applied migrations cannot be read.
///
/// ```
/// use refinery_core::Runner;
///
/// let metrics = instrument_runtime::install()?;
/// let mut db = rusqlite::Connection::open_in_memory().unwrap();
/// let runner = Runner::new(&[]);
/// runner.run(&mut db).unwrap();
/// instrument_runtime::db::refinery::report_migrations_on("events", &runner, &mut db).unwrap();
/// assert!(metrics.render().contains(r#"migrations_unapplied_total{connection="events"} 0"#));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
pub fn report_migrations_on<C: Migrate>(
    alias: &str,
    runner: &Runner,
    connection: &mut C,
) -> Result<(), Error> {
    let (applied, unapplied) = count_migrations(runner, connection)?;
    super::migrations_on(alias, applied, unapplied);
    Ok(())
}

/// `(applied, unapplied)`: the migrations the history lists, and the
/// runner's migrations it does not.
fn count_migrations<C: Migrate>(
    runner: &Runner,
    connection: &mut C,
) -> Result<(usize, usize), Error> {
    let applied: Vec<_> = runner
        .get_applied_migrations(connection)?
        .iter()
        .map(refinery_core::Migration::version)
        .collect();
    let unapplied = runner
        .get_migrations()
        .iter()
        .filter(|migration| !applied.contains(&migration.version()))
        .count();
    Ok((applied.len(), unapplied))
}
