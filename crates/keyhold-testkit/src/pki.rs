//! Test certificate authorities (rcgen): CAs, intermediates and client certificates valid
//! around a chosen instant, and the certificates a verifier must refuse (expired, not a CA,
//! a CA key usage that forbids signing certificates).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate with its private key.
pub struct Issued {
    /// PEM of the certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of its private key.
    pub key_pem: String,
    /// DER of the certificate.
    pub der: Vec<u8>,
}

/// A certificate authority that can issue certificates.
pub struct Ca {
    /// The CA's own certificate.
    pub cert: Issued,
    params: CertificateParams,
    key: KeyPair,
    now: OffsetDateTime,
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "Keyhold tests");
    dn
}

fn at(unix_secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix_secs).expect("a valid instant")
}

fn ca_params(cn: &str, now: OffsetDateTime, usages: Vec<KeyUsagePurpose>) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name = name(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = usages;
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(365);
    p
}

impl Ca {
    /// A self-signed root CA valid from a day before `unix_secs` to a year after.
    pub fn root(cn: &str, unix_secs: i64) -> Ca {
        let now = at(unix_secs);
        let params = ca_params(
            cn,
            now,
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
        );
        Self::self_signed(params, now)
    }

    /// A self-signed certificate without basicConstraints cA: not a CA.
    pub fn not_a_ca(cn: &str, unix_secs: i64) -> Ca {
        let now = at(unix_secs);
        let mut params = ca_params(cn, now, vec![KeyUsagePurpose::DigitalSignature]);
        params.is_ca = IsCa::NoCa;
        Self::self_signed(params, now)
    }

    fn self_signed(params: CertificateParams, now: OffsetDateTime) -> Ca {
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-signed");
        Ca {
            cert: Issued {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                der: cert.der().to_vec(),
            },
            params,
            key,
            now,
        }
    }

    /// An intermediate CA issued by this one; `sign_certs` false gives it a keyUsage without
    /// keyCertSign (a verifier must not accept what it issues).
    pub fn intermediate(&self, cn: &str, sign_certs: bool) -> Ca {
        let usages = if sign_certs {
            vec![KeyUsagePurpose::KeyCertSign]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        let params = ca_params(cn, self.now, usages);
        let key = KeyPair::generate().expect("key");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("signed");
        Ca {
            cert: Issued {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                der: cert.der().to_vec(),
            },
            params,
            key,
            now: self.now,
        }
    }

    /// A client certificate (clientAuth, digitalSignature) for common name `cn`, valid from a
    /// day before this CA's instant to 90 days after.
    pub fn issue(&self, cn: &str) -> Issued {
        self.issue_valid(
            cn,
            self.now - Duration::days(1),
            self.now + Duration::days(90),
        )
    }

    /// A client certificate whose validity ended a day before this CA's instant.
    pub fn issue_expired(&self, cn: &str) -> Issued {
        self.issue_valid(
            cn,
            self.now - Duration::days(30),
            self.now - Duration::days(1),
        )
    }

    fn issue_valid(&self, cn: &str, from: OffsetDateTime, to: OffsetDateTime) -> Issued {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name = name(cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = from;
        p.not_after = to;
        let key = KeyPair::generate().expect("key");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = p.signed_by(&key, &issuer).expect("signed");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}
