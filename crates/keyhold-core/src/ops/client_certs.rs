//! Client certificates: an administrator registers a certificate (pinned by the SHA-256 of its
//! DER) as the credential of a principal with roles; mutual-TLS listeners then authenticate the
//! peer by it. Registering a certificate for a principal that both manages and uses keys waives
//! separation of duties for that principal, so it must be asked for explicitly.

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::PrincipalName;
use crate::model::{ClientCertRecord, Role, Roles, RECORD_VERSION};
use crate::store::{Write, WriteBatch};

/// Request: register a client certificate for a principal of the caller's tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterClientCert {
    /// The certificate, DER (base64 in JSON). The adapter that parsed it fills in `subject`
    /// and `not_after`.
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub certificate: Vec<u8>,
    /// The certificate's subject, for display.
    pub subject: String,
    /// The certificate's notAfter.
    #[serde(default)]
    pub not_after: Option<Timestamp>,
    /// The principal it authenticates (usually the subject's common name).
    pub principal: PrincipalName,
    /// Its roles.
    pub roles: Roles,
    /// Required when `roles` holds both key-manager and key-user.
    #[serde(default)]
    pub allow_combined_duties: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Request: list the tenant's client certificates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListClientCerts {}

/// Request: revoke a client certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeClientCert {
    /// Hex SHA-256 of the certificate's DER.
    pub fingerprint: String,
}

/// Client certificates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientCertList {
    /// By fingerprint.
    pub client_certs: Vec<ClientCertRecord>,
}

impl RegisterClientCert {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Admin],
            "only administrators register client certificates",
        )?;
        if self.certificate.is_empty() || self.certificate.len() > 64 * 1024 {
            return Err(KmsError::invalid(
                "the certificate must be 1 byte to 64 KiB of DER",
            ));
        }
        if self.principal == PrincipalName::system() || self.principal == PrincipalName::anonymous()
        {
            return Err(KmsError::invalid("that principal name is reserved"));
        }
        check_roles(self.roles, self.allow_combined_duties)?;
        if self.roles.combines_duties() && !cx.tenant_policies().await?.duties.allow_combined_duties
        {
            return Err(KmsError::PermissionDenied(
                "the tenant separates duties: allow combined duties first (`keyhold duties set --allow-combined-duties true`)",
            ));
        }
        for role in self.roles.iter() {
            super::tokens::require_separate_duties(cx, &self.principal, role).await?;
        }
        if self.description.len() > 512 || self.subject.len() > 1024 {
            return Err(KmsError::invalid("description or subject too long"));
        }
        if self.not_after.is_some_and(|t| t <= cx.now) {
            return Err(KmsError::invalid("the certificate has expired"));
        }
        // A certificate issued under another tenant's anchor belongs to that tenant: pinning it
        // here would not take it over (see `pki::decide`), but it would block that tenant's
        // own pin of it, so it is refused.
        let anchors = cx.kms.store.trust_anchors(None).await?;
        if crate::pki::issuing_anchor(&self.certificate, &[], &anchors, cx.now)
            .is_some_and(|a| a.tenant != cx.caller.tenant)
        {
            return Err(KmsError::PermissionDenied(
                "the certificate is issued under another tenant's trust anchor",
            ));
        }
        let record = ClientCertRecord {
            v: RECORD_VERSION,
            fingerprint: hex::encode(cx.kms.crypto.sha256(&self.certificate)),
            tenant: cx.caller.tenant.clone(),
            principal: self.principal,
            roles: self.roles,
            subject: self.subject,
            not_after: self.not_after,
            description: self.description,
            created_at: cx.now,
            created_by: cx.caller.principal.clone(),
            revoked_at: None,
            revision: 1,
        };
        let detail = format!(
            "client certificate {} for {} as {}{}",
            record.fingerprint,
            record.principal,
            record.roles,
            if record.roles.combines_duties() {
                " (separation of duties waived)"
            } else {
                ""
            }
        );
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertClientCert(record.clone()));
        Ok(Done::new(Response::ClientCert(record))
            .writes(batch)
            .detail(detail))
    }
}

/// The roles a certificate principal (pinned or issued under a trust anchor) may hold: at least
/// one; admin alone; key-manager with key-user only when asked for explicitly.
pub(crate) fn check_roles(roles: Roles, allow_combined_duties: bool) -> Result<(), KmsError> {
    if roles.is_empty() {
        return Err(KmsError::invalid("at least one role is required"));
    }
    if roles.contains(Role::Admin) && roles != Roles::one(Role::Admin) {
        return Err(KmsError::invalid(
            "the admin role cannot be combined with other roles",
        ));
    }
    if roles.combines_duties() && !allow_combined_duties {
        return Err(KmsError::invalid(
            "key-manager and key-user together waive separation of duties; ask for it explicitly (allow_combined_duties)",
        ));
    }
    Ok(())
}

impl ListClientCerts {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Admin],
            "only administrators list client certificates",
        )?;
        let client_certs = cx.kms.store.client_certs(&cx.caller.tenant).await?;
        Ok(Done::new(Response::ClientCerts(ClientCertList {
            client_certs,
        })))
    }
}

impl RevokeClientCert {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Admin],
            "only administrators revoke client certificates",
        )?;
        let fingerprint = self.fingerprint.trim().to_ascii_lowercase();
        let old = cx
            .kms
            .store
            .client_cert(&fingerprint)
            .await?
            .filter(|c| c.tenant == cx.caller.tenant)
            .ok_or(KmsError::NotFound("client certificate"))?;
        if old.revoked_at.is_some() {
            return Ok(Done::new(Response::ClientCert(old)).detail("already revoked"));
        }
        let mut new = old.clone();
        new.revoked_at = Some(cx.now);
        new.revision = old.revision + 1;
        let mut batch = WriteBatch::default();
        batch.push(Write::UpdateClientCert {
            record: new.clone(),
            expected_revision: old.revision,
        });
        Ok(Done::new(Response::ClientCert(new))
            .writes(batch)
            .detail(format!("client certificate {fingerprint}")))
    }
}
