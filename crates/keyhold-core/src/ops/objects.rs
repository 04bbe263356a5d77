//! Managed objects as KMIP clients see them: a key pair held as two linked objects, keys
//! registered in plaintext over an authenticated channel, and reading an object's material back.
//!
//! Every object still has its material wrapped under the tenant KEK and runs through the same
//! life cycle as any key; these operations only add ways in and out.

use keyhold_crypto::{Algorithm, KeyMaterial};
use serde::{Deserialize, Serialize};

use super::create_key::{new_record, KeySpec};
use super::describe::{key_info, key_info_after, KeyInfo};
use super::{Cx, Done, Response, SecretData};
use crate::error::KmsError;
use crate::ids::{KeyId, KeyRef};
use crate::lifecycle::Use;
use crate::model::{KeyOp, KeyRecord, Link, LinkKind, ObjectKind, Origin, Role, UsageMask};
use crate::policy::ApprovalAction;
use crate::store::WriteBatch;

/// Request: generate a key pair and keep its halves as two linked objects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateKeyPair {
    /// An asymmetric algorithm (`rsa-*`, `ec-*`, `ed25519`).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub algorithm: Algorithm,
    /// Attributes of the private key.
    #[serde(flatten)]
    pub spec: KeySpec,
    /// Tags of the public key (its other attributes follow the private key's; it has no name,
    /// since names are unique within a tenant).
    #[serde(default)]
    pub public_tags: std::collections::BTreeMap<String, String>,
    /// Labels of the public key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_labels: Vec<String>,
    /// Usage mask of the public key (the private key's is in `spec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_usage_mask: Option<UsageMask>,
}

/// Both halves of a new key pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyPairInfo {
    /// The private key (it also holds the public key, as every Keyhold key pair does).
    pub private_key: Box<KeyInfo>,
    /// The public key object.
    pub public_key: Box<KeyInfo>,
}

impl CreateKeyPair {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers create keys")?;
        if !self.algorithm.is_asymmetric() {
            return Err(KmsError::invalid(format!(
                "{} is not an asymmetric algorithm",
                self.algorithm
            )));
        }
        let material = cx.kms.crypto.generate(self.algorithm)?;
        let spki = material
            .public
            .clone()
            .ok_or(KmsError::Integrity("generated key pair without public key"))?;
        let mut private = new_record(
            cx,
            self.algorithm,
            self.spec,
            Origin::Generated,
            None,
            String::new(),
        )
        .await?;
        let (mut public, public_material) = public_half(&mut private, spki);
        public.tags = self.public_tags;
        public.labels = self.public_labels;
        public.usage_mask = self.public_usage_mask;
        super::create_key::validate_metadata(&public.description, &public.tags)?;
        super::create_key::validate_labels(&public.labels)?;
        let mut batch = WriteBatch::default();
        for (record, material) in [(&private, &material), (&public, &public_material)] {
            cx.insert_new(&mut batch, record, material).await?;
        }
        let response = KeyPairInfo {
            private_key: Box::new(key_info_after(cx, &private, &batch).await?),
            public_key: Box::new(key_info_after(cx, &public, &batch).await?),
        };
        Ok(Done::new(Response::KeyPair(response))
            .key(private.id, Some(1))
            .writes(batch)
            .detail(format!(
                "{} key pair, public key {}",
                private.algorithm, public.id
            )))
    }
}

/// The public half of a new key pair whose private key is `private`, with public key `spki`
/// (SubjectPublicKeyInfo): a copy of the private record as an unnamed public-key object, and
/// its material. Each half links to the other; neither rotates on a schedule (a pair is
/// replaced whole).
pub(super) fn public_half(private: &mut KeyRecord, spki: Vec<u8>) -> (KeyRecord, KeyMaterial) {
    let mut public = private.clone();
    public.id = KeyId::generate();
    public.kind = ObjectKind::PublicKey;
    public.name = None;
    public.rotation_period_secs = None;
    private.rotation_period_secs = None;
    private.links.push(Link {
        kind: LinkKind::PublicKey,
        target: public.id,
    });
    public.links.push(Link {
        kind: LinkKind::PrivateKey,
        target: private.id,
    });
    let material = KeyMaterial {
        private: keyhold_crypto::SecretBytes::from(spki.as_slice()),
        public: Some(spki),
    };
    (public, material)
}

/// Request: register a key whose material the client sends in plaintext over an authenticated,
/// encrypted channel (KMIP Register). Over REST, prefer the wrapped import
/// ([`super::ImportKey`]), which never exposes the material to the transport.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterKey {
    /// The algorithm of a key's material; `data` (or absent) for data objects.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub algorithm: Option<Algorithm>,
    /// Raw bytes (symmetric key, data objects), PKCS#8 DER (private key), SubjectPublicKeyInfo
    /// DER (public key) or X.509 DER (certificate).
    pub material: SecretData,
    /// What the object is; a key (symmetric or private) by default.
    #[serde(default)]
    pub kind: ObjectKind,
    /// Attributes.
    #[serde(flatten)]
    pub spec: KeySpec,
}

impl RegisterKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::KeyManager], "only key managers register keys")?;
        let bytes = self.material.0.as_bytes();
        let kind = self.kind;
        let algorithm = match (kind.is_data(), self.algorithm) {
            (true, None | Some(Algorithm::Data)) => Algorithm::Data,
            (true, Some(_)) => {
                return Err(KmsError::invalid(
                    "secret data, opaque objects and certificates have no algorithm",
                ))
            }
            (false, Some(Algorithm::Data) | None) => {
                return Err(KmsError::invalid("a key needs its algorithm"))
            }
            (false, Some(a)) => a,
        };
        let material = if kind == ObjectKind::PublicKey {
            cx.kms
                .crypto
                .check_public_key(algorithm, bytes)
                .map_err(|e| KmsError::invalid(format!("public key: {e}")))?;
            KeyMaterial {
                private: keyhold_crypto::SecretBytes::from(bytes),
                public: Some(bytes.to_vec()),
            }
        } else {
            cx.kms
                .crypto
                .import(algorithm, bytes)
                .map_err(|e| KmsError::invalid(format!("material: {e}")))?
        };
        if holds_secret(kind) {
            cx.dual_control(ApprovalAction::KeyImport, None, || {
                format!("register {algorithm} {} material", kind.as_str())
            })
            .await?;
        }
        let mut spec = self.spec;
        if kind != ObjectKind::Key {
            spec.rotation_period_secs = None;
        }
        let mut record =
            new_record(cx, algorithm, spec, Origin::Imported, None, String::new()).await?;
        record.kind = kind;
        let mut batch = WriteBatch::default();
        cx.insert_new(&mut batch, &record, &material).await?;
        let info = key_info_after(cx, &record, &batch).await?;
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(record.id, Some(1))
            .writes(batch)
            .detail(format!("registered {} {}", record.algorithm, kind.as_str())))
    }
}

/// Request: read an object's material (KMIP Get). Secret material needs a grant for `export`;
/// a public-key object's material is its public key and needs no more than reading it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportKey {
    /// Id, name or alias.
    #[serde(default)]
    pub key: KeyRef,
    /// The version; the current one when absent.
    #[serde(default)]
    pub key_version: Option<u32>,
    /// Return the material wrapped under another key of the tenant instead of in the clear.
    #[serde(default)]
    pub wrap: Option<WrapSpec>,
}

/// How exported material is wrapped.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WrapSpec {
    /// The wrapping key: an active AES key with usage `encrypt-decrypt` that the caller may
    /// encrypt with.
    pub key: KeyRef,
    /// The key-wrap algorithm.
    pub mode: WrapMode,
}

/// A key-wrap algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WrapMode {
    /// AES key wrap, RFC 3394 (material a multiple of 8 bytes, at least 16).
    AesKeyWrap,
    /// AES key wrap with padding, RFC 5649 (any material).
    AesKeyWrapPad,
}

/// The key that wrapped exported material.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WrappedBy {
    /// The wrapping key.
    pub key_id: KeyId,
    /// Its version used.
    pub key_version: u32,
    /// The algorithm.
    pub mode: WrapMode,
}

/// An object's material and description.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedKey {
    /// The object.
    pub key: Box<KeyInfo>,
    /// The version read.
    pub key_version: u32,
    /// Raw bytes (symmetric), PKCS#8 DER (private key) or SubjectPublicKeyInfo DER (public key).
    pub material: SecretData,
    /// SubjectPublicKeyInfo DER of an asymmetric key.
    #[serde(with = "crate::b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub public_key: Option<Vec<u8>>,
    /// Set when `material` is wrapped rather than in the clear.
    pub wrapped_by: Option<WrappedBy>,
}

impl ExportKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let key = cx.resolve(&self.key).await?;
        let public = key.kind == ObjectKind::PublicKey;
        if !(public && cx.caller.roles.contains(Role::KeyManager)) {
            cx.authorize_use(&key, KeyOp::Export, None).await?;
        }
        let use_ = if public { Use::PublicKey } else { Use::Export };
        let permit = cx.check(&key, use_, "export")?;
        let version = super::requested_version(&key, self.key_version)?;
        if holds_secret(key.kind) {
            cx.dual_control(ApprovalAction::KeyExport, Some(key.id), || {
                format!("export version {version} of key {}", key.id)
            })
            .await?;
        }
        let (material, v) = cx.material(&key, version).await?;
        let (material, wrapped_by) = match &self.wrap {
            None => (material, None),
            Some(spec) => {
                let (wrapped, by) = wrap(cx, spec, material.as_bytes()).await?;
                (wrapped, Some(by))
            }
        };
        let detail = wrapped_by
            .as_ref()
            .map(|w| format!("wrapped under {} version {}", w.key_id, w.key_version));
        let mut done = Done::new(Response::Exported(ExportedKey {
            key: Box::new(key_info(cx, &key).await?),
            key_version: version,
            material: SecretData(material),
            public_key: v.public_key,
            wrapped_by,
        }))
        .key(key.id, Some(version));
        if let Some(detail) = detail {
            done = done.detail(detail);
        }
        done.compromised = super::compromised(permit);
        Ok(done)
    }
}

/// Wraps exported material under the key `spec` names, after checking the caller may encrypt
/// with it.
async fn wrap(
    cx: &Cx<'_>,
    spec: &WrapSpec,
    material: &[u8],
) -> Result<(keyhold_crypto::SecretBytes, WrappedBy), KmsError> {
    let kek = cx.resolve(&spec.key).await?;
    cx.authorize_use_masked(&kek, KeyOp::Encrypt, None, UsageMask::allows_wrap)
        .await?;
    if kek.kind != ObjectKind::Key
        || kek.algorithm.family() != keyhold_crypto::KeyFamily::Aes
        || kek.usage != crate::model::KeyUsage::EncryptDecrypt
    {
        return Err(KmsError::WrongKeyUsage(
            "the wrapping key must be an AES key for encryption",
        ));
    }
    cx.check(&kek, Use::Protect, "wrap a key")?;
    let (kek_material, _) = cx.material(&kek, kek.current_version).await?;
    let crypto = &cx.kms.crypto;
    let wrapped = match spec.mode {
        WrapMode::AesKeyWrap => crypto.aes_kw_wrap(kek_material.as_bytes(), material),
        WrapMode::AesKeyWrapPad => crypto.aes_kwp_wrap(kek_material.as_bytes(), material),
    }
    .map_err(|e| KmsError::invalid(format!("key wrap: {e}")))?;
    Ok((
        keyhold_crypto::SecretBytes::from(wrapped.as_slice()),
        WrappedBy {
            key_id: kek.id,
            key_version: kek.current_version,
            mode: spec.mode,
        },
    ))
}

/// Whether an object's material is secret (keys, secret data, opaque objects), as opposed to
/// public keys and certificates: only secret material is under dual control.
fn holds_secret(kind: ObjectKind) -> bool {
    !matches!(kind, ObjectKind::PublicKey | ObjectKind::Certificate)
}
