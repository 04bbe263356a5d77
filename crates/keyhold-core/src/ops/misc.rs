//! Public keys, random bytes, and who the caller is.

use serde::{Deserialize, Serialize};

use keyhold_crypto::Algorithm;

use super::{Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef, PrincipalName, TenantId};
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyUsage, Role, Roles};

/// Request: the public half of an asymmetric key, as PEM.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetPublicKey {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Version; default: current.
    #[serde(default)]
    pub key_version: Option<u32>,
}

/// Public key answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicKeyResponse {
    /// SubjectPublicKeyInfo in PEM.
    pub public_key_pem: String,
    /// The key.
    pub key_id: KeyId,
    /// Its version.
    pub key_version: u32,
    /// Algorithm.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: Algorithm,
    /// Usage.
    pub usage: KeyUsage,
}

impl GetPublicKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        if !cx.caller.roles.contains(Role::KeyManager) {
            cx.authorize_use(&key, KeyOp::GetPublicKey, None).await?;
        }
        if !key.algorithm.is_asymmetric() {
            return Err(KmsError::WrongKeyUsage("symmetric keys have no public key"));
        }
        cx.check(&key, Use::PublicKey, "get-public-key")?;
        let version = self.key_version.unwrap_or(key.current_version);
        let v = cx
            .kms
            .store
            .version(&key.id, version)
            .await?
            .ok_or(KmsError::NotFound("key version"))?;
        let der = v.public_key.ok_or(KmsError::KeyVersionDisabled(version))?;
        Ok(Done::new(Response::PublicKey(PublicKeyResponse {
            public_key_pem: cx.kms.crypto.public_key_pem(&der),
            key_id: key.id,
            key_version: version,
            algorithm: key.algorithm,
            usage: key.usage,
        }))
        .key(key.id, Some(version)))
    }
}

/// Request: random bytes from the cryptographic module.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Random {
    /// 1 to 1024.
    pub length: u32,
}

/// Random answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RandomResponse {
    /// Base64 bytes.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub random: Vec<u8>,
}

impl Random {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::KeyUser, Role::KeyManager],
            "random bytes are for key users and key managers",
        )?;
        if !(1..=1024).contains(&self.length) {
            return Err(KmsError::invalid("length must be between 1 and 1024"));
        }
        let bytes = cx.kms.crypto.random(self.length as usize)?;
        Ok(Done::new(Response::Random(RandomResponse {
            random: bytes.as_bytes().to_vec(),
        }))
        .detail(format!("{} bytes", self.length)))
    }
}

/// Request: what the server offers, asked through a protocol (KMIP Query and Discover
/// Versions). Any authenticated caller may ask. The core authenticates and audits the request;
/// the adapter then answers from its own tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerInfo {
    /// What was asked.
    pub asked: InfoAsked,
}

/// What a [`ServerInfo`] request asks about (the audit event's detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoAsked {
    /// The operations, object types and server information (KMIP Query).
    Capabilities,
    /// The protocol versions (KMIP Discover Versions).
    ProtocolVersions,
}

impl InfoAsked {
    /// The audit event's detail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Capabilities => "capabilities",
            Self::ProtocolVersions => "protocol versions",
        }
    }
}

impl ServerInfo {
    pub(crate) async fn execute(self, _cx: &Cx<'_>) -> Result<Done, KmsError> {
        Ok(Done::new(Response::Empty {}).detail(self.asked.as_str()))
    }
}

/// Request: who am I?
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {}

/// The caller as the server sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmIResponse {
    /// Tenant.
    pub tenant: TenantId,
    /// Principal.
    pub principal: PrincipalName,
    /// Roles.
    pub roles: Roles,
}

impl WhoAmI {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        Ok(Done::new(Response::WhoAmI(WhoAmIResponse {
            tenant: cx.caller.tenant.clone(),
            principal: cx.caller.principal.clone(),
            roles: cx.caller.roles,
        })))
    }
}
