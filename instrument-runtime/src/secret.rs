//! A credential for `/metrics/`, named in the settings and read when
//! installing, never printed.

use std::fmt;
use std::path::PathBuf;

/// A credential for the `/metrics/` endpoint, read at
/// [`install`](crate::Builder::install) from the environment, a file or a
/// literal.
///
/// Its `Debug` output names where the value comes from, never the value.
///
/// ```
/// use instrument_runtime::Secret;
///
/// let from_env = Secret::from_env("METRICS_TOKEN");
/// let from_file = Secret::from_file("/run/secrets/metrics_token");
/// let literal = Secret::new("hunter2");
/// assert_eq!(format!("{from_env:?}"), r#"Secret::from_env("METRICS_TOKEN")"#);
/// assert_eq!(format!("{from_file:?}"), r#"Secret::from_file("/run/secrets/metrics_token")"#);
/// assert_eq!(format!("{literal:?}"), "Secret::new(<redacted>)");
/// ```
#[derive(Clone)]
pub struct Secret {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Literal(String),
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// A value given in code. Meant for tests; a deployed service reads its
    /// credentials with [`Secret::from_env`] or [`Secret::from_file`].
    ///
    /// ```
    /// let secret = instrument_runtime::Secret::new("t0ken");
    /// assert_eq!(format!("{secret:?}"), "Secret::new(<redacted>)");
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Secret {
            source: Source::Literal(value.into()),
        }
    }

    /// The value of the environment variable `name`, read at install. The
    /// variable must be set, valid UTF-8 and not empty.
    ///
    /// ```
    /// use instrument_runtime::{Builder, Error, Secret};
    ///
    /// let refused = Builder::new().bearer_token(Secret::from_env("NOT_SET_ANYWHERE")).install();
    /// assert!(matches!(refused, Err(Error::InvalidSetting { setting: "bearer_token", .. })));
    /// ```
    pub fn from_env(name: impl Into<String>) -> Self {
        Secret {
            source: Source::Env(name.into()),
        }
    }

    /// The content of the file at `path`, read at install (a Docker or
    /// Kubernetes secret, say). Surrounding whitespace, such as the trailing
    /// newline, is dropped, as Prometheus does with its own
    /// `credentials_file` and `password_file`; what remains must not be
    /// empty.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("metrics-token-{}", std::process::id()));
    /// std::fs::write(&path, "t0ken\n")?;
    /// instrument_runtime::Builder::new()
    ///     .bearer_token(instrument_runtime::Secret::from_file(&path))
    ///     .install()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        Secret {
            source: Source::File(path.into()),
        }
    }

    /// The value, or why it cannot be had. `what` names the credential
    /// ("token", "password"); the reason never holds the value.
    pub(crate) fn resolve(&self, what: &str) -> Result<String, String> {
        let value = match &self.source {
            Source::Literal(value) => {
                if value.is_empty() {
                    return Err(format!("the {what} is empty"));
                }
                value.clone()
            }
            Source::Env(name) => match std::env::var(name) {
                Ok(value) if value.is_empty() => {
                    return Err(format!("the {what}'s environment variable {name} is empty"))
                }
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(format!(
                        "the {what}'s environment variable {name} is not set"
                    ))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!(
                        "the {what}'s environment variable {name} is not valid UTF-8"
                    ))
                }
            },
            Source::File(path) => match std::fs::read_to_string(path) {
                Ok(text) if text.trim().is_empty() => {
                    return Err(format!("the {what}'s file {} is empty", path.display()))
                }
                Ok(text) => text.trim().to_owned(),
                Err(error) => {
                    return Err(format!(
                        "the {what}'s file {} cannot be read: {error}",
                        path.display()
                    ))
                }
            },
        };
        Ok(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Literal(_) => f.write_str("Secret::new(<redacted>)"),
            Source::Env(name) => write!(f, "Secret::from_env({name:?})"),
            Source::File(path) => write!(f, "Secret::from_file({path:?})"),
        }
    }
}
