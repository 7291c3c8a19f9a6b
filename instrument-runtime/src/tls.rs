//! TLS for the standalone listener (rustls, the ring provider): the
//! settings, the server configuration built from them, and its reload when
//! a certificate or key file changes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

/// TLS for the standalone listener ([`Builder::listen`]): its certificate,
/// and optionally the client certificates it asks for (mTLS).
///
/// The files are PEM, read at [`install`] (an unreadable file, a key that
/// does not match the certificate, an unknown client-auth combination is an
/// [`Error::InvalidSetting`] for `"listen_tls"`, and nothing is installed)
/// and read again on the first handshake after one of them changed, so a
/// renewed certificate needs no restart. A renewal that cannot be used
/// (half-written, mismatched) is reported as a `tracing` error and the
/// certificate in use is kept.
///
/// The same settings come from an exporter-toolkit `web-config.yml` with
/// [`Builder::web_config_file`]; the names here are the file's.
///
/// ```no_run
/// use instrument_runtime::{Builder, ClientAuth, Tls};
///
/// Builder::new()
///     .listen("0.0.0.0:9100".parse().unwrap())
///     .listen_tls(
///         Tls::new("/etc/metrics/tls.crt", "/etc/metrics/tls.key")
///             .client_ca_file("/etc/metrics/prometheus-ca.crt")
///             .client_auth(ClientAuth::RequireAndVerifyClientCert),
///     )
///     .install()?;
/// # Ok::<(), instrument_runtime::Error>(())
/// ```
///
/// [`Builder::listen`]: crate::Builder::listen
/// [`Builder::web_config_file`]: crate::Builder::web_config_file
/// [`install`]: crate::Builder::install
/// [`Error::InvalidSetting`]: crate::Error::InvalidSetting
#[derive(Clone)]
pub struct Tls {
    pub(crate) cert: Pem,
    pub(crate) key: Pem,
    pub(crate) client_ca: Option<Pem>,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) min_version: TlsVersion,
    pub(crate) max_version: TlsVersion,
    /// TLS 1.2 suites by IANA name (TLS 1.3's are always on, as with Go).
    pub(crate) cipher_suites: Vec<String>,
    /// Key exchange groups by Go name (`X25519`, `CurveP256`, ...).
    pub(crate) curves: Vec<String>,
    pub(crate) prefer_server_cipher_suites: bool,
}

/// Where a certificate, key or CA comes from.
#[derive(Clone)]
pub(crate) enum Pem {
    File(PathBuf),
    /// Inline in the web config (`cert`, `key`, `client_ca`).
    Text(String),
}

/// Which client certificates the listener asks for, with the names of
/// exporter-toolkit's `client_auth_type` (Go's `tls.ClientAuthType`).
///
/// ```
/// use instrument_runtime::{ClientAuth, Tls};
///
/// // Any client certificate of the CA, or none: scrapers with one are
/// // verified, the rest must bring basic credentials.
/// let tls = Tls::new("tls.crt", "tls.key")
///     .client_ca_file("scrapers-ca.crt")
///     .client_auth(ClientAuth::VerifyClientCertIfGiven);
/// # let _ = tls;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// No client certificate is asked for (the default without a client CA).
    NoClientCert,
    /// One is asked for, not required, and not verified.
    RequestClientCert,
    /// One is required, and not verified.
    RequireAnyClientCert,
    /// One is asked for; when given, it must be signed by the client CA.
    VerifyClientCertIfGiven,
    /// One is required and must be signed by the client CA (mTLS; the
    /// default when a client CA is set).
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    const ALL: [(&'static str, ClientAuth); 5] = [
        ("NoClientCert", ClientAuth::NoClientCert),
        ("RequestClientCert", ClientAuth::RequestClientCert),
        ("RequireAnyClientCert", ClientAuth::RequireAnyClientCert),
        (
            "VerifyClientCertIfGiven",
            ClientAuth::VerifyClientCertIfGiven,
        ),
        (
            "RequireAndVerifyClientCert",
            ClientAuth::RequireAndVerifyClientCert,
        ),
    ];

    /// The exporter-toolkit name; `RequireClientCert` is its old name for
    /// `RequireAnyClientCert`.
    pub(crate) fn parse(name: &str) -> Result<ClientAuth, String> {
        if name == "RequireClientCert" {
            return Ok(ClientAuth::RequireAnyClientCert);
        }
        ClientAuth::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, auth)| *auth)
            .ok_or_else(|| {
                let names: Vec<_> = ClientAuth::ALL.iter().map(|(known, _)| *known).collect();
                format!("{name:?} is not one of {}", names.join(", "))
            })
    }

    fn name(self) -> &'static str {
        ClientAuth::ALL
            .iter()
            .find(|(_, auth)| *auth == self)
            .map_or("", |(name, _)| name)
    }

    fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// A TLS protocol version. rustls speaks 1.2 and 1.3 only.
///
/// ```
/// let tls = instrument_runtime::Tls::new("tls.crt", "tls.key")
///     .min_version(instrument_runtime::TlsVersion::Tls13);
/// # let _ = tls;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (the default minimum, as in exporter-toolkit).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl Tls {
    /// TLS with the certificate chain (leaf first) and private key (PKCS#8,
    /// PKCS#1 or SEC1) of these PEM files; TLS 1.2 and 1.3, no client
    /// certificate asked for. The files are read at install: one that
    /// cannot be read is an error naming it, and nothing is installed.
    ///
    /// ```
    /// use instrument_runtime::{Builder, Tls};
    ///
    /// let refused = Builder::new()
    ///     .listen("127.0.0.1:0".parse().unwrap())
    ///     .listen_tls(Tls::new("/nonexistent/tls.crt", "/nonexistent/tls.key"))
    ///     .install();
    /// let message = refused.unwrap_err().to_string();
    /// assert!(message.contains("listen_tls"), "{message}");
    /// assert!(message.contains("/nonexistent/tls.crt"), "{message}");
    /// ```
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Tls {
        Tls {
            cert: Pem::File(cert_file.into()),
            key: Pem::File(key_file.into()),
            client_ca: None,
            client_auth: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: Vec::new(),
            curves: Vec::new(),
            prefer_server_cipher_suites: true,
        }
    }

    /// Verify client certificates against the CAs of this PEM file; with
    /// it, clients must present one
    /// ([`ClientAuth::RequireAndVerifyClientCert`]) unless
    /// [`client_auth`](Tls::client_auth) says otherwise.
    ///
    /// ```no_run
    /// use instrument_runtime::{Builder, Tls};
    ///
    /// // Only clients with a certificate of the Prometheus servers' CA.
    /// Builder::new()
    ///     .listen("0.0.0.0:9100".parse().unwrap())
    ///     .listen_tls(
    ///         Tls::new("/etc/metrics/tls.crt", "/etc/metrics/tls.key")
    ///             .client_ca_file("/etc/metrics/prometheus-ca.crt"),
    ///     )
    ///     .install()?;
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn client_ca_file(mut self, path: impl Into<PathBuf>) -> Tls {
        self.client_ca = Some(Pem::File(path.into()));
        self
    }

    /// Which client certificates to ask for. The two that verify need
    /// [`client_ca_file`](Tls::client_ca_file); with a client CA, only
    /// those two are accepted.
    ///
    /// ```
    /// use instrument_runtime::{Builder, ClientAuth, Tls};
    ///
    /// // Verifying client certificates needs the CA to verify them with.
    /// let refused = Builder::new()
    ///     .listen("127.0.0.1:0".parse().unwrap())
    ///     .listen_tls(
    ///         Tls::new("/etc/metrics/tls.crt", "/etc/metrics/tls.key")
    ///             .client_auth(ClientAuth::VerifyClientCertIfGiven),
    ///     )
    ///     .install();
    /// let message = refused.unwrap_err().to_string();
    /// assert!(message.contains("VerifyClientCertIfGiven"), "{message}");
    /// ```
    pub fn client_auth(mut self, auth: ClientAuth) -> Tls {
        self.client_auth = Some(auth);
        self
    }

    /// The oldest protocol version accepted; TLS 1.2 unless set.
    ///
    /// ```no_run
    /// use instrument_runtime::{Builder, Tls, TlsVersion};
    ///
    /// Builder::new()
    ///     .listen("0.0.0.0:9100".parse().unwrap())
    ///     .listen_tls(
    ///         Tls::new("/etc/metrics/tls.crt", "/etc/metrics/tls.key")
    ///             .min_version(TlsVersion::Tls13),
    ///     )
    ///     .install()?;
    /// # Ok::<(), instrument_runtime::Error>(())
    /// ```
    pub fn min_version(mut self, version: TlsVersion) -> Tls {
        self.min_version = version;
        self
    }

    /// The client auth in effect: as set, or from whether there is a CA.
    fn effective_client_auth(&self) -> ClientAuth {
        self.client_auth.unwrap_or(if self.client_ca.is_some() {
            ClientAuth::RequireAndVerifyClientCert
        } else {
            ClientAuth::NoClientCert
        })
    }

    /// The files the configuration is built from, to watch for changes.
    fn files(&self) -> Vec<&Path> {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|pem| match pem {
                Pem::File(path) => Some(path.as_path()),
                Pem::Text(_) => None,
            })
            .collect()
    }

    /// The rustls configuration, or what is wrong, naming the file or
    /// field and never quoting a key.
    fn server_config(&self) -> Result<ServerConfig, String> {
        let provider = Arc::new(self.provider()?);
        let versions: Vec<_> = [
            (TlsVersion::Tls12, &rustls::version::TLS12),
            (TlsVersion::Tls13, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(version, _)| (self.min_version..=self.max_version).contains(version))
        .map(|(_, supported)| supported)
        .collect();
        if versions.is_empty() {
            return Err("min_version is newer than max_version".to_owned());
        }
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)
            .map_err(|error| format!("the protocol versions cannot be used: {error}"))?;

        let auth = self.effective_client_auth();
        let roots = match &self.client_ca {
            Some(_) if auth == ClientAuth::NoClientCert => {
                return Err(
                    "a client CA is set but client_auth_type is NoClientCert; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                        .to_owned(),
                )
            }
            // Asked for and not verified, as in Go: the CA is not used.
            Some(_) if !auth.verifies() => None,
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca, "client_ca_file", "client_ca")? {
                    roots
                        .add(cert)
                        .map_err(|error| format!("a client CA certificate cannot be used: {error}"))?;
                }
                Some(Arc::new(roots))
            }
            None if auth.verifies() => {
                return Err(format!(
                    "client_auth_type {} needs client_ca_file, the CAs to verify client certificates against",
                    auth.name()
                ))
            }
            None => None,
        };
        let builder = match (auth, roots) {
            (ClientAuth::NoClientCert, _) => builder.with_no_client_auth(),
            (ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert, _) => builder
                .with_client_cert_verifier(Arc::new(AnyClientCert {
                    mandatory: auth == ClientAuth::RequireAnyClientCert,
                    algorithms: provider.signature_verification_algorithms,
                })),
            (_, Some(roots)) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(&provider));
                let verifier = if auth == ClientAuth::VerifyClientCertIfGiven {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|error| format!("the client CAs cannot be used: {error}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            (_, None) => unreachable!("a verifying client auth without roots returned above"),
        };
        let chain = certificates(&self.cert, "cert_file", "cert")?;
        let key = private_key(&self.key)?;
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|error| format!("the certificate and key cannot be used together: {error}"))?;
        config.ignore_client_order = self.prefer_server_cipher_suites;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The ring provider, narrowed to the configured suites and groups.
    fn provider(&self) -> Result<CryptoProvider, String> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let tls12 =
                |suite: &rustls::SupportedCipherSuite| suite.version() == &rustls::version::TLS12;
            let mut chosen: Vec<_> = provider
                .cipher_suites
                .iter()
                .filter(|suite| !tls12(suite))
                .copied()
                .collect();
            for name in &self.cipher_suites {
                // Go takes TLS 1.3 names and ignores them (its TLS 1.3
                // suites cannot be chosen); so does this.
                let tls13 = provider
                    .cipher_suites
                    .iter()
                    .any(|suite| !tls12(suite) && suite_name(suite) == Some(name.as_str()));
                if tls13 {
                    continue;
                }
                let found = provider.cipher_suites.iter().find(|suite| {
                    tls12(suite) && suite_name(suite).is_some_and(|known| known == *name)
                });
                match found {
                    Some(suite) => chosen.push(*suite),
                    None => {
                        let known: Vec<_> = provider
                            .cipher_suites
                            .iter()
                            .filter(|suite| tls12(suite))
                            .filter_map(suite_name)
                            .collect();
                        return Err(format!(
                            "cipher_suites: {name:?} is not one rustls offers for TLS 1.2 (TLS 1.3 suites are always on); it offers {}",
                            known.join(", ")
                        ));
                    }
                }
            }
            provider.cipher_suites = chosen;
        }
        if !self.curves.is_empty() {
            let mut chosen = Vec::new();
            for name in &self.curves {
                let group = match name.as_str() {
                    "X25519" => rustls::NamedGroup::X25519,
                    "CurveP256" => rustls::NamedGroup::secp256r1,
                    "CurveP384" => rustls::NamedGroup::secp384r1,
                    "CurveP521" => {
                        return Err(
                            "curve_preferences: CurveP521 is not offered by rustls's ring provider; use X25519, CurveP256 or CurveP384"
                                .to_owned(),
                        )
                    }
                    _ => {
                        return Err(format!(
                            "curve_preferences: {name:?} is not one of X25519, CurveP256, CurveP384, CurveP521"
                        ))
                    }
                };
                if let Some(kx) = provider.kx_groups.iter().find(|kx| kx.name() == group) {
                    chosen.push(*kx);
                }
            }
            provider.kx_groups = chosen;
        }
        Ok(provider)
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pem = |pem: &Pem| match pem {
            Pem::File(path) => format!("{path:?}"),
            Pem::Text(_) => "<inline>".to_owned(),
        };
        f.debug_struct("Tls")
            .field("cert", &format_args!("{}", pem(&self.cert)))
            .field("key", &format_args!("{}", pem(&self.key)))
            .field(
                "client_ca",
                &format_args!("{}", self.client_ca.as_ref().map_or("None".to_owned(), pem)),
            )
            .field("client_auth", &self.effective_client_auth())
            .field("min_version", &self.min_version)
            .field("max_version", &self.max_version)
            .finish_non_exhaustive()
    }
}

/// The IANA name of a suite (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`), as
/// Go and exporter-toolkit write it.
fn suite_name(suite: &rustls::SupportedCipherSuite) -> Option<&'static str> {
    suite.suite().as_str()
}

fn certificates(
    pem: &Pem,
    file_field: &str,
    text_field: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    match pem {
        Pem::File(path) => {
            crate::pem::certificates(path).map_err(|reason| format!("{file_field}: {reason}"))
        }
        Pem::Text(text) => {
            crate::pem::certificates_in(text.as_bytes(), &format!("the field {text_field}"))
        }
    }
}

fn private_key(pem: &Pem) -> Result<PrivateKeyDer<'static>, String> {
    match pem {
        Pem::File(path) => {
            let bytes = crate::pem::read(path).map_err(|reason| format!("key_file: {reason}"))?;
            crate::pem::private_key_in(&bytes, &format!("key_file: the file {}", path.display()))
        }
        Pem::Text(text) => crate::pem::private_key_in(text.as_bytes(), "the field key"),
    }
}

/// Accepts any client certificate without checking who signed it, but
/// checks the handshake signature, so the client holds the certificate's
/// key: Go's `RequestClientCert` and `RequireAnyClientCert`.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What identifies a version of a file: a renewal that replaces the file
/// (a new inode) or rewrites it changes one of these.
#[derive(Clone, PartialEq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&metadata),
    })
}

/// The listener's TLS configuration, rebuilt on the first handshake after
/// one of its files changed.
pub(crate) struct TlsServer {
    tls: Tls,
    state: Mutex<Loaded>,
}

struct Loaded {
    /// The files' stamps when `config` was built, or when a rebuild last
    /// failed (so a bad renewal is reported once, not per handshake).
    stamps: Vec<Option<Stamp>>,
    config: Arc<ServerConfig>,
}

impl TlsServer {
    /// The first configuration; its error is the install's.
    pub(crate) fn new(tls: Tls) -> Result<TlsServer, String> {
        let stamps = tls.files().into_iter().map(stamp).collect();
        let config = Arc::new(tls.server_config()?);
        Ok(TlsServer {
            tls,
            state: Mutex::new(Loaded { stamps, config }),
        })
    }

    /// The configuration for the next handshake.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let stamps: Vec<_> = self.tls.files().into_iter().map(stamp).collect();
        if stamps != state.stamps {
            state.stamps = stamps;
            match self.tls.server_config() {
                Ok(config) => {
                    state.config = Arc::new(config);
                    crate::diagnostics::tls_reloaded();
                }
                Err(reason) => crate::diagnostics::tls_reload_failed(&reason),
            }
        }
        Arc::clone(&state.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_names_are_exporter_toolkits() {
        for (name, auth) in ClientAuth::ALL {
            assert_eq!(ClientAuth::parse(name), Ok(auth));
            assert_eq!(auth.name(), name);
        }
        assert_eq!(
            ClientAuth::parse("RequireClientCert"),
            Ok(ClientAuth::RequireAnyClientCert)
        );
        assert_eq!(
            ClientAuth::parse("requireandverifyclientcert").unwrap_err(),
            "\"requireandverifyclientcert\" is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
        );
    }

    #[test]
    fn suites_are_named_as_go_names_them() {
        let provider = rustls::crypto::ring::default_provider();
        let names: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter_map(suite_name)
            .collect();
        assert!(
            names.contains(&"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            "{names:?}"
        );
        assert!(
            names.contains(&"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
            "{names:?}"
        );
    }
}
