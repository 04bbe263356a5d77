//! Key algorithms, signing algorithms and their names.
//!
//! The names returned by `as_str` are the serialized (serde) names and the
//! names accepted by `FromStr` (case-insensitively). They are part of the wire
//! format of Keyhold and must never change.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CryptoError;

/// The family a key algorithm belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// AES symmetric keys (encryption, key wrapping).
    Aes,
    /// HMAC keys (MAC generation and verification).
    Hmac,
    /// RSA key pairs (signing, OAEP encryption).
    Rsa,
    /// NIST prime-curve key pairs (ECDSA signing).
    Ec,
    /// Ed25519 key pairs (EdDSA signing).
    Ed25519,
    /// Data with no cryptographic algorithm (secret data, opaque objects, certificates): it is
    /// only stored, wrapped like any key, and returned.
    Data,
}

/// A key algorithm: what a key is and how big it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// AES with a 128-bit key.
    #[serde(rename = "aes-128")]
    Aes128,
    /// AES with a 192-bit key.
    #[serde(rename = "aes-192")]
    Aes192,
    /// AES with a 256-bit key.
    #[serde(rename = "aes-256")]
    Aes256,
    /// HMAC with SHA-256.
    HmacSha256,
    /// HMAC with SHA-384.
    HmacSha384,
    /// HMAC with SHA-512.
    HmacSha512,
    /// RSA with a 2048-bit modulus.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// ECDSA on NIST P-521.
    EcP521,
    /// EdDSA on Curve25519.
    Ed25519,
    /// Not a key: the material of a secret-data, opaque or certificate object. Not in
    /// [`Algorithm::ALL`], and not accepted by [`FromStr`]: such objects are only registered.
    Data,
}

impl Algorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [Algorithm; 13] = [
        Algorithm::Aes128,
        Algorithm::Aes192,
        Algorithm::Aes256,
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
        Algorithm::Rsa2048,
        Algorithm::Rsa3072,
        Algorithm::Rsa4096,
        Algorithm::EcP256,
        Algorithm::EcP384,
        Algorithm::EcP521,
        Algorithm::Ed25519,
    ];

    /// The serialized name, e.g. `"aes-256"` or `"ec-p384"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::Aes128 => "aes-128",
            Algorithm::Aes192 => "aes-192",
            Algorithm::Aes256 => "aes-256",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
            Algorithm::Rsa2048 => "rsa-2048",
            Algorithm::Rsa3072 => "rsa-3072",
            Algorithm::Rsa4096 => "rsa-4096",
            Algorithm::EcP256 => "ec-p256",
            Algorithm::EcP384 => "ec-p384",
            Algorithm::EcP521 => "ec-p521",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Data => "data",
        }
    }

    /// The family of the algorithm.
    pub fn family(&self) -> KeyFamily {
        match self {
            Algorithm::Aes128 | Algorithm::Aes192 | Algorithm::Aes256 => KeyFamily::Aes,
            Algorithm::HmacSha256 | Algorithm::HmacSha384 | Algorithm::HmacSha512 => {
                KeyFamily::Hmac
            }
            Algorithm::Rsa2048 | Algorithm::Rsa3072 | Algorithm::Rsa4096 => KeyFamily::Rsa,
            Algorithm::EcP256 | Algorithm::EcP384 | Algorithm::EcP521 => KeyFamily::Ec,
            Algorithm::Ed25519 => KeyFamily::Ed25519,
            Algorithm::Data => KeyFamily::Data,
        }
    }

    /// Whether keys of this algorithm are key pairs (and so have a public key).
    pub fn is_asymmetric(&self) -> bool {
        matches!(
            self.family(),
            KeyFamily::Rsa | KeyFamily::Ec | KeyFamily::Ed25519
        )
    }

    /// The signing algorithm used when a request names none: RSA-PSS-SHA256
    /// for RSA, ECDSA with the curve's matching hash, Ed25519 for Ed25519,
    /// and `None` for keys that cannot sign.
    pub fn default_signing(&self) -> Option<SigningAlgorithm> {
        match self {
            Algorithm::Rsa2048 | Algorithm::Rsa3072 | Algorithm::Rsa4096 => {
                Some(SigningAlgorithm::RsaPssSha256)
            }
            Algorithm::EcP256 => Some(SigningAlgorithm::EcdsaSha256),
            Algorithm::EcP384 => Some(SigningAlgorithm::EcdsaSha384),
            Algorithm::EcP521 => Some(SigningAlgorithm::EcdsaSha512),
            Algorithm::Ed25519 => Some(SigningAlgorithm::Ed25519),
            _ => None,
        }
    }

    /// Whether a key of this algorithm can sign with `s`.
    ///
    /// RSA keys accept every RSA-PSS and RSA-PKCS#1 v1.5 variant. Each NIST
    /// curve is paired with exactly one hash (P-256/SHA-256, P-384/SHA-384,
    /// P-521/SHA-512), as in AWS KMS. Ed25519 accepts only Ed25519.
    pub fn supports_signing(&self, s: SigningAlgorithm) -> bool {
        use SigningAlgorithm as S;
        match self.family() {
            KeyFamily::Rsa => matches!(
                s,
                S::RsaPssSha256
                    | S::RsaPssSha384
                    | S::RsaPssSha512
                    | S::RsaPkcs1Sha256
                    | S::RsaPkcs1Sha384
                    | S::RsaPkcs1Sha512
            ),
            KeyFamily::Ec | KeyFamily::Ed25519 => self.default_signing() == Some(s),
            KeyFamily::Aes | KeyFamily::Hmac | KeyFamily::Data => false,
        }
    }

    /// Raw key length in bytes for AES keys and generated HMAC keys; the
    /// modulus length in bytes for RSA; `None` for EC and Ed25519.
    pub fn key_len(&self) -> Option<usize> {
        match self {
            Algorithm::Aes128 => Some(16),
            Algorithm::Aes192 => Some(24),
            Algorithm::Aes256 | Algorithm::HmacSha256 => Some(32),
            Algorithm::HmacSha384 => Some(48),
            Algorithm::HmacSha512 => Some(64),
            Algorithm::Rsa2048 => Some(256),
            Algorithm::Rsa3072 => Some(384),
            Algorithm::Rsa4096 => Some(512),
            Algorithm::EcP256
            | Algorithm::EcP384
            | Algorithm::EcP521
            | Algorithm::Ed25519
            | Algorithm::Data => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = CryptoError;

    /// Parses a serialized name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| CryptoError::UnknownAlgorithm(s.to_owned()))
    }
}

/// A signature scheme, including its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningAlgorithm {
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt.
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512 and a 64-byte salt.
    RsaPssSha512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsaPkcs1Sha512,
    /// ECDSA with SHA-256; DER (ASN.1) encoded signature.
    EcdsaSha256,
    /// ECDSA with SHA-384; DER (ASN.1) encoded signature.
    EcdsaSha384,
    /// ECDSA with SHA-512; DER (ASN.1) encoded signature.
    EcdsaSha512,
    /// Pure Ed25519 (RFC 8032); signs messages only, never digests.
    Ed25519,
}

impl SigningAlgorithm {
    /// Every signing algorithm, in declaration order.
    pub const ALL: [SigningAlgorithm; 10] = [
        SigningAlgorithm::RsaPssSha256,
        SigningAlgorithm::RsaPssSha384,
        SigningAlgorithm::RsaPssSha512,
        SigningAlgorithm::RsaPkcs1Sha256,
        SigningAlgorithm::RsaPkcs1Sha384,
        SigningAlgorithm::RsaPkcs1Sha512,
        SigningAlgorithm::EcdsaSha256,
        SigningAlgorithm::EcdsaSha384,
        SigningAlgorithm::EcdsaSha512,
        SigningAlgorithm::Ed25519,
    ];

    /// The serialized name, e.g. `"rsa-pss-sha256"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SigningAlgorithm::RsaPssSha256 => "rsa-pss-sha256",
            SigningAlgorithm::RsaPssSha384 => "rsa-pss-sha384",
            SigningAlgorithm::RsaPssSha512 => "rsa-pss-sha512",
            SigningAlgorithm::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            SigningAlgorithm::RsaPkcs1Sha384 => "rsa-pkcs1-sha384",
            SigningAlgorithm::RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
            SigningAlgorithm::EcdsaSha256 => "ecdsa-sha256",
            SigningAlgorithm::EcdsaSha384 => "ecdsa-sha384",
            SigningAlgorithm::EcdsaSha512 => "ecdsa-sha512",
            SigningAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// Length in bytes of the digest this scheme signs in
    /// [`MessageType::Digest`] mode; `None` for Ed25519, which has no
    /// pre-hashed mode here.
    pub fn digest_len(&self) -> Option<usize> {
        match self.hash() {
            Some(HashAlg::Sha256) => Some(32),
            Some(HashAlg::Sha384) => Some(48),
            Some(HashAlg::Sha512) => Some(64),
            None => None,
        }
    }

    pub(crate) fn hash(&self) -> Option<HashAlg> {
        match self {
            SigningAlgorithm::RsaPssSha256
            | SigningAlgorithm::RsaPkcs1Sha256
            | SigningAlgorithm::EcdsaSha256 => Some(HashAlg::Sha256),
            SigningAlgorithm::RsaPssSha384
            | SigningAlgorithm::RsaPkcs1Sha384
            | SigningAlgorithm::EcdsaSha384 => Some(HashAlg::Sha384),
            SigningAlgorithm::RsaPssSha512
            | SigningAlgorithm::RsaPkcs1Sha512
            | SigningAlgorithm::EcdsaSha512 => Some(HashAlg::Sha512),
            SigningAlgorithm::Ed25519 => None,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = CryptoError;

    /// Parses a serialized name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SigningAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| CryptoError::UnknownAlgorithm(s.to_owned()))
    }
}

/// Whether the data given to sign/verify is the message itself or its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageType {
    /// The message; it is hashed with the signing algorithm's hash.
    Raw,
    /// The digest of the message under the signing algorithm's hash, already computed.
    Digest,
}

/// The SHA-2 hashes used by the signing and MAC algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub(crate) fn digest_alg(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlg::Sha384 => &aws_lc_rs::digest::SHA384,
            HashAlg::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    pub(crate) fn hmac_alg(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            HashAlg::Sha256 => aws_lc_rs::hmac::HMAC_SHA256,
            HashAlg::Sha384 => aws_lc_rs::hmac::HMAC_SHA384,
            HashAlg::Sha512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }

    pub(crate) fn output_len(self) -> usize {
        self.digest_alg().output_len()
    }
}

impl Algorithm {
    /// The hash of an HMAC algorithm.
    pub(crate) fn hmac_hash(&self) -> Option<HashAlg> {
        match self {
            Algorithm::HmacSha256 => Some(HashAlg::Sha256),
            Algorithm::HmacSha384 => Some(HashAlg::Sha384),
            Algorithm::HmacSha512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_through_from_str_and_serde() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
            assert_eq!(
                a.as_str().to_uppercase().parse::<Algorithm>().unwrap(),
                a,
                "parsing is case-insensitive"
            );
            assert_eq!(a.to_string(), a.as_str());
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), a);
        }
        let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "aes-128",
                "aes-192",
                "aes-256",
                "hmac-sha256",
                "hmac-sha384",
                "hmac-sha512",
                "rsa-2048",
                "rsa-3072",
                "rsa-4096",
                "ec-p256",
                "ec-p384",
                "ec-p521",
                "ed25519"
            ]
        );
    }

    #[test]
    fn unknown_algorithm_names_are_rejected() {
        for bad in ["aes256", "AES_256", "", "rsa-1024", "ec-p256 "] {
            match bad.parse::<Algorithm>() {
                Err(CryptoError::UnknownAlgorithm(n)) => assert_eq!(n, bad),
                other => panic!("{bad:?} parsed as {other:?}"),
            }
        }
        assert!(matches!(
            "rsa-pss".parse::<SigningAlgorithm>(),
            Err(CryptoError::UnknownAlgorithm(_))
        ));
    }

    #[test]
    fn signing_algorithm_names_round_trip_through_from_str_and_serde() {
        let expected = [
            "rsa-pss-sha256",
            "rsa-pss-sha384",
            "rsa-pss-sha512",
            "rsa-pkcs1-sha256",
            "rsa-pkcs1-sha384",
            "rsa-pkcs1-sha512",
            "ecdsa-sha256",
            "ecdsa-sha384",
            "ecdsa-sha512",
            "ed25519",
        ];
        for (s, name) in SigningAlgorithm::ALL.into_iter().zip(expected) {
            assert_eq!(s.as_str(), name);
            assert_eq!(s.to_string(), name);
            assert_eq!(name.to_uppercase().parse::<SigningAlgorithm>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<SigningAlgorithm>(&json).unwrap(), s);
        }
        assert_eq!(serde_json::to_string(&MessageType::Raw).unwrap(), "\"raw\"");
        assert_eq!(
            serde_json::to_string(&MessageType::Digest).unwrap(),
            "\"digest\""
        );
    }

    #[test]
    fn families_and_signing_support_match_the_key_type() {
        for a in Algorithm::ALL {
            assert_eq!(a.is_asymmetric(), a.default_signing().is_some());
            if let Some(d) = a.default_signing() {
                assert!(a.supports_signing(d));
            }
            for s in SigningAlgorithm::ALL {
                if a.supports_signing(s) {
                    assert!(a.is_asymmetric());
                }
            }
        }
        assert_eq!(Algorithm::Rsa3072.family(), KeyFamily::Rsa);
        assert_eq!(
            Algorithm::Rsa4096.default_signing(),
            Some(SigningAlgorithm::RsaPssSha256)
        );
        assert!(Algorithm::Rsa2048.supports_signing(SigningAlgorithm::RsaPkcs1Sha512));
        assert!(!Algorithm::Rsa2048.supports_signing(SigningAlgorithm::EcdsaSha256));
        assert!(!Algorithm::EcP256.supports_signing(SigningAlgorithm::EcdsaSha384));
        assert!(Algorithm::EcP521.supports_signing(SigningAlgorithm::EcdsaSha512));
        assert!(!Algorithm::Ed25519.supports_signing(SigningAlgorithm::EcdsaSha256));
        assert!(!Algorithm::Aes256.supports_signing(SigningAlgorithm::Ed25519));
        assert_eq!(SigningAlgorithm::EcdsaSha384.digest_len(), Some(48));
        assert_eq!(SigningAlgorithm::Ed25519.digest_len(), None);
    }
}
