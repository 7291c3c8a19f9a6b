//! What was built: the labels of the `build_info` gauge that dashboards
//! mark deploys with.

/// The version, commit and branch of the application, and its service
/// name: the labels of the `build_info` gauge (always 1), which
/// [`Builder::build_info`](crate::Builder::build_info) adds to the page.
/// Dashboards join it to other series to show which version served them,
/// and mark each deploy where its labels change; autometrics' dashboards
/// read it under these label names.
///
/// [`build_info!`](crate::build_info!) fills it in from the application's
/// own build; [`BuildInfo::new`] sets it by hand.
///
/// ```
/// use instrument_runtime::BuildInfo;
///
/// let metrics = instrument_runtime::Builder::new()
///     .build_info(BuildInfo::new("billing", "2.4.1").commit("5cc2aa5").branch("main"))
///     .install()?;
/// assert!(metrics.render().contains(
///     r#"build_info{version="2.4.1",commit="5cc2aa5",branch="main",service_name="billing",rustc_version=""} 1"#
/// ));
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    pub(crate) service_name: String,
    pub(crate) version: String,
    pub(crate) commit: String,
    pub(crate) branch: String,
    pub(crate) rustc_version: String,
}

impl BuildInfo {
    /// The build of `version` of the service `service_name`, commit and
    /// branch unknown (empty).
    ///
    /// ```
    /// let info = instrument_runtime::BuildInfo::new("billing", "2.4.1");
    /// assert_eq!(info, instrument_runtime::BuildInfo::new("billing", "2.4.1").commit(""));
    /// ```
    pub fn new(service_name: impl Into<String>, version: impl Into<String>) -> BuildInfo {
        BuildInfo {
            service_name: service_name.into(),
            version: version.into(),
            commit: String::new(),
            branch: String::new(),
            rustc_version: String::new(),
        }
    }

    /// The commit the build was made from.
    ///
    /// ```
    /// let info = instrument_runtime::BuildInfo::new("billing", "2.4.1")
    ///     .commit(option_env!("GIT_COMMIT").unwrap_or("unknown"));
    /// # drop(info);
    /// ```
    pub fn commit(mut self, commit: impl Into<String>) -> BuildInfo {
        self.commit = commit.into();
        self
    }

    /// The branch the build was made from.
    ///
    /// ```
    /// let info = instrument_runtime::BuildInfo::new("billing", "2.4.1").branch("release/2.4");
    /// # drop(info);
    /// ```
    pub fn branch(mut self, branch: impl Into<String>) -> BuildInfo {
        self.branch = branch.into();
        self
    }

    /// The version of the compiler that made the build.
    ///
    /// ```
    /// let info = instrument_runtime::BuildInfo::new("billing", "2.4.1").rustc_version("1.95.0");
    /// # drop(info);
    /// ```
    pub fn rustc_version(mut self, version: impl Into<String>) -> BuildInfo {
        self.rustc_version = version.into();
        self
    }

    /// The gauge's label pairs, in the order they are rendered; the service
    /// name is the settings' where they have one
    /// ([`Builder::service_name`](crate::Builder::service_name) or
    /// `OTEL_SERVICE_NAME`).
    pub(crate) fn labels(self, service_name: Option<String>) -> [(&'static str, String); 5] {
        [
            ("version", self.version),
            ("commit", self.commit),
            ("branch", self.branch),
            ("service_name", service_name.unwrap_or(self.service_name)),
            ("rustc_version", self.rustc_version),
        ]
    }
}

/// The [`BuildInfo`] of the crate this is written in, from what its build
/// knows at compile time: `service_name` and `version` are the package's
/// name and version (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`), `commit` is
/// `VERGEN_GIT_SHA` (vergen's name) or `GIT_COMMIT`, `branch`
/// `VERGEN_GIT_BRANCH` or `GIT_BRANCH`, `rustc_version`
/// `VERGEN_RUSTC_SEMVER`, each empty when the build does not set it. Set
/// them from a build script (vergen does) or the CI's environment.
///
/// ```
/// let metrics = instrument_runtime::Builder::new()
///     .build_info(instrument_runtime::build_info!())
///     .install()?;
/// let page = metrics.render();
/// let line = page.lines().find(|line| line.starts_with("build_info{")).unwrap();
/// assert!(line.contains(&format!(r#"version="{}""#, env!("CARGO_PKG_VERSION"))), "{line}");
/// assert!(line.ends_with("} 1"), "{line}");
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
#[macro_export]
macro_rules! build_info {
    () => {
        $crate::BuildInfo::new(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
        )
        .commit(
            ::core::option_env!("VERGEN_GIT_SHA")
                .or(::core::option_env!("GIT_COMMIT"))
                .unwrap_or(""),
        )
        .branch(
            ::core::option_env!("VERGEN_GIT_BRANCH")
                .or(::core::option_env!("GIT_BRANCH"))
                .unwrap_or(""),
        )
        .rustc_version(::core::option_env!("VERGEN_RUSTC_SEMVER").unwrap_or(""))
    };
}
