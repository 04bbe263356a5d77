//! Root-key rotation: a new root key, sealed by the root of trust, rewraps every tenant
//! key-encryption key and archive key in one transaction, online. Tenant KEKs themselves do not
//! change, so no key version is rewrapped and no request in flight notices; no key material
//! leaves the core.
//!
//! Values sealed under the root key elsewhere (a new tenant, a tenant's first archive key, a
//! restore) carry a write asserting the root-key blob unchanged, so they cannot commit across
//! the rotation; one that committed while the rotation was planned is rewrapped right after it
//! (`Kms::finish_root_rotation`).

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response, SecretData};
use crate::error::KmsError;
use crate::kms::RootChange;
use crate::policy::ApprovalAction;

/// Request: rotate the root key (administrators of the default tenant, who administer the
/// installation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotateRootKey {}

/// What a root-key rotation did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RootKeyRotation {
    /// Tenant key-encryption keys rewrapped.
    pub tenants: usize,
    /// Archive keys rewrapped.
    pub archive_keys: usize,
    /// Which key of the root of trust sealed the new root key.
    pub sealed_by: String,
}

impl RotateRootKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require_global_admin("only administrators of the default tenant rotate the root key")?;
        // Under dual control it runs (as the requester) when the last approval arrives.
        cx.dual_control(ApprovalAction::RootRotate, None, || {
            "rotate the root key".to_owned()
        })
        .await?;
        let (rotated, writes) = cx.kms.plan_root_rotation().await?;
        let response = RootKeyRotation {
            tenants: rotated.tenants,
            archive_keys: rotated.archive_keys,
            sealed_by: rotated.key_id.clone(),
        };
        let detail = format!(
            "rewrapped {} tenant KEKs and {} archive keys; sealed by {}",
            response.tenants, response.archive_keys, response.sealed_by
        );
        let mut done = Done::new(Response::RootKeyRotation(response))
            .writes(writes)
            .detail(detail);
        done.root_change = Some(RootChange::Rotated(rotated));
        Ok(done)
    }
}

/// Request: a new set of unseal shares with a new threshold (administrators of the default
/// tenant). The root key stays; it is sealed anew, and the old shares stop working.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RekeyUnseal {
    /// N: shares to hand out (1..=255).
    pub shares: u8,
    /// M: shares needed to unseal (1..=N).
    pub threshold: u8,
}

/// The new unseal shares, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnsealRekey {
    /// The shares; give each to a different custodian.
    #[serde(with = "secret_texts")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub shares: Vec<SecretData>,
    /// Shares needed to unseal.
    pub threshold: u8,
    /// Which key of the root of trust seals the root key now.
    pub sealed_by: String,
}

impl RekeyUnseal {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require_global_admin(
            "only administrators of the default tenant rekey the unseal shares",
        )?;
        if self.threshold == 0 || self.shares == 0 || self.threshold > self.shares {
            return Err(KmsError::invalid("need 1 <= threshold <= shares <= 255"));
        }
        // Re-issued once approved: the new shares go to the requester only.
        cx.dual_control(ApprovalAction::UnsealRekey, None, || {
            format!(
                "issue {} new unseal shares, {} needed",
                self.shares, self.threshold
            )
        })
        .await?;
        let (rekeyed, writes, secrets) = cx
            .kms
            .plan_unseal_rekey(self.shares, self.threshold)
            .await?;
        let response = UnsealRekey {
            shares: secrets.into_iter().map(SecretData).collect(),
            threshold: self.threshold,
            sealed_by: rekeyed.key_id.clone(),
        };
        let detail = format!(
            "{} new unseal shares, {} needed; sealed by {}",
            self.shares, self.threshold, rekeyed.key_id
        );
        let mut done = Done::new(Response::UnsealRekey(response))
            .writes(writes)
            .detail(detail);
        done.root_change = Some(RootChange::Rekeyed(rekeyed));
        Ok(done)
    }
}

/// Secret texts (unseal shares) as JSON strings.
mod secret_texts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::SecretData;

    pub fn serialize<S: Serializer>(v: &[SecretData], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|t| std::str::from_utf8(t.0.as_bytes()).unwrap_or_default())
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretData>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        Ok(texts
            .into_iter()
            .map(|t| SecretData(keyhold_crypto::SecretBytes::from(t.into_bytes())))
            .collect())
    }
}
