//! HMAC generation and constant-time verification.

use serde::{Deserialize, Serialize};

use super::{compromised, requested_version, Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef};
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyRecord, KeyUsage};

/// Request: MAC a message with the key's current version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateMac {
    /// Id, name or alias of an HMAC key.
    #[serde(default)]
    pub key: KeyRef,
    /// Base64 message.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub message: Vec<u8>,
}

/// MAC answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MacResponse {
    /// Base64 tag.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub mac: Vec<u8>,
    /// The key.
    pub key_id: KeyId,
    /// The version used.
    pub key_version: u32,
}

/// Request: verify a MAC.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyMac {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Base64 message.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub message: Vec<u8>,
    /// Base64 tag.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub mac: Vec<u8>,
    /// The version that made the tag; default: the current version.
    #[serde(default)]
    pub key_version: Option<u32>,
}

/// Answer of signature and MAC verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyResponse {
    /// Whether the signature or MAC is valid.
    pub valid: bool,
    /// The key.
    pub key_id: KeyId,
    /// The version checked.
    pub key_version: u32,
    /// Set when the key is compromised.
    pub key_compromised: bool,
}

fn check_mac_key(key: &KeyRecord) -> Result<(), KmsError> {
    if key.usage == KeyUsage::Mac {
        Ok(())
    } else {
        Err(KmsError::WrongKeyUsage("this key is not for MACs"))
    }
}

impl GenerateMac {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::Mac, None).await?;
        check_mac_key(&key)?;
        cx.check(&key, Use::Protect, "mac")?;
        if self.message.len() > cx.kms.config.max_plaintext {
            return Err(KmsError::LimitExceeded(
                "message is larger than the maximum",
            ));
        }
        let version = key.current_version;
        let (material, _) = cx.material(&key, version).await?;
        let mac = cx
            .kms
            .crypto
            .mac(key.algorithm, material.as_bytes(), &self.message)?;
        Ok(Done::new(Response::Mac(MacResponse {
            mac,
            key_id: key.id,
            key_version: version,
        }))
        .key(key.id, Some(version)))
    }
}

impl VerifyMac {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_use(&key, KeyOp::MacVerify, None).await?;
        check_mac_key(&key)?;
        let permit = cx.check(&key, Use::Process, "mac-verify")?;
        let version = requested_version(&key, self.key_version)?;
        if version < key.min_decrypt_version {
            return Err(KmsError::KeyVersionDisabled(version));
        }
        let (material, _) = cx.material(&key, version).await?;
        let valid = cx.kms.crypto.mac_verify(
            key.algorithm,
            material.as_bytes(),
            &self.message,
            &self.mac,
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
