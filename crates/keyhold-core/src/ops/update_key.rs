//! Change a key's mutable metadata. Immutable attributes (algorithm, usage, origin, creation)
//! have no field here, so they cannot change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::create_key::{validate_labels, validate_metadata};
use super::describe::key_info;
use super::{update_writes, Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{KeyName, KeyRef};
use crate::lifecycle::{check_use, Use};
use crate::model::{Origin, Role};

/// Request: change mutable metadata; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateKey {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// New name.
    #[serde(default)]
    pub name: Option<KeyName>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// Replaces all tags.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Replaces all labels (the further, non-unique names; KMIP Name instances).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// New rotation period in seconds; 0 turns automatic rotation off.
    #[serde(default)]
    pub rotation_period_secs: Option<u64>,
    /// Raises (or lowers) the oldest version accepted for decryption.
    #[serde(default)]
    pub min_decrypt_version: Option<u32>,
    /// Moves the end of the protection period (only forward from now).
    #[serde(default)]
    pub deactivation_date: Option<Timestamp>,
}

impl UpdateKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers change keys")?;
        let old = cx.resolve(&self.key).await?;
        let mut new = old.clone();
        new.lifecycle = old.lifecycle.effective(cx.now);
        check_use(&new.lifecycle, Use::Modify, "update")?;
        let mut changed = Vec::new();
        if let Some(name) = self.name {
            if Some(&name) != old.name.as_ref() {
                name.check_assignable()?;
                if cx
                    .kms
                    .store
                    .key_by_name(&cx.caller.tenant, &name)
                    .await?
                    .is_some()
                {
                    return Err(KmsError::AlreadyExists("key name"));
                }
                new.name = Some(name);
                changed.push("name");
            }
        }
        if let Some(d) = self.description {
            new.description = d;
            changed.push("description");
        }
        if let Some(t) = self.tags {
            new.tags = t;
            changed.push("tags");
        }
        if let Some(l) = self.labels {
            validate_labels(&l)?;
            new.labels = l;
            changed.push("labels");
        }
        validate_metadata(&new.description, &new.tags)?;
        if let Some(p) = self.rotation_period_secs {
            if old.origin == Origin::Imported && p != 0 {
                return Err(KmsError::invalid(
                    "imported keys are not rotated automatically",
                ));
            }
            if p != 0 && p < 3600 {
                return Err(KmsError::invalid(
                    "rotation period must be at least one hour",
                ));
            }
            crate::clock::check_duration("rotation period", p)?;
            new.rotation_period_secs = (p != 0).then_some(p);
            changed.push("rotation_period");
        }
        if let Some(m) = self.min_decrypt_version {
            if m == 0 || m > old.current_version {
                return Err(KmsError::invalid(format!(
                    "min_decrypt_version must be between 1 and the current version {}",
                    old.current_version
                )));
            }
            new.min_decrypt_version = m;
            changed.push("min_decrypt_version");
        }
        if let Some(d) = self.deactivation_date {
            if new.lifecycle.state.is_destroyed() || d <= cx.now {
                return Err(KmsError::invalid(
                    "the deactivation date must be in the future",
                ));
            }
            new.lifecycle.deactivation_date = Some(d);
            changed.push("deactivation_date");
        }
        if changed.is_empty() {
            return Err(KmsError::invalid("nothing to change"));
        }
        let info = key_info(cx, &new).await?;
        let id = new.id;
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(id, None)
            .writes(update_writes(&old, new))
            .detail(format!("changed: {}", changed.join(", "))))
    }
}
