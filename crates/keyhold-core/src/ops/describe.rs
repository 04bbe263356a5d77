//! Describe one key, list keys with filters and pagination.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyhold_crypto::Algorithm;
use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::cache::KeyListing;
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{AliasName, KeyId, KeyName, KeyRef, PrincipalName};
use crate::lifecycle::{KeyState, Lifecycle};
use crate::model::{KeyRecord, KeyUsage, Link, ObjectKind, Origin, Role, UsageMask};
use crate::store::{KeyFilter, Write, WriteBatch};

/// A key as clients see it: metadata and the effective life-cycle state, never material.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    /// Id.
    pub id: KeyId,
    /// Name.
    pub name: Option<KeyName>,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Algorithm.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: Algorithm,
    /// Usage.
    pub usage: KeyUsage,
    /// Generated or imported.
    pub origin: Origin,
    /// What kind of object (a key, or the public half of a key pair).
    #[serde(default, skip_serializing_if = "ObjectKind::is_key")]
    pub kind: ObjectKind,
    /// Related objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Further, non-unique names (KMIP Name instances), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The usage mask restricting the key within its usage (KMIP Cryptographic Usage Mask
    /// bits), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_mask: Option<UsageMask>,
    /// Effective state now.
    pub state: KeyState,
    /// Life-cycle dates.
    pub lifecycle: Lifecycle,
    /// Automatic rotation period.
    pub rotation_period_secs: Option<u64>,
    /// When the next automatic rotation is due.
    pub next_rotation_at: Option<Timestamp>,
    /// Version used for new data.
    pub current_version: u32,
    /// Oldest version still accepted for decryption.
    pub min_decrypt_version: u32,
    /// When the current version was made.
    pub rotated_at: Timestamp,
    /// Created.
    pub created_at: Timestamp,
    /// Creator.
    pub created_by: PrincipalName,
    /// Aliases pointing at the key (only in single-key answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<AliasName>,
    /// Versions (only in single-key answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionInfo>,
}

/// One version of a key, as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// Number.
    pub version: u32,
    /// Created.
    pub created_at: Timestamp,
    /// Material destroyed.
    pub destroyed: bool,
}

/// The short form used in lists.
pub(crate) fn summary(now: Timestamp, k: &KeyRecord) -> KeyInfo {
    let lifecycle = k.lifecycle.effective(now);
    let next_rotation_at = match (k.rotation_period_secs, lifecycle.state) {
        (Some(p), KeyState::Active) if lifecycle.destroy_at.is_none() => {
            Some(k.rotated_at.plus_secs(p))
        }
        _ => None,
    };
    KeyInfo {
        id: k.id,
        name: k.name.clone(),
        description: k.description.clone(),
        tags: k.tags.clone(),
        algorithm: k.algorithm,
        usage: k.usage,
        origin: k.origin,
        kind: k.kind,
        links: k.links.clone(),
        labels: k.labels.clone(),
        usage_mask: k.usage_mask,
        state: lifecycle.state,
        lifecycle,
        rotation_period_secs: k.rotation_period_secs,
        next_rotation_at,
        current_version: k.current_version,
        min_decrypt_version: k.min_decrypt_version,
        rotated_at: k.rotated_at,
        created_at: k.created_at,
        created_by: k.created_by.clone(),
        aliases: Vec::new(),
        versions: Vec::new(),
    }
}

/// The full form: with aliases and versions (cached, see [`crate::cache`]).
pub(crate) async fn key_info(cx: &Cx<'_>, k: &KeyRecord) -> Result<KeyInfo, KmsError> {
    let mut info = summary(cx.now, k);
    let caches = &cx.kms.caches;
    let listing = match caches.listing(&k.id, cx.now) {
        Some(l) => l,
        None => {
            let store = &cx.kms.store;
            let aliases = store
                .aliases(&k.tenant, Some(&k.id))
                .await?
                .into_iter()
                .map(|a| a.name)
                .collect();
            let versions = store
                .versions(&k.id)
                .await?
                .into_iter()
                .map(|v| VersionInfo {
                    version: v.version,
                    created_at: v.created_at,
                    destroyed: v.destroyed,
                })
                .collect();
            let listing = Arc::new(KeyListing { aliases, versions });
            caches.put_listing(cx.epoch, k.id, listing.clone(), cx.now);
            listing
        }
    };
    info.aliases = listing.aliases.clone();
    info.versions = listing.versions.clone();
    Ok(info)
}

/// The full form of `k` as it is once `writes` (the request's own batch) are committed: the
/// stored aliases and versions plus those the batch adds. A key the batch creates has nothing
/// stored yet, so nothing is read for it.
pub(crate) async fn key_info_after(
    cx: &Cx<'_>,
    k: &KeyRecord,
    writes: &WriteBatch,
) -> Result<KeyInfo, KmsError> {
    let created = writes
        .0
        .iter()
        .any(|w| matches!(w, Write::InsertKey(r) if r.id == k.id));
    let mut info = if created {
        summary(cx.now, k)
    } else {
        key_info(cx, k).await?
    };
    for w in &writes.0 {
        match w {
            Write::InsertVersion(v) if v.key_id == k.id => info.versions.push(VersionInfo {
                version: v.version,
                created_at: v.created_at,
                destroyed: v.destroyed,
            }),
            Write::InsertAlias(a) if a.key_id == k.id => info.aliases.push(a.name.clone()),
            _ => {}
        }
    }
    info.versions.sort_by_key(|v| v.version);
    info.versions.dedup_by_key(|v| v.version);
    Ok(info)
}

/// Request: describe one key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DescribeKey {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
}

impl DescribeKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        cx.authorize_read(&key).await?;
        let info = key_info(cx, &key).await?;
        Ok(Done::new(Response::Key(Box::new(info))).key(key.id, None))
    }
}

/// Request: list keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListKeys {
    /// Only keys whose stored state is this.
    #[serde(default)]
    pub state: Option<KeyState>,
    /// Only keys of this algorithm.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>), param(value_type = Option<String>))]
    pub algorithm: Option<Algorithm>,
    /// Only keys with this tag, written `key=value`.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only keys whose name starts with this.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// Only keys with this label.
    #[serde(default)]
    pub label: Option<String>,
    /// Page size (default 100, at most the server's maximum).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_page` of the previous answer.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// A page of keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    /// The keys.
    pub keys: Vec<KeyInfo>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page: Option<String>,
}

impl ListKeys {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::KeyManager, Role::KeyUser],
            "only key managers and key users list keys",
        )?;
        let limit = super::page_limit(self.limit, 100, cx.kms.config.max_page)?;
        let tag = match self.tag {
            Some(t) => {
                let (k, v) = t
                    .split_once('=')
                    .ok_or(KmsError::invalid("tag filters are written key=value"))?;
                Some((k.to_owned(), v.to_owned()))
            }
            None => None,
        };
        let after: Option<KeyId> = self.page_token.as_deref().map(str::parse).transpose()?;
        let filter = KeyFilter {
            state: self.state,
            algorithm: self.algorithm,
            tag,
            name_prefix: self.name_prefix,
            label: self.label,
        };
        let mut keys = cx
            .kms
            .store
            .list_keys(&cx.caller.tenant, &filter, after.as_ref(), limit + 1)
            .await?;
        let more = keys.len() > limit as usize;
        keys.truncate(limit as usize);
        let next_page = if more {
            keys.last().map(|k| k.id.to_string())
        } else {
            None
        };
        let keys = keys.iter().map(|k| summary(cx.now, k)).collect();
        Ok(Done::new(Response::Keys(KeyList { keys, next_page })))
    }
}
