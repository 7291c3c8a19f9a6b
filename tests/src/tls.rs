//! Certificates made when a test runs (no private key is committed), and an
//! https client that trusts a chosen CA and may present a client
//! certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority, able to sign server and client certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A certificate and its private key, as PEM.
pub struct Signed {
    pub cert: String,
    pub key: String,
}

impl Ca {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("a self-signed CA");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `127.0.0.1` and `localhost`.
    pub fn server(&self) -> Signed {
        self.sign(
            vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            "metrics listener",
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate with the common name `name`.
    pub fn client(&self, name: &str) -> Signed {
        self.sign(Vec::new(), name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn sign(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> Signed {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a signed certificate");
        Signed {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

impl Signed {
    /// Write `{name}.crt` and `{name}.key` into `dir`; the two paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert).expect("writing a certificate");
        std::fs::write(&key, &self.key).expect("writing a key");
        (cert, key)
    }
}

/// The bcrypt hash of `password`, at the lowest cost (a test pays it on
/// each first scrape).
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("a bcrypt hash")
}

/// An https client trusting only `ca` (PEM), presenting `client` when
/// given.
pub fn https_client(ca: &str, client: Option<&Signed>) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let root = Certificate::from_pem(ca.as_bytes()).expect("the CA's PEM");
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&[root]));
    if let Some(client) = client {
        let cert = Certificate::from_pem(client.cert.as_bytes()).expect("the client's PEM");
        let key = PrivateKey::from_pem(client.key.as_bytes()).expect("the client's key");
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder()
        .tls_config(tls.build())
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// `GET url` with basic credentials when given: the status and body, or
/// the error of a connection that got no answer (a refused handshake).
pub fn https_get(
    agent: &ureq::Agent,
    url: &str,
    basic: Option<(&str, &str)>,
) -> Result<(u16, String), String> {
    let mut request = agent.get(url);
    if let Some((user, password)) = basic {
        use base64::Engine as _;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.header("Authorization", format!("Basic {credentials}"));
    }
    let mut response = request.call().map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| error.to_string())?;
    Ok((status, body))
}
