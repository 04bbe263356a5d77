//! Replace a key by a new object with fresh material (KMIP Re-key and Re-key Key Pair).
//!
//! Keyhold's own rotation ([`super::RotateKey`]) keeps the key's identifier and adds a version;
//! a KMIP replacement is a new object with a new identifier. It takes the old key's attributes
//! (algorithm, usage and usage mask, description, tags, crypto-period, rotation period) and
//! takes over its name and labels, which the old key loses; the two are linked both ways (the
//! old key's Replacement Object link, the new one's Replaced Object link). The dates are the
//! old key's, or, with an offset, the new key activates that long after its creation and keeps
//! the old key's protection period; dates the request gives win. Replacing the private key of
//! a pair replaces its public key as well, the same way. Everything is one batch: the old
//! records change only if the new ones are made. Aliases and grants stay with the old key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::create_key::{new_record, KeySpec};
use super::describe::key_info_after;
use super::objects::{public_half, KeyPairInfo};
use super::{update_writes, Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef};
use crate::lifecycle::{check_use, Lifecycle, Use};
use crate::model::{Link, LinkKind, ObjectKind, Origin, Role};
use crate::store::WriteBatch;

/// Request: replace a key (a symmetric key, or the private key of a pair) by a new object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplaceKey {
    /// Id, name or alias of the key replaced.
    #[serde(default)]
    pub key: KeyRef,
    /// Seconds from now to the replacement's activation (KMIP Offset); its deactivation date
    /// is then the old one moved by as much as the activation date moved. Absent: the old
    /// key's activation and deactivation dates are copied.
    #[serde(default)]
    pub offset_secs: Option<u64>,
    /// The replacement's activation date, instead of the one the offset or the old key gives.
    #[serde(default)]
    pub activation_date: Option<Timestamp>,
    /// The replacement's deactivation date, instead of the one the offset or the old key gives.
    #[serde(default)]
    pub deactivation_date: Option<Timestamp>,
    /// Tags of the replacement (of the private key, for a pair); absent: the old key's.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}

impl ReplaceKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers create keys")?;
        let old = cx.resolve(&self.key).await?;
        let lifecycle = old.lifecycle.effective(cx.now);
        check_use(&lifecycle, Use::Modify, "re-key")?;
        if lifecycle.state.is_destroyed() {
            return Err(KmsError::InvalidState {
                state: lifecycle.state,
                action: "re-key",
            });
        }
        if old.kind != ObjectKind::Key {
            return Err(KmsError::invalid(
                "only keys are replaced: a symmetric key, or the private key of a pair",
            ));
        }
        let (activation, deactivation) = dates(&lifecycle, self.offset_secs, cx.now)?;
        let activation = self.activation_date.or(activation);
        let deactivation = self.deactivation_date.or(deactivation);
        let spec = KeySpec {
            description: old.description.clone(),
            tags: self.tags.unwrap_or_else(|| old.tags.clone()),
            usage: Some(old.usage),
            usage_mask: old.usage_mask,
            activation_date: activation,
            deactivation_date: deactivation,
            crypto_period_secs: lifecycle.crypto_period_secs,
            rotation_period_secs: old.rotation_period_secs,
            pre_active: true,
            ..KeySpec::default()
        };
        let mut new = new_record(
            cx,
            old.algorithm,
            spec,
            Origin::Generated,
            None,
            String::new(),
        )
        .await?;
        let material = cx.kms.crypto.generate(old.algorithm)?;
        let mut batch = WriteBatch::default();
        // The old key's update comes first: it gives up its name before the new key takes it.
        let mut replaced = vec![(old.clone(), new.id)];
        let mut inserted = Vec::new();
        if old.algorithm.is_asymmetric() {
            let spki = material
                .public
                .clone()
                .ok_or(KmsError::Integrity("generated key pair without public key"))?;
            let old_public = match old.link(LinkKind::PublicKey) {
                Some(id) => Some(cx.key_by_id(&id).await?),
                None => None,
            };
            let (mut public, public_material) = public_half(&mut new, spki);
            if let Some(p) = &old_public {
                public.tags = p.tags.clone();
                public.labels = p.labels.clone();
                public.usage_mask = p.usage_mask;
                public.links.insert(0, replaced_by(p.id));
                replaced.push((p.clone(), public.id));
            }
            inserted.push((public, public_material));
        }
        new.name = old.name.clone();
        new.labels = old.labels.clone();
        new.links.insert(0, replaced_by(old.id));
        inserted.insert(0, (new.clone(), material));
        for (record, successor) in &replaced {
            let mut after = record.clone();
            after.lifecycle = record.lifecycle.effective(cx.now);
            after.name = None;
            after.labels.clear();
            after
                .links
                .retain(|l| l.kind != LinkKind::ReplacementObject);
            after.links.push(Link {
                kind: LinkKind::ReplacementObject,
                target: *successor,
            });
            batch.0.extend(update_writes(record, after).0);
        }
        for (record, material) in &inserted {
            cx.insert_new(&mut batch, record, material).await?;
        }
        let detail = match (inserted.get(1), replaced.get(1)) {
            (Some((public, _)), Some((old_public, _))) => format!(
                "replaced by {} (public key {} replaces {})",
                new.id, public.id, old_public.id
            ),
            (Some((public, _)), None) => {
                format!("replaced by {} (public key {})", new.id, public.id)
            }
            _ => format!("replaced by {}", new.id),
        };
        let response = match inserted.get(1) {
            Some((public, _)) => Response::KeyPair(KeyPairInfo {
                private_key: Box::new(key_info_after(cx, &new, &batch).await?),
                public_key: Box::new(key_info_after(cx, public, &batch).await?),
            }),
            None => Response::Key(Box::new(key_info_after(cx, &new, &batch).await?)),
        };
        Ok(Done::new(response)
            .key(old.id, None)
            .writes(batch)
            .detail(detail))
    }
}

/// The Replaced Object link of a replacement.
fn replaced_by(old: KeyId) -> Link {
    Link {
        kind: LinkKind::ReplacedObject,
        target: old,
    }
}

/// The replacement's activation and deactivation dates: the old key's, or, with an offset,
/// activation that long after now and the deactivation date moved by as much.
fn dates(
    old: &Lifecycle,
    offset_secs: Option<u64>,
    now: Timestamp,
) -> Result<(Option<Timestamp>, Option<Timestamp>), KmsError> {
    let Some(offset) = offset_secs else {
        return Ok((old.activation_date, old.deactivation_date));
    };
    crate::clock::check_duration("the offset", offset)?;
    let activation = now.plus_secs(offset);
    let deactivation = match (old.activation_date, old.deactivation_date) {
        (Some(a), Some(d)) => Some(Timestamp::from_millis(
            d.millis()
                .saturating_add(activation.millis().saturating_sub(a.millis()))
                .min(Timestamp::MAX.millis()),
        )),
        _ => None,
    };
    Ok((Some(activation), deactivation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn an_offset_moves_both_dates_by_the_same_amount() {
        let old = Lifecycle::new(t(0), Some(t(10)), Some(t(110)), None);
        assert_eq!(
            dates(&old, None, t(50)).unwrap(),
            (Some(t(10)), Some(t(110)))
        );
        assert_eq!(
            dates(&old, Some(0), t(50)).unwrap(),
            (Some(t(50)), Some(t(150)))
        );
        assert_eq!(
            dates(&old, Some(20), t(50)).unwrap(),
            (Some(t(70)), Some(t(170)))
        );
        let undated = Lifecycle::new(t(0), None, None, None);
        assert_eq!(dates(&undated, None, t(50)).unwrap(), (None, None));
        assert_eq!(
            dates(&undated, Some(5), t(50)).unwrap(),
            (Some(t(55)), None)
        );
    }
}
