//! Service-level objectives: what share of calls must succeed, or finish
//! within a latency threshold, over a window. Declared as constants, checked
//! when the program compiles where the values allow it.

use std::time::Duration;

use crate::catalogue::DEFAULT_BUCKETS;

/// A service-level objective: the share of calls that must succeed, and
/// the share that must finish within a latency threshold, over a window
/// (30 days unless [`over`](Self::over) says otherwise).
///
/// Declare it once as a `const` and attach it where the calls are:
/// `#[counted(objective = API)]` measures its success target,
/// `#[timed(objective = API)]` its latency target, and
/// [`Builder::http_objective`](crate::Builder::http_objective) both for an
/// HTTP route of the layer. [`Metrics::objective_rules`](crate::Metrics::objective_rules)
/// then gives the Prometheus recording rules and the multiwindow,
/// multi-burn-rate alerts of Google's SRE workbook for every objective the
/// program declares.
///
/// The checks run when the constant is evaluated, so a bad value is a
/// compile error: a name of letters, digits, `_` and `-`, targets strictly
/// between 0 and 100 percent, a window of at least 3 days (the workbook's
/// slowest alert looks 3 days back), and a latency threshold that is one of
/// the [default bucket boundaries](crate::DEFAULT_BUCKETS), since the
/// share of fast calls is read from the bucket of that boundary.
///
/// ```
/// use std::time::Duration;
/// use instrument_runtime::{counted, timed, Objective};
///
/// /// 99.9% of calls succeed; 99% of them within 250 ms.
/// const API: Objective = Objective::new("api")
///     .success(99.9)
///     .latency(Duration::from_millis(250), 99.0);
///
/// #[counted(objective = API)]
/// #[timed(objective = API)]
/// fn checkout() -> Result<(), std::io::Error> {
///     Ok(())
/// }
///
/// assert_eq!(API.name(), "api");
/// assert_eq!(API.window(), Duration::from_secs(30 * 24 * 3600));
/// ```
///
/// A threshold between two boundaries does not compile, and the message
/// names the two:
///
/// ```compile_fail
/// use std::time::Duration;
/// use instrument_runtime::Objective;
///
/// // error: ... 0.3 s is not a default bucket boundary: between 0.25 and 0.5 s
/// const SLOW: Objective = Objective::new("api").latency(Duration::from_millis(300), 99.0);
/// # fn main() { let _ = SLOW; }
/// ```
///
/// With buckets of your own ([`Builder::buckets`](crate::Builder::buckets)),
/// [`latency_on_custom_buckets`](Self::latency_on_custom_buckets) takes any
/// threshold, and `install()` checks it against the family's buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    pub(crate) name: &'static str,
    /// The success target, in percent.
    pub(crate) success: Option<f64>,
    pub(crate) latency: Option<Latency>,
    pub(crate) window: Duration,
}

/// A latency target: the share of calls, in percent, that finish within
/// the threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Latency {
    pub(crate) threshold: Duration,
    pub(crate) target: f64,
}

/// Where an objective is measured.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Subject {
    /// The calls of a `#[counted]` / `#[timed]` function.
    Function {
        function: &'static str,
        module: &'static str,
    },
    /// The requests of a route of the HTTP layer: its `view` (the matched
    /// path), of one method or of all.
    Route {
        method: Option<String>,
        view: String,
    },
}

impl Subject {
    /// A route as [`Builder::http_objective`](crate::Builder::http_objective)
    /// takes it: `"GET /users/{id}"`, or `"/users/{id}"` for every method.
    pub(crate) fn route(route: &str) -> Result<Subject, String> {
        let (method, view) = match route.split_once(' ') {
            Some((method, view)) => (Some(method), view),
            None => (None, route),
        };
        if let Some(method) = method {
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "{route:?}: the method is written in capitals before the path, as in \"GET /users/{{id}}\""
                ));
            }
        }
        if !view.starts_with('/') || view.contains(char::is_whitespace) {
            return Err(format!(
                "{route:?}: a route is \"METHOD /path\" or \"/path\", the path as the router declares it"
            ));
        }
        Ok(Subject::Route {
            method: method.map(str::to_owned),
            view: view.to_owned(),
        })
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Function { function, module } => write!(f, "{module}::{function}"),
            Subject::Route {
                method: Some(method),
                view,
            } => write!(f, "{method} {view}"),
            Subject::Route { method: None, view } => write!(f, "{view}"),
        }
    }
}

/// An objective attached to what it measures.
#[derive(Clone, Debug)]
pub(crate) struct Attached {
    pub(crate) objective: Objective,
    pub(crate) subject: Subject,
}

/// Thirty days, the window of an objective unless it names one.
const THIRTY_DAYS: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest window the alerts look back.
const THREE_DAYS: Duration = Duration::from_secs(3 * 24 * 3600);

impl Objective {
    /// An objective named `name`, without targets yet; the name labels its
    /// rules and alerts (`objective="api"`).
    ///
    /// ```
    /// const API: instrument_runtime::Objective = instrument_runtime::Objective::new("api").success(99.5);
    /// assert_eq!(API.name(), "api");
    /// ```
    ///
    /// # Panics
    ///
    /// When `name` is empty or has a character other than ASCII letters,
    /// digits, `_` and `-` (a compile error in a `const`).
    pub const fn new(name: &'static str) -> Objective {
        let bytes = name.as_bytes();
        if bytes.is_empty() {
            panic!("an objective's name must not be empty");
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                panic!("an objective's name is made of ASCII letters, digits, `_` and `-`");
            }
            i += 1;
        }
        Objective {
            name,
            success: None,
            latency: None,
            window: THIRTY_DAYS,
        }
    }

    /// `percent` of calls succeed: neither an `Err` nor a panic for a
    /// function, no 5xx response for an HTTP route.
    ///
    /// ```
    /// const API: instrument_runtime::Objective = instrument_runtime::Objective::new("api").success(99.9);
    /// assert_eq!(API.success_target(), Some(99.9));
    /// ```
    ///
    /// # Panics
    ///
    /// When `percent` is not strictly between 0 and 100 (a compile error
    /// in a `const`).
    pub const fn success(mut self, percent: f64) -> Objective {
        check_percent(percent);
        self.success = Some(percent);
        self
    }

    /// `percent` of calls finish within `threshold`, which must be one of
    /// the [default bucket boundaries](crate::DEFAULT_BUCKETS). Every call
    /// `#[timed]` (or the HTTP layer) records counts, a call the client
    /// gave up on included: it was slow for the client.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// const API: instrument_runtime::Objective =
    ///     instrument_runtime::Objective::new("api").latency(Duration::from_millis(500), 95.0);
    /// assert_eq!(API.latency_target(), Some((Duration::from_millis(500), 95.0)));
    /// ```
    ///
    /// # Panics
    ///
    /// When `threshold` is not a default bucket boundary (the message names
    /// the boundaries around it) or `percent` is not strictly between 0 and
    /// 100: a compile error in a `const`.
    pub const fn latency(self, threshold: Duration, percent: f64) -> Objective {
        check_default_bucket(threshold);
        self.latency_on_custom_buckets(threshold, percent)
    }

    /// [`latency`](Self::latency) for a family with buckets of your own:
    /// `install()` fails unless `threshold` is one of its boundaries.
    ///
    /// ```
    /// use std::time::Duration;
    /// use instrument_runtime::{timed, Builder, Error, Objective};
    ///
    /// const FAST: Objective =
    ///     Objective::new("fast").latency_on_custom_buckets(Duration::from_millis(300), 99.0);
    ///
    /// #[timed(objective = FAST)]
    /// fn render() {}
    ///
    /// // The default buckets have no 0.3.
    /// let error = Builder::new().install().unwrap_err();
    /// assert!(matches!(error, Error::Objective { .. }), "{error}");
    /// assert!(error.to_string().contains("between 0.25 and 0.5"), "{error}");
    /// // Nothing was installed: with buckets that have it, the install works.
    /// Builder::new().buckets(&[0.1, 0.3, 1.0]).install()?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When `percent` is not strictly between 0 and 100 (a compile error in
    /// a `const`).
    pub const fn latency_on_custom_buckets(
        mut self,
        threshold: Duration,
        percent: f64,
    ) -> Objective {
        check_percent(percent);
        if threshold.is_zero() {
            panic!("a latency objective's threshold must be above zero");
        }
        self.latency = Some(Latency {
            threshold,
            target: percent,
        });
        self
    }

    /// The window the targets hold over, and the error budget is counted
    /// in: 30 days unless set here.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// const WEEKLY: instrument_runtime::Objective = instrument_runtime::Objective::new("weekly")
    ///     .success(99.0)
    ///     .over(Duration::from_secs(7 * 24 * 3600));
    /// assert_eq!(WEEKLY.window(), Duration::from_secs(604_800));
    /// ```
    ///
    /// # Panics
    ///
    /// When `window` is shorter than 3 days, the longest window of the
    /// alerts (a compile error in a `const`).
    pub const fn over(mut self, window: Duration) -> Objective {
        if window.as_secs() < THREE_DAYS.as_secs() {
            panic!(
                "an objective's window must be at least 3 days, the longest window of its alerts"
            );
        }
        self.window = window;
        self
    }

    /// The objective's name.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::Objective::new("checkout").name(), "checkout");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The success target in percent, if set.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::Objective::new("api").success_target(), None);
    /// ```
    pub const fn success_target(&self) -> Option<f64> {
        self.success
    }

    /// The latency threshold and its target in percent, if set.
    ///
    /// ```
    /// assert_eq!(instrument_runtime::Objective::new("api").latency_target(), None);
    /// ```
    pub const fn latency_target(&self) -> Option<(Duration, f64)> {
        match self.latency {
            Some(latency) => Some((latency.threshold, latency.target)),
            None => None,
        }
    }

    /// The objective's window.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(instrument_runtime::Objective::new("api").window(), Duration::from_secs(2_592_000));
    /// ```
    pub const fn window(&self) -> Duration {
        self.window
    }
}

const fn check_percent(percent: f64) {
    // Written so that NaN fails too.
    if !(percent > 0.0 && percent < 100.0) {
        panic!("an objective's target is a percentage strictly between 0 and 100");
    }
}

/// Where a threshold that is not a default boundary lies: one message per
/// gap between [`DEFAULT_BUCKETS`], in their order.
const GAPS: [&str; 17] = [
    "a latency objective's threshold must be one of the default bucket boundaries: below the smallest, 0.01 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.01 and 0.025 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.025 and 0.05 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.05 and 0.075 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.075 and 0.1 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.1 and 0.25 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.25 and 0.5 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.5 and 0.75 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 0.75 and 1 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 1 and 2.5 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 2.5 and 5 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 5 and 7.5 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 7.5 and 10 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 10 and 25 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 25 and 50 s",
    "a latency objective's threshold must be one of the default bucket boundaries: between 50 and 75 s",
    "a latency objective's threshold must be one of the default bucket boundaries: above the largest, 75 s",
];

const fn check_default_bucket(threshold: Duration) {
    let seconds = threshold.as_secs_f64();
    let mut i = 0;
    while i < DEFAULT_BUCKETS.len() {
        if seconds == DEFAULT_BUCKETS[i] {
            return;
        }
        if seconds < DEFAULT_BUCKETS[i] {
            panic!("{}", GAPS[i]);
        }
        i += 1;
    }
    panic!("{}", GAPS[DEFAULT_BUCKETS.len()]);
}

/// The boundaries of `bounds` around `seconds`, for a message: "between
/// 0.25 and 0.5", "below the smallest, 0.01", "above the largest, 75".
pub(crate) fn nearest(bounds: &[f64], seconds: f64) -> String {
    match bounds.iter().position(|&bound| bound > seconds) {
        Some(0) => format!("below the smallest, {}", bounds[0]),
        Some(i) => format!("between {} and {}", bounds[i - 1], bounds[i]),
        None => match bounds.last() {
            Some(last) => format!("above the largest, {last}"),
            None => "no boundaries at all".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gap_message_names_its_neighbours() {
        assert_eq!(GAPS.len(), DEFAULT_BUCKETS.len() + 1);
        for (i, gap) in GAPS.iter().enumerate() {
            let midpoint = match i {
                0 => DEFAULT_BUCKETS[0] / 2.0,
                i if i == DEFAULT_BUCKETS.len() => DEFAULT_BUCKETS[i - 1] * 2.0,
                i => (DEFAULT_BUCKETS[i - 1] + DEFAULT_BUCKETS[i]) / 2.0,
            };
            let expected = nearest(DEFAULT_BUCKETS, midpoint);
            assert!(
                gap.ends_with(&format!("{expected} s")),
                "{gap} / {expected}"
            );
        }
    }

    #[test]
    fn every_default_boundary_in_milliseconds_is_a_threshold() {
        for bound in DEFAULT_BUCKETS {
            let millis = (bound * 1000.0).round() as u64;
            check_default_bucket(Duration::from_millis(millis));
        }
    }
}
