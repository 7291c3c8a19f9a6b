//! Certificates and private keys read from PEM files, with errors that name
//! the file and never show what a key file holds.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate of the PEM file at `path`, in order (a chain starts
/// with the leaf).
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    certificates_in(&pem, &format!("the file {}", path.display()))
}

/// Every certificate of PEM text; `origin` names where it comes from in
/// messages.
pub(crate) fn certificates_in(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{origin} is not valid PEM: {error}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{origin} holds no certificate (a PEM `BEGIN CERTIFICATE` block)"
        ));
    }
    Ok(certs)
}

/// The private key of PEM text; `origin` names where it comes from. The
/// message never quotes the text.
pub(crate) fn private_key_in(pem: &[u8], origin: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
        rustls_pki_types::pem::Error::NoItemsFound => format!(
            "{origin} holds no private key (a PEM `BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block)"
        ),
        _ => format!("{origin} is not a valid PEM private key"),
    })
}

/// The bytes of the file at `path`, or why not.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|error| format!("the file {} cannot be read: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_the_expected_block_are_named() {
        assert_eq!(
            certificates_in(b"hello", "the field cert").unwrap_err(),
            "the field cert holds no certificate (a PEM `BEGIN CERTIFICATE` block)"
        );
        let garbled = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0!!!\n-----END PRIVATE KEY-----\n";
        let error = private_key_in(garbled, "the field key").unwrap_err();
        assert_eq!(error, "the field key is not a valid PEM private key");
        assert!(certificates(Path::new("/nonexistent/cert.pem"))
            .unwrap_err()
            .starts_with("the file /nonexistent/cert.pem cannot be read: "));
    }
}
