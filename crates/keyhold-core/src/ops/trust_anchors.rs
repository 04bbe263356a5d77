//! Trust anchors: CA certificates an administrator trusts to issue client certificates for one
//! tenant and a set of roles. A certificate that chains to a trust anchor that is not removed
//! authenticates (mutual TLS on REST and KMIP) as the principal named by its subject's common
//! name, with the anchor's roles, in the anchor's tenant (see [`crate::pki`]).
//!
//! An administrator acts on its own tenant's anchors; an administrator of the default tenant
//! may name any tenant, and there add anchors for the admin role only (as with tokens: the
//! installation bootstraps a tenant's administrators, who trust the issuers of the others). At most one anchor that is not removed may have a given subject and
//! public key, in all tenants, so that a certificate never authenticates in two tenants.

use serde::{Deserialize, Serialize};

use super::client_certs::check_roles;
use super::{Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{TenantId, TrustAnchorId};
use crate::model::{Role, Roles, TrustAnchorRecord, RECORD_VERSION};
use crate::store::{Write, WriteBatch};

/// Request: trust a CA certificate for a tenant and roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddTrustAnchor {
    /// The CA certificate, DER (base64 in JSON).
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub certificate: Vec<u8>,
    /// The tenant; default: the caller's.
    #[serde(default)]
    pub tenant: Option<TenantId>,
    /// The roles of the principals it authenticates.
    pub roles: Roles,
    /// Required when `roles` holds both key-manager and key-user.
    #[serde(default)]
    pub allow_combined_duties: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Request: list a tenant's trust anchors (removed ones included).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListTrustAnchors {
    /// The tenant; default: the caller's.
    #[serde(default)]
    pub tenant: Option<TenantId>,
}

/// Request: stop trusting an anchor. Certificates issued under it are refused from then on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveTrustAnchor {
    /// The anchor.
    pub id: TrustAnchorId,
}

/// Trust anchors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrustAnchorList {
    /// By id (creation order).
    pub trust_anchors: Vec<TrustAnchorRecord>,
}

impl AddTrustAnchor {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Admin], "only administrators add trust anchors")?;
        let tenant = cx.target_tenant(self.tenant).await?;
        // As with tokens: in another tenant, the installation's administrators only bootstrap
        // that tenant's administrators; an anchor for key roles would let them name any
        // principal of the tenant and use its keys.
        if tenant != cx.caller.tenant && self.roles != Roles::one(Role::Admin) {
            return Err(KmsError::PermissionDenied(
                "in another tenant, administrators of the default tenant add admin-only trust anchors; that tenant's administrators add the others",
            ));
        }
        check_roles(self.roles, self.allow_combined_duties)?;
        if self.description.len() > 512 {
            return Err(KmsError::invalid("description is longer than 512 bytes"));
        }
        let ca = crate::pki::inspect_ca(&self.certificate, cx.now)?;
        let record = TrustAnchorRecord {
            v: RECORD_VERSION,
            id: TrustAnchorId::generate(),
            tenant,
            roles: self.roles,
            certificate: self.certificate,
            fingerprint: ca.fingerprint,
            identity: ca.identity,
            subject: ca.subject,
            not_after: ca.not_after,
            description: self.description,
            created_at: cx.now,
            created_by: cx.caller.principal.clone(),
            removed_at: None,
            revision: 1,
        };
        let detail = format!(
            "trust anchor {} ({}, sha256 {}) for tenant {} as {}{}",
            record.id,
            record.subject,
            record.fingerprint,
            record.tenant,
            record.roles,
            if record.roles.combines_duties() {
                " (separation of duties waived)"
            } else {
                ""
            }
        );
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertTrustAnchor(record.clone()));
        Ok(Done::new(Response::TrustAnchor(Box::new(record)))
            .writes(batch)
            .detail(detail))
    }
}

impl ListTrustAnchors {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Admin], "only administrators list trust anchors")?;
        let tenant = cx.target_tenant(self.tenant).await?;
        let trust_anchors = cx.kms.store.trust_anchors(Some(&tenant)).await?;
        Ok(Done::new(Response::TrustAnchors(TrustAnchorList {
            trust_anchors,
        })))
    }
}

impl RemoveTrustAnchor {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Admin], "only administrators remove trust anchors")?;
        // Another tenant's anchor is a missing one, except to administrators of the default
        // tenant, who administer every tenant's trust.
        let old = cx
            .kms
            .store
            .trust_anchor(&self.id)
            .await?
            .filter(|a| a.tenant == cx.caller.tenant || cx.is_global_admin())
            .ok_or(KmsError::NotFound("trust anchor"))?;
        cx.act_on_tenant(&old.tenant);
        if old.removed_at.is_some() {
            return Ok(Done::new(Response::TrustAnchor(Box::new(old))).detail("already removed"));
        }
        let mut new = old.clone();
        new.removed_at = Some(cx.now);
        new.revision = old.revision + 1;
        let mut batch = WriteBatch::default();
        batch.push(Write::UpdateTrustAnchor {
            record: new.clone(),
            expected_revision: old.revision,
        });
        let detail = format!(
            "trust anchor {} ({}) of tenant {} removed",
            new.id, new.subject, new.tenant
        );
        Ok(Done::new(Response::TrustAnchor(Box::new(new)))
            .writes(batch)
            .detail(detail))
    }
}
