//! Derive a new symmetric key, or secret data, from an object of the tenant (KMIP Derive Key):
//! PBKDF2 from a password held as secret data, HKDF or the SP 800-108 counter-mode KDF from a
//! key.
//!
//! The derived key is a new managed object (origin `derived`) with its own life cycle, wrapped
//! under the tenant KEK like any other; it is linked to the object it came from. Deriving both
//! uses the base object (a `derive` grant on it, and it must be active with usage `derive`) and
//! creates a key (the key-manager role), so only a principal trusted with both duties derives.

use keyhold_crypto::{Algorithm, KdfHash, KeyFamily, KeyMaterial};
use serde::{Deserialize, Serialize};

use super::create_key::{new_record, KeySpec};
use super::describe::key_info_after;
use super::{Cx, Done, Response};
use crate::b64;
use crate::error::KmsError;
use crate::ids::KeyRef;
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyUsage, Link, LinkKind, ObjectKind, Origin, Role};
use crate::store::WriteBatch;

/// Longest salt, info or fixed input accepted.
const MAX_INPUT: usize = 4096;

/// How a key is derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Derivation {
    /// PBKDF2 with HMAC-`hash` (RFC 8018): the base object's bytes are the password.
    Pbkdf2 {
        /// The PRF's hash.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        hash: KdfHash,
        /// The salt (base64, not empty).
        #[serde(with = "b64")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        salt: Vec<u8>,
        /// Iterations, 1..=1,000,000.
        iterations: u32,
    },
    /// HKDF with `hash` (RFC 5869): the base key is the input keying material.
    Hkdf {
        /// The hash.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        hash: KdfHash,
        /// The salt (base64; empty for the RFC's all-zero salt).
        #[serde(default, with = "b64")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        salt: Vec<u8>,
        /// The context and application information (base64).
        #[serde(default, with = "b64")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        info: Vec<u8>,
    },
    /// SP 800-108 counter mode with an HMAC-`hash` PRF and a 32-bit counter before the fixed
    /// input, which is `context ‖ [L]_32` (L = the derived length in bits), or `context` alone
    /// when `fixed_input` says it is the whole fixed input.
    #[serde(rename = "sp800-108-counter", alias = "sp800108-counter")]
    Sp800108Counter {
        /// The PRF's hash.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        hash: KdfHash,
        /// Label and context (base64).
        #[serde(default, with = "b64")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        context: Vec<u8>,
        /// `context` is the whole fixed input, already holding whatever encodes the length:
        /// nothing is appended. KMIP's Derivation Data is (as PyKMIP and the NIST CAVP vectors
        /// use it); by default, `[L]_32` is appended.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fixed_input: bool,
    },
}

impl Derivation {
    fn name(&self) -> &'static str {
        match self {
            Self::Pbkdf2 { .. } => "pbkdf2",
            Self::Hkdf { .. } => "hkdf",
            Self::Sp800108Counter { .. } => "sp800-108-counter",
        }
    }
}

/// Request: derive a new key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeriveKey {
    /// The object derived from: a key or secret data with usage `derive` (over REST, the path's).
    #[serde(default)]
    pub base: KeyRef,
    /// The function and its parameters.
    pub derivation: Derivation,
    /// The new key's algorithm: `aes-*` or `hmac-*` (the derived length follows from it), or
    /// `data` for secret data.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: Algorithm,
    /// What is derived: a key (the default), or `secret-data` (algorithm `data`, `length`
    /// bytes).
    #[serde(default, skip_serializing_if = "ObjectKind::is_key")]
    pub kind: ObjectKind,
    /// The length in bytes of derived secret data (1 to 1024); a key's follows from its
    /// algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// Attributes of the new key.
    #[serde(flatten)]
    pub spec: KeySpec,
}

/// Longest secret data derived.
const MAX_DERIVED_DATA: u32 = 1024;

impl DeriveKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers create keys")?;
        let out_len = match (self.kind, self.algorithm.family(), self.length) {
            (ObjectKind::Key, KeyFamily::Aes | KeyFamily::Hmac, None) => {
                self.algorithm.key_len().ok_or_else(|| {
                    KmsError::invalid(format!("{} has no fixed key length", self.algorithm))
                })?
            }
            (ObjectKind::Key, KeyFamily::Aes | KeyFamily::Hmac, Some(_)) => {
                return Err(KmsError::invalid(
                    "a derived key's length follows from its algorithm",
                ))
            }
            (ObjectKind::SecretData, KeyFamily::Data, Some(n))
                if (1..=MAX_DERIVED_DATA).contains(&n) =>
            {
                n as usize
            }
            (ObjectKind::SecretData, KeyFamily::Data, _) => {
                return Err(KmsError::invalid(format!(
                    "derived secret data needs a length of 1 to {MAX_DERIVED_DATA} bytes"
                )))
            }
            (ObjectKind::SecretData, _, _) => {
                return Err(KmsError::invalid(
                    "secret data has no algorithm: derive it with algorithm data",
                ))
            }
            _ => {
                return Err(KmsError::invalid(
                    "only AES and HMAC keys, and secret data, can be derived",
                ))
            }
        };
        let base = cx.resolve(&self.base).await?;
        cx.authorize_use(&base, KeyOp::Derive, None).await?;
        if base.usage != KeyUsage::Derive {
            return Err(KmsError::WrongKeyUsage(
                "the base object's usage is not derive",
            ));
        }
        cx.check(&base, Use::Protect, "derive")?;
        let (secret, _) = cx.material(&base, base.current_version).await?;
        let crypto = &cx.kms.crypto;
        let derived = match &self.derivation {
            Derivation::Pbkdf2 {
                hash,
                salt,
                iterations,
            } => {
                check_input("salt", salt)?;
                crypto.pbkdf2(*hash, secret.as_bytes(), salt, *iterations, out_len)
            }
            Derivation::Hkdf { hash, salt, info } => {
                check_input("salt", salt)?;
                check_input("info", info)?;
                crypto.hkdf(*hash, secret.as_bytes(), salt, info, out_len)
            }
            Derivation::Sp800108Counter {
                hash,
                context,
                fixed_input,
            } => {
                check_input("context", context)?;
                let bits = u32::try_from(out_len * 8)
                    .map_err(|_| KmsError::invalid("derived length too long"))?;
                let mut fixed = context.clone();
                if !fixed_input {
                    fixed.extend_from_slice(&bits.to_be_bytes());
                }
                crypto.kbkdf_counter(*hash, secret.as_bytes(), &fixed, out_len)
            }
        }
        .map_err(|e| KmsError::invalid(format!("derivation: {e}")))?;
        let material = crypto.import(self.algorithm, derived.as_bytes())?;
        drop(derived);
        let mut record = new_record(
            cx,
            self.algorithm,
            self.spec,
            Origin::Derived,
            None,
            String::new(),
        )
        .await?;
        record.rotation_period_secs = None;
        record.kind = self.kind;
        record.links = vec![Link {
            kind: LinkKind::DerivedFrom,
            target: base.id,
        }];
        let mut batch = WriteBatch::default();
        let material = KeyMaterial {
            private: material.private,
            public: None,
        };
        cx.insert_new(&mut batch, &record, &material).await?;
        let info = key_info_after(cx, &record, &batch).await?;
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(record.id, Some(1))
            .writes(batch)
            .detail(format!(
                "{} derived by {} from {} version {}",
                match record.kind {
                    ObjectKind::SecretData => format!("secret data ({out_len} bytes)"),
                    _ => record.algorithm.to_string(),
                },
                self.derivation.name(),
                base.id,
                base.current_version
            )))
    }
}

fn check_input(what: &str, bytes: &[u8]) -> Result<(), KmsError> {
    if bytes.len() > MAX_INPUT {
        return Err(KmsError::invalid(format!(
            "derivation {what} is longer than {MAX_INPUT} bytes"
        )));
    }
    Ok(())
}
