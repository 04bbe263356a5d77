//! Key generation and import.

use core::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

use crate::provider::fill_random;
use crate::{Algorithm, CryptoError, KeyFamily, Provider, SecretBytes};

/// Key material as generated or imported.
///
/// For AES and HMAC, `private` holds the raw key bytes and `public` is `None`.
/// For RSA, EC and Ed25519, `private` is the PKCS#8 DER document as aws-lc-rs
/// produces it (v1 for RSA and EC, v2 with the public key for Ed25519) and
/// `public` is the X.509 SubjectPublicKeyInfo DER.
#[derive(Clone)]
pub struct KeyMaterial {
    /// Raw symmetric key bytes, or PKCS#8 DER for key pairs.
    pub private: SecretBytes,
    /// SubjectPublicKeyInfo DER for key pairs, `None` for symmetric keys.
    pub public: Option<Vec<u8>>,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("private", &self.private)
            .field("public_len", &self.public.as_ref().map(Vec::len))
            .finish()
    }
}

/// Largest HMAC key accepted on import, in bytes.
const HMAC_MAX_KEY_LEN: usize = 1024;

impl Provider {
    /// Generates a fresh key of `alg`.
    ///
    /// AES keys have the algorithm's size; HMAC keys are as long as the hash
    /// output (32, 48 or 64 bytes). RSA keys use the public exponent 65537.
    /// RSA-4096 generation takes around half a second.
    pub fn generate(&self, alg: Algorithm) -> Result<KeyMaterial, CryptoError> {
        match alg.family() {
            KeyFamily::Data => Err(CryptoError::Unsupported(
                "data objects are registered by clients, not generated",
            )),
            KeyFamily::Aes | KeyFamily::Hmac => {
                let len = alg.key_len().ok_or(CryptoError::Internal(
                    "symmetric algorithm without a length",
                ))?;
                let mut key = SecretBytes::zeroed(len);
                fill_random(key.as_mut_bytes())?;
                Ok(KeyMaterial {
                    private: key,
                    public: None,
                })
            }
            KeyFamily::Rsa => {
                let kp = RsaKeyPair::generate(rsa_key_size(alg)?)
                    .map_err(|_| CryptoError::Internal("RSA key generation failed"))?;
                rsa_material(&kp)
            }
            KeyFamily::Ec => {
                let kp = EcdsaKeyPair::generate(ecdsa_signing_alg(alg)?)
                    .map_err(|_| CryptoError::Internal("EC key generation failed"))?;
                ec_material(&kp)
            }
            KeyFamily::Ed25519 => {
                let kp = Ed25519KeyPair::generate()
                    .map_err(|_| CryptoError::Internal("Ed25519 key generation failed"))?;
                ed25519_material(&kp)
            }
        }
    }

    /// Validates imported key material for `alg` and returns it normalized.
    ///
    /// * AES: exactly 16, 24 or 32 raw bytes as the algorithm says.
    /// * HMAC: raw bytes, at least half the hash output length (16, 24 or 32
    ///   bytes) and at most 1024 bytes.
    /// * RSA, EC, Ed25519: an unencrypted PKCS#8 (v1 or v2) DER document of
    ///   exactly that algorithm: the RSA modulus must have exactly the
    ///   algorithm's bit length, the EC curve must match. The returned
    ///   `private` is re-encoded the way [`Provider::generate`] encodes it and
    ///   `public` is the derived SubjectPublicKeyInfo.
    pub fn import(&self, alg: Algorithm, material: &[u8]) -> Result<KeyMaterial, CryptoError> {
        match alg.family() {
            KeyFamily::Aes => {
                if Some(material.len()) != alg.key_len() {
                    return Err(CryptoError::InvalidKey(
                        "AES key length does not match the algorithm",
                    ));
                }
                Ok(KeyMaterial {
                    private: SecretBytes::from(material),
                    public: None,
                })
            }
            KeyFamily::Data => {
                if material.is_empty() || material.len() > MAX_DATA_LEN {
                    return Err(CryptoError::InvalidInput(
                        "data objects hold 1 byte to 64 KiB",
                    ));
                }
                Ok(KeyMaterial {
                    private: SecretBytes::from(material),
                    public: None,
                })
            }
            KeyFamily::Hmac => {
                check_hmac_key_len(alg, material.len())?;
                Ok(KeyMaterial {
                    private: SecretBytes::from(material),
                    public: None,
                })
            }
            KeyFamily::Rsa => {
                let bits = PrivateDecryptingKey::from_pkcs8(material)
                    .map_err(|_| CryptoError::InvalidKey("not an RSA PKCS#8 private key"))?
                    .key_size_bits();
                if Some(bits) != alg.key_len().map(|bytes| bytes * 8) {
                    return Err(CryptoError::InvalidKey(
                        "RSA modulus size does not match the algorithm",
                    ));
                }
                let kp = RsaKeyPair::from_pkcs8(material)
                    .map_err(|_| CryptoError::InvalidKey("not an RSA PKCS#8 private key"))?;
                rsa_material(&kp)
            }
            KeyFamily::Ec => {
                let kp =
                    EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(alg)?, material).map_err(|_| {
                        CryptoError::InvalidKey(
                            "not a PKCS#8 EC private key on the algorithm's curve",
                        )
                    })?;
                ec_material(&kp)
            }
            KeyFamily::Ed25519 => {
                let kp = Ed25519KeyPair::from_pkcs8(material)
                    .map_err(|_| CryptoError::InvalidKey("not an Ed25519 PKCS#8 private key"))?;
                ed25519_material(&kp)
            }
        }
    }
}

/// The largest secret-data, opaque or certificate object.
pub const MAX_DATA_LEN: usize = 64 * 1024;

/// HMAC keys must be at least half the hash output and at most 1024 bytes.
pub(crate) fn check_hmac_key_len(alg: Algorithm, len: usize) -> Result<(), CryptoError> {
    let hash = alg
        .hmac_hash()
        .ok_or(CryptoError::InvalidInput("not an HMAC algorithm"))?;
    if len < hash.output_len() / 2 || len > HMAC_MAX_KEY_LEN {
        return Err(CryptoError::InvalidKey(
            "HMAC key must be between half the hash length and 1024 bytes",
        ));
    }
    Ok(())
}

pub(crate) fn rsa_key_size(alg: Algorithm) -> Result<KeySize, CryptoError> {
    match alg {
        Algorithm::Rsa2048 => Ok(KeySize::Rsa2048),
        Algorithm::Rsa3072 => Ok(KeySize::Rsa3072),
        Algorithm::Rsa4096 => Ok(KeySize::Rsa4096),
        _ => Err(CryptoError::InvalidInput("not an RSA algorithm")),
    }
}

/// The aws-lc-rs ECDSA signing algorithm (DER signatures) for a curve.
pub(crate) fn ecdsa_signing_alg(
    alg: Algorithm,
) -> Result<&'static signature::EcdsaSigningAlgorithm, CryptoError> {
    match alg {
        Algorithm::EcP256 => Ok(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        Algorithm::EcP384 => Ok(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        Algorithm::EcP521 => Ok(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        _ => Err(CryptoError::InvalidInput("not an EC algorithm")),
    }
}

fn spki<K: AsDer<PublicKeyX509Der<'static>>>(key: &K) -> Result<Vec<u8>, CryptoError> {
    key.as_der()
        .map(|der| der.as_ref().to_vec())
        .map_err(|_| CryptoError::Internal("public key encoding failed"))
}

fn rsa_material(kp: &RsaKeyPair) -> Result<KeyMaterial, CryptoError> {
    // `Pkcs8V1Der` wipes its own buffer when dropped.
    let der: Pkcs8V1Der<'static> = kp
        .as_der()
        .map_err(|_| CryptoError::Internal("RSA private key encoding failed"))?;
    Ok(KeyMaterial {
        private: SecretBytes::from(der.as_ref()),
        public: Some(spki(kp.public_key())?),
    })
}

fn ec_material(kp: &EcdsaKeyPair) -> Result<KeyMaterial, CryptoError> {
    // `Document` wipes its own buffer when dropped.
    let doc = kp
        .to_pkcs8v1()
        .map_err(|_| CryptoError::Internal("EC private key encoding failed"))?;
    Ok(KeyMaterial {
        private: SecretBytes::from(doc.as_ref()),
        public: Some(spki(kp.public_key())?),
    })
}

fn ed25519_material(kp: &Ed25519KeyPair) -> Result<KeyMaterial, CryptoError> {
    let doc = kp
        .to_pkcs8()
        .map_err(|_| CryptoError::Internal("Ed25519 private key encoding failed"))?;
    Ok(KeyMaterial {
        private: SecretBytes::from(doc.as_ref()),
        public: Some(spki(kp.public_key())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::key;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    #[test]
    fn every_algorithm_generates_material_that_imports_back_unchanged() {
        for alg in Algorithm::ALL {
            let m = key(alg);
            assert_eq!(m.public.is_some(), alg.is_asymmetric(), "{alg}");
            let again = p().import(alg, m.private.as_bytes()).unwrap();
            assert_eq!(again.private.as_bytes(), m.private.as_bytes(), "{alg}");
            assert_eq!(again.public, m.public, "{alg}");
            if let Some(spki) = &m.public {
                assert_eq!(spki[0], 0x30, "{alg}: SPKI is a DER SEQUENCE");
            }
        }
        assert_eq!(p().generate(Algorithm::Aes192).unwrap().private.len(), 24);
        assert_eq!(
            p().generate(Algorithm::HmacSha512).unwrap().private.len(),
            64
        );
    }

    #[test]
    fn import_rejects_material_of_another_algorithm() {
        let rsa3072 = key(Algorithm::Rsa3072);
        assert!(matches!(
            p().import(Algorithm::Rsa2048, rsa3072.private.as_bytes()),
            Err(CryptoError::InvalidKey(_))
        ));
        let p384 = key(Algorithm::EcP384);
        assert!(matches!(
            p().import(Algorithm::EcP256, p384.private.as_bytes()),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().import(Algorithm::Ed25519, p384.private.as_bytes()),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().import(Algorithm::Rsa3072, p384.private.as_bytes()),
            Err(CryptoError::InvalidKey(_))
        ));
        let ed = key(Algorithm::Ed25519);
        assert!(matches!(
            p().import(Algorithm::EcP256, ed.private.as_bytes()),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().import(Algorithm::Aes256, &[7u8; 16]),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().import(Algorithm::EcP256, b"garbage"),
            Err(CryptoError::InvalidKey(_))
        ));
    }

    #[test]
    fn import_accepts_pkcs8_v1_ed25519_and_normalizes_it() {
        let kp = Ed25519KeyPair::generate().unwrap();
        let v1 = kp.to_pkcs8v1().unwrap();
        let m = p().import(Algorithm::Ed25519, v1.as_ref()).unwrap();
        assert_eq!(m.private.as_bytes(), kp.to_pkcs8().unwrap().as_ref());
        assert_eq!(m.public.unwrap(), spki(kp.public_key()).unwrap());
    }

    #[test]
    fn hmac_import_bounds_depend_on_the_hash() {
        assert!(p().import(Algorithm::HmacSha256, &[1u8; 16]).is_ok());
        assert!(p().import(Algorithm::HmacSha256, &[1u8; 15]).is_err());
        assert!(p().import(Algorithm::HmacSha384, &[1u8; 23]).is_err());
        assert!(p().import(Algorithm::HmacSha512, &[1u8; 32]).is_ok());
        assert!(p().import(Algorithm::HmacSha512, &[1u8; 31]).is_err());
        assert!(p().import(Algorithm::HmacSha512, &[1u8; 1024]).is_ok());
        assert!(matches!(
            p().import(Algorithm::HmacSha512, &[1u8; 1025]),
            Err(CryptoError::InvalidKey(_))
        ));
    }

    #[test]
    fn key_material_debug_does_not_show_the_private_key() {
        let m = p().generate(Algorithm::Aes128).unwrap();
        let text = format!("{m:?}");
        assert!(text.contains("[redacted]"));
    }
}
