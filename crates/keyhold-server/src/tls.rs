//! TLS: Keyhold's own CA and server certificate (generated at init unless configured), and the
//! rustls server configuration (TLS 1.2 and 1.3 only).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::app::write_private_file;

/// TLS set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key does not parse.
    #[error("{path}: not a valid PEM {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Certificate or key.
        what: &'static str,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate and key.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the generated files live in a data directory.
#[derive(Debug, Clone)]
pub struct TlsPaths {
    /// The CA certificate clients trust.
    pub ca_cert: PathBuf,
    /// The CA's private key (mode 0600).
    pub ca_key: PathBuf,
    /// The server certificate.
    pub server_cert: PathBuf,
    /// The server key (mode 0600).
    pub server_key: PathBuf,
}

impl TlsPaths {
    /// The standard layout inside `data_dir`.
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            ca_cert: data_dir.join("ca.pem"),
            ca_key: data_dir.join("ca.key"),
            server_cert: data_dir.join("server.pem"),
            server_key: data_dir.join("server.key"),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Generates a CA and a server certificate for `hosts` unless they already exist.
pub fn ensure_generated(paths: &TlsPaths, hosts: &[String]) -> Result<(), TlsError> {
    if paths.server_cert.exists() && paths.server_key.exists() && paths.ca_cert.exists() {
        return Ok(());
    }
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "Keyhold CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Keyhold");
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key)?;

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(hosts.to_vec())?;
    server.distinguished_name = DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, "keyhold server");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = now - time::Duration::days(1);
    server.not_after = now + time::Duration::days(825);
    let issuer = Issuer::new(ca, &ca_key);
    let server_cert = server.signed_by(&server_key, &issuer)?;

    write_private_file(&paths.ca_key, ca_key.serialize_pem().as_bytes())
        .map_err(io_err(&paths.ca_key))?;
    write_private_file(&paths.server_key, server_key.serialize_pem().as_bytes())
        .map_err(io_err(&paths.server_key))?;
    std::fs::write(&paths.server_cert, server_cert.pem()).map_err(io_err(&paths.server_cert))?;
    std::fs::write(&paths.ca_cert, ca_cert.pem()).map_err(io_err(&paths.ca_cert))?;
    Ok(())
}

/// The host names and addresses a generated server certificate names.
pub fn default_hosts(listen: &std::net::SocketAddr) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ip: IpAddr = listen.ip();
    if !ip.is_unspecified() && !hosts.contains(&ip.to_string()) {
        hosts.push(ip.to_string());
    }
    if let Ok(name) = std::fs::read_to_string("/etc/hostname") {
        let name = name.trim();
        if !name.is_empty() && !hosts.iter().any(|h| h == name) {
            hosts.push(name.to_owned());
        }
    }
    hosts
}

fn load_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|_| TlsError::Pem {
            path: cert.to_owned(),
            what: "certificate",
        })?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem {
            path: cert.to_owned(),
            what: "certificate",
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: cert.to_owned(),
            what: "certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Pem {
        path: key.to_owned(),
        what: "private key",
    })?;
    Ok((certs, key))
}

/// The rustls configuration for a certificate chain and key in PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let (certs, key) = load_pair(cert, key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls configuration of the REST listener: a client may present a certificate (mutual
/// TLS, optional); one it presents must be trusted (see [`ClientTrustVerifier`]).
pub fn rest_server_config(
    cert: &Path,
    key: &Path,
    kms: Arc<keyhold_core::Kms>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = client_auth_config(cert, key, kms, false)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls configuration of a mutual-TLS listener (KMIP): every client must present a
/// trusted certificate and prove it holds its key.
pub fn mtls_server_config(
    cert: &Path,
    key: &Path,
    kms: Arc<keyhold_core::Kms>,
) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(Arc::new(client_auth_config(cert, key, kms, true)?))
}

fn client_auth_config(
    cert: &Path,
    key: &Path,
    kms: Arc<keyhold_core::Kms>,
    mandatory: bool,
) -> Result<ServerConfig, TlsError> {
    let (certs, key) = load_pair(cert, key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(ClientTrustVerifier {
        kms,
        algorithms: provider.signature_verification_algorithms,
        mandatory,
    });
    Ok(ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?)
}

/// Accepts a client certificate during the handshake only if the core would authenticate it
/// now: pinned and not revoked, or chaining to a trust anchor that is not removed (signatures,
/// validity, CA constraints, key usage), in an enabled tenant. It reads the core's
/// [`keyhold_core::pki::ClientTrust`], which every commit of a pin, anchor or tenant updates,
/// so a change takes effect for the next handshake without a restart. The core decides again on
/// every request (same function, [`keyhold_core::pki::decide`], its decision cached per chain
/// until a pin, anchor or tenant write of this node or the first notAfter).
#[derive(Debug)]
struct ClientTrustVerifier {
    kms: Arc<keyhold_core::Kms>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl rustls::server::danger::ClientCertVerifier for ClientTrustVerifier {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        let chain: Vec<&[u8]> = std::iter::once(end_entity.as_ref())
            .chain(intermediates.iter().map(|c| c.as_ref()))
            .collect();
        if self.kms.client_trust().accepts(&chain, self.kms.now()) {
            Ok(rustls::server::danger::ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }

    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
}

/// Issues a client certificate (clientAuth) for `common_name` under the generated CA of
/// `paths`; returns the certificate and key in PEM and the certificate's DER.
pub fn issue_client_cert(
    paths: &TlsPaths,
    common_name: &str,
) -> Result<(String, String, Vec<u8>), TlsError> {
    let ca_pem = std::fs::read_to_string(&paths.ca_cert).map_err(io_err(&paths.ca_cert))?;
    let ca_key_pem = std::fs::read_to_string(&paths.ca_key).map_err(io_err(&paths.ca_key))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)?;
    let now = time::OffsetDateTime::now_utc();
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(825);
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem(), cert.der().to_vec()))
}
