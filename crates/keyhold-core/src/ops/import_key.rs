//! Bring your own key.
//!
//! ```text
//!  client                                   server
//!   │  get import parameters (algorithm) ──►  RSA-3072 wrapping key, kept in memory, short-lived
//!   │ ◄── import token + public key (PEM)
//!   │  RSA-OAEP-SHA256(ephemeral AES) ‖ AES-KWP(ephemeral, material)
//!   │  import (token, wrapped material, attributes) ──► unwrap, validate, wrap under tenant KEK
//! ```
//!
//! Importing with `key` set adds the material as a new version of that (imported) key: that is
//! how imported keys rotate.

use keyhold_crypto::{Algorithm, SecretBytes};
use serde::{Deserialize, Serialize};

use super::create_key::{new_record, KeySpec};
use super::describe::key_info_after;
use super::rotate::rotation_with;
use super::{Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::KeyRef;
use crate::kms::{lock, ImportSlot};
use crate::model::{Origin, Role};
use crate::policy::ApprovalAction;
use crate::store::WriteBatch;

/// Request: a wrapping key for one import.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetImportParameters {}

/// The wrapping key and the token that names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportParameters {
    /// Pass back with the import.
    pub import_token: String,
    /// RSA-3072 public key (PEM) to wrap with: RSA-OAEP-SHA256 of an ephemeral AES-256 key,
    /// followed by AES-KWP (RFC 5649) of the material under that key.
    pub wrapping_public_key_pem: String,
    /// The wrapping scheme's name.
    pub wrapping_algorithm: String,
    /// After this instant the token is refused.
    pub expires_at: Timestamp,
}

/// Request: import wrapped material as a new key, or as a new version of an imported key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportKey {
    /// From the import parameters.
    pub import_token: String,
    /// The material's algorithm. AES/HMAC: raw key bytes; RSA/EC/Ed25519: PKCS#8 DER.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: Algorithm,
    /// Base64 of the wrapped material.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_material: Vec<u8>,
    /// An existing imported key to add the material to as a new version.
    #[serde(default)]
    pub key: Option<KeyRef>,
    /// Attributes of a new key.
    #[serde(flatten)]
    pub spec: KeySpec,
}

const WRAPPING: &str = "rsa-oaep-sha256+aes-kwp";

impl GetImportParameters {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers import keys")?;
        let crypto = &cx.kms.crypto;
        let wrapping = crypto.generate(Algorithm::Rsa3072)?;
        let public = wrapping
            .public
            .as_deref()
            .ok_or(KmsError::Integrity("RSA key without public half"))?;
        let token = hex::encode(crypto.random(16)?.as_bytes());
        let expires = cx.now.plus_secs(cx.kms.config.import_ttl_secs);
        let pem = crypto.public_key_pem(public);
        {
            let mut slots = lock(&cx.kms.imports);
            slots.retain(|_, s| s.expires > cx.now);
            if slots.len() >= 1000 {
                return Err(KmsError::LimitExceeded(
                    "too many outstanding imports; use or let expire the others",
                ));
            }
            slots.insert(
                token.clone(),
                ImportSlot {
                    tenant: cx.caller.tenant.clone(),
                    private_pkcs8: wrapping.private,
                    expires,
                },
            );
        }
        Ok(Done::new(Response::ImportParameters(ImportParameters {
            import_token: token,
            wrapping_public_key_pem: pem,
            wrapping_algorithm: WRAPPING.to_owned(),
            expires_at: expires,
        })))
    }
}

impl ImportKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers import keys")?;
        let material = self.unwrap(cx)?;
        let token = self.import_token.clone();
        let material = cx.kms.crypto.import(self.algorithm, material.as_bytes())?;
        let existing = match &self.key {
            Some(r) => Some(cx.resolve(r).await?),
            None => None,
        };
        let algorithm = self.algorithm;
        cx.dual_control(
            ApprovalAction::KeyImport,
            existing.as_ref().map(|k| k.id),
            || match &existing {
                Some(k) => format!(
                    "import {algorithm} material as a new version of key {}",
                    k.id
                ),
                None => format!("import {algorithm} material as a new key"),
            },
        )
        .await?;
        let mut batch = WriteBatch::default();
        let record = match existing {
            Some(old) => {
                if old.origin != Origin::Imported || old.algorithm != self.algorithm {
                    return Err(KmsError::invalid(
                        "new material can only be added to an imported key of the same algorithm",
                    ));
                }
                let (writes, new) = rotation_with(
                    cx.kms,
                    &old,
                    old.lifecycle.effective(cx.now),
                    &material,
                    cx.now,
                )?;
                batch = writes;
                new
            }
            None => {
                let record = new_record(
                    cx,
                    self.algorithm,
                    self.spec,
                    Origin::Imported,
                    None,
                    String::new(),
                )
                .await?;
                cx.insert_new(&mut batch, &record, &material).await?;
                record
            }
        };
        consume(cx, &token);
        let info = key_info_after(cx, &record, &batch).await?;
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(record.id, Some(record.current_version))
            .writes(batch)
            .detail(format!(
                "imported {} as version {}",
                record.algorithm, record.current_version
            )))
    }

    fn unwrap(&self, cx: &Cx<'_>) -> Result<SecretBytes, KmsError> {
        let slots = lock(&cx.kms.imports);
        let slot = slots
            .get(&self.import_token)
            .filter(|s| s.tenant == cx.caller.tenant && s.expires > cx.now)
            .ok_or(KmsError::invalid(
                "unknown or expired import token; get new import parameters",
            ))?;
        cx.kms
            .crypto
            .unwrap_import(slot.private_pkcs8.as_bytes(), &self.wrapped_material)
            .map_err(|_| {
                KmsError::invalid(
                    "the wrapped material does not unwrap under this import token's key",
                )
            })
    }
}

/// An import token is good for one import.
fn consume(cx: &Cx<'_>, token: &str) {
    lock(&cx.kms.imports).remove(token);
}
