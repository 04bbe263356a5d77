//! RSA-OAEP encryption and digital signatures.
//!
//! Signing takes the PKCS#8 private key and verification the
//! SubjectPublicKeyInfo, both as produced by [`Provider::generate`]. Every
//! call checks that the key really is of the stated [`Algorithm`] and that the
//! [`SigningAlgorithm`] fits it.
//!
//! In [`MessageType::Digest`] mode the data is the hash of the message under
//! the signing algorithm's hash and must have exactly its length; aws-lc-rs
//! signs and verifies it without hashing again (`sign_digest` and
//! `verify_digest`). Ed25519 has no digest mode (pure EdDSA hashes internally
//! with SHA-512 and Ed25519ph is not offered), so it yields
//! [`CryptoError::InvalidInput`].

use aws_lc_rs::digest::Digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair, VerificationAlgorithm,
};

use crate::keys::ecdsa_signing_alg;
use crate::{
    Algorithm, CryptoError, KeyFamily, MessageType, Provider, SecretBytes, SigningAlgorithm,
};

/// Length of an Ed25519 public key in its raw (non-SPKI) form.
const ED25519_RAW_PUBLIC_LEN: usize = 32;

impl Provider {
    /// RSA-OAEP encryption with SHA-256 and MGF1-SHA-256, no label.
    ///
    /// `plaintext` may be at most `modulus_len - 66` bytes.
    pub fn rsa_oaep_sha256_encrypt(
        &self,
        public_spki_der: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let key = PublicEncryptingKey::from_der(public_spki_der)
            .map_err(|_| CryptoError::InvalidKey("not an RSA SubjectPublicKeyInfo"))?;
        let key = OaepPublicEncryptingKey::new(key)
            .map_err(|_| CryptoError::InvalidKey("RSA key unusable for OAEP"))?;
        if plaintext.len() > key.max_plaintext_size(&OAEP_SHA256_MGF1SHA256) {
            return Err(CryptoError::InvalidInput(
                "plaintext too long for RSA-OAEP-SHA256 with this key",
            ));
        }
        let mut out = vec![0u8; key.ciphertext_size()];
        let len = key
            .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
            .map_err(|_| CryptoError::Internal("RSA-OAEP encryption failed"))?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// RSA-OAEP decryption with SHA-256 and MGF1-SHA-256, no label.
    ///
    /// Every decryption failure is [`CryptoError::AuthenticationFailed`].
    pub fn rsa_oaep_sha256_decrypt(
        &self,
        private_pkcs8: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        oaep_sha256_decrypt(&oaep_private_key(private_pkcs8)?, ciphertext)
    }

    /// Signs `data` with the private key `private_pkcs8` of algorithm `alg`.
    ///
    /// RSA-PSS uses MGF1 with the same hash and a salt as long as the hash.
    /// ECDSA signatures are DER-encoded (`Ecdsa-Sig-Value`). In
    /// [`MessageType::Digest`] mode `data` must be the digest of the signing
    /// algorithm's hash; Ed25519 with a digest is [`CryptoError::InvalidInput`].
    pub fn sign(
        &self,
        alg: Algorithm,
        private_pkcs8: &[u8],
        sig: SigningAlgorithm,
        msg_type: MessageType,
        data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let digest = prepare(alg, sig, msg_type, data)?;
        match alg.family() {
            KeyFamily::Rsa => {
                let kp = RsaKeyPair::from_pkcs8(private_pkcs8)
                    .map_err(|_| CryptoError::InvalidKey("not an RSA PKCS#8 private key"))?;
                if Some(kp.public_modulus_len()) != alg.key_len() {
                    return Err(CryptoError::InvalidKey(
                        "RSA modulus size does not match the algorithm",
                    ));
                }
                let encoding = rsa_encoding(sig)?;
                let mut out = vec![0u8; kp.public_modulus_len()];
                let signed = match &digest {
                    Some(d) => kp.sign_digest(encoding, d, &mut out),
                    None => kp.sign(encoding, &SystemRandom::new(), data, &mut out),
                };
                signed.map_err(|_| CryptoError::Internal("RSA signing failed"))?;
                Ok(out)
            }
            KeyFamily::Ec => {
                let kp = EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(alg)?, private_pkcs8).map_err(
                    |_| {
                        CryptoError::InvalidKey(
                            "not a PKCS#8 EC private key on the algorithm's curve",
                        )
                    },
                )?;
                let signed = match &digest {
                    Some(d) => kp.sign_digest(d),
                    None => kp.sign(&SystemRandom::new(), data),
                };
                signed
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| CryptoError::Internal("ECDSA signing failed"))
            }
            KeyFamily::Ed25519 => {
                let kp = Ed25519KeyPair::from_pkcs8(private_pkcs8)
                    .map_err(|_| CryptoError::InvalidKey("not an Ed25519 PKCS#8 private key"))?;
                kp.try_sign(data)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| CryptoError::Internal("Ed25519 signing failed"))
            }
            KeyFamily::Aes | KeyFamily::Hmac | KeyFamily::Data => {
                Err(CryptoError::InvalidInput("algorithm cannot sign"))
            }
        }
    }

    /// Verifies `signature` over `data` with the public key `public_spki_der`
    /// of algorithm `alg`.
    ///
    /// Returns `Ok(false)` for a signature that does not verify (including a
    /// malformed one) and an error only for an unusable key or an invalid
    /// combination of parameters.
    pub fn verify(
        &self,
        alg: Algorithm,
        public_spki_der: &[u8],
        sig: SigningAlgorithm,
        msg_type: MessageType,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, CryptoError> {
        let digest = prepare(alg, sig, msg_type, data)?;
        let key = parse_public_key(alg, sig, public_spki_der)?;
        let verified = match &digest {
            Some(d) => key.verify_digest_sig(d, signature),
            None => key.verify_sig(data, signature),
        };
        Ok(verified.is_ok())
    }
}

impl Provider {
    /// Checks that `public_spki_der` is a SubjectPublicKeyInfo of algorithm `alg` (curve and
    /// modulus size included), for keys registered by clients.
    pub fn check_public_key(
        &self,
        alg: Algorithm,
        public_spki_der: &[u8],
    ) -> Result<(), CryptoError> {
        let sig = alg.default_signing().ok_or(CryptoError::InvalidKey(
            "symmetric algorithms have no public key",
        ))?;
        parse_public_key(alg, sig, public_spki_der).map(|_| ())
    }
}

/// Parses an RSA PKCS#8 private key for OAEP decryption.
pub(crate) fn oaep_private_key(
    private_pkcs8: &[u8],
) -> Result<OaepPrivateDecryptingKey, CryptoError> {
    let key = PrivateDecryptingKey::from_pkcs8(private_pkcs8)
        .map_err(|_| CryptoError::InvalidKey("not an RSA PKCS#8 private key"))?;
    OaepPrivateDecryptingKey::new(key)
        .map_err(|_| CryptoError::InvalidKey("RSA key unusable for OAEP"))
}

/// RSA-OAEP-SHA256 decryption; every failure is `AuthenticationFailed`.
pub(crate) fn oaep_sha256_decrypt(
    key: &OaepPrivateDecryptingKey,
    ciphertext: &[u8],
) -> Result<SecretBytes, CryptoError> {
    let mut out = SecretBytes::zeroed(key.min_output_size());
    let len = key
        .decrypt(
            &OAEP_SHA256_MGF1SHA256,
            ciphertext,
            out.as_mut_bytes(),
            None,
        )
        .map_err(|_| CryptoError::AuthenticationFailed)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// Checks the combination of parameters and, in digest mode, wraps the digest.
fn prepare(
    alg: Algorithm,
    sig: SigningAlgorithm,
    msg_type: MessageType,
    data: &[u8],
) -> Result<Option<Digest>, CryptoError> {
    if !alg.is_asymmetric() {
        return Err(CryptoError::InvalidInput("algorithm cannot sign"));
    }
    if !alg.supports_signing(sig) {
        return Err(CryptoError::InvalidInput(
            "signing algorithm does not fit the key algorithm",
        ));
    }
    match msg_type {
        MessageType::Raw => Ok(None),
        MessageType::Digest => {
            let hash = sig.hash().ok_or(CryptoError::InvalidInput(
                "Ed25519 signs messages only, not digests",
            ))?;
            if data.len() != hash.output_len() {
                return Err(CryptoError::InvalidInput(
                    "digest length does not match the signing algorithm's hash",
                ));
            }
            Digest::import_less_safe(data, hash.digest_alg())
                .map(Some)
                .map_err(|_| CryptoError::InvalidInput("digest rejected"))
        }
    }
}

fn rsa_encoding(
    sig: SigningAlgorithm,
) -> Result<&'static signature::RsaSignatureEncoding, CryptoError> {
    match sig {
        SigningAlgorithm::RsaPssSha256 => Ok(&signature::RSA_PSS_SHA256),
        SigningAlgorithm::RsaPssSha384 => Ok(&signature::RSA_PSS_SHA384),
        SigningAlgorithm::RsaPssSha512 => Ok(&signature::RSA_PSS_SHA512),
        SigningAlgorithm::RsaPkcs1Sha256 => Ok(&signature::RSA_PKCS1_SHA256),
        SigningAlgorithm::RsaPkcs1Sha384 => Ok(&signature::RSA_PKCS1_SHA384),
        SigningAlgorithm::RsaPkcs1Sha512 => Ok(&signature::RSA_PKCS1_SHA512),
        _ => Err(CryptoError::InvalidInput("not an RSA signing algorithm")),
    }
}

fn verification_alg(sig: SigningAlgorithm) -> &'static dyn VerificationAlgorithm {
    match sig {
        SigningAlgorithm::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        SigningAlgorithm::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        SigningAlgorithm::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
        SigningAlgorithm::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        SigningAlgorithm::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        SigningAlgorithm::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        SigningAlgorithm::EcdsaSha256 => &signature::ECDSA_P256_SHA256_ASN1,
        SigningAlgorithm::EcdsaSha384 => &signature::ECDSA_P384_SHA384_ASN1,
        SigningAlgorithm::EcdsaSha512 => &signature::ECDSA_P521_SHA512_ASN1,
        SigningAlgorithm::Ed25519 => &signature::ED25519,
    }
}

/// Parses an SPKI for verification and checks it is a key of `alg`.
///
/// `sig` has already been checked to fit `alg`, so for EC keys the
/// verification algorithm fixes the curve.
fn parse_public_key(
    alg: Algorithm,
    sig: SigningAlgorithm,
    spki: &[u8],
) -> Result<ParsedPublicKey, CryptoError> {
    match alg.family() {
        KeyFamily::Rsa => {
            // `from_der` accepts SubjectPublicKeyInfo only, and reports the exact size.
            let bits = PublicEncryptingKey::from_der(spki)
                .map_err(|_| CryptoError::InvalidKey("not an RSA SubjectPublicKeyInfo"))?
                .key_size_bits();
            if Some(bits) != alg.key_len().map(|bytes| bytes * 8) {
                return Err(CryptoError::InvalidKey(
                    "RSA modulus size does not match the algorithm",
                ));
            }
        }
        // aws-lc-rs also takes bare curve points and raw Ed25519 keys; this API
        // takes SubjectPublicKeyInfo only. An SPKI is a DER SEQUENCE (0x30),
        // a SEC 1 point starts with 0x02, 0x03 or 0x04.
        KeyFamily::Ec if spki.first() != Some(&0x30) => {
            return Err(CryptoError::InvalidKey("not an EC SubjectPublicKeyInfo"));
        }
        KeyFamily::Ed25519 if spki.len() == ED25519_RAW_PUBLIC_LEN => {
            return Err(CryptoError::InvalidKey(
                "not an Ed25519 SubjectPublicKeyInfo",
            ));
        }
        KeyFamily::Aes | KeyFamily::Hmac | KeyFamily::Data => {
            return Err(CryptoError::InvalidInput("algorithm cannot verify"));
        }
        KeyFamily::Ec | KeyFamily::Ed25519 => {}
    }
    ParsedPublicKey::new(verification_alg(sig), spki)
        .map_err(|_| CryptoError::InvalidKey("public key does not match the algorithm"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::key;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    fn hash(sig: SigningAlgorithm, msg: &[u8]) -> Vec<u8> {
        let alg = sig.hash().unwrap().digest_alg();
        aws_lc_rs::digest::digest(alg, msg).as_ref().to_vec()
    }

    #[test]
    fn every_asymmetric_key_signs_and_verifies_with_each_fitting_scheme_in_both_modes() {
        let msg = b"the quick brown fox";
        for alg in Algorithm::ALL.into_iter().filter(Algorithm::is_asymmetric) {
            let k = key(alg);
            let (private, public) = (k.private.as_bytes(), k.public.as_deref().unwrap());
            for sig in SigningAlgorithm::ALL {
                if !alg.supports_signing(sig) {
                    assert!(matches!(
                        p().sign(alg, private, sig, MessageType::Raw, msg),
                        Err(CryptoError::InvalidInput(_))
                    ));
                    continue;
                }
                let raw_sig = p().sign(alg, private, sig, MessageType::Raw, msg).unwrap();
                let ok = |mt, data: &[u8], s: &[u8]| p().verify(alg, public, sig, mt, data, s);
                assert!(ok(MessageType::Raw, msg, &raw_sig).unwrap(), "{alg} {sig}");
                assert!(!ok(MessageType::Raw, b"other", &raw_sig).unwrap());
                let mut bad = raw_sig.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                assert!(!ok(MessageType::Raw, msg, &bad).unwrap(), "{alg} {sig}");
                assert!(!ok(MessageType::Raw, msg, b"").unwrap());
                if matches!(alg.family(), KeyFamily::Ec) {
                    assert_eq!(raw_sig[0], 0x30, "ECDSA signatures are DER");
                }

                if sig == SigningAlgorithm::Ed25519 {
                    assert!(matches!(
                        p().sign(alg, private, sig, MessageType::Digest, &[0u8; 64]),
                        Err(CryptoError::InvalidInput(_))
                    ));
                    assert!(matches!(
                        ok(MessageType::Digest, &[0u8; 64], &raw_sig),
                        Err(CryptoError::InvalidInput(_))
                    ));
                    continue;
                }
                // A signature over the digest is a signature over the message.
                let digest = hash(sig, msg);
                let digest_sig = p()
                    .sign(alg, private, sig, MessageType::Digest, &digest)
                    .unwrap();
                assert!(ok(MessageType::Digest, &digest, &digest_sig).unwrap());
                assert!(
                    ok(MessageType::Raw, msg, &digest_sig).unwrap(),
                    "{alg} {sig}"
                );
                assert!(
                    ok(MessageType::Digest, &digest, &raw_sig).unwrap(),
                    "{alg} {sig}"
                );
                assert!(!ok(MessageType::Digest, &hash(sig, b"other"), &raw_sig).unwrap());
                assert!(matches!(
                    p().sign(alg, private, sig, MessageType::Digest, &digest[1..]),
                    Err(CryptoError::InvalidInput(_))
                ));
                assert!(matches!(
                    ok(MessageType::Digest, msg, &raw_sig),
                    Err(CryptoError::InvalidInput(_))
                ));
            }
        }
    }

    #[test]
    fn pkcs1_signatures_are_deterministic_and_pss_ones_are_not() {
        let k = key(Algorithm::Rsa2048);
        let sign = |sig| {
            p().sign(
                Algorithm::Rsa2048,
                k.private.as_bytes(),
                sig,
                MessageType::Raw,
                b"m",
            )
            .unwrap()
        };
        assert_eq!(
            sign(SigningAlgorithm::RsaPkcs1Sha256),
            sign(SigningAlgorithm::RsaPkcs1Sha256)
        );
        assert_ne!(
            sign(SigningAlgorithm::RsaPssSha256),
            sign(SigningAlgorithm::RsaPssSha256)
        );
        assert_eq!(sign(SigningAlgorithm::RsaPssSha512).len(), 256);
    }

    #[test]
    fn keys_of_another_size_or_curve_are_rejected() {
        let rsa2048 = key(Algorithm::Rsa2048);
        let p256 = key(Algorithm::EcP256);
        let p384 = key(Algorithm::EcP384);
        let ed = key(Algorithm::Ed25519);
        let s = SigningAlgorithm::RsaPssSha256;
        assert!(matches!(
            p().sign(
                Algorithm::Rsa3072,
                rsa2048.private.as_bytes(),
                s,
                MessageType::Raw,
                b"m"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().verify(
                Algorithm::Rsa3072,
                rsa2048.public.as_deref().unwrap(),
                s,
                MessageType::Raw,
                b"m",
                b"sig"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        let e = SigningAlgorithm::EcdsaSha256;
        assert!(matches!(
            p().sign(
                Algorithm::EcP256,
                p384.private.as_bytes(),
                e,
                MessageType::Raw,
                b"m"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().verify(
                Algorithm::EcP256,
                p384.public.as_deref().unwrap(),
                e,
                MessageType::Raw,
                b"m",
                b"sig"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().sign(
                Algorithm::EcP256,
                rsa2048.private.as_bytes(),
                e,
                MessageType::Raw,
                b"m"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        let d = SigningAlgorithm::Ed25519;
        assert!(matches!(
            p().sign(
                Algorithm::Ed25519,
                p256.private.as_bytes(),
                d,
                MessageType::Raw,
                b"m"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        let raw_ed_public = &ed.public.as_deref().unwrap()[12..];
        assert_eq!(raw_ed_public.len(), 32);
        assert!(matches!(
            p().verify(
                Algorithm::Ed25519,
                raw_ed_public,
                d,
                MessageType::Raw,
                b"m",
                b"s"
            ),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().sign(Algorithm::Aes256, &[0u8; 32], d, MessageType::Raw, b"m"),
            Err(CryptoError::InvalidInput(_))
        ));
    }

    #[test]
    fn rsa_oaep_round_trips_and_rejects_tampering() {
        for alg in [Algorithm::Rsa2048, Algorithm::Rsa3072, Algorithm::Rsa4096] {
            let k = key(alg);
            let public = k.public.as_deref().unwrap();
            let ct = p().rsa_oaep_sha256_encrypt(public, b"a secret").unwrap();
            assert_eq!(Some(ct.len()), alg.key_len());
            let pt = p()
                .rsa_oaep_sha256_decrypt(k.private.as_bytes(), &ct)
                .unwrap();
            assert_eq!(pt.as_bytes(), b"a secret");
            let mut bad = ct.clone();
            bad[10] ^= 1;
            assert!(matches!(
                p().rsa_oaep_sha256_decrypt(k.private.as_bytes(), &bad),
                Err(CryptoError::AuthenticationFailed)
            ));
            assert!(matches!(
                p().rsa_oaep_sha256_decrypt(k.private.as_bytes(), &ct[1..]),
                Err(CryptoError::AuthenticationFailed)
            ));
            let max = alg.key_len().unwrap() - 66;
            assert!(p().rsa_oaep_sha256_encrypt(public, &vec![1u8; max]).is_ok());
            assert!(matches!(
                p().rsa_oaep_sha256_encrypt(public, &vec![1u8; max + 1]),
                Err(CryptoError::InvalidInput(_))
            ));
        }
        let ec = key(Algorithm::EcP256);
        assert!(matches!(
            p().rsa_oaep_sha256_encrypt(ec.public.as_deref().unwrap(), b"x"),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().rsa_oaep_sha256_decrypt(ec.private.as_bytes(), &[0u8; 256]),
            Err(CryptoError::InvalidKey(_))
        ));
    }
}
