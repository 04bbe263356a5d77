//! API tokens: issued by admins, stored only as a hash, with expiry, revocable.

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response, SecretData};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{PrincipalName, TokenId};
use crate::model::{Role, TokenRecord};
use crate::store::{Write, WriteBatch};

/// Request: issue a token for a principal of the caller's tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateToken {
    /// The principal the token authenticates.
    pub principal: PrincipalName,
    /// Its role.
    pub role: Role,
    /// Lifetime in seconds; absent: no expiry.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The principal's tenant; default: the caller's. Only administrators of the default tenant
    /// may name another tenant, and only for an `admin` token (the first administrator of a new
    /// tenant, who then issues that tenant's other tokens).
    #[serde(default)]
    pub tenant: Option<crate::ids::TenantId>,
}

/// A new token. The secret is shown this once and never stored.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// The secret bearer token.
    #[serde(serialize_with = "secret_as_text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub token: SecretData,
    /// Its public description.
    #[serde(flatten)]
    pub info: TokenInfo,
}

fn secret_as_text<S: serde::Serializer>(s: &SecretData, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(std::str::from_utf8(s.0.as_bytes()).unwrap_or_default())
}

/// A token as listed (no secret, no hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Id.
    pub id: TokenId,
    /// Principal.
    pub principal: PrincipalName,
    /// Role.
    pub role: Role,
    /// Free text.
    pub description: String,
    /// Issued.
    pub created_at: Timestamp,
    /// Issuer.
    pub created_by: PrincipalName,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Revocation.
    pub revoked_at: Option<Timestamp>,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id,
            principal: t.principal.clone(),
            role: t.role,
            description: t.description.clone(),
            created_at: t.created_at,
            created_by: t.created_by.clone(),
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Request: list the tenant's tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListTokens {}

/// Tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    /// Oldest first.
    pub tokens: Vec<TokenInfo>,
}

/// Request: revoke a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeToken {
    /// The token's id.
    pub id: TokenId,
}

impl CreateToken {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Admin], "only administrators issue tokens")?;
        if self.principal == PrincipalName::system() || self.principal == PrincipalName::anonymous()
        {
            return Err(KmsError::invalid("that principal name is reserved"));
        }
        if self.description.len() > 512 {
            return Err(KmsError::invalid("description is longer than 512 bytes"));
        }
        if self.ttl_secs == Some(0) {
            return Err(KmsError::invalid("ttl must be positive"));
        }
        let tenant = cx.target_tenant(self.tenant).await?;
        if tenant != cx.caller.tenant && self.role != Role::Admin {
            return Err(KmsError::PermissionDenied(
                "in another tenant, administrators of the default tenant issue admin tokens only; that tenant's administrators issue the others",
            ));
        }
        let expires = self.ttl_secs.map(|t| cx.now.plus_secs(t));
        require_separate_duties(cx, &self.principal, self.role).await?;
        let (secret, record) = cx.kms.new_token(
            &tenant,
            self.principal,
            self.role,
            expires,
            &self.description,
            &cx.caller.principal,
            cx.now,
        )?;
        let info = TokenInfo::from(&record);
        let detail = format!(
            "token {} for {} as {} in tenant {}",
            record.id, record.principal, record.role, record.tenant
        );
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertToken(record));
        Ok(Done::new(Response::CreatedToken(CreatedToken {
            token: SecretData(secret),
            info,
        }))
        .writes(batch)
        .detail(detail))
    }
}

/// Separation of duties at the identity: unless the tenant allows combined duties, a principal
/// that manages keys (a live key-manager token or client certificate) gets no key-user token,
/// and the other way round.
pub(crate) async fn require_separate_duties(
    cx: &Cx<'_>,
    principal: &PrincipalName,
    role: Role,
) -> Result<(), KmsError> {
    let other = match role {
        Role::KeyUser => Role::KeyManager,
        Role::KeyManager => Role::KeyUser,
        Role::Admin | Role::Auditor => return Ok(()),
    };
    let tenant = &cx.caller.tenant;
    let store = &cx.kms.store;
    let tokens = store.tokens(tenant).await?;
    let holds_token = tokens.iter().any(|t| {
        &t.principal == principal
            && t.role == other
            && t.revoked_at.is_none()
            && t.expires_at.is_none_or(|e| e > cx.now)
    });
    let holds_cert =
        store.client_certs(tenant).await?.iter().any(|c| {
            &c.principal == principal && c.roles.contains(other) && c.revoked_at.is_none()
        });
    if (holds_token || holds_cert) && !cx.tenant_policies().await?.duties.allow_combined_duties {
        return Err(KmsError::PermissionDenied(
            "the principal holds the other of key-manager and key-user; the tenant separates duties",
        ));
    }
    Ok(())
}

impl ListTokens {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Admin], "only administrators list tokens")?;
        let tokens = cx.kms.store.tokens(&cx.caller.tenant).await?;
        Ok(Done::new(Response::Tokens(TokenList {
            tokens: tokens.iter().map(TokenInfo::from).collect(),
        })))
    }
}

impl RevokeToken {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Admin], "only administrators revoke tokens")?;
        let old = cx
            .kms
            .store
            .token(&cx.caller.tenant, &self.id)
            .await?
            .ok_or(KmsError::NotFound("token"))?;
        if old.revoked_at.is_some() {
            return Ok(Done::new(Response::Token(TokenInfo::from(&old))).detail("already revoked"));
        }
        let mut new = old.clone();
        new.revoked_at = Some(cx.now);
        new.revision = old.revision + 1;
        let info = TokenInfo::from(&new);
        let mut batch = WriteBatch::default();
        batch.push(Write::UpdateToken {
            record: new,
            expected_revision: old.revision,
        });
        Ok(Done::new(Response::Token(info))
            .writes(batch)
            .detail(format!("token {}", self.id)))
    }
}
