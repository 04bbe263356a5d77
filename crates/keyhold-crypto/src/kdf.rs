//! Key derivation (PBKDF2, HKDF, SP 800-108 counter mode) and AES key wrap without padding
//! (RFC 3394), the primitives behind KMIP Derive Key and Get with a key-wrapping specification.
//!
//! ```text
//! pbkdf2(hash, password, salt, c, L)   PKCS #5 v2.1 / RFC 8018, HMAC-hash PRF
//! hkdf(hash, ikm, salt, info, L)       RFC 5869 extract-then-expand
//! kbkdf_counter(hash, key, fixed, L)   SP 800-108r1 §4.1: K(i) = HMAC(key, [i]_32 ‖ fixed),
//!                                      i = 1.., output = first L bytes of K(1) ‖ K(2) ‖ …
//! aes_kw_wrap(kek, key)                RFC 3394 (AES-KW), key a multiple of 8 bytes, >= 16
//! ```

use std::num::NonZeroU32;

use aws_lc_rs::key_wrap::{AesKek, KeyWrap, AES_128, AES_256};
use aws_lc_rs::{hkdf, hmac, pbkdf2};
use serde::{Deserialize, Serialize};

use crate::{CryptoError, Provider, SecretBytes};

/// Longest derived output (a key of any supported algorithm is far shorter).
pub const MAX_DERIVED_LEN: usize = 1024;

/// Most PBKDF2 iterations one request may ask for (bounds the CPU a request can take).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The hash function of a key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KdfHash {
    /// SHA-1, inside PBKDF2 and HKDF only (HMAC-SHA-1 as their PRF is still sound, and KMIP
    /// clients such as PyKMIP use it); refused by [`Provider::kbkdf_counter`].
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl KdfHash {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Self::Sha1 => hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hkdf::HKDF_SHA256,
            Self::Sha384 => hkdf::HKDF_SHA384,
            Self::Sha512 => hkdf::HKDF_SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha384 => pbkdf2::PBKDF2_HMAC_SHA384,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

fn check_len(out_len: usize) -> Result<(), CryptoError> {
    if out_len == 0 || out_len > MAX_DERIVED_LEN {
        return Err(CryptoError::InvalidInput(
            "derived length must be 1..=1024 bytes",
        ));
    }
    Ok(())
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Provider {
    /// PBKDF2 with HMAC-`hash` (RFC 8018). `iterations` is 1..=[`MAX_PBKDF2_ITERATIONS`]; the
    /// salt must not be empty.
    pub fn pbkdf2(
        &self,
        hash: KdfHash,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
        out_len: usize,
    ) -> Result<SecretBytes, CryptoError> {
        check_len(out_len)?;
        if salt.is_empty() {
            return Err(CryptoError::InvalidInput("PBKDF2 needs a salt"));
        }
        let iterations = NonZeroU32::new(iterations)
            .filter(|n| n.get() <= MAX_PBKDF2_ITERATIONS)
            .ok_or(CryptoError::InvalidInput(
                "PBKDF2 iteration count must be 1..=1000000",
            ))?;
        let mut out = SecretBytes::zeroed(out_len);
        pbkdf2::derive(
            hash.pbkdf2(),
            iterations,
            salt,
            password,
            out.as_mut_bytes(),
        );
        Ok(out)
    }

    /// HKDF with `hash` (RFC 5869); an empty salt is the all-zero salt of the RFC.
    pub fn hkdf(
        &self,
        hash: KdfHash,
        ikm: &[u8],
        salt: &[u8],
        info: &[u8],
        out_len: usize,
    ) -> Result<SecretBytes, CryptoError> {
        check_len(out_len)?;
        let prk = hkdf::Salt::new(hash.hkdf(), salt).extract(ikm);
        let info = [info];
        let okm = prk
            .expand(&info, Len(out_len))
            .map_err(|_| CryptoError::InvalidInput("HKDF output too long"))?;
        let mut out = SecretBytes::zeroed(out_len);
        okm.fill(out.as_mut_bytes())
            .map_err(|_| CryptoError::Internal("HKDF expand failed"))?;
        Ok(out)
    }

    /// The SP 800-108 key-based KDF in counter mode with an HMAC-`hash` PRF, a 32-bit counter
    /// before the fixed input: `K(i) = HMAC(key, [i]_32 ‖ fixed_input)` for i = 1, 2, …
    /// SHA-1 is refused.
    pub fn kbkdf_counter(
        &self,
        hash: KdfHash,
        key: &[u8],
        fixed_input: &[u8],
        out_len: usize,
    ) -> Result<SecretBytes, CryptoError> {
        check_len(out_len)?;
        if hash == KdfHash::Sha1 {
            return Err(CryptoError::InvalidInput(
                "SHA-1 is accepted in PBKDF2 and HKDF only",
            ));
        }
        let prf = hmac::Key::new(hash.hmac(), key);
        let mut out = SecretBytes::zeroed(out_len);
        let buf = out.as_mut_bytes();
        let mut filled = 0;
        let mut counter: u32 = 1;
        while filled < out_len {
            let mut ctx = hmac::Context::with_key(&prf);
            ctx.update(&counter.to_be_bytes());
            ctx.update(fixed_input);
            let block = ctx.sign();
            let take = (out_len - filled).min(block.as_ref().len());
            buf[filled..filled + take].copy_from_slice(&block.as_ref()[..take]);
            filled += take;
            counter += 1;
        }
        Ok(out)
    }

    /// AES key wrap without padding (RFC 3394) under a 16- or 32-byte KEK; `key` is a multiple
    /// of 8 bytes, at least 16. The output is 8 bytes longer.
    pub fn aes_kw_wrap(&self, kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if key.len() < 16 || key.len() % 8 != 0 || key.len() > MAX_DERIVED_LEN * 64 {
            return Err(CryptoError::InvalidInput(
                "AES-KW wraps keys of a multiple of 8 bytes, at least 16",
            ));
        }
        let kek = aes_kek(kek)?;
        let mut out = vec![0u8; key.len() + 8];
        let len = kek
            .wrap(key, &mut out)
            .map_err(|_| CryptoError::Internal("AES-KW wrap failed"))?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// Reverses [`Provider::aes_kw_wrap`]; a wrong KEK or altered input is
    /// [`CryptoError::AuthenticationFailed`].
    pub fn aes_kw_unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
        if wrapped.len() < 24 || wrapped.len() % 8 != 0 {
            return Err(CryptoError::InvalidInput(
                "AES-KW ciphertext length invalid",
            ));
        }
        let kek = aes_kek(kek)?;
        let mut out = SecretBytes::zeroed(wrapped.len());
        let len = kek
            .unwrap(wrapped, out.as_mut_bytes())
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

fn aes_kek(kek: &[u8]) -> Result<AesKek, CryptoError> {
    let cipher = match kek.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => {
            return Err(CryptoError::InvalidKey(
                "AES key-wrapping key must be 16 or 32 bytes",
            ))
        }
    };
    AesKek::new(cipher, kek).map_err(|_| CryptoError::InvalidKey("AES-KW KEK rejected"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Provider {
        Provider::aws_lc()
    }

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// PBKDF2-HMAC-SHA1 (RFC 6070 §2, c = 2) and HKDF-SHA1 (RFC 5869 A.4); no SHA-1 in
    /// SP 800-108.
    #[test]
    fn sha1_inside_pbkdf2_and_hkdf_matches_the_rfcs_and_is_refused_elsewhere() {
        let out = p()
            .pbkdf2(KdfHash::Sha1, b"password", b"salt", 2, 20)
            .unwrap();
        assert_eq!(
            out.as_bytes(),
            hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957")
        );
        let out = p()
            .hkdf(
                KdfHash::Sha1,
                &hex("0b0b0b0b0b0b0b0b0b0b0b"),
                &hex("000102030405060708090a0b0c"),
                &hex("f0f1f2f3f4f5f6f7f8f9"),
                42,
            )
            .unwrap();
        assert_eq!(
            out.as_bytes(),
            hex("085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896")
        );
        assert!(p()
            .kbkdf_counter(KdfHash::Sha1, &[1; 32], b"x", 16)
            .is_err());
        assert_eq!(
            serde_json::from_str::<KdfHash>("\"sha1\"").ok(),
            Some(KdfHash::Sha1)
        );
    }

    /// RFC 3394 §4.1 and §4.6: 128-bit key under a 128-bit KEK, 256-bit key under a 256-bit KEK.
    #[test]
    fn aes_kw_matches_rfc_3394() {
        let kek = hex("000102030405060708090A0B0C0D0E0F");
        let key = hex("00112233445566778899AABBCCDDEEFF");
        let wrapped = p().aes_kw_wrap(&kek, &key).unwrap();
        assert_eq!(
            wrapped,
            hex("1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5")
        );
        assert_eq!(p().aes_kw_unwrap(&kek, &wrapped).unwrap().as_bytes(), key);

        let kek = hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let key = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let wrapped = p().aes_kw_wrap(&kek, &key).unwrap();
        assert_eq!(
            wrapped,
            hex("28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21")
        );
        let mut bad = wrapped.clone();
        bad[5] ^= 1;
        assert!(matches!(
            p().aes_kw_unwrap(&kek, &bad),
            Err(CryptoError::AuthenticationFailed)
        ));
        assert!(p().aes_kw_wrap(&kek, &[0u8; 12]).is_err());
        assert!(p().aes_kw_wrap(&kek[..24], &key).is_err());
    }

    /// RFC 7914 §11, the PBKDF2-HMAC-SHA256 vectors.
    #[test]
    fn pbkdf2_matches_rfc_7914() {
        let out = p()
            .pbkdf2(KdfHash::Sha256, b"passwd", b"salt", 1, 64)
            .unwrap();
        assert_eq!(
            out.as_bytes(),
            hex(
                "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                 49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
            )
        );
        assert!(p().pbkdf2(KdfHash::Sha256, b"p", b"", 1, 32).is_err());
        assert!(p().pbkdf2(KdfHash::Sha256, b"p", b"s", 0, 32).is_err());
        assert!(p()
            .pbkdf2(KdfHash::Sha256, b"p", b"s", MAX_PBKDF2_ITERATIONS + 1, 32)
            .is_err());
    }

    /// RFC 5869 A.1 (SHA-256).
    #[test]
    fn hkdf_matches_rfc_5869() {
        let out = p()
            .hkdf(
                KdfHash::Sha256,
                &[0x0b; 22],
                &hex("000102030405060708090a0b0c"),
                &hex("f0f1f2f3f4f5f6f7f8f9"),
                42,
            )
            .unwrap();
        assert_eq!(
            out.as_bytes(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        );
    }

    /// Counter mode as SP 800-108 defines it, checked against HMAC computed directly, across a
    /// block boundary.
    #[test]
    fn kbkdf_counter_concatenates_hmac_blocks() {
        let key = [7u8; 32];
        let fixed = b"label\0context\0\0\x01\x80";
        let out = p().kbkdf_counter(KdfHash::Sha256, &key, fixed, 48).unwrap();
        let block = |i: u32| {
            let mut msg = i.to_be_bytes().to_vec();
            msg.extend_from_slice(fixed);
            p().hmac_sha256(&key, &msg)
        };
        let mut expected = block(1).to_vec();
        expected.extend_from_slice(&block(2)[..16]);
        assert_eq!(out.as_bytes(), expected);
        let other = p()
            .kbkdf_counter(KdfHash::Sha256, &key, b"another", 48)
            .unwrap();
        assert_ne!(out.as_bytes(), other.as_bytes());
        assert!(p().kbkdf_counter(KdfHash::Sha512, &key, fixed, 0).is_err());
    }
}
