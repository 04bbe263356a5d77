//! AES-GCM authenticated encryption.
//!
//! ```text
//! seal: key(16|24|32) + nonce(12, random or caller's) + aad + plaintext
//!         -> ciphertext || tag(16)
//! open: key + nonce + aad + ciphertext || tag -> plaintext | AuthenticationFailed
//! ```

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::provider::fill_random;
use crate::{CryptoError, Provider, SecretBytes};

/// Length of the AES-GCM authentication tag appended to every ciphertext.
pub const AES_GCM_TAG_LEN: usize = 16;

/// Length of an AES-GCM nonce.
pub const AES_GCM_NONCE_LEN: usize = 12;

impl Provider {
    /// AES-GCM encryption under a fresh random 96-bit nonce.
    ///
    /// `key` must be 16, 24 or 32 bytes (AES-128/192/256-GCM; AES-192-GCM is
    /// provided by aws-lc-rs). Returns the nonce and `ciphertext || tag`.
    /// Random nonces are safe for up to 2^32 messages per key.
    pub fn aes_gcm_seal(
        &self,
        key: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<([u8; 12], Vec<u8>), CryptoError> {
        let mut nonce = [0u8; AES_GCM_NONCE_LEN];
        fill_random(&mut nonce)?;
        let ciphertext = self.aes_gcm_seal_with_nonce(key, &nonce, aad, plaintext)?;
        Ok((nonce, ciphertext))
    }

    /// AES-GCM encryption under a caller-chosen nonce.
    ///
    /// The caller must never use the same nonce twice with the same key (for
    /// example a per-file random key with a chunk counter as nonce); reuse
    /// destroys both confidentiality and integrity.
    pub fn aes_gcm_seal_with_nonce(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let key = gcm_key(key)?;
        // Reserve room for the tag up front so the buffer holding the plaintext
        // is never reallocated (which would leave an unwiped copy behind), and
        // keep it in `Zeroizing` so it is wiped if sealing fails.
        let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + AES_GCM_TAG_LEN));
        buf.extend_from_slice(plaintext);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            &mut *buf,
        )
        .map_err(|_| CryptoError::InvalidInput("plaintext too long for AES-GCM"))?;
        // Now ciphertext: move it out, leaving an empty vector to the wrapper.
        Ok(core::mem::take(&mut *buf))
    }

    /// AES-GCM decryption. Any mismatch of key, nonce, AAD, ciphertext or tag
    /// yields [`CryptoError::AuthenticationFailed`].
    pub fn aes_gcm_open(
        &self,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let key = gcm_key(key)?;
        if ciphertext_and_tag.len() < AES_GCM_TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let mut buf = SecretBytes::from(ciphertext_and_tag);
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                buf.as_mut_bytes(),
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let alg = match key.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        _ => {
            return Err(CryptoError::InvalidKey(
                "AES key must be 16, 24 or 32 bytes",
            ))
        }
    };
    UnboundKey::new(alg, key)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::InvalidKey("AES key rejected"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    #[test]
    fn every_aes_size_round_trips() {
        for alg in [Algorithm::Aes128, Algorithm::Aes192, Algorithm::Aes256] {
            let key = p().generate(alg).unwrap().private;
            for msg in [&b""[..], b"x", &[0x5a; 1000]] {
                let (nonce, ct) = p().aes_gcm_seal(key.as_bytes(), b"aad", msg).unwrap();
                assert_eq!(ct.len(), msg.len() + AES_GCM_TAG_LEN);
                let pt = p()
                    .aes_gcm_open(key.as_bytes(), &nonce, b"aad", &ct)
                    .unwrap();
                assert_eq!(pt.as_bytes(), msg, "{alg}");
            }
        }
    }

    #[test]
    fn random_nonces_differ() {
        let key = [1u8; 32];
        let (n1, c1) = p().aes_gcm_seal(&key, b"", b"same").unwrap();
        let (n2, c2) = p().aes_gcm_seal(&key, b"", b"same").unwrap();
        assert_ne!(n1, n2);
        assert_ne!(c1, c2);
    }

    #[test]
    fn tampering_with_ciphertext_tag_aad_nonce_or_key_fails_authentication() {
        let key = [9u8; 32];
        let (nonce, ct) = p()
            .aes_gcm_seal(&key, b"context", b"attack at dawn")
            .unwrap();
        let open = |key: &[u8], nonce: &[u8; 12], aad: &[u8], ct: &[u8]| {
            p().aes_gcm_open(key, nonce, aad, ct)
        };
        let mut bad_ct = ct.clone();
        bad_ct[0] ^= 1;
        let mut bad_tag = ct.clone();
        *bad_tag.last_mut().unwrap() ^= 0x80;
        let mut bad_nonce = nonce;
        bad_nonce[11] ^= 1;
        for r in [
            open(&key, &nonce, b"context", &bad_ct),
            open(&key, &nonce, b"context", &bad_tag),
            open(&key, &nonce, b"Context", &ct),
            open(&key, &bad_nonce, b"context", &ct),
            open(&[8u8; 32], &nonce, b"context", &ct),
            open(&key, &nonce, b"context", &ct[..ct.len() - 1]),
            open(&key, &nonce, b"context", &ct[..3]),
        ] {
            assert!(matches!(r, Err(CryptoError::AuthenticationFailed)), "{r:?}");
        }
        assert_eq!(
            open(&key, &nonce, b"context", &ct).unwrap().as_bytes(),
            b"attack at dawn"
        );
    }

    #[test]
    fn caller_nonce_is_used_and_matches_nist_gcm_test_case_3() {
        // NIST GCM spec (McGrew & Viega), test case 3: AES-128, 96-bit IV, no AAD.
        let key = hex::decode("feffe9928665731c6d6a8f9467308308").unwrap();
        let nonce: [u8; 12] = hex::decode("cafebabefacedbaddecaf888")
            .unwrap()
            .try_into()
            .unwrap();
        let pt = hex::decode(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        )
        .unwrap();
        let ct = p().aes_gcm_seal_with_nonce(&key, &nonce, b"", &pt).unwrap();
        assert_eq!(
            hex::encode(&ct),
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985\
             4d5c2af327cd64a62cf35abd2ba6fab4"
        );
        let back = p().aes_gcm_open(&key, &nonce, b"", &ct).unwrap();
        assert_eq!(back.as_bytes(), &pt[..]);
    }

    #[test]
    fn wrong_key_length_is_invalid_key() {
        assert!(matches!(
            p().aes_gcm_seal(&[0u8; 20], b"", b"x"),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            p().aes_gcm_open(&[0u8; 8], &[0u8; 12], b"", &[0u8; 32]),
            Err(CryptoError::InvalidKey(_))
        ));
    }
}
