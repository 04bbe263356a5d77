//! Grants: which key-user may do what with which key. Managed by key managers.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{GrantId, KeyRef, PrincipalName};
use crate::model::{Grant, KeyOp, Role, RECORD_VERSION};
use crate::store::{Write, WriteBatch};

/// Request: allow a principal some operations on a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateGrant {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Who.
    pub grantee: PrincipalName,
    /// What.
    pub operations: BTreeSet<KeyOp>,
}

/// Request: list grants.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct ListGrants {
    /// Only grants on this key.
    #[serde(default)]
    pub key: Option<KeyRef>,
    /// Only grants to this principal.
    #[serde(default)]
    pub grantee: Option<PrincipalName>,
}

/// Grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantList {
    /// The grants.
    pub grants: Vec<Grant>,
}

/// Request: revoke a grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeGrant {
    /// The grant.
    pub id: GrantId,
}

impl CreateGrant {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers grant key use")?;
        if self.operations.is_empty() {
            return Err(KmsError::invalid("a grant needs at least one operation"));
        }
        let key = cx.resolve(&self.key).await?;
        let grant = Grant {
            v: RECORD_VERSION,
            id: GrantId::generate(),
            tenant: cx.caller.tenant.clone(),
            key_id: key.id,
            grantee: self.grantee,
            operations: self.operations,
            created_at: cx.now,
            created_by: cx.caller.principal.clone(),
        };
        let ops: Vec<&str> = grant.operations.iter().map(|o| o.as_str()).collect();
        let detail = format!("grant {} to {}: {}", grant.id, grant.grantee, ops.join(","));
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertGrant(grant.clone()));
        Ok(Done::new(Response::Grant(grant))
            .key(key.id, None)
            .writes(batch)
            .detail(detail))
    }
}

impl ListGrants {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers list grants")?;
        let key = match &self.key {
            Some(r) => Some(cx.resolve(r).await?.id),
            None => None,
        };
        let grants = cx
            .kms
            .store
            .grants(&cx.caller.tenant, key.as_ref(), self.grantee.as_ref())
            .await?;
        Ok(Done::new(Response::Grants(GrantList { grants })))
    }
}

impl RevokeGrant {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers revoke grants")?;
        let grant = cx
            .kms
            .store
            .grants(&cx.caller.tenant, None, None)
            .await?
            .into_iter()
            .find(|g| g.id == self.id)
            .ok_or(KmsError::NotFound("grant"))?;
        let mut batch = WriteBatch::default();
        batch.push(Write::DeleteGrant {
            tenant: grant.tenant.clone(),
            id: grant.id,
        });
        Ok(Done::new(Response::Empty {})
            .key(grant.key_id, None)
            .writes(batch)
            .detail(format!("grant {}", grant.id)))
    }
}
