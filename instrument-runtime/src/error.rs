use std::fmt;

/// Why [`install`](crate::install) or [`Builder::install`](crate::Builder::install) failed.
///
/// Every variant names the setting or resource at fault. Nothing is
/// installed when one is returned: the settings are checked, the
/// `/metrics/` credentials read and the listener bound before the recorder
/// is installed.
///
/// ```
/// use instrument_runtime::{Builder, Error};
///
/// match Builder::new().namespace("my-service").install() {
///     Err(Error::InvalidSetting { setting, reason }) => {
///         assert_eq!(setting, "namespace");
///         assert_eq!(reason, r#""my-service" is not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)"#);
///     }
///     other => panic!("{other:?}"),
/// }
/// // Nothing was installed: a corrected install works.
/// assert!(Builder::new().namespace("my_service").install().is_ok());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A metrics recorder is already installed: `install()` was called
    /// twice, or another crate installed a recorder for the `metrics` facade
    /// (attach to it with [`Builder::attach`](crate::Builder::attach)), or
    /// this crate is attached already.
    AlreadyInstalled,
    /// [`Builder::attach`](crate::Builder::attach) found no global recorder
    /// to attach to.
    NoRecorder,
    /// A setting has a value that cannot be used, or a credential that
    /// [`Secret`](crate::Secret) names cannot be read. The reason names the
    /// variable, file or entry at fault, never a secret's value.
    InvalidSetting {
        /// The builder method that received the value, e.g. `"namespace"`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Families of the program's call sites would collide on the page: one
    /// name used as two types, or a family named like the samples of a
    /// histogram (`x_count`, `x_sum` or `x_bucket` of a histogram `x`), which
    /// a Prometheus parser rejects. Each entry names both families and where
    /// they are declared (file and line).
    FamilyCollision {
        /// One line per colliding pair.
        collisions: Vec<String>,
    },
    /// An [`Objective`](crate::Objective) attached to a function or route
    /// cannot be measured there: a latency threshold that is not a bucket
    /// boundary of the family (the message names the boundaries around
    /// it), a target the attribute does not record (a success target
    /// needs `#[counted]`, a latency target `#[timed]`), or a route that is
    /// not `"METHOD /path"` or `"/path"`.
    Objective {
        /// The objective's name.
        objective: &'static str,
        /// Where it is attached: `#[timed] on shop::checkout`, `route GET /users`.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// The standalone listener could not be bound.
    Listen {
        /// The address that was asked for.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyInstalled => f.write_str(
                "a metrics recorder is already installed: call install() once, at start-up, \
                 or attach() to the recorder another crate installed",
            ),
            Error::NoRecorder => f.write_str(
                "no metrics recorder is installed to attach to: install the exporter's recorder \
                 first, or call install() for this crate's own",
            ),
            Error::InvalidSetting { setting, reason } => {
                write!(f, "invalid setting `{setting}`: {reason}")
            }
            Error::FamilyCollision { collisions } => {
                write!(
                    f,
                    "families would collide on the page, which Prometheus would then reject; rename one of each pair: {}",
                    collisions.join("; ")
                )
            }
            Error::Objective {
                objective,
                target,
                reason,
            } => write!(f, "objective `{objective}` ({target}): {reason}"),
            Error::Listen { addr, source } => {
                write!(f, "cannot listen for /metrics/ on {addr}: {source}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Listen { source, .. } => Some(source),
            _ => None,
        }
    }
}
