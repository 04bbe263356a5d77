//! Reading X.509 certificates that clients register (the subject and validity the core
//! records with a pinned client certificate).

use keyhold_core::clock::Timestamp;
use keyhold_core::KmsError;

/// What the server reads from a certificate.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// The subject, RFC 4514 text.
    pub subject: String,
    /// The subject's common name (empty when absent).
    pub common_name: String,
    /// notAfter.
    pub not_after: Option<Timestamp>,
}

/// Parses one PEM certificate.
pub fn parse_pem(pem: &str) -> Result<ParsedCert, KmsError> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| KmsError::invalid("the certificate is not PEM"))?;
    if block.label != "CERTIFICATE" {
        return Err(KmsError::invalid("the PEM block is not a CERTIFICATE"));
    }
    parse_der(&block.contents)
}

/// Parses one DER certificate.
pub fn parse_der(der: &[u8]) -> Result<ParsedCert, KmsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| KmsError::invalid("the certificate is not valid X.509"))?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let not_after =
        Timestamp::from_millis(cert.validity().not_after.timestamp().saturating_mul(1000));
    Ok(ParsedCert {
        der: der.to_vec(),
        subject: cert.subject().to_string(),
        common_name,
        not_after: Some(not_after),
    })
}
