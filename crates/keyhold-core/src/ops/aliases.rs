//! Aliases: stable names (`alias/billing`) that point at a key and can be moved.

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::{AliasName, KeyRef};
use crate::lifecycle::Use;
use crate::model::{Alias, Role, RECORD_VERSION};
use crate::store::{Write, WriteBatch};

/// Request: point a new alias at a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateAlias {
    /// `alias/…`.
    pub alias: AliasName,
    /// Id, name or alias of the target.
    pub key: KeyRef,
}

/// Request: delete an alias (the key is untouched).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteAlias {
    /// `alias/…`.
    pub alias: AliasName,
}

/// Request: list aliases, optionally of one key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListAliases {
    /// Only aliases of this key.
    #[serde(default)]
    pub key: Option<KeyRef>,
}

/// Aliases.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AliasList {
    /// The aliases, by name.
    pub aliases: Vec<Alias>,
}

impl CreateAlias {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers manage aliases")?;
        let key = cx.resolve(&self.key).await?;
        cx.check(&key, Use::Modify, "alias")?;
        if cx
            .kms
            .store
            .alias(&cx.caller.tenant, &self.alias)
            .await?
            .is_some()
        {
            return Err(KmsError::AlreadyExists("alias"));
        }
        let alias = Alias {
            v: RECORD_VERSION,
            tenant: cx.caller.tenant.clone(),
            name: self.alias,
            key_id: key.id,
            updated_at: cx.now,
        };
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertAlias(alias.clone()));
        Ok(Done::new(Response::Aliases(AliasList {
            aliases: vec![alias.clone()],
        }))
        .key(key.id, None)
        .writes(batch)
        .detail(alias.name.to_string()))
    }
}

impl DeleteAlias {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers manage aliases")?;
        let alias = cx
            .kms
            .store
            .alias(&cx.caller.tenant, &self.alias)
            .await?
            .ok_or(KmsError::NotFound("alias"))?;
        let mut batch = WriteBatch::default();
        batch.push(Write::DeleteAlias {
            tenant: alias.tenant.clone(),
            name: alias.name.clone(),
        });
        Ok(Done::new(Response::Empty {})
            .key(alias.key_id, None)
            .writes(batch)
            .detail(alias.name.to_string()))
    }
}

impl ListAliases {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::KeyManager, Role::KeyUser],
            "only key managers and key users list aliases",
        )?;
        let key = match &self.key {
            Some(r) => Some(cx.resolve(r).await?.id),
            None => None,
        };
        let aliases = cx
            .kms
            .store
            .aliases(&cx.caller.tenant, key.as_ref())
            .await?;
        Ok(Done::new(Response::Aliases(AliasList { aliases })))
    }
}
