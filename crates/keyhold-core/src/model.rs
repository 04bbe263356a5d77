//! The persisted records. Every record carries a format version (`v`) so that a later release
//! can decode it through a chain of migrations (see [`crate::store::decode_record`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use keyhold_crypto::Algorithm;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{
    AliasName, GrantId, KeyId, KeyName, PrincipalName, TenantId, TokenId, TrustAnchorId,
};
use crate::lifecycle::Lifecycle;

/// The tag that held a KMIP client's name before labels existed (see
/// [`KeyRecord::upgrade_legacy_labels`]).
const LEGACY_NAME_TAG: &str = "kmip:name";

/// The current format version of every record written by this release.
pub const RECORD_VERSION: u32 = 1;

/// What a key may be used for; fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyUsage {
    /// Encrypt, decrypt, data keys, re-encrypt.
    EncryptDecrypt,
    /// Sign and verify.
    SignVerify,
    /// Generate and verify MACs.
    Mac,
    /// No cryptographic use: the object (secret data, opaque data, a certificate) is stored and
    /// returned.
    Storage,
    /// Deriving other keys (PBKDF2, HKDF, SP 800-108) and nothing else.
    Derive,
}

impl KeyUsage {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "encrypt-decrypt",
            Self::SignVerify => "sign-verify",
            Self::Mac => "mac",
            Self::Storage => "storage",
            Self::Derive => "derive",
        }
    }

    /// The usage a key of `alg` gets when the request names none.
    pub fn default_for(alg: Algorithm) -> Self {
        use keyhold_crypto::KeyFamily::*;
        match alg.family() {
            Aes => Self::EncryptDecrypt,
            Hmac => Self::Mac,
            Rsa | Ec | Ed25519 => Self::SignVerify,
            Data => Self::Storage,
        }
    }

    /// Whether a key of `alg` can have this usage.
    pub fn fits(self, alg: Algorithm) -> bool {
        use keyhold_crypto::KeyFamily::*;
        matches!(
            (alg.family(), self),
            (Aes, Self::EncryptDecrypt)
                | (Hmac, Self::Mac)
                | (Rsa, Self::EncryptDecrypt | Self::SignVerify)
                | (Ec | Ed25519, Self::SignVerify)
                | (Data, Self::Storage)
                | (Aes | Hmac | Data, Self::Derive)
        )
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a key's material came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Origin {
    /// Generated inside Keyhold's cryptographic module.
    Generated,
    /// Imported by a client (bring your own key).
    Imported,
    /// Derived from another object of the tenant (PBKDF2, HKDF, SP 800-108).
    Derived,
}

/// What kind of managed object a record is. Every kind is stored wrapped and runs through the
/// same life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ObjectKind {
    /// A key: symmetric (AES, HMAC) or the private half of a key pair with its public key.
    #[default]
    Key,
    /// The public half of a key pair held as its own object (KMIP Create Key Pair); its
    /// material is the SubjectPublicKeyInfo DER, and it can only verify (and, for RSA, encrypt).
    PublicKey,
    /// Secret data (a password, a seed); algorithm `data`.
    SecretData,
    /// Opaque data; algorithm `data`.
    OpaqueObject,
    /// An X.509 certificate (DER); algorithm `data`.
    Certificate,
    /// One part of a key split M-of-N by a client (KMIP Split Key); algorithm `data`: a part is
    /// stored and returned, never used as a key.
    SplitKey,
    /// A symmetric key of an algorithm Keyhold does not implement (KMIP 3DES), registered by a
    /// client; algorithm `data`: stored and returned exactly, never used as a key.
    StoredKey,
}

impl ObjectKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::PublicKey => "public-key",
            Self::SecretData => "secret-data",
            Self::OpaqueObject => "opaque-object",
            Self::Certificate => "certificate",
            Self::SplitKey => "split-key",
            Self::StoredKey => "stored-key",
        }
    }

    /// Whether the object is data rather than a key (its algorithm is `data`).
    pub fn is_data(self) -> bool {
        matches!(
            self,
            Self::SecretData
                | Self::OpaqueObject
                | Self::Certificate
                | Self::SplitKey
                | Self::StoredKey
        )
    }

    /// Whether records of this kind keep the default.
    pub fn is_key(&self) -> bool {
        *self == Self::Key
    }
}

/// How two objects relate (KMIP Link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LinkKind {
    /// The public key of this private key.
    PublicKey,
    /// The private key of this public key.
    PrivateKey,
    /// The object this key was derived from.
    DerivedFrom,
    /// The object that replaced this one (KMIP Replacement Object Link, set by Re-key).
    ReplacementObject,
    /// The object this one replaced (KMIP Replaced Object Link, set by Re-key).
    ReplacedObject,
}

/// A restriction of what a key may do, within its [`KeyUsage`]: a bit mask with the bit values
/// of the KMIP Cryptographic Usage Mask (sign 0x1, verify 0x2, encrypt 0x4, decrypt 0x8, wrap
/// key 0x10, unwrap key 0x20, export 0x40, MAC generate 0x80, MAC verify 0x100, derive key
/// 0x200, and the others KMIP defines). Kept exactly as given; fixed at creation and bound into
/// the key's identity like its usage. A key without one may do whatever its usage allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UsageMask(pub u32);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for UsageMask {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        u32::schema()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for UsageMask {}

impl UsageMask {
    /// Sign.
    pub const SIGN: u32 = 0x1;
    /// Verify.
    pub const VERIFY: u32 = 0x2;
    /// Encrypt.
    pub const ENCRYPT: u32 = 0x4;
    /// Decrypt.
    pub const DECRYPT: u32 = 0x8;
    /// Wrap Key.
    pub const WRAP_KEY: u32 = 0x10;
    /// Unwrap Key.
    pub const UNWRAP_KEY: u32 = 0x20;
    /// Export.
    pub const EXPORT: u32 = 0x40;
    /// MAC Generate.
    pub const MAC_GENERATE: u32 = 0x80;
    /// MAC Verify.
    pub const MAC_VERIFY: u32 = 0x100;
    /// Derive Key.
    pub const DERIVE_KEY: u32 = 0x200;

    /// Whether the mask has every bit of `bits`.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// Whether the mask allows `op`: encrypting and data keys need Encrypt, decrypting
    /// Decrypt, re-encrypting both, signing Sign, verifying Verify, MACs MAC Generate and MAC
    /// Verify, deriving Derive Key. Reading the material (export) and the public key are not
    /// restricted by the mask (KMIP clients read keys whose mask has no Export bit).
    pub fn allows(self, op: KeyOp) -> bool {
        let needed = match op {
            KeyOp::Encrypt | KeyOp::GenerateDataKey => Self::ENCRYPT,
            KeyOp::Decrypt => Self::DECRYPT,
            KeyOp::ReEncrypt => Self::ENCRYPT | Self::DECRYPT,
            KeyOp::Sign => Self::SIGN,
            KeyOp::Verify => Self::VERIFY,
            KeyOp::Mac => Self::MAC_GENERATE,
            KeyOp::MacVerify => Self::MAC_VERIFY,
            KeyOp::Derive => Self::DERIVE_KEY,
            KeyOp::GetPublicKey | KeyOp::Export => 0,
        };
        self.has(needed)
    }

    /// Whether the mask allows wrapping other keys' material (Wrap Key, or Encrypt).
    pub fn allows_wrap(self) -> bool {
        self.0 & (Self::WRAP_KEY | Self::ENCRYPT) != 0
    }
}

/// A link to another object of the same tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    /// The relation.
    pub kind: LinkKind,
    /// The other object.
    pub target: KeyId,
}

/// A key: its metadata and life cycle. The material lives in its [`KeyVersion`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Record format version.
    pub v: u32,
    /// Immutable.
    pub id: KeyId,
    /// Immutable.
    pub tenant: TenantId,
    /// Unique within the tenant; mutable.
    pub name: Option<KeyName>,
    /// Mutable.
    pub description: String,
    /// Mutable.
    pub tags: BTreeMap<String, String>,
    /// Immutable.
    pub algorithm: Algorithm,
    /// Immutable.
    pub usage: KeyUsage,
    /// Immutable.
    pub origin: Origin,
    /// Immutable; absent in records written before managed objects other than keys existed.
    #[serde(default, skip_serializing_if = "ObjectKind::is_key")]
    pub kind: ObjectKind,
    /// Links to related objects: a key pair's halves and the derivation base, set at creation;
    /// the replacement, which Re-key adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Further names the object is known by (KMIP Name instances), in order; mutable. Unlike
    /// `name` they need not be unique within the tenant and do not address the key; listing
    /// can filter by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Restricts what the key may do within its usage (KMIP Cryptographic Usage Mask);
    /// immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_mask: Option<UsageMask>,
    /// Immutable.
    pub created_at: Timestamp,
    /// Immutable.
    pub created_by: PrincipalName,
    /// Owned by [`crate::lifecycle::apply`].
    pub lifecycle: Lifecycle,
    /// Automatic rotation period in seconds; mutable.
    pub rotation_period_secs: Option<u64>,
    /// The version used to protect new data.
    pub current_version: u32,
    /// Ciphertexts of older versions are refused.
    pub min_decrypt_version: u32,
    /// When the current version was made.
    pub rotated_at: Timestamp,
    /// Client token that makes creation idempotent, with the digest of the creation request.
    pub idempotency: Option<Idempotency>,
    /// Compare-and-swap revision, incremented by every update.
    pub revision: u64,
}

/// An idempotency token and what it was used for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    /// The client's token.
    pub token: String,
    /// Hex SHA-256 of the canonical creation parameters.
    pub request_digest: String,
}

impl KeyRecord {
    /// The instant at which the sweeper must look at this key again.
    pub fn next_due(&self) -> Option<Timestamp> {
        let rotation = match (self.rotation_period_secs, self.lifecycle.state) {
            (Some(p), crate::lifecycle::KeyState::Active)
                if self.origin == Origin::Generated && self.lifecycle.destroy_at.is_none() =>
            {
                Some(self.rotated_at.plus_secs(p))
            }
            _ => None,
        };
        match (self.lifecycle.next_due(), rotation) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Upgrades a record written before labels existed, which kept a KMIP client's name as
    /// the tag `kmip:name`: the name becomes the key's label (a backup restored from then).
    /// The SQLite migration 6 does the same to stored keys.
    pub fn upgrade_legacy_labels(&mut self) {
        if let Some(name) = self.tags.remove(LEGACY_NAME_TAG) {
            if !name.is_empty() && !self.labels.contains(&name) {
                self.labels.push(name);
            }
        }
    }

    /// The object linked to this one by `kind`.
    pub fn link(&self, kind: LinkKind) -> Option<KeyId> {
        self.links.iter().find(|l| l.kind == kind).map(|l| l.target)
    }

    /// The AAD binding a wrapped version of this key to its identity: `keyhold/key-version/v1 ‖
    /// key id ‖ version ‖ algorithm ‖ SHA-256(immutable attributes)`.
    pub fn version_aad(&self, version: u32) -> Vec<u8> {
        let mut aad = b"keyhold/key-version/v1".to_vec();
        aad.extend_from_slice(self.id.as_bytes());
        aad.extend_from_slice(&version.to_be_bytes());
        aad.extend_from_slice(self.algorithm.as_str().as_bytes());
        aad.extend_from_slice(
            &keyhold_crypto::Provider::aws_lc().sha256(&self.immutable_digest_input()),
        );
        aad
    }

    /// Canonical bytes of the attributes that never change, bound into every version's AAD so
    /// that metadata cannot be swapped between keys without detection. Keys keep the v1 form;
    /// other kinds add their kind, so a public-key record can never pass for a key, and a key
    /// with a usage mask adds it, so that the mask cannot be widened behind the core's back.
    pub fn immutable_digest_input(&self) -> Vec<u8> {
        let mut out = self.immutable_digest_v1();
        if !self.kind.is_key() {
            out.extend_from_slice(format!("\nkind={}", self.kind.as_str()).as_bytes());
        }
        if let Some(mask) = self.usage_mask {
            out.extend_from_slice(format!("\nusage-mask={}", mask.0).as_bytes());
        }
        out
    }

    fn immutable_digest_v1(&self) -> Vec<u8> {
        format!(
            "keyhold-immutable-v1\n{}\n{}\n{}\n{}\n{:?}\n{}",
            self.id,
            self.tenant,
            self.algorithm.as_str(),
            self.usage.as_str(),
            self.origin,
            self.created_at.millis()
        )
        .into_bytes()
    }
}

/// One version of a key's material, wrapped under its tenant's key-encryption key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyVersion {
    /// Record format version.
    pub v: u32,
    /// The key.
    pub key_id: KeyId,
    /// 1, 2, … in creation order.
    pub version: u32,
    /// When this version was made.
    pub created_at: Timestamp,
    /// AES-256-GCM of the material under the tenant KEK; empty once destroyed.
    #[serde(with = "crate::b64")]
    pub wrapped: Vec<u8>,
    /// The GCM nonce of `wrapped`.
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    /// SubjectPublicKeyInfo DER of an asymmetric key's public half (not secret).
    #[serde(with = "crate::b64::option")]
    pub public_key: Option<Vec<u8>>,
    /// Set when the material was destroyed.
    pub destroyed: bool,
}

/// Roles of DESIGN.md §6, separated by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Tenants, identities, policies; never key material or cryptographic use.
    Admin,
    /// Creates keys and manages their life cycle, metadata and grants; no cryptographic use.
    KeyManager,
    /// Cryptographic operations on keys it has been granted.
    KeyUser,
    /// Reads and verifies the audit trail.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Self::Admin, Self::KeyManager, Self::KeyUser, Self::Auditor];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::KeyManager => "key-manager",
            Self::KeyUser => "key-user",
            Self::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, KmsError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                KmsError::invalid(format!(
                    "unknown role '{s}': use admin, key-manager, key-user or auditor"
                ))
            })
    }
}

/// A set of [`Role`]s. Most principals hold one; a principal that both manages and uses keys
/// (a KMIP client that creates the keys it then uses) holds key-manager and key-user, which an
/// administrator must allow explicitly when registering it (separation of duties).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// No role.
    pub const NONE: Roles = Roles(0);

    fn bit(r: Role) -> u8 {
        1 << (r as u8)
    }

    /// Exactly `r`.
    pub fn one(r: Role) -> Self {
        Roles(Self::bit(r))
    }

    /// These roles.
    pub fn of(roles: &[Role]) -> Self {
        roles.iter().fold(Roles::NONE, |acc, r| acc.with(*r))
    }

    /// This set plus `r`.
    #[must_use]
    pub fn with(self, r: Role) -> Self {
        Roles(self.0 | Self::bit(r))
    }

    /// Whether `r` is in the set.
    pub fn contains(self, r: Role) -> bool {
        self.0 & Self::bit(r) != 0
    }

    /// Whether the set shares a role with `roles`.
    pub fn any_of(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.contains(*r))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// Key management and key use together: separation of duties is waived for this principal.
    pub fn combines_duties(self) -> bool {
        self.contains(Role::KeyManager) && self.contains(Role::KeyUser)
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Role::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Role>::deserialize(d)?;
        Ok(Roles::of(&list))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Roles {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        Vec::<Role>::schema()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Roles {}

/// A client certificate that authenticates a principal (mutual TLS on the KMIP listener). The
/// certificate is pinned by the SHA-256 of its DER encoding; its subject's common name is the
/// default principal name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientCertRecord {
    /// Record format version.
    pub v: u32,
    /// Hex SHA-256 of the certificate's DER: the lookup key.
    pub fingerprint: String,
    /// The tenant of the principal.
    pub tenant: TenantId,
    /// Who the certificate authenticates.
    pub principal: PrincipalName,
    /// What the principal may do.
    pub roles: Roles,
    /// The certificate's subject, for display.
    pub subject: String,
    /// The certificate's notAfter: it no longer authenticates afterwards.
    pub not_after: Option<Timestamp>,
    /// Free text.
    pub description: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// By whom.
    pub created_by: PrincipalName,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Compare-and-swap revision.
    pub revision: u64,
}

/// A CA certificate trusted to issue client certificates for one tenant: a certificate that
/// chains to it (and is within its validity period) authenticates the principal named by its
/// subject's common name, with the anchor's roles, in the anchor's tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrustAnchorRecord {
    /// Record format version.
    pub v: u32,
    /// The anchor.
    pub id: TrustAnchorId,
    /// The tenant whose principals the CA's certificates authenticate.
    pub tenant: TenantId,
    /// The roles of every principal it authenticates.
    pub roles: Roles,
    /// The CA certificate, DER (base64 in JSON).
    #[serde(with = "crate::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub certificate: Vec<u8>,
    /// Hex SHA-256 of the certificate's DER.
    pub fingerprint: String,
    /// Hex SHA-256 of the subject name and public key: what path building matches. At most one
    /// trust anchor that is not removed has a given identity, in all tenants, so a certificate
    /// never authenticates in two tenants.
    pub identity: String,
    /// The CA's subject, for display.
    pub subject: String,
    /// The CA certificate's notAfter: it vouches for nothing afterwards.
    pub not_after: Timestamp,
    /// Free text.
    pub description: String,
    /// When it was added.
    pub created_at: Timestamp,
    /// By whom.
    pub created_by: PrincipalName,
    /// When it was removed; removed anchors are kept for the record and trust nothing.
    pub removed_at: Option<Timestamp>,
    /// Compare-and-swap revision.
    pub revision: u64,
}

/// A tenant and its key-encryption key, wrapped under the root key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Record format version.
    pub v: u32,
    /// The tenant.
    pub id: TenantId,
    /// When it was created.
    pub created_at: Timestamp,
    /// AES-256-GCM of the tenant KEK under the root key.
    #[serde(with = "crate::b64")]
    pub wrapped_kek: Vec<u8>,
    /// Its nonce.
    #[serde(with = "crate::b64")]
    pub kek_nonce: Vec<u8>,
    /// Disabled tenants cannot authenticate.
    pub disabled: bool,
    /// Compare-and-swap revision.
    pub revision: u64,
}

/// An API token. Only the SHA-256 of the secret is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Record format version.
    pub v: u32,
    /// Public identifier, for listing and revoking.
    pub id: TokenId,
    /// The tenant the principal belongs to.
    pub tenant: TenantId,
    /// Who the token authenticates.
    pub principal: PrincipalName,
    /// What the principal may do.
    pub role: Role,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Free text.
    pub description: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// Who issued it.
    pub created_by: PrincipalName,
    /// After this instant the token no longer authenticates.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Compare-and-swap revision.
    pub revision: u64,
}

/// Operations a grant can allow a key-user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyOp {
    /// Encrypt.
    Encrypt,
    /// Decrypt.
    Decrypt,
    /// Generate data keys.
    GenerateDataKey,
    /// Re-encrypt ciphertext under this key (as source needs decrypt, as destination encrypt).
    ReEncrypt,
    /// Sign.
    Sign,
    /// Verify.
    Verify,
    /// Generate a MAC.
    Mac,
    /// Verify a MAC.
    MacVerify,
    /// Read the public key and describe the key.
    GetPublicKey,
    /// Read the key material itself (KMIP Get of a secret object).
    Export,
    /// Derive new keys from this one.
    Derive,
}

impl KeyOp {
    /// Every operation.
    pub const ALL: [KeyOp; 11] = [
        Self::Encrypt,
        Self::Decrypt,
        Self::GenerateDataKey,
        Self::ReEncrypt,
        Self::Sign,
        Self::Verify,
        Self::Mac,
        Self::MacVerify,
        Self::GetPublicKey,
        Self::Export,
        Self::Derive,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::GenerateDataKey => "generate-data-key",
            Self::ReEncrypt => "re-encrypt",
            Self::Sign => "sign",
            Self::Verify => "verify",
            Self::Mac => "mac",
            Self::MacVerify => "mac-verify",
            Self::GetPublicKey => "get-public-key",
            Self::Export => "export",
            Self::Derive => "derive",
        }
    }
}

impl std::str::FromStr for KeyOp {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, KmsError> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or_else(|| KmsError::invalid(format!("unknown key operation '{s}'")))
    }
}

/// Who a grant (a statement of a key's policy) is for. In JSON a principal is a plain string
/// and a role is `{"role": "key-user"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Grantee {
    /// One principal of the key's tenant.
    Principal(PrincipalName),
    /// Every principal of the key's tenant that holds this role.
    Role {
        /// The role.
        role: Role,
    },
}

impl Grantee {
    /// Whether a caller with this name and these roles is the grantee.
    pub fn covers(&self, principal: &PrincipalName, roles: Roles) -> bool {
        match self {
            Self::Principal(p) => p == principal,
            Self::Role { role } => roles.contains(*role),
        }
    }

    /// The principal, for a grant to one principal.
    pub fn principal(&self) -> Option<&PrincipalName> {
        match self {
            Self::Principal(p) => Some(p),
            Self::Role { .. } => None,
        }
    }

    /// The indexed column value: the principal's name, or `#role:<role>` (no principal name
    /// can contain `#`, so the two never collide).
    pub fn column(&self) -> String {
        match self {
            Self::Principal(p) => p.as_str().to_owned(),
            Self::Role { role } => format!("#role:{role}"),
        }
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Principal(p) => write!(f, "{p}"),
            Self::Role { role } => write!(f, "role {role}"),
        }
    }
}

impl From<PrincipalName> for Grantee {
    fn from(p: PrincipalName) -> Self {
        Self::Principal(p)
    }
}

/// Conditions under which a grant allows its operations; every one given must hold. An empty
/// set allows unconditionally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conditions {
    /// Encryption-context entries the request must carry, with these exact values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
    /// The grant allows nothing before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// The grant allows nothing from this instant on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
    /// The grant allows this many uses in all, counted in the store with each use's audit
    /// event (exact across concurrent requests); then it allows nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u64>,
}

impl Conditions {
    /// Whether there is no condition.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Checks the request-independent shape of the conditions.
    pub fn validate(&self) -> Result<(), KmsError> {
        if self.context.len() > 16
            || self
                .context
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > 256 || v.len() > 1024)
        {
            return Err(KmsError::invalid(
                "a grant requires at most 16 context entries, keys of 1 to 256 bytes, values up to 1024 bytes",
            ));
        }
        if let (Some(a), Some(b)) = (self.not_before, self.not_after) {
            if a >= b {
                return Err(KmsError::invalid(
                    "not_before must be earlier than not_after",
                ));
            }
        }
        if self.max_uses == Some(0) {
            return Err(KmsError::invalid("max_uses must be at least 1"));
        }
        Ok(())
    }

    /// Why the conditions refuse a request at `now` carrying `context` (the use count is
    /// checked separately, against the store).
    pub fn refusal(
        &self,
        now: Timestamp,
        context: Option<&BTreeMap<String, String>>,
    ) -> Option<&'static str> {
        if self.not_before.is_some_and(|t| now < t) || self.not_after.is_some_and(|t| now >= t) {
            return Some("the grant is not valid at this time (outside its validity window)");
        }
        let missing = self
            .context
            .iter()
            .any(|(k, v)| context.and_then(|c| c.get(k)) != Some(v));
        if missing {
            return Some(
                "the grant requires encryption-context entries the request does not carry",
            );
        }
        None
    }
}

/// A statement of a key's policy: allows a principal, or every holder of a role of the key's
/// tenant, some operations with the key, under optional conditions. Deny by default: a use no
/// grant allows is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    /// Record format version.
    pub v: u32,
    /// The grant.
    pub id: GrantId,
    /// The tenant of key and grantee.
    pub tenant: TenantId,
    /// The key.
    pub key_id: KeyId,
    /// Who may use it.
    pub grantee: Grantee,
    /// What they may do.
    pub operations: BTreeSet<KeyOp>,
    /// When it allows them.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
    /// When it was made.
    pub created_at: Timestamp,
    /// By whom.
    pub created_by: PrincipalName,
}

/// `alias/name` → key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alias {
    /// Record format version.
    pub v: u32,
    /// The tenant.
    pub tenant: TenantId,
    /// The alias.
    pub name: AliasName,
    /// Its target.
    pub key_id: KeyId,
    /// When it was made or last retargeted.
    pub updated_at: Timestamp,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A pre-active AES-256 key of the default tenant, made at instant 0.
    pub(crate) fn record() -> KeyRecord {
        let now = crate::clock::Timestamp::from_millis(0);
        KeyRecord {
            v: RECORD_VERSION,
            id: KeyId::generate(),
            tenant: TenantId::default_tenant(),
            name: None,
            description: String::new(),
            tags: BTreeMap::new(),
            algorithm: Algorithm::Aes256,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::Generated,
            kind: ObjectKind::Key,
            links: Vec::new(),
            labels: Vec::new(),
            usage_mask: None,
            created_at: now,
            created_by: PrincipalName::system(),
            lifecycle: Lifecycle::new(now, None, None, None),
            rotation_period_secs: None,
            current_version: 1,
            min_decrypt_version: 1,
            rotated_at: now,
            idempotency: None,
            revision: 1,
        }
    }

    #[test]
    fn a_usage_mask_is_bound_into_the_key_identity_and_a_missing_one_changes_nothing() {
        let plain = record();
        let v1 = plain.immutable_digest_input();
        assert!(!String::from_utf8_lossy(&v1).contains("usage-mask"));
        let mut masked = plain.clone();
        masked.usage_mask = Some(UsageMask(UsageMask::ENCRYPT));
        let mut wider = plain.clone();
        wider.usage_mask = Some(UsageMask(UsageMask::ENCRYPT | UsageMask::DECRYPT));
        assert_ne!(masked.version_aad(1), plain.version_aad(1));
        assert_ne!(masked.version_aad(1), wider.version_aad(1));
        // Labels are metadata, not identity.
        let mut labelled = plain.clone();
        labelled.labels = vec!["x".into()];
        assert_eq!(labelled.version_aad(1), plain.version_aad(1));
    }

    #[test]
    fn the_mask_allows_what_its_bits_say() {
        let m = UsageMask(UsageMask::ENCRYPT | UsageMask::MAC_VERIFY);
        assert!(m.allows(KeyOp::Encrypt) && m.allows(KeyOp::GenerateDataKey));
        assert!(!m.allows(KeyOp::Decrypt) && !m.allows(KeyOp::ReEncrypt));
        assert!(m.allows(KeyOp::MacVerify) && !m.allows(KeyOp::Mac));
        assert!(m.allows(KeyOp::Export) && m.allows(KeyOp::GetPublicKey));
        assert!(m.allows_wrap() && UsageMask(UsageMask::WRAP_KEY).allows_wrap());
        assert!(!UsageMask(UsageMask::DECRYPT).allows_wrap());
    }

    #[test]
    fn a_legacy_kmip_name_tag_becomes_a_label() {
        let mut r = record();
        r.tags.insert("kmip:name".into(), "old".into());
        r.tags.insert("env".into(), "prod".into());
        r.upgrade_legacy_labels();
        assert_eq!(r.labels, vec!["old".to_owned()]);
        assert_eq!(r.tags.len(), 1);
        let mut empty = record();
        empty.tags.insert("kmip:name".into(), String::new());
        empty.upgrade_legacy_labels();
        assert!(empty.labels.is_empty() && empty.tags.is_empty());
    }
}
