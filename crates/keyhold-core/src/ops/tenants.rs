//! Tenants: created, listed, disabled and enabled by administrators of the default tenant (who
//! administer the installation). Each tenant gets its own key-encryption key, wrapped under the
//! root key. A disabled tenant's principals cannot authenticate; its keys stay as they are.
//! Administering tenants gives no access to their keys: every key lookup is confined to the
//! caller's own tenant, and administrators never use or read keys.

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::TenantId;
use crate::kms::tenant_aad;
use crate::model::{TenantRecord, RECORD_VERSION};
use crate::store::{Write, WriteBatch};

/// Request: create a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTenant {
    /// 1 to 63 of `a-z 0-9 -`.
    pub id: TenantId,
}

/// Request: list every tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListTenants {}

/// Request: disable or enable a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateTenant {
    /// The tenant.
    pub id: TenantId,
    /// True: its principals can no longer authenticate. False: they can again.
    pub disabled: bool,
}

/// A tenant as shown (never its key-encryption key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantInfo {
    /// The tenant.
    pub id: TenantId,
    /// When it was created.
    pub created_at: Timestamp,
    /// Whether its principals are refused.
    pub disabled: bool,
}

impl From<&TenantRecord> for TenantInfo {
    fn from(t: &TenantRecord) -> Self {
        Self {
            id: t.id.clone(),
            created_at: t.created_at,
            disabled: t.disabled,
        }
    }
}

/// Tenants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantList {
    /// By id.
    pub tenants: Vec<TenantInfo>,
}

impl CreateTenant {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require_global_admin("only administrators of the default tenant create tenants")?;
        cx.act_on_tenant(&self.id);
        if cx.kms.store.tenant(&self.id).await?.is_some() {
            return Err(KmsError::AlreadyExists("tenant"));
        }
        let kek = cx.kms.crypto.random(32)?;
        let sealed = cx.kms.root_seal(&tenant_aad(&self.id), kek.as_bytes())?;
        let record = TenantRecord {
            v: RECORD_VERSION,
            id: self.id,
            created_at: cx.now,
            wrapped_kek: sealed.wrapped,
            kek_nonce: sealed.nonce.to_vec(),
            disabled: false,
            revision: 1,
        };
        let info = TenantInfo::from(&record);
        let detail = format!(
            "tenant {} created with its own key-encryption key",
            record.id
        );
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertTenant(record));
        // The KEK is sealed under the root key: not across a root-key rotation.
        batch.push(sealed.guard);
        Ok(Done::new(Response::Tenant(info))
            .writes(batch)
            .detail(detail))
    }
}

impl ListTenants {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require_global_admin("only administrators of the default tenant list tenants")?;
        let mut tenants: Vec<TenantInfo> = cx
            .kms
            .store
            .tenants()
            .await?
            .iter()
            .map(TenantInfo::from)
            .collect();
        tenants.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Done::new(Response::Tenants(TenantList { tenants })))
    }
}

impl UpdateTenant {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require_global_admin("only administrators of the default tenant disable tenants")?;
        cx.act_on_tenant(&self.id);
        if self.id.is_default() && self.disabled {
            return Err(KmsError::invalid(
                "the default tenant cannot be disabled: its administrators administer the installation",
            ));
        }
        let old = cx
            .kms
            .store
            .tenant(&self.id)
            .await?
            .ok_or(KmsError::NotFound("tenant"))?;
        let word = if self.disabled { "disabled" } else { "enabled" };
        if old.disabled == self.disabled {
            return Ok(Done::new(Response::Tenant(TenantInfo::from(&old)))
                .detail(format!("tenant {} already {word}", old.id)));
        }
        let mut new = old.clone();
        new.disabled = self.disabled;
        new.revision = old.revision + 1;
        let info = TenantInfo::from(&new);
        let mut batch = WriteBatch::default();
        batch.push(Write::UpdateTenant {
            record: new,
            expected_revision: old.revision,
        });
        Ok(Done::new(Response::Tenant(info))
            .writes(batch)
            .detail(format!("tenant {} {word}", self.id)))
    }
}
