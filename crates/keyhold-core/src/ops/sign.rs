//! Sign and verify with RSA (PSS, PKCS#1 v1.5), ECDSA and Ed25519, over a message or a digest.

use serde::{Deserialize, Serialize};

use keyhold_crypto::{MessageType, SigningAlgorithm};

use super::mac::VerifyResponse;
use super::{compromised, requested_version, Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef};
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyRecord, KeyUsage};

/// Request: sign a message or a digest with the key's current version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sign {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Base64 message, or digest when `message_type` is `digest`.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub message: Vec<u8>,
    /// `raw` (default) or `digest`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub message_type: Option<MessageType>,
    /// Signing algorithm; default from the key (RSA: rsa-pss-sha256).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub algorithm: Option<SigningAlgorithm>,
}

/// Sign's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignResponse {
    /// Base64 signature (ECDSA: ASN.1 DER).
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub signature: Vec<u8>,
    /// The key.
    pub key_id: KeyId,
    /// The version that signed.
    pub key_version: u32,
    /// The signing algorithm used.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: SigningAlgorithm,
}

/// Request: verify a signature.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verify {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Base64 message or digest.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub message: Vec<u8>,
    /// Base64 signature.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub signature: Vec<u8>,
    /// `raw` (default) or `digest`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub message_type: Option<MessageType>,
    /// Signing algorithm; default from the key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub algorithm: Option<SigningAlgorithm>,
    /// The version that signed; default: the current version.
    #[serde(default)]
    pub key_version: Option<u32>,
}

fn signing_algorithm(
    key: &KeyRecord,
    requested: Option<SigningAlgorithm>,
) -> Result<SigningAlgorithm, KmsError> {
    if key.usage != KeyUsage::SignVerify {
        return Err(KmsError::WrongKeyUsage("this key is not for signing"));
    }
    let alg = requested
        .or_else(|| key.algorithm.default_signing())
        .ok_or(KmsError::WrongKeyUsage("this key is not for signing"))?;
    if !key.algorithm.supports_signing(alg) {
        return Err(KmsError::WrongKeyUsage(
            "the signing algorithm does not fit the key",
        ));
    }
    Ok(alg)
}

impl Sign {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::Sign, None).await?;
        let alg = signing_algorithm(&key, self.algorithm)?;
        cx.check(&key, Use::Protect, "sign")?;
        if self.message.len() > cx.kms.config.max_plaintext {
            return Err(KmsError::LimitExceeded(
                "message is larger than the maximum; sign its digest",
            ));
        }
        let version = key.current_version;
        let (material, _) = cx.material(&key, version).await?;
        let signature = cx.kms.crypto.sign(
            key.algorithm,
            material.as_bytes(),
            alg,
            self.message_type.unwrap_or(MessageType::Raw),
            &self.message,
        )?;
        Ok(Done::new(Response::Sign(SignResponse {
            signature,
            key_id: key.id,
            key_version: version,
            algorithm: alg,
        }))
        .key(key.id, Some(version)))
    }
}

impl Verify {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::Verify, None).await?;
        let alg = signing_algorithm(&key, self.algorithm)?;
        let permit = cx.check(&key, Use::Process, "verify")?;
        let version = requested_version(&key, self.key_version)?;
        // The version row comes from the version cache (warm: no store read).
        let (_, v) = cx.material(&key, version).await.map_err(|e| match e {
            KmsError::NotFound("key version") => KmsError::KeyVersionDisabled(version),
            e => e,
        })?;
        let public = v
            .public_key
            .ok_or(KmsError::Integrity("key version has no public key"))?;
        let valid = cx.kms.crypto.verify(
            key.algorithm,
            &public,
            alg,
            self.message_type.unwrap_or(MessageType::Raw),
            &self.message,
            &self.signature,
        )?;
        let flagged = compromised(permit);
        let mut done = Done::new(Response::Verify(VerifyResponse {
            valid,
            key_id: key.id,
            key_version: version,
            key_compromised: flagged,
        }))
        .key(key.id, Some(version))
        .detail(if valid { "valid" } else { "invalid" });
        done.compromised = flagged;
        Ok(done)
    }
}
