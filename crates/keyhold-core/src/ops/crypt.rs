//! Encrypt, decrypt, re-encrypt and data keys.
//!
//! Symmetric keys use AES-GCM with the ciphertext header and the encryption context as AAD;
//! RSA keys of usage encrypt-decrypt use RSA-OAEP-SHA256. See [`crate::ciphertext`].

use serde::{Deserialize, Serialize};

use keyhold_crypto::{KeyFamily, SecretBytes};

use super::{compromised, Context, Cx, Done, Response, SecretData};
use crate::ciphertext::{Ciphertext, Format};
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef};
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyRecord, KeyUsage};

/// Request: encrypt up to the configured maximum (64 KiB by default) of plaintext.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Encrypt {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Base64 plaintext.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub plaintext: Option<SecretData>,
    /// Encryption context, bound as AAD (symmetric keys only).
    #[serde(default)]
    pub context: Context,
}

/// Encrypt's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EncryptResponse {
    /// Base64 self-describing ciphertext.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub ciphertext: Vec<u8>,
    /// The key.
    pub key_id: KeyId,
    /// The version used.
    pub key_version: u32,
}

/// Request: decrypt a ciphertext; the key is read from its header.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decrypt {
    /// Base64 ciphertext as returned by encrypt.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub ciphertext: Vec<u8>,
    /// The encryption context given to encrypt.
    #[serde(default)]
    pub context: Context,
}

/// Decrypt's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecryptResponse {
    /// Base64 plaintext.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub plaintext: SecretData,
    /// The key.
    pub key_id: KeyId,
    /// The version that decrypted.
    pub key_version: u32,
    /// Set when the key is compromised: the plaintext may be known to others.
    pub key_compromised: bool,
}

/// Request: decrypt under the source key and encrypt under the destination key's current
/// version, without exposing the plaintext to the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReEncrypt {
    /// Base64 ciphertext.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub ciphertext: Vec<u8>,
    /// Its encryption context.
    #[serde(default)]
    pub source_context: Context,
    /// Destination key; default: the source key (its current version).
    #[serde(default)]
    pub destination_key: Option<KeyRef>,
    /// Context for the new ciphertext; default: the source context.
    #[serde(default)]
    pub destination_context: Option<Context>,
}

/// Re-encrypt's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReEncryptResponse {
    /// The new ciphertext.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub ciphertext: Vec<u8>,
    /// Destination key.
    pub key_id: KeyId,
    /// Destination version.
    pub key_version: u32,
    /// Source key.
    pub source_key_id: KeyId,
    /// Source version.
    pub source_key_version: u32,
}

/// Request: a fresh data key for envelope encryption, returned encrypted under `key` (and in
/// plaintext unless `include_plaintext` is false). Never stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateDataKey {
    /// A symmetric key: id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Length of the data key in bytes (default 32; 1 to 1024).
    #[serde(default)]
    pub number_of_bytes: Option<u32>,
    /// Encryption context.
    #[serde(default)]
    pub context: Context,
    /// Return the plaintext too (default true).
    #[serde(default)]
    pub include_plaintext: Option<bool>,
}

/// Data key answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateDataKeyResponse {
    /// The data key encrypted under the key (decrypt it with `decrypt`).
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub ciphertext: Vec<u8>,
    /// The data key, unless not requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub plaintext: Option<SecretData>,
    /// The key.
    pub key_id: KeyId,
    /// The version used.
    pub key_version: u32,
}

impl Encrypt {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let plaintext = self
            .plaintext
            .ok_or(KmsError::invalid("plaintext is required"))?;
        if plaintext.0.len() > cx.kms.config.max_plaintext {
            return Err(KmsError::LimitExceeded(
                "plaintext is larger than the maximum; use a data key",
            ));
        }
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::Encrypt, Some(&self.context))
            .await?;
        let (ciphertext, version) =
            protect(cx, &key, plaintext.0.as_bytes(), &self.context).await?;
        Ok(Done::new(Response::Encrypt(EncryptResponse {
            ciphertext,
            key_id: key.id,
            key_version: version,
        }))
        .key(key.id, Some(version)))
    }
}

impl Decrypt {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let ct = Ciphertext::parse(&self.ciphertext)?;
        let key = cx.key_by_id(&ct.key_id).await?;
        cx.authorize_use(&key, KeyOp::Decrypt, Some(&self.context))
            .await?;
        let (plaintext, flagged) = process(cx, &key, &ct, &self.context).await?;
        let mut done = Done::new(Response::Decrypt(DecryptResponse {
            plaintext: SecretData(plaintext),
            key_id: key.id,
            key_version: ct.version,
            key_compromised: flagged,
        }))
        .key(key.id, Some(ct.version));
        done.compromised = flagged;
        Ok(done)
    }
}

impl ReEncrypt {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let ct = Ciphertext::parse(&self.ciphertext)?;
        let source = cx.key_by_id(&ct.key_id).await?;
        cx.authorize_use(&source, KeyOp::ReEncrypt, Some(&self.source_context))
            .await?;
        let destination = match &self.destination_key {
            Some(r) => cx.resolve(r).await?,
            None => source.clone(),
        };
        if destination.id != source.id {
            cx.authorize_use(
                &destination,
                KeyOp::ReEncrypt,
                Some(
                    self.destination_context
                        .as_ref()
                        .unwrap_or(&self.source_context),
                ),
            )
            .await?;
        }
        let (plaintext, flagged) = process(cx, &source, &ct, &self.source_context).await?;
        let context = self.destination_context.unwrap_or(self.source_context);
        let (ciphertext, version) =
            protect(cx, &destination, plaintext.as_bytes(), &context).await?;
        let mut done = Done::new(Response::ReEncrypt(ReEncryptResponse {
            ciphertext,
            key_id: destination.id,
            key_version: version,
            source_key_id: source.id,
            source_key_version: ct.version,
        }))
        .key(destination.id, Some(version))
        .detail(format!("from {} version {}", source.id, ct.version));
        done.compromised = flagged;
        Ok(done)
    }
}

impl GenerateDataKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let n = self.number_of_bytes.unwrap_or(32);
        if !(1..=1024).contains(&n) {
            return Err(KmsError::invalid(
                "number_of_bytes must be between 1 and 1024",
            ));
        }
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::GenerateDataKey, Some(&self.context))
            .await?;
        if key.algorithm.family() != KeyFamily::Aes {
            return Err(KmsError::WrongKeyUsage(
                "data keys are encrypted under symmetric (AES) keys",
            ));
        }
        let data_key = cx.kms.crypto.random(n as usize)?;
        let (ciphertext, version) = protect(cx, &key, data_key.as_bytes(), &self.context).await?;
        let plaintext = self
            .include_plaintext
            .unwrap_or(true)
            .then_some(SecretData(data_key));
        Ok(Done::new(Response::DataKey(GenerateDataKeyResponse {
            ciphertext,
            plaintext,
            key_id: key.id,
            key_version: version,
        }))
        .key(key.id, Some(version)))
    }
}

/// Encrypts under the key's current version.
async fn protect(
    cx: &Cx<'_>,
    key: &KeyRecord,
    plaintext: &[u8],
    context: &Context,
) -> Result<(Vec<u8>, u32), KmsError> {
    if key.usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::WrongKeyUsage("this key is not for encryption"));
    }
    cx.check(key, Use::Protect, "encrypt")?;
    let version = key.current_version;
    let (material, v) = cx.material(key, version).await?;
    let crypto = &cx.kms.crypto;
    let mut ct = Ciphertext {
        format: Format::AesGcm,
        key_id: key.id,
        version,
        nonce: Vec::new(),
        body: Vec::new(),
    };
    match key.algorithm.family() {
        KeyFamily::Aes => {
            let (nonce, body) =
                crypto.aes_gcm_seal(material.as_bytes(), &ct.aad(context), plaintext)?;
            ct.nonce = nonce.to_vec();
            ct.body = body;
        }
        KeyFamily::Rsa => {
            if !context.is_empty() {
                return Err(KmsError::invalid(
                    "RSA encryption takes no encryption context",
                ));
            }
            let public = v
                .public_key
                .as_deref()
                .ok_or(KmsError::Integrity("RSA key version has no public key"))?;
            ct.format = Format::RsaOaep;
            ct.body = crypto.rsa_oaep_sha256_encrypt(public, plaintext)?;
        }
        _ => return Err(KmsError::WrongKeyUsage("this key is not for encryption")),
    }
    Ok((ct.to_bytes(), version))
}

/// Decrypts with the version named in the header; returns whether the key is compromised.
async fn process(
    cx: &Cx<'_>,
    key: &KeyRecord,
    ct: &Ciphertext,
    context: &Context,
) -> Result<(SecretBytes, bool), KmsError> {
    if key.usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::WrongKeyUsage("this key is not for encryption"));
    }
    let permit = cx.check(key, Use::Process, "decrypt")?;
    if ct.version < key.min_decrypt_version || ct.version > key.current_version || ct.version == 0 {
        return Err(KmsError::KeyVersionDisabled(ct.version));
    }
    let (material, _) = cx.material(key, ct.version).await?;
    let crypto = &cx.kms.crypto;
    let plaintext = match (key.algorithm.family(), ct.format) {
        (KeyFamily::Aes, Format::AesGcm) => {
            let nonce: [u8; 12] = ct
                .nonce
                .as_slice()
                .try_into()
                .map_err(|_| KmsError::InvalidCiphertext)?;
            crypto.aes_gcm_open(material.as_bytes(), &nonce, &ct.aad(context), &ct.body)?
        }
        (KeyFamily::Rsa, Format::RsaOaep) => {
            if !context.is_empty() {
                return Err(KmsError::InvalidCiphertext);
            }
            crypto.rsa_oaep_sha256_decrypt(material.as_bytes(), &ct.body)?
        }
        _ => return Err(KmsError::InvalidCiphertext),
    };
    Ok((plaintext, compromised(permit)))
}
