//! Create a key: generate its material inside the cryptographic module and bind it to its
//! metadata, idempotently when the client sends a token.

use std::collections::BTreeMap;

use keyhold_crypto::Algorithm;
use serde::{Deserialize, Serialize};

use super::describe::{key_info, key_info_after};
use super::{Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{KeyId, KeyName};
use crate::lifecycle::Lifecycle;
use crate::model::{Idempotency, KeyRecord, KeyUsage, Origin, Role, UsageMask, RECORD_VERSION};
use crate::store::WriteBatch;

/// The attributes a new key is created with (shared by create and import).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeySpec {
    /// Unique name within the tenant.
    #[serde(default)]
    pub name: Option<KeyName>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Tags (key → value).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Further names, in order (KMIP Name instances): distinct, not unique within the tenant,
    /// not usable to address the key; `GET /v1/keys?label=` finds keys by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// What the key is for; defaults from the algorithm (RSA: sign-verify).
    #[serde(default)]
    pub usage: Option<KeyUsage>,
    /// Restricts what the key may do within its usage: the bits of the KMIP Cryptographic
    /// Usage Mask (encrypt 4, decrypt 8, sign 1, verify 2, MAC generate 128, MAC verify 256,
    /// derive key 512, wrap key 16…), kept exactly; absent: whatever the usage allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_mask: Option<UsageMask>,
    /// When the key becomes active. Absent: now, unless `pre_active` is set.
    #[serde(default)]
    pub activation_date: Option<Timestamp>,
    /// When the key's protection period ends.
    #[serde(default)]
    pub deactivation_date: Option<Timestamp>,
    /// Protection period after activation, in seconds.
    #[serde(default)]
    pub crypto_period_secs: Option<u64>,
    /// Automatic rotation period, in seconds (generated keys only).
    #[serde(default)]
    pub rotation_period_secs: Option<u64>,
    /// Create the key pre-active, to be activated later.
    #[serde(default)]
    pub pre_active: bool,
}

/// Request: generate a new key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateKey {
    /// The algorithm, e.g. `aes-256`, `ec-p256`, `rsa-3072`, `hmac-sha256`, `ed25519`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: Algorithm,
    /// Attributes.
    #[serde(flatten)]
    pub spec: KeySpec,
    /// Makes the request idempotent: a retry with the same token and parameters returns the
    /// key created the first time.
    #[serde(default)]
    pub idempotency_token: Option<String>,
}

impl CreateKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers create keys")?;
        let digest = request_digest(cx, &self)?;
        if let Some(done) = replay(cx, self.idempotency_token.as_deref(), &digest).await? {
            return Ok(done);
        }
        let material = cx.kms.crypto.generate(self.algorithm)?;
        let record = new_record(
            cx,
            self.algorithm,
            self.spec,
            Origin::Generated,
            self.idempotency_token,
            digest,
        )
        .await?;
        let mut batch = WriteBatch::default();
        cx.insert_new(&mut batch, &record, &material).await?;
        let info = key_info_after(cx, &record, &batch).await?;
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(record.id, Some(1))
            .writes(batch)
            .detail(format!("{} {}", record.algorithm, record.usage)))
    }
}

fn request_digest(cx: &Cx<'_>, req: &CreateKey) -> Result<String, KmsError> {
    let mut canonical = req.clone();
    canonical.idempotency_token = None;
    let bytes =
        serde_json::to_vec(&canonical).map_err(|_| KmsError::invalid("request does not encode"))?;
    Ok(hex::encode(cx.kms.crypto.sha256(&bytes)))
}

/// If `token` was used before, the key it created (same parameters) or a mismatch error.
pub(crate) async fn replay(
    cx: &Cx<'_>,
    token: Option<&str>,
    digest: &str,
) -> Result<Option<Done>, KmsError> {
    let Some(token) = token else { return Ok(None) };
    if token.is_empty() || token.len() > 128 {
        return Err(KmsError::invalid(
            "idempotency tokens are 1 to 128 characters",
        ));
    }
    let Some(existing) = cx
        .kms
        .store
        .key_by_idempotency(&cx.caller.tenant, token)
        .await?
    else {
        return Ok(None);
    };
    let same = existing.idempotency.as_ref().is_some_and(|i| {
        keyhold_crypto::constant_time_eq(i.request_digest.as_bytes(), digest.as_bytes())
    });
    if !same {
        return Err(KmsError::IdempotencyMismatch);
    }
    let info = key_info(cx, &existing).await?;
    Ok(Some(
        Done::new(Response::Key(Box::new(info)))
            .key(existing.id, Some(existing.current_version))
            .detail("idempotent replay"),
    ))
}

/// Validates a spec and builds the record of a new key (version 1).
pub(crate) async fn new_record(
    cx: &Cx<'_>,
    algorithm: Algorithm,
    spec: KeySpec,
    origin: Origin,
    idempotency_token: Option<String>,
    digest: String,
) -> Result<KeyRecord, KmsError> {
    let usage = spec
        .usage
        .unwrap_or_else(|| KeyUsage::default_for(algorithm));
    if !usage.fits(algorithm) {
        return Err(KmsError::invalid(format!(
            "a {algorithm} key cannot have usage {usage}"
        )));
    }
    validate_metadata(&spec.description, &spec.tags)?;
    validate_labels(&spec.labels)?;
    if spec.rotation_period_secs.is_some() && origin == Origin::Imported {
        return Err(KmsError::invalid(
            "imported keys are not rotated automatically; import new material instead",
        ));
    }
    if spec.rotation_period_secs.is_some_and(|p| p < 3600) {
        return Err(KmsError::invalid(
            "rotation period must be at least one hour",
        ));
    }
    if spec.crypto_period_secs == Some(0) {
        return Err(KmsError::invalid("crypto-period must be positive"));
    }
    if let Some(p) = spec.crypto_period_secs {
        crate::clock::check_duration("crypto-period", p)?;
    }
    if let Some(p) = spec.rotation_period_secs {
        crate::clock::check_duration("rotation period", p)?;
    }
    if let (Some(a), Some(d)) = (spec.activation_date, spec.deactivation_date) {
        if d <= a {
            return Err(KmsError::invalid(
                "deactivation date must be after the activation date",
            ));
        }
    }
    if let Some(name) = &spec.name {
        name.check_assignable()?;
        if cx
            .kms
            .store
            .key_by_name(&cx.caller.tenant, name)
            .await?
            .is_some()
        {
            return Err(KmsError::AlreadyExists("key name"));
        }
    }
    let activation = match (spec.activation_date, spec.pre_active) {
        (Some(a), _) => Some(a),
        (None, true) => None,
        (None, false) => Some(cx.now),
    };
    Ok(KeyRecord {
        v: RECORD_VERSION,
        id: KeyId::generate(),
        tenant: cx.caller.tenant.clone(),
        name: spec.name,
        description: spec.description,
        tags: spec.tags,
        algorithm,
        usage,
        origin,
        kind: Default::default(),
        links: Vec::new(),
        labels: spec.labels,
        usage_mask: spec.usage_mask,
        created_at: cx.now,
        created_by: cx.caller.principal.clone(),
        lifecycle: Lifecycle::new(
            cx.now,
            activation,
            spec.deactivation_date,
            spec.crypto_period_secs,
        ),
        rotation_period_secs: spec.rotation_period_secs,
        current_version: 1,
        min_decrypt_version: 1,
        rotated_at: cx.now,
        idempotency: idempotency_token.map(|token| Idempotency {
            token,
            request_digest: digest,
        }),
        revision: 1,
    })
}

/// Most labels a key can have.
pub(crate) const MAX_LABELS: usize = 32;

/// Labels are distinct, 1 to 256 bytes, at most [`MAX_LABELS`] of them.
pub(crate) fn validate_labels(labels: &[String]) -> Result<(), KmsError> {
    if labels.len() > MAX_LABELS {
        return Err(KmsError::invalid(format!("at most {MAX_LABELS} labels")));
    }
    for (i, l) in labels.iter().enumerate() {
        if l.is_empty() || l.len() > 256 {
            return Err(KmsError::invalid("labels are 1 to 256 bytes"));
        }
        if labels[..i].contains(l) {
            return Err(KmsError::invalid(format!(
                "the key already has the label '{l}'"
            )));
        }
    }
    Ok(())
}

/// Limits on free-form metadata.
pub(crate) fn validate_metadata(
    description: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), KmsError> {
    if description.len() > 1024 {
        return Err(KmsError::invalid("description is longer than 1024 bytes"));
    }
    if tags.len() > 50 {
        return Err(KmsError::invalid("at most 50 tags"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 || k.contains('=') {
            return Err(KmsError::invalid(
                "tag keys are 1 to 128 bytes without '=', values at most 256 bytes",
            ));
        }
    }
    Ok(())
}
