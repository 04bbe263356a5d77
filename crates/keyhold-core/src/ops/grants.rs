//! Grants: the statements of a key's policy — which principal, or which role of the tenant,
//! may do what with the key, under which conditions. Managed by key managers; every change is
//! a new version of the key's policy (see [`super::policies`]) and is under dual control when
//! the approval policy governs `policy.change`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::policies::{key_policy, key_policy_change};
use super::{Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{GrantId, KeyRef, PrincipalName};
use crate::lifecycle::Use;
use crate::model::{Conditions, Grant, Grantee, KeyOp, Role, RECORD_VERSION};
use crate::policy::ApprovalAction;
use crate::store::{Write, WriteBatch};

/// Request: allow a principal, or every holder of a role, some operations on a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateGrant {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// Who: a principal's name, or `{"role": "key-user"}`.
    pub grantee: Grantee,
    /// What.
    pub operations: BTreeSet<KeyOp>,
    /// When.
    #[serde(default)]
    pub conditions: Conditions,
}

/// Request: list grants.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        self.conditions.validate()?;
        if let Grantee::Principal(p) = &self.grantee {
            if p == &PrincipalName::system() || p == &PrincipalName::anonymous() {
                return Err(KmsError::invalid("that principal name is reserved"));
            }
        }
        let key = cx.resolve(&self.key).await?;
        cx.check(&key, Use::Modify, "grant")?;
        if self.grantee.principal() == Some(&cx.caller.principal)
            && !cx.tenant_policies().await?.duties.allow_combined_duties
        {
            return Err(KmsError::PermissionDenied(
                "a key manager cannot grant itself the use of a key (separation of duties)",
            ));
        }
        let ops: Vec<&str> = self.operations.iter().map(|o| o.as_str()).collect();
        let what = format!("{} to {}", ops.join(","), self.grantee);
        cx.dual_control(ApprovalAction::PolicyChange, Some(key.id), || {
            format!("grant {what} on key {}", key.id)
        })
        .await?;
        let grant = Grant {
            v: RECORD_VERSION,
            id: GrantId::generate(),
            tenant: cx.caller.tenant.clone(),
            key_id: key.id,
            grantee: self.grantee,
            operations: self.operations,
            conditions: self.conditions,
            created_at: cx.now,
            created_by: cx.caller.principal.clone(),
        };
        let (version, mut grants) = key_policy(cx, &key).await?;
        let detail = format!(
            "grant {} of {what}; policy version {}",
            grant.id,
            version + 1
        );
        grants.push(grant.clone());
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertGrant(grant.clone()));
        batch.push(key_policy_change(
            cx,
            &key,
            version,
            grants,
            format!("grant {} created: {what}", grant.id),
            None,
        ));
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
        let key = cx.key_by_id(&grant.key_id).await?;
        cx.dual_control(ApprovalAction::PolicyChange, Some(key.id), || {
            format!(
                "revoke grant {} ({}) on key {}",
                grant.id, grant.grantee, key.id
            )
        })
        .await?;
        let (version, grants) = key_policy(cx, &key).await?;
        let remaining: Vec<Grant> = grants.into_iter().filter(|g| g.id != grant.id).collect();
        let mut batch = WriteBatch::default();
        batch.push(Write::DeleteGrant {
            tenant: grant.tenant.clone(),
            id: grant.id,
        });
        batch.push(key_policy_change(
            cx,
            &key,
            version,
            remaining,
            format!("grant {} revoked ({})", grant.id, grant.grantee),
            None,
        ));
        Ok(Done::new(Response::Empty {})
            .key(grant.key_id, None)
            .writes(batch)
            .detail(format!(
                "grant {}; policy version {}",
                grant.id,
                version + 1
            )))
    }
}
