//! Rotation: a new, independent version becomes current; older versions stay for decryption
//! (down to `min_decrypt_version`). Also the sweeper's per-key step.

use serde::{Deserialize, Serialize};

use super::describe::key_info_after;
use super::{update_writes, wrap_material, Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::KeyRef;
use crate::kms::Kms;
use crate::lifecycle::{KeyState, Lifecycle};
use crate::model::{KeyRecord, Origin, Role};
use crate::store::{Write, WriteBatch};

/// Request: rotate a key now.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotateKey {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
}

impl RotateKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers rotate keys")?;
        let old = cx.resolve(&self.key).await?;
        if !old.links.is_empty() || !old.kind.is_key() {
            return Err(KmsError::invalid(
                "the halves of a key pair held as two objects are not rotated; create a new key pair",
            ));
        }
        if old.origin == Origin::Imported {
            return Err(KmsError::invalid(
                "imported keys are rotated by importing new material (`keyhold key import --key …`)",
            ));
        }
        let lifecycle = old.lifecycle.effective(cx.now);
        check_rotatable(&lifecycle)?;
        let (batch, new) = rotation(cx.kms, &old, lifecycle, cx.now)?;
        let info = key_info_after(cx, &new, &batch).await?;
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(new.id, Some(new.current_version))
            .writes(batch))
    }
}

/// Rotation makes sense while the key can still protect data (or will be able to).
fn check_rotatable(lc: &Lifecycle) -> Result<(), KmsError> {
    if lc.destroy_at.is_some() {
        return Err(KmsError::PendingDestruction);
    }
    match lc.state {
        KeyState::PreActive | KeyState::Active | KeyState::Suspended => Ok(()),
        state => Err(KmsError::InvalidState {
            state,
            action: "rotate",
        }),
    }
}

/// Generates the next version of `old` and returns the writes and the new record.
pub(crate) fn rotation(
    kms: &Kms,
    old: &KeyRecord,
    lifecycle: Lifecycle,
    now: Timestamp,
) -> Result<(WriteBatch, KeyRecord), KmsError> {
    let material = kms.crypto.generate(old.algorithm)?;
    rotation_with(kms, old, lifecycle, &material, now)
}

/// Makes `material` the next version of `old`.
pub(crate) fn rotation_with(
    kms: &Kms,
    old: &KeyRecord,
    lifecycle: Lifecycle,
    material: &keyhold_crypto::KeyMaterial,
    now: Timestamp,
) -> Result<(WriteBatch, KeyRecord), KmsError> {
    let mut new = old.clone();
    new.lifecycle = lifecycle;
    new.current_version = old.current_version + 1;
    new.rotated_at = now;
    let version = wrap_material(kms, &new, new.current_version, material, now)?;
    let mut batch = update_writes(old, new.clone());
    batch.push(Write::InsertVersion(version));
    new.revision = old.revision + 1;
    Ok((batch, new))
}

/// The sweeper's step for one due key: persist date-driven transitions (destroying material
/// when a scheduled destruction fires) and rotate when the rotation period has passed.
pub(crate) fn sweep_key(
    kms: &Kms,
    old: &KeyRecord,
    now: Timestamp,
) -> Result<(WriteBatch, String), KmsError> {
    let lifecycle = old.lifecycle.effective(now);
    let mut detail = Vec::new();
    if lifecycle.state != old.lifecycle.state {
        detail.push(format!("{} -> {}", old.lifecycle.state, lifecycle.state));
    }
    let rotate_due = old.origin == Origin::Generated
        && lifecycle.state == KeyState::Active
        && lifecycle.destroy_at.is_none()
        && old
            .rotation_period_secs
            .is_some_and(|p| old.rotated_at.plus_secs(p) <= now);
    if rotate_due {
        let (batch, new) = rotation(kms, old, lifecycle, now)?;
        detail.push(format!("rotated to version {}", new.current_version));
        return Ok((batch, detail.join("; ")));
    }
    if lifecycle == old.lifecycle {
        return Ok((WriteBatch::default(), String::new()));
    }
    let mut new = old.clone();
    new.lifecycle = lifecycle;
    Ok((update_writes(old, new), detail.join("; ")))
}
