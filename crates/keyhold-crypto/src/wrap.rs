//! AES key wrap with padding (RFC 5649) and the import transport format.
//!
//! ```text
//! wrap_for_import(wrapping SPKI, material):
//!   k   = 32 random bytes (ephemeral AES-256 key)
//!   out = RSA-OAEP-SHA256(wrapping key, k) || AES-KWP(k, material)
//!         `-- modulus length bytes --'      `-- 8 * ceil(len/8) + 8 --'
//! ```
//!
//! This is the layout of AWS KMS's `RSA_AES_KEY_WRAP_SHA_256` wrapping
//! algorithm (and of PKCS#11 `CKM_RSA_AES_KEY_WRAP`), so material wrapped by
//! tools written for those imports unchanged.

use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_128, AES_256};

use crate::asym::{oaep_private_key, oaep_sha256_decrypt};
use crate::provider::fill_random;
use crate::{CryptoError, Provider, SecretBytes};

/// Length of the ephemeral AES key inside an import blob.
const EPHEMERAL_KEY_LEN: usize = 32;

/// AES-KWP works on 64-bit semiblocks.
const SEMIBLOCK: usize = 8;

/// Largest key AES-KWP wraps (RFC 5649 allows up to 2^32 bytes; this is far
/// above any key and keeps buffer sizes sane).
const KWP_MAX_INPUT: usize = 1 << 20;

impl Provider {
    /// AES key wrap with padding (RFC 5649, AES-KWP) under a 16- or 32-byte KEK.
    ///
    /// `key` must be 1..=1 MiB bytes. The output is `8 * ceil(len / 8) + 8`
    /// bytes long.
    pub fn aes_kwp_wrap(&self, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if key.is_empty() || key.len() > KWP_MAX_INPUT {
            return Err(CryptoError::InvalidInput(
                "AES-KWP input must be 1 byte to 1 MiB",
            ));
        }
        let kek = kwp_kek(kek)?;
        let mut out = vec![0u8; key.len().div_ceil(SEMIBLOCK) * SEMIBLOCK + SEMIBLOCK];
        let len = kek
            .wrap_with_padding(key, &mut out)
            .map_err(|_| CryptoError::Internal("AES-KWP wrap failed"))?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// Reverses [`Provider::aes_kwp_wrap`]. A wrong KEK or altered input is
    /// [`CryptoError::AuthenticationFailed`]; a length that no wrap can
    /// produce is [`CryptoError::InvalidInput`].
    pub fn aes_kwp_unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
        if wrapped.len() < 2 * SEMIBLOCK
            || wrapped.len() % SEMIBLOCK != 0
            || wrapped.len() > KWP_MAX_INPUT + 2 * SEMIBLOCK
        {
            return Err(CryptoError::InvalidInput(
                "AES-KWP ciphertext length invalid",
            ));
        }
        let kek = kwp_kek(kek)?;
        let mut out = SecretBytes::zeroed(wrapped.len());
        let len = kek
            .unwrap_with_padding(wrapped, out.as_mut_bytes())
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// Wraps `material` for import under an RSA wrapping public key:
    /// `RSA-OAEP-SHA256(ephemeral AES-256 key) || AES-KWP(ephemeral, material)`.
    /// The RSA part is exactly as long as the wrapping key's modulus.
    pub fn wrap_for_import(
        &self,
        wrapping_public_spki_der: &[u8],
        material: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut ephemeral = SecretBytes::zeroed(EPHEMERAL_KEY_LEN);
        fill_random(ephemeral.as_mut_bytes())?;
        let mut blob =
            self.rsa_oaep_sha256_encrypt(wrapping_public_spki_der, ephemeral.as_bytes())?;
        blob.extend_from_slice(&self.aes_kwp_wrap(ephemeral.as_bytes(), material)?);
        Ok(blob)
    }

    /// Opens a blob made by [`Provider::wrap_for_import`] with the wrapping
    /// private key. Any integrity failure, in either layer, is
    /// [`CryptoError::AuthenticationFailed`].
    pub fn unwrap_import(
        &self,
        wrapping_private_pkcs8: &[u8],
        blob: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let key = oaep_private_key(wrapping_private_pkcs8)?;
        let rsa_len = key.key_size_bytes();
        if blob.len() < rsa_len + 2 * SEMIBLOCK {
            return Err(CryptoError::InvalidInput("import blob too short"));
        }
        let (rsa_part, kwp_part) = blob.split_at(rsa_len);
        let ephemeral = oaep_sha256_decrypt(&key, rsa_part)?;
        if ephemeral.len() != EPHEMERAL_KEY_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        self.aes_kwp_unwrap(ephemeral.as_bytes(), kwp_part)
    }
}

fn kwp_kek(kek: &[u8]) -> Result<AesKek, CryptoError> {
    let cipher = match kek.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => {
            return Err(CryptoError::InvalidKey(
                "AES-KWP key-encryption key must be 16 or 32 bytes",
            ))
        }
    };
    AesKek::new(cipher, kek).map_err(|_| CryptoError::InvalidKey("AES-KWP KEK rejected"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::key;
    use crate::Algorithm;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    /// RFC 5649 section 6: the only published vectors, with a 192-bit KEK.
    const RFC5649_KEK: &str = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
    const RFC5649_VECTORS: [(&str, &str); 2] = [
        (
            "c37b7e6492584340bed12207808941155068f738",
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        ),
        ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
    ];

    /// A plain transcription of RFC 5649 section 4.1 over single-block AES
    /// (ECB), used only to tie the production code to the RFC's vectors,
    /// whose 192-bit KEK the production API does not take.
    fn reference_kwp_wrap(kek: &[u8], key: &[u8]) -> Vec<u8> {
        use aws_lc_rs::cipher::{EncryptingKey, UnboundCipherKey, AES_128, AES_192, AES_256};
        let alg = match kek.len() {
            16 => &AES_128,
            24 => &AES_192,
            _ => &AES_256,
        };
        let aes = EncryptingKey::ecb(UnboundCipherKey::new(alg, kek).unwrap()).unwrap();
        let encrypt_block = |block: &mut [u8; 16]| {
            aes.encrypt(block).unwrap();
        };
        let mut aiv = [0xa6, 0x59, 0x59, 0xa6, 0, 0, 0, 0];
        aiv[4..].copy_from_slice(&u32::try_from(key.len()).unwrap().to_be_bytes());
        let mut padded = key.to_vec();
        padded.resize(key.len().div_ceil(8) * 8, 0);
        let n = padded.len() / 8;
        if n == 1 {
            let mut block = [0u8; 16];
            block[..8].copy_from_slice(&aiv);
            block[8..].copy_from_slice(&padded);
            encrypt_block(&mut block);
            return block.to_vec();
        }
        let mut a = aiv;
        let mut r: Vec<[u8; 8]> = padded.chunks(8).map(|c| c.try_into().unwrap()).collect();
        for j in 0..6 {
            for (i, ri) in r.iter_mut().enumerate() {
                let mut block = [0u8; 16];
                block[..8].copy_from_slice(&a);
                block[8..].copy_from_slice(ri);
                encrypt_block(&mut block);
                let t = u64::try_from(n * j + i + 1).unwrap();
                a = (u64::from_be_bytes(block[..8].try_into().unwrap()) ^ t).to_be_bytes();
                ri.copy_from_slice(&block[8..]);
            }
        }
        let mut out = a.to_vec();
        for block in r {
            out.extend_from_slice(&block);
        }
        out
    }

    #[test]
    fn reference_kwp_reproduces_rfc5649_section_6() {
        let kek = hex::decode(RFC5649_KEK).unwrap();
        for (key, wrapped) in RFC5649_VECTORS {
            let key = hex::decode(key).unwrap();
            assert_eq!(hex::encode(reference_kwp_wrap(&kek, &key)), wrapped);
        }
    }

    #[test]
    fn aes_kwp_agrees_with_rfc5649_for_aes128_and_aes256_keks() {
        // Known answers for 128- and 256-bit KEKs, cross-checked with OpenSSL
        // (`enc -id-aes128-wrap-pad`) and pyca/cryptography.
        let kek128 = hex::decode("6043b273e971265e538a6ccd5d5a11e4").unwrap();
        let kek256 =
            hex::decode("1552450c60f310fbc84198e5fd707d048f81bf9adc6390ede5b04b3ce40654ba")
                .unwrap();
        let plain = hex::decode("f2645ba4baeda7ecbc12a6ad467695a0").unwrap();
        assert_eq!(
            hex::encode(p().aes_kwp_wrap(&kek128, &plain).unwrap()),
            "4fa1b273b5d33c94acc283f2a1c9b3b05907c0909eb507da"
        );
        assert_eq!(
            hex::encode(p().aes_kwp_wrap(&kek256, &plain).unwrap()),
            "3a9d221453c65275bc8f0e4a6bf233c10a85a9dfa52931fd"
        );
        // And the RFC 5649 algorithm itself, for every padding case.
        let key20 = hex::decode(RFC5649_VECTORS[0].0).unwrap();
        for kek in [&kek128, &kek256] {
            for len in [1usize, 7, 8, 9, 16, 20, 32, 33, 64, 1000] {
                let key: Vec<u8> = key20.iter().copied().cycle().take(len).collect();
                let wrapped = p().aes_kwp_wrap(kek, &key).unwrap();
                assert_eq!(wrapped, reference_kwp_wrap(kek, &key), "len {len}");
                assert_eq!(wrapped.len(), len.div_ceil(8) * 8 + 8);
                assert_eq!(
                    p().aes_kwp_unwrap(kek, &wrapped).unwrap().as_bytes(),
                    &key[..]
                );
            }
        }
        assert!(matches!(
            p().aes_kwp_wrap(&hex::decode(RFC5649_KEK).unwrap(), b"k"),
            Err(CryptoError::InvalidKey(_))
        ));
    }

    #[test]
    fn aes_kwp_unwrap_detects_tampering_and_wrong_kek() {
        let kek = [7u8; 16];
        let wrapped = p().aes_kwp_wrap(&kek, b"0123456789abcdefXYZ").unwrap();
        for i in [0, 8, wrapped.len() - 1] {
            let mut bad = wrapped.clone();
            bad[i] ^= 1;
            assert!(matches!(
                p().aes_kwp_unwrap(&kek, &bad),
                Err(CryptoError::AuthenticationFailed)
            ));
        }
        assert!(matches!(
            p().aes_kwp_unwrap(&[8u8; 16], &wrapped),
            Err(CryptoError::AuthenticationFailed)
        ));
        assert!(matches!(
            p().aes_kwp_unwrap(&kek, &wrapped[..wrapped.len() - 8]),
            Err(CryptoError::AuthenticationFailed)
        ));
        assert!(matches!(
            p().aes_kwp_unwrap(&kek, &wrapped[..wrapped.len() - 1]),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            p().aes_kwp_wrap(&kek, b""),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            p().aes_kwp_wrap(&[0u8; 24], b"k"),
            Err(CryptoError::InvalidKey(_))
        ));
    }

    #[test]
    fn wrap_for_import_round_trips_an_aes_key() {
        let wrapping = key(Algorithm::Rsa2048);
        let aes = p().generate(Algorithm::Aes256).unwrap().private;
        let blob = p()
            .wrap_for_import(wrapping.public.as_deref().unwrap(), aes.as_bytes())
            .unwrap();
        assert_eq!(blob.len(), 256 + 40);
        let back = p()
            .unwrap_import(wrapping.private.as_bytes(), &blob)
            .unwrap();
        assert_eq!(back.as_bytes(), aes.as_bytes());

        let mut bad_rsa = blob.clone();
        bad_rsa[3] ^= 1;
        let mut bad_kwp = blob.clone();
        bad_kwp[260] ^= 1;
        for bad in [bad_rsa, bad_kwp] {
            assert!(matches!(
                p().unwrap_import(wrapping.private.as_bytes(), &bad),
                Err(CryptoError::AuthenticationFailed)
            ));
        }
        assert!(matches!(
            p().unwrap_import(wrapping.private.as_bytes(), &blob[..256]),
            Err(CryptoError::InvalidInput(_))
        ));
    }

    #[test]
    fn wrap_for_import_carries_an_rsa_4096_private_key() {
        let wrapping = key(Algorithm::Rsa3072);
        let rsa = key(Algorithm::Rsa4096);
        let blob = p()
            .wrap_for_import(wrapping.public.as_deref().unwrap(), rsa.private.as_bytes())
            .unwrap();
        let back = p()
            .unwrap_import(wrapping.private.as_bytes(), &blob)
            .unwrap();
        assert_eq!(back.as_bytes(), rsa.private.as_bytes());
        let imported = p().import(Algorithm::Rsa4096, back.as_bytes()).unwrap();
        assert_eq!(imported.public, rsa.public);
    }
}
