//! Encryption in the client's own format (KMIP Encrypt and Decrypt): the client chooses the
//! mode, the IV and the padding, and gets the bare ciphertext back. Keyhold's own
//! self-describing ciphertexts are in [`super::crypt`]. The current key version is used both
//! ways, since a bare ciphertext does not say which version made it.
//!
//! A request naming no mode gets what KMIP clients expect of a symmetric key: AES-CBC with
//! PKCS#7 (PKCS5) padding and a random IV, returned with the ciphertext, so that encrypt and
//! decrypt round-trip with the same defaults (AES-GCM would need its tag carried back, which
//! clients such as PyKMIP's `ProxyKmipClient` drop). GCM is used when asked for.

use keyhold_crypto::{BlockMode, BlockPadding, KeyFamily, AES_GCM_TAG_LEN};
use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response, SecretData};
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef};
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyUsage};

/// How the data is enciphered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CipherMode {
    /// AES-GCM with a 12-byte nonce and a 16-byte tag.
    Gcm,
    /// AES-CBC.
    Cbc,
    /// AES-ECB.
    Ecb,
    /// AES-CTR.
    Ctr,
    /// RSA-OAEP with SHA-256 (RSA keys).
    RsaOaepSha256,
}

/// Request: encrypt with caller-chosen parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CipherEncrypt {
    /// Id, name or alias.
    pub key: KeyRef,
    /// Mode; when absent, the key's default (see [`CipherMode::default_for`]).
    #[serde(default)]
    pub mode: Option<CipherMode>,
    /// PKCS#7 padding (CBC and ECB); a request naming no mode is always padded.
    #[serde(default)]
    pub pkcs7_padding: bool,
    /// IV or nonce; generated when absent.
    #[serde(default, with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub iv: Option<Vec<u8>>,
    /// Additional authenticated data (GCM).
    #[serde(default, with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub aad: Option<Vec<u8>>,
    /// The data.
    pub plaintext: SecretData,
}

/// The result of [`CipherEncrypt`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CipherEncryptResponse {
    /// The key.
    pub key_id: KeyId,
    /// The version used.
    pub key_version: u32,
    /// The bare ciphertext (without the GCM tag).
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ciphertext: Vec<u8>,
    /// The IV or nonce used, when the server chose it.
    #[serde(with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub iv: Option<Vec<u8>>,
    /// The GCM tag.
    #[serde(with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub tag: Option<Vec<u8>>,
}

/// Request: decrypt a bare ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CipherDecrypt {
    /// Id, name or alias.
    pub key: KeyRef,
    /// Mode; when absent, the key's default (see [`CipherMode::default_for`]).
    #[serde(default)]
    pub mode: Option<CipherMode>,
    /// PKCS#7 padding (CBC and ECB); a request naming no mode is always padded.
    #[serde(default)]
    pub pkcs7_padding: bool,
    /// IV or nonce.
    #[serde(default, with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub iv: Option<Vec<u8>>,
    /// Additional authenticated data (GCM).
    #[serde(default, with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub aad: Option<Vec<u8>>,
    /// The GCM tag.
    #[serde(default, with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub tag: Option<Vec<u8>>,
    /// The ciphertext.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ciphertext: Vec<u8>,
}

/// The result of [`CipherDecrypt`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CipherDecryptResponse {
    /// The key.
    pub key_id: KeyId,
    /// The plaintext.
    pub plaintext: SecretData,
}

fn block(mode: CipherMode) -> Option<BlockMode> {
    match mode {
        CipherMode::Cbc => Some(BlockMode::Cbc),
        CipherMode::Ecb => Some(BlockMode::Ecb),
        CipherMode::Ctr => Some(BlockMode::Ctr),
        CipherMode::Gcm | CipherMode::RsaOaepSha256 => None,
    }
}

fn padding(pkcs7: bool) -> BlockPadding {
    if pkcs7 {
        BlockPadding::Pkcs7
    } else {
        BlockPadding::None
    }
}

impl CipherMode {
    /// The mode of a request that names none: CBC (with PKCS#7 padding) for AES keys, RSA-OAEP
    /// with SHA-256 for RSA keys (others are refused by the family check).
    pub fn default_for(family: KeyFamily) -> Self {
        match family {
            KeyFamily::Rsa => Self::RsaOaepSha256,
            _ => Self::Cbc,
        }
    }
}

/// The mode and padding a request asked for, or the key's default (padded), if it suits the
/// key's family.
fn chosen_mode(
    mode: Option<CipherMode>,
    pkcs7: bool,
    family: KeyFamily,
) -> Result<(CipherMode, bool), KmsError> {
    let (mode, pkcs7) = match mode {
        Some(m) => (m, pkcs7),
        None => (CipherMode::default_for(family), true),
    };
    check_family(family, mode)?;
    Ok((mode, pkcs7))
}

fn check_family(family: KeyFamily, mode: CipherMode) -> Result<(), KmsError> {
    let ok = match mode {
        CipherMode::RsaOaepSha256 => family == KeyFamily::Rsa,
        _ => family == KeyFamily::Aes,
    };
    if ok {
        Ok(())
    } else {
        Err(KmsError::WrongKeyUsage(
            "the key's algorithm does not support this cipher mode",
        ))
    }
}

impl CipherEncrypt {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::Encrypt, None).await?;
        if key.usage != KeyUsage::EncryptDecrypt {
            return Err(KmsError::WrongKeyUsage("this key is not for encryption"));
        }
        let (mode, pkcs7) = chosen_mode(self.mode, self.pkcs7_padding, key.algorithm.family())?;
        if self.plaintext.0.len() > cx.kms.config.max_plaintext {
            return Err(KmsError::LimitExceeded("plaintext too large"));
        }
        cx.check(&key, Use::Protect, "encrypt")?;
        let version = key.current_version;
        let (material, v) = cx.material(&key, version).await?;
        let crypto = &cx.kms.crypto;
        let data = self.plaintext.0.as_bytes();
        let (ciphertext, iv, tag) = match (mode, block(mode)) {
            (_, Some(mode)) => {
                let given = self.iv.is_some();
                let (ct, iv) = crypto.aes_block_encrypt(
                    material.as_bytes(),
                    mode,
                    padding(pkcs7),
                    self.iv.as_deref(),
                    data,
                )?;
                (ct, iv.filter(|_| !given), None)
            }
            (CipherMode::Gcm, None) => {
                let (nonce, given) = match &self.iv {
                    Some(iv) => (
                        <[u8; 12]>::try_from(iv.as_slice())
                            .map_err(|_| KmsError::invalid("the GCM nonce must be 12 bytes"))?,
                        true,
                    ),
                    None => {
                        let r = crypto.random(12)?;
                        let mut n = [0u8; 12];
                        n.copy_from_slice(r.as_bytes());
                        (n, false)
                    }
                };
                let mut out = crypto.aes_gcm_seal_with_nonce(
                    material.as_bytes(),
                    &nonce,
                    self.aad.as_deref().unwrap_or_default(),
                    data,
                )?;
                let tag = out.split_off(out.len() - AES_GCM_TAG_LEN);
                (out, (!given).then(|| nonce.to_vec()), Some(tag))
            }
            (_, None) => {
                let public = v
                    .public_key
                    .as_deref()
                    .ok_or(KmsError::Integrity("RSA key version has no public key"))?;
                (crypto.rsa_oaep_sha256_encrypt(public, data)?, None, None)
            }
        };
        Ok(Done::new(Response::CipherEncrypt(CipherEncryptResponse {
            key_id: key.id,
            key_version: version,
            ciphertext,
            iv,
            tag,
        }))
        .key(key.id, Some(version))
        .detail(format!("{mode:?}").to_ascii_lowercase()))
    }
}

impl CipherDecrypt {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::Decrypt, None).await?;
        if key.usage != KeyUsage::EncryptDecrypt {
            return Err(KmsError::WrongKeyUsage("this key is not for encryption"));
        }
        let (mode, pkcs7) = chosen_mode(self.mode, self.pkcs7_padding, key.algorithm.family())?;
        let permit = cx.check(&key, Use::Process, "decrypt")?;
        let version = key.current_version;
        let (material, _) = cx.material(&key, version).await?;
        let crypto = &cx.kms.crypto;
        let plaintext = match (mode, block(mode)) {
            (_, Some(mode)) => crypto
                .aes_block_decrypt(
                    material.as_bytes(),
                    mode,
                    padding(pkcs7),
                    self.iv.as_deref(),
                    &self.ciphertext,
                )
                .map_err(|_| KmsError::InvalidCiphertext)?,
            (CipherMode::Gcm, None) => {
                let nonce = self
                    .iv
                    .as_deref()
                    .and_then(|iv| <[u8; 12]>::try_from(iv).ok())
                    .ok_or_else(|| KmsError::invalid("GCM needs the 12-byte nonce"))?;
                let tag = self
                    .tag
                    .as_deref()
                    .filter(|t| t.len() == AES_GCM_TAG_LEN)
                    .ok_or_else(|| KmsError::invalid("GCM needs the 16-byte tag"))?;
                let mut body = self.ciphertext.clone();
                body.extend_from_slice(tag);
                crypto
                    .aes_gcm_open(
                        material.as_bytes(),
                        &nonce,
                        self.aad.as_deref().unwrap_or_default(),
                        &body,
                    )
                    .map_err(|_| KmsError::InvalidCiphertext)?
            }
            (_, None) => crypto
                .rsa_oaep_sha256_decrypt(material.as_bytes(), &self.ciphertext)
                .map_err(|_| KmsError::InvalidCiphertext)?,
        };
        let mut done = Done::new(Response::CipherDecrypt(CipherDecryptResponse {
            key_id: key.id,
            plaintext: SecretData(plaintext),
        }))
        .key(key.id, Some(version))
        .detail(format!("{mode:?}").to_ascii_lowercase());
        done.compromised = super::compromised(permit);
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_naming_no_mode_gets_padded_cbc_for_aes_and_oaep_for_rsa() {
        assert_eq!(
            chosen_mode(None, false, KeyFamily::Aes).ok(),
            Some((CipherMode::Cbc, true))
        );
        assert_eq!(
            chosen_mode(None, false, KeyFamily::Rsa).ok(),
            Some((CipherMode::RsaOaepSha256, true))
        );
        assert_eq!(
            chosen_mode(Some(CipherMode::Gcm), false, KeyFamily::Aes).ok(),
            Some((CipherMode::Gcm, false)),
            "GCM when asked for"
        );
        assert_eq!(
            chosen_mode(Some(CipherMode::Cbc), false, KeyFamily::Aes).ok(),
            Some((CipherMode::Cbc, false)),
            "a named mode keeps the padding asked for"
        );
        assert!(chosen_mode(None, false, KeyFamily::Hmac).is_err());
    }
}
