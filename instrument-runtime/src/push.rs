//! Pushing the exposition to a Prometheus Pushgateway, for batch jobs that
//! end before a scrape could reach them.
//!
//! One `PUT` through ureq: one deadline for the whole push (resolving,
//! connecting, the TLS handshake, sending and reading the answer), no
//! redirects followed, and at most [`MAX_BODY`] bytes of a refusal read.
//! `https://` and client certificates with the `tls` feature (rustls).

use std::fmt;
use std::io::{self, Read};
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;

use crate::{Metrics, Secret};

/// How long a push may take, connecting included, unless
/// [`Push::timeout`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a refusal's body that is read and kept in the error.
const MAX_BODY: usize = 1024;

impl Metrics {
    /// Push every series to a Pushgateway under `job`, replacing what that
    /// job pushed before: an HTTP `PUT` of [`render`](Metrics::render) to
    /// `{gateway}/metrics/job/{job}`.
    ///
    /// `gateway` is `http://host:port`, optionally with a path prefix
    /// (`http://gateway:9091/pushgateway`). Use [`Push`] for grouping labels
    /// or another timeout (the default is 10 s).
    ///
    /// ```no_run
    /// let metrics = instrument_runtime::install()?;
    /// // ... the batch job's work ...
    /// metrics.push("http://127.0.0.1:9091", "nightly-import")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`PushError`] naming the URL: the gateway cannot be reached, does
    /// not answer in time, or answers other than `2xx` (its status and body
    /// are in the error).
    pub fn push(&self, gateway: &str, job: &str) -> Result<(), PushError> {
        Push::new(gateway, job).send(self)
    }
}

/// A push to a Prometheus Pushgateway: the gateway, the job, grouping
/// labels and a timeout.
///
/// The job and grouping labels form the group's key: a push replaces every
/// series the same key pushed before (HTTP `PUT`), so a job that pushes
/// its complete state when it finishes leaves no stale series behind.
/// Values that cannot stand in a URL path as they are (`/`, spaces, an
/// empty value, ...) are sent base64-encoded, as the gateway expects.
///
/// ```no_run
/// use std::time::Duration;
/// use instrument_runtime::Push;
///
/// let metrics = instrument_runtime::Builder::new().namespace("billing").install()?;
/// // ... the batch job's work ...
/// Push::new("http://pushgateway:9091", "invoice-run")
///     .grouping("shard", "eu/1")
///     .timeout(Duration::from_secs(5))
///     .send(&metrics)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Prometheus scrapes the gateway with `honor_labels: true`, so the pushed
/// `job` (and grouping labels) are kept rather than replaced by the
/// gateway's own:
///
/// ```yaml
/// scrape_configs:
///   - job_name: pushgateway
///     honor_labels: true
///     static_configs:
///       - targets: ["pushgateway:9091"]
/// ```
#[derive(Clone, Debug)]
pub struct Push {
    gateway: String,
    job: String,
    grouping: Vec<(String, String)>,
    timeout: Duration,
    basic_auth: Option<(String, Secret)>,
    #[cfg(feature = "tls")]
    ca_file: Option<PathBuf>,
    #[cfg(feature = "tls")]
    client_cert: Option<(PathBuf, PathBuf)>,
}

impl Push {
    /// A push of `job` to the gateway at `gateway` (`http://host:port`,
    /// optionally with a path prefix; the scheme may be left out; with the
    /// `tls` feature also `https://`).
    ///
    /// ```
    /// let push = instrument_runtime::Push::new("pushgateway:9091", "nightly");
    /// assert_eq!(push.url()?, "http://pushgateway:9091/metrics/job/nightly");
    /// # Ok::<(), instrument_runtime::PushError>(())
    /// ```
    pub fn new(gateway: impl Into<String>, job: impl Into<String>) -> Push {
        Push {
            gateway: gateway.into(),
            job: job.into(),
            grouping: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            basic_auth: None,
            #[cfg(feature = "tls")]
            ca_file: None,
            #[cfg(feature = "tls")]
            client_cert: None,
        }
    }

    /// Add a grouping label: part of the group's key, and a label of every
    /// pushed series (the gateway overrides a series' own label of that
    /// name). `instance` is the usual one.
    ///
    /// ```
    /// let push = instrument_runtime::Push::new("http://gw:9091", "import").grouping("instance", "worker-1");
    /// assert_eq!(push.url()?, "http://gw:9091/metrics/job/import/instance/worker-1");
    /// # Ok::<(), instrument_runtime::PushError>(())
    /// ```
    pub fn grouping(mut self, name: impl Into<String>, value: impl Into<String>) -> Push {
        self.grouping.push((name.into(), value.into()));
        self
    }

    /// How long the whole push may take: resolving, connecting, the TLS
    /// handshake, sending and reading the answer. 10 s unless set. One
    /// deadline, not one per step: a gateway that reads the page slowly
    /// cannot keep the job waiting past it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let push = instrument_runtime::Push::new("http://gw:9091", "import").timeout(Duration::from_secs(3));
    /// # let _ = push;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Push {
        self.timeout = timeout;
        self
    }

    /// Send HTTP basic credentials, as a gateway run with
    /// `--web.config.file` and `basic_auth_users` requires. The password is
    /// read when the push is sent; over plain `http://` it travels in clear
    /// text, so use `https://` outside a private network.
    ///
    /// ```no_run
    /// use instrument_runtime::{Push, Secret};
    ///
    /// let metrics = instrument_runtime::install()?;
    /// Push::new("https://pushgateway.internal:9091", "invoice-run")
    ///     .basic_auth("batch", Secret::from_file("/run/secrets/pushgateway_password"))
    ///     .send(&metrics)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn basic_auth(mut self, username: impl Into<String>, password: Secret) -> Push {
        self.basic_auth = Some((username.into(), password));
        self
    }

    /// Trust the certificate authorities of this PEM file for an
    /// `https://` gateway, instead of the Mozilla root store (for a
    /// gateway with a certificate of the organisation's own CA). Read when
    /// the push is sent.
    ///
    /// ```no_run
    /// let metrics = instrument_runtime::install()?;
    /// instrument_runtime::Push::new("https://pushgateway.internal:9091", "import")
    ///     .ca_file("/etc/ssl/internal-ca.crt")
    ///     .client_cert("/etc/batch/client.crt", "/etc/batch/client.key")
    ///     .send(&metrics)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Push {
        self.ca_file = Some(path.into());
        self
    }

    /// Present this client certificate (PEM chain and PEM private key) to
    /// an `https://` gateway that requires one (`client_auth_type:
    /// RequireAndVerifyClientCert` in its web config). Read when the push
    /// is sent: a file that cannot be used fails the push with an error
    /// naming it, before anything is sent.
    ///
    /// ```
    /// let metrics = instrument_runtime::install()?;
    /// let refused = instrument_runtime::Push::new("https://127.0.0.1:9091", "import")
    ///     .client_cert("/nonexistent/client.crt", "/nonexistent/client.key")
    ///     .send(&metrics);
    /// let message = refused.unwrap_err().to_string();
    /// assert!(message.contains("/nonexistent/client.crt"), "{message}");
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn client_cert(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Push {
        self.client_cert = Some((cert_file.into(), key_file.into()));
        self
    }

    /// The URL the push goes to, e.g.
    /// `http://127.0.0.1:9091/metrics/job/nightly/shard@base64/ZXUvMQ==`.
    ///
    /// # Errors
    ///
    /// [`PushError::InvalidGateway`] or [`PushError::InvalidGrouping`], as
    /// [`send`](Push::send) would return them.
    ///
    /// ```
    /// use instrument_runtime::{Push, PushError};
    ///
    /// let shard = Push::new("http://gw:9091/prefix", "import").grouping("shard", "eu/1");
    /// assert_eq!(shard.url()?, "http://gw:9091/prefix/metrics/job/import/shard@base64/ZXUvMQ==");
    /// let bad = Push::new("http://gw:9091", "import").grouping("1st", "x");
    /// assert!(matches!(bad.url(), Err(PushError::InvalidGrouping { .. })));
    /// # Ok::<(), PushError>(())
    /// ```
    pub fn url(&self) -> Result<String, PushError> {
        self.target().map(|target| target.url)
    }

    /// Push every series of `metrics` (its [`render`](Metrics::render)), in
    /// the text format 0.0.4: the Pushgateway takes that format (and
    /// protobuf), not OpenMetrics, and Prometheus scraping the gateway
    /// gets the same series names either way.
    ///
    /// # Errors
    ///
    /// A [`PushError`] naming the URL: an address, label or credential that
    /// cannot be used, a gateway that cannot be reached or does not take
    /// the push within the timeout, or an answer other than `2xx`, whose
    /// status and the start of whose body the error carries. A redirect is
    /// an answer other than `2xx`: it is not followed.
    ///
    /// ```no_run
    /// let metrics = instrument_runtime::install()?;
    /// instrument_runtime::Push::new("http://127.0.0.1:9091", "import").send(&metrics)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, metrics: &Metrics) -> Result<(), PushError> {
        let target = self.target()?;
        let authorization = self.authorization()?;
        let agent = self.agent()?;
        let page = metrics.render();
        let mut request = agent
            .put(&target.url)
            .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        if let Some(authorization) = &authorization {
            request = request.header("Authorization", authorization);
        }
        let mut response = match request.send(page) {
            Ok(response) => response,
            Err(error) => {
                return Err(PushError::Io {
                    url: target.url,
                    source: self.io_error(error),
                })
            }
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // The gateway's reason, as far as it comes within the deadline and
        // the cap; a reply that cannot be read still names the status.
        let mut body = Vec::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body);
        Err(PushError::Rejected {
            url: target.url,
            status,
            body: printable(&body),
        })
    }

    /// The `Authorization` header value, the password read now.
    fn authorization(&self) -> Result<Option<String>, PushError> {
        let Some((username, password)) = &self.basic_auth else {
            return Ok(None);
        };
        let invalid = |reason: String| PushError::InvalidSetting {
            setting: "basic_auth",
            reason,
        };
        if username.is_empty() {
            return Err(invalid("the username is empty".to_owned()));
        }
        if username.contains(':') {
            return Err(invalid(format!(
                "the username {username:?} contains ':', which separates it from the password in basic credentials"
            )));
        }
        let password = password.resolve("password").map_err(invalid)?;
        Ok(Some(format!(
            "Basic {}",
            STANDARD.encode(format!("{username}:{password}"))
        )))
    }

    /// A client for this one push.
    fn agent(&self) -> Result<ureq::Agent, PushError> {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .max_redirects(0)
            // Straight to the gateway, as Prometheus's own clients push:
            // an `HTTP_PROXY` of the environment would see the credentials.
            .proxy(None)
            .http_status_as_error(false)
            .user_agent(concat!("instrument-runtime/", env!("CARGO_PKG_VERSION")));
        #[cfg(feature = "tls")]
        let config = config.tls_config(self.tls_config()?);
        Ok(config.build().into())
    }

    #[cfg(feature = "tls")]
    fn tls_config(&self) -> Result<ureq::tls::TlsConfig, PushError> {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
        let der = |certs: Vec<rustls_pki_types::CertificateDer<'static>>| {
            certs
                .into_iter()
                .map(|cert| Certificate::from_der(&cert).to_owned())
                .collect::<Vec<_>>()
        };
        let mut tls = TlsConfig::builder().provider(TlsProvider::Rustls);
        if let Some(path) = &self.ca_file {
            let roots =
                crate::pem::certificates(path).map_err(|reason| PushError::InvalidSetting {
                    setting: "ca_file",
                    reason,
                })?;
            tls = tls.root_certs(RootCerts::new_with_certs(&der(roots)));
        }
        if let Some((cert_file, key_file)) = &self.client_cert {
            let invalid = |reason| PushError::InvalidSetting {
                setting: "client_cert",
                reason,
            };
            let chain = crate::pem::certificates(cert_file).map_err(invalid)?;
            // Checked with the messages of the listener's own keys, then
            // handed to ureq as the PEM it takes.
            let pem = crate::pem::read(key_file).map_err(invalid)?;
            let origin = format!("the file {}", key_file.display());
            crate::pem::private_key_in(&pem, &origin).map_err(invalid)?;
            let key = PrivateKey::from_pem(&pem)
                .map_err(|_| invalid(format!("{origin} is not a valid PEM private key")))?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&der(chain), key)));
        }
        Ok(tls.build())
    }

    /// The error of a push that got no answer, as the operating system's
    /// kind where there is one.
    fn io_error(&self, error: ureq::Error) -> io::Error {
        match error {
            ureq::Error::Timeout(_) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the push did not finish within {:?}", self.timeout),
            ),
            ureq::Error::HostNotFound => {
                io::Error::new(io::ErrorKind::NotFound, "the host name does not resolve")
            }
            error => error.into_io(),
        }
    }

    fn target(&self) -> Result<Target, PushError> {
        let invalid = |reason: &str| PushError::InvalidGateway {
            gateway: self.gateway.clone(),
            reason: reason.to_owned(),
        };
        let gateway = self.gateway.trim();
        let (scheme, rest) = match gateway.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
                if cfg!(feature = "tls") {
                    ("https", rest)
                } else {
                    return Err(invalid(
                        "https:// needs the `tls` feature of instrument-runtime",
                    ));
                }
            }
            Some(_) => return Err(invalid("the scheme must be http:// or https://")),
            None => ("http", gateway),
        };
        if rest.contains(['?', '#']) {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let (authority, prefix) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(invalid(
                "credentials in the address are not supported; use Push::basic_auth",
            ));
        }
        check_host_port(authority).map_err(invalid)?;

        let mut path = prefix.trim_end_matches('/').to_owned();
        path.push_str("/metrics");
        if self.job.is_empty() {
            return Err(PushError::InvalidGrouping {
                label: "job".to_owned(),
                reason: "the job name must not be empty".to_owned(),
            });
        }
        push_segment(&mut path, "job", &self.job);
        let mut seen = vec!["job"];
        for (name, value) in &self.grouping {
            let reason = if !crate::names::is_label_name(name) {
                Some("not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            } else if name.starts_with("__") {
                Some("names starting with `__` are reserved")
            } else if seen.contains(&name.as_str()) {
                Some("given twice (the job is a grouping label too)")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(PushError::InvalidGrouping {
                    label: name.clone(),
                    reason: reason.to_owned(),
                });
            }
            seen.push(name);
            push_segment(&mut path, name, value);
        }
        Ok(Target {
            url: format!("{scheme}://{authority}{path}"),
        })
    }
}

/// Why a push failed. Every variant names the URL, address or label at
/// fault.
///
/// ```
/// use instrument_runtime::{Push, PushError};
///
/// let metrics = instrument_runtime::install()?;
/// let error = Push::new("http://gateway:port", "nightly").send(&metrics).unwrap_err();
/// assert!(matches!(error, PushError::InvalidGateway { .. }));
/// assert_eq!(
///     error.to_string(),
///     r#"invalid Pushgateway address "http://gateway:port": the port is not a number"#
/// );
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PushError {
    /// The gateway address is not `http://host[:port][/prefix]`.
    InvalidGateway {
        /// The address as given.
        gateway: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The job name or a grouping label cannot be used.
    InvalidGrouping {
        /// The label's name (`job` for the job name).
        label: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A credential or certificate of the push cannot be used: the
    /// password's [`Secret`] cannot be read, a PEM file cannot be read or
    /// holds no certificate or key. The reason names the file or variable,
    /// never a secret.
    InvalidSetting {
        /// The [`Push`] method that received the value, e.g. `"basic_auth"`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The gateway could not be reached, or did not take the push within
    /// the timeout (the TLS handshake failing included).
    Io {
        /// Where the push went.
        url: String,
        /// The operating system's error (`TimedOut` for the timeout).
        source: io::Error,
    },
    /// The gateway answered with a status other than `2xx`.
    Rejected {
        /// Where the push went.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the answer's body, the gateway's reason: at most
        /// 1 KiB, control characters escaped (`\n`, `\u{1b}`).
        body: String,
    },
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::InvalidGateway { gateway, reason } => {
                write!(f, "invalid Pushgateway address {gateway:?}: {reason}")
            }
            PushError::InvalidGrouping { label, reason } => {
                write!(f, "invalid Pushgateway grouping label `{label}`: {reason}")
            }
            PushError::InvalidSetting { setting, reason } => {
                write!(f, "invalid Pushgateway setting `{setting}`: {reason}")
            }
            PushError::Io { url, source } => {
                write!(f, "pushing metrics to {url} failed: {source}")
            }
            PushError::Rejected { url, status, body } => {
                write!(
                    f,
                    "the Pushgateway at {url} refused the push: HTTP {status}"
                )?;
                if body.is_empty() {
                    Ok(())
                } else {
                    write!(f, ": {body}")
                }
            }
        }
    }
}

impl std::error::Error for PushError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PushError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Where a push goes.
struct Target {
    /// `scheme://authority/prefix/metrics/job/..`, already encoded.
    url: String,
}

/// Check `host[:port]` or `[v6][:port]`, so that a typo is named before any
/// connection is tried.
fn check_host_port(authority: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6
            .split_once(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        match rest {
            "" => (host, None),
            _ => (
                host,
                Some(
                    rest.strip_prefix(':')
                        .ok_or("expected `:port` after the IPv6 address")?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    if let Some(port) = port {
        port.parse::<u16>()
            .map_err(|_| "the port is not a number")?;
    }
    Ok(())
}

/// The start of a refusal's body as text fit for a log line: at most
/// [`MAX_BODY`] bytes, trimmed, control characters escaped so that a
/// gateway cannot forge lines in the job's log.
fn printable(body: &[u8]) -> String {
    let cut = body.len() > MAX_BODY;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]);
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cut {
        out.push_str("...");
    }
    out
}

/// Append `/name/value`, or `/name@base64/..` when the value cannot stand
/// in a path segment as it is (the gateway's own encoding for `/`, empty
/// values and the like).
fn push_segment(path: &mut String, name: &str, value: &str) {
    let plain = !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    path.push('/');
    path.push_str(name);
    if plain {
        path.push('/');
        path.push_str(value);
    } else {
        path.push_str("@base64/");
        // An empty value is `=`: the gateway's router needs a non-empty segment.
        if value.is_empty() {
            path.push('=');
        } else {
            // RFC 4648 base64 with the URL-safe alphabet, padded.
            URL_SAFE.encode_string(value.as_bytes(), path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(push: Push) -> String {
        push.url().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn url_of_a_job() {
        assert_eq!(
            url(Push::new("http://127.0.0.1:9091", "nightly")),
            "http://127.0.0.1:9091/metrics/job/nightly"
        );
        assert_eq!(
            url(Push::new("127.0.0.1:9091/", "nightly")),
            "http://127.0.0.1:9091/metrics/job/nightly"
        );
        assert_eq!(
            url(Push::new("HTTP://gateway/pushgateway/", "a.b-c_d~e")),
            "http://gateway/pushgateway/metrics/job/a.b-c_d~e"
        );
        assert_eq!(
            url(Push::new("http://[::1]:9091", "x")),
            "http://[::1]:9091/metrics/job/x"
        );
    }

    #[test]
    fn values_outside_a_path_segment_are_base64() {
        let push = Push::new("http://gw:9091", "a/b")
            .grouping("instance", "")
            .grouping("shard", "eu/1")
            .grouping("path", "..")
            .grouping("name", "Łódź x");
        assert_eq!(
            url(push),
            "http://gw:9091/metrics/job@base64/YS9i/instance@base64/=/shard@base64/ZXUvMQ==/path@base64/Li4=/name@base64/xYHDs2TFuiB4"
        );
    }

    #[test]
    fn base64_values_use_the_url_safe_alphabet_with_padding() {
        for (value, encoded) in [
            ("f/", "Zi8="),
            ("\u{fb}\u{ff}", "w7vDvw=="),
            ("??>", "Pz8-"),
            ("???", "Pz8_"),
        ] {
            let mut path = String::new();
            push_segment(&mut path, "k", value);
            assert_eq!(path, format!("/k@base64/{encoded}"), "{value:?}");
        }
    }

    #[test]
    fn unusable_addresses_and_labels_are_named() {
        let error = |push: Push| push.url().unwrap_err().to_string();
        assert_eq!(
            error(Push::new("ftp://gw:9091", "x")),
            r#"invalid Pushgateway address "ftp://gw:9091": the scheme must be http:// or https://"#
        );
        #[cfg(not(feature = "tls"))]
        assert_eq!(
            error(Push::new("https://gw:9091", "x")),
            r#"invalid Pushgateway address "https://gw:9091": https:// needs the `tls` feature of instrument-runtime"#
        );
        assert_eq!(
            error(Push::new("http://gw:port", "x")),
            r#"invalid Pushgateway address "http://gw:port": the port is not a number"#
        );
        assert_eq!(
            error(Push::new("http://user:pw@gw:9091", "x")),
            r#"invalid Pushgateway address "http://user:pw@gw:9091": credentials in the address are not supported; use Push::basic_auth"#
        );
        assert_eq!(
            error(Push::new("http://:9091", "x")),
            r#"invalid Pushgateway address "http://:9091": the host is missing"#
        );
        assert_eq!(
            error(Push::new("http://gw:9091?x=1", "x")),
            r#"invalid Pushgateway address "http://gw:9091?x=1": a query or fragment is not allowed"#
        );
        assert_eq!(
            error(Push::new("http://gw", "")),
            "invalid Pushgateway grouping label `job`: the job name must not be empty"
        );
        assert_eq!(
            error(Push::new("http://gw", "x").grouping("job", "y")),
            "invalid Pushgateway grouping label `job`: given twice (the job is a grouping label too)"
        );
        assert_eq!(
            error(Push::new("http://gw", "x").grouping("1st", "y")),
            "invalid Pushgateway grouping label `1st`: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        );
        assert_eq!(
            error(Push::new("http://gw", "x").grouping("__name__", "y")),
            "invalid Pushgateway grouping label `__name__`: names starting with `__` are reserved"
        );
    }

    #[test]
    fn refusals_are_cut_and_their_control_characters_escaped() {
        assert_eq!(printable(b"  nope\n"), "nope");
        assert_eq!(
            printable(b"bad\nlevel=error msg=\"forged\"\x1b[2J"),
            r#"bad\nlevel=error msg="forged"\u{1b}[2J"#
        );
        let long = printable(&[b'x'; 5000]);
        assert_eq!(long.len(), MAX_BODY + 3);
        assert!(long.ends_with("..."));
        // A multi-byte character cut at the cap is replaced, not split.
        let mut cut = vec![b'a'; MAX_BODY - 1];
        cut.extend("é and more".as_bytes());
        assert!(printable(&cut).ends_with("a\u{fffd}..."));
    }
}
