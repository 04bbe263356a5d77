//! Archive and recover: the material moves between the active store (under the tenant KEK) and
//! archive storage (under the tenant archive key). The state change itself is
//! [`crate::lifecycle::apply`]'s (`Transition::Archive` / `Transition::Recover`); this file turns
//! it into the material writes that go with [`super::update_writes`]'s.

use keyhold_crypto::SecretBytes;

use super::{unwrap_material, Cx};
use crate::archive::{
    archive_key_aad, archive_key_name, archived_version_aad, ArchivedVersion, SealedArchiveKey,
};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::TenantId;
use crate::kms::{Kms, RootSealedValue as _};
use crate::model::{KeyRecord, KeyVersion, RECORD_VERSION};
use crate::store::{Write, WriteBatch};

/// `tenant`'s archive key; a new one (with the writes that store it) if it has none yet.
pub(crate) async fn archive_key(
    kms: &Kms,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<(SecretBytes, Vec<Write>), KmsError> {
    if let Some(raw) = kms.store().system_value(&archive_key_name(tenant)).await? {
        let sealed = SealedArchiveKey::decode(&raw)?;
        let key = kms.root_open(&archive_key_aad(tenant), &sealed.nonce, &sealed.wrapped)?;
        return Ok((key, Vec::new()));
    }
    let key = kms.crypto.random(32)?;
    let root_sealed = kms.root_seal(&archive_key_aad(tenant), key.as_bytes())?;
    let sealed = SealedArchiveKey {
        v: RECORD_VERSION,
        tenant: tenant.clone(),
        created_at: now,
        nonce: root_sealed.nonce.to_vec(),
        wrapped: root_sealed.wrapped,
    };
    let value = sealed.encode()?;
    // A concurrent first archive stores its own key first: this batch then fails with
    // AlreadyExists and `Kms::run` retries it, finding that key.
    Ok((
        key,
        vec![
            Write::InsertSystem {
                name: archive_key_name(tenant),
                value,
            },
            root_sealed.guard,
        ],
    ))
}

/// The material writes of archiving (`new` archived, `old` not) or recovering (the reverse).
pub(crate) async fn material_writes(
    cx: &Cx<'_>,
    old: &KeyRecord,
    new: &KeyRecord,
) -> Result<WriteBatch, KmsError> {
    let was = old.lifecycle.archived_at.is_some();
    let is = new.lifecycle.archived_at.is_some();
    let mut batch = WriteBatch::default();
    if was == is {
        return Ok(batch);
    }
    let kms = cx.kms;
    let (archive_key, store_key) = archive_key(kms, &new.tenant, cx.now).await?;
    for w in store_key {
        batch.push(w);
    }
    for v in kms.store().versions(&new.id).await? {
        if v.destroyed {
            continue;
        }
        if is {
            let material = unwrap_material(kms, old, &v)?;
            let (nonce, wrapped) = kms.crypto.aes_gcm_seal(
                archive_key.as_bytes(),
                &archived_version_aad(new, v.version),
                material.as_bytes(),
            )?;
            batch.push(Write::ArchiveVersion(ArchivedVersion {
                v: RECORD_VERSION,
                key_id: new.id,
                version: v.version,
                archived_at: cx.now,
                wrapped,
                nonce: nonce.to_vec(),
            }));
        } else {
            let archived = kms
                .store()
                .archived_version(&new.id, v.version)
                .await?
                .ok_or(KmsError::Integrity(
                    "an archived version is missing from archive storage",
                ))?;
            let nonce: [u8; 12] = archived
                .nonce
                .as_slice()
                .try_into()
                .map_err(|_| KmsError::Integrity("archived material nonce"))?;
            let material = kms
                .crypto
                .aes_gcm_open(
                    archive_key.as_bytes(),
                    &nonce,
                    &archived_version_aad(old, v.version),
                    &archived.wrapped,
                )
                .map_err(|_| KmsError::Integrity("archived material does not authenticate"))?;
            let kek = kms.wrapping_kek(&new.tenant)?;
            let (nonce, wrapped) = kms.crypto.aes_gcm_seal(
                kek.as_bytes(),
                &new.version_aad(v.version),
                material.as_bytes(),
            )?;
            batch.push(Write::RecoverVersion(KeyVersion {
                wrapped,
                nonce: nonce.to_vec(),
                ..v
            }));
        }
    }
    Ok(batch)
}
