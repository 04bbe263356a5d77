//! AES in the classic block-cipher modes (CBC, ECB, CTR) with a caller-chosen IV, for
//! protocols whose clients hold their own ciphertext format (KMIP Encrypt and Decrypt).
//! Keyhold's own ciphertexts use AES-GCM ([`Provider::aes_gcm_seal`]); these modes carry no
//! integrity protection and exist for interoperability.

use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey, AES_128, AES_192, AES_256,
};
use zeroize::Zeroizing;

use crate::{CryptoError, Provider, SecretBytes};

/// The AES block size, and the IV length of CBC and CTR.
pub const AES_BLOCK_LEN: usize = 16;

/// A block-cipher mode of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockMode {
    /// Cipher block chaining, 16-byte IV.
    Cbc,
    /// Electronic codebook, no IV (insecure for more than one block of structured data).
    Ecb,
    /// Counter mode, 16-byte initial counter block.
    Ctr,
}

/// Padding of the last block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockPadding {
    /// The input must be a whole number of blocks (ignored by CTR).
    None,
    /// PKCS#7 (KMIP calls it PKCS5).
    Pkcs7,
}

fn unbound(key: &[u8]) -> Result<UnboundCipherKey, CryptoError> {
    let alg = match key.len() {
        16 => &AES_128,
        24 => &AES_192,
        32 => &AES_256,
        _ => return Err(CryptoError::InvalidKey("AES keys are 16, 24 or 32 bytes")),
    };
    UnboundCipherKey::new(alg, key).map_err(|_| CryptoError::InvalidKey("AES key"))
}

fn iv_of(mode: BlockMode, iv: Option<&[u8]>) -> Result<Option<[u8; AES_BLOCK_LEN]>, CryptoError> {
    match (mode, iv) {
        (BlockMode::Ecb, None) => Ok(None),
        (BlockMode::Ecb, Some(_)) => Err(CryptoError::InvalidInput("ECB takes no IV")),
        (_, Some(iv)) => iv
            .try_into()
            .map(Some)
            .map_err(|_| CryptoError::InvalidInput("the IV must be 16 bytes")),
        (_, None) => Err(CryptoError::InvalidInput("this mode needs an IV")),
    }
}

fn context(iv: Option<[u8; AES_BLOCK_LEN]>) -> EncryptionContext {
    match iv {
        Some(iv) => EncryptionContext::Iv128(iv.into()),
        None => EncryptionContext::None,
    }
}

impl Provider {
    /// Encrypts `data` under the AES key `key`. With `iv` absent, CBC and CTR get a random IV
    /// from the module; the IV used is returned with the ciphertext.
    pub fn aes_block_encrypt(
        &self,
        key: &[u8],
        mode: BlockMode,
        padding: BlockPadding,
        iv: Option<&[u8]>,
        data: &[u8],
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), CryptoError> {
        let iv = match (mode, iv) {
            (BlockMode::Cbc | BlockMode::Ctr, None) => {
                let fresh = self.random(AES_BLOCK_LEN)?;
                iv_of(mode, Some(fresh.as_bytes()))?
            }
            (_, iv) => iv_of(mode, iv)?,
        };
        let key = unbound(key)?;
        let ctx = context(iv);
        let padded = padding == BlockPadding::Pkcs7 && mode != BlockMode::Ctr;
        let mut buf = data.to_vec();
        if padded {
            let k = match mode {
                BlockMode::Cbc => PaddedBlockEncryptingKey::cbc_pkcs7(key),
                _ => PaddedBlockEncryptingKey::ecb_pkcs7(key),
            }
            .map_err(|_| CryptoError::Internal("AES key setup"))?;
            k.less_safe_encrypt(&mut buf, ctx)
                .map_err(|_| CryptoError::InvalidInput("AES encryption failed"))?;
        } else {
            if mode != BlockMode::Ctr && data.len() % AES_BLOCK_LEN != 0 {
                return Err(CryptoError::InvalidInput(
                    "without padding the data must be a multiple of 16 bytes",
                ));
            }
            let k = match mode {
                BlockMode::Cbc => EncryptingKey::cbc(key),
                BlockMode::Ecb => EncryptingKey::ecb(key),
                BlockMode::Ctr => EncryptingKey::ctr(key),
            }
            .map_err(|_| CryptoError::Internal("AES key setup"))?;
            k.less_safe_encrypt(&mut buf, ctx)
                .map_err(|_| CryptoError::InvalidInput("AES encryption failed"))?;
        }
        Ok((buf, iv.map(|v| v.to_vec())))
    }

    /// Decrypts what [`Provider::aes_block_encrypt`] produced.
    pub fn aes_block_decrypt(
        &self,
        key: &[u8],
        mode: BlockMode,
        padding: BlockPadding,
        iv: Option<&[u8]>,
        data: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let iv = iv_of(mode, iv)?;
        let key = unbound(key)?;
        let ctx: DecryptionContext = match iv {
            Some(iv) => DecryptionContext::Iv128(iv.into()),
            None => DecryptionContext::None,
        };
        let mut buf = Zeroizing::new(data.to_vec());
        let padded = padding == BlockPadding::Pkcs7 && mode != BlockMode::Ctr;
        let len = if padded {
            let k = match mode {
                BlockMode::Cbc => PaddedBlockDecryptingKey::cbc_pkcs7(key),
                _ => PaddedBlockDecryptingKey::ecb_pkcs7(key),
            }
            .map_err(|_| CryptoError::Internal("AES key setup"))?;
            k.decrypt(&mut buf, ctx)
                .map_err(|_| CryptoError::AuthenticationFailed)?
                .len()
        } else {
            if mode != BlockMode::Ctr && data.len() % AES_BLOCK_LEN != 0 {
                return Err(CryptoError::InvalidInput(
                    "the ciphertext must be a multiple of 16 bytes",
                ));
            }
            let k = match mode {
                BlockMode::Cbc => DecryptingKey::cbc(key),
                BlockMode::Ecb => DecryptingKey::ecb(key),
                BlockMode::Ctr => DecryptingKey::ctr(key),
            }
            .map_err(|_| CryptoError::Internal("AES key setup"))?;
            k.decrypt(&mut buf, ctx)
                .map_err(|_| CryptoError::InvalidInput("AES decryption failed"))?
                .len()
        };
        Ok(SecretBytes::from(&buf[..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Provider {
        Provider::default()
    }

    #[test]
    fn cbc_pkcs7_matches_nist_sp800_38a_first_block_and_round_trips() {
        // SP 800-38A F.2.1 CBC-AES128.Encrypt, first block.
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let (ct, used) = p()
            .aes_block_encrypt(&key, BlockMode::Cbc, BlockPadding::None, Some(&iv), &pt)
            .unwrap();
        assert_eq!(hex::encode(&ct), "7649abac8119b246cee98e9b12e9197d");
        assert_eq!(used.unwrap(), iv);
        let (ct, iv) = p()
            .aes_block_encrypt(&key, BlockMode::Cbc, BlockPadding::Pkcs7, None, b"hello")
            .unwrap();
        assert_eq!(ct.len(), 16);
        let back = p()
            .aes_block_decrypt(
                &key,
                BlockMode::Cbc,
                BlockPadding::Pkcs7,
                iv.as_deref(),
                &ct,
            )
            .unwrap();
        assert_eq!(back.as_bytes(), b"hello");
    }

    #[test]
    fn ctr_and_ecb_round_trip_and_bad_inputs_are_errors() {
        let key = [7u8; 32];
        for (mode, pad, data) in [
            (BlockMode::Ctr, BlockPadding::None, &b"any length"[..]),
            (
                BlockMode::Ecb,
                BlockPadding::Pkcs7,
                &b"seventeen bytes!!"[..],
            ),
            (BlockMode::Ecb, BlockPadding::None, &[1u8; 32][..]),
        ] {
            let (ct, iv) = p().aes_block_encrypt(&key, mode, pad, None, data).unwrap();
            let back = p()
                .aes_block_decrypt(&key, mode, pad, iv.as_deref(), &ct)
                .unwrap();
            assert_eq!(back.as_bytes(), data);
        }
        assert!(p()
            .aes_block_encrypt(&key, BlockMode::Cbc, BlockPadding::None, None, b"odd")
            .is_err());
        assert!(p()
            .aes_block_encrypt(
                &key,
                BlockMode::Cbc,
                BlockPadding::None,
                Some(&[0; 8]),
                &[0; 16]
            )
            .is_err());
        assert!(p()
            .aes_block_encrypt(&[0; 5], BlockMode::Ctr, BlockPadding::None, None, b"x")
            .is_err());
        // A wrong key fails the padding check rather than returning garbage, most of the time;
        // it must never panic.
        let (ct, iv) = p()
            .aes_block_encrypt(&key, BlockMode::Cbc, BlockPadding::Pkcs7, None, b"x")
            .unwrap();
        let _ = p().aes_block_decrypt(
            &[8u8; 32],
            BlockMode::Cbc,
            BlockPadding::Pkcs7,
            iv.as_deref(),
            &ct,
        );
    }
}
