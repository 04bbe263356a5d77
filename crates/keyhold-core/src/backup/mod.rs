//! Backup, restore and Recover Key.
//!
//! ```text
//!  create:   snapshot (one read transaction) ─► key backup  (records in pages, streamed out)
//!            tenant KEKs + archive keys      ─► KEK backup  (re-wrapped under a fresh backup key)
//!            backup key ─► M-of-N shares (to the operator, once) | RSA-OAEP to a recipient
//!  verify:   headers and pairing without a secret; with it every chunk, every record, every
//!            version's material against its KEK, counts and the key backup's digest
//!  restore:  empty server: verify all ─► take the restore marker ─► every record inserted as
//!            it was (ids, revisions, dates) ─► tenants get the backed-up KEKs (re-wrapped under
//!            this server's root key), marker removed; one restore at a time, and an interrupted
//!            one is resumed by running it again (rules in [`restore::restore_as`])
//!  recover:  one key into a running server (rules in [`restore::recover_key`])
//! ```
//!
//! Pairing: both artifacts carry the same backup id; the key backup's header names the digest
//! of the KEK backup's header, and the KEK backup's authenticated trailer names the digest and
//! length of the whole key backup. Every key is in the key backup with its material still
//! wrapped under its tenant KEK, so the key backup alone reveals no key; the KEK backup holds
//! only KEKs, so it alone reveals no key either.
//!
//! Principals: API tokens (hashes only) and client certificates (public, pinned by fingerprint)
//! are in the key backup and restored, so applications and KMIP clients keep working after a
//! disaster recovery; the target server's own tokens and certificates are kept. The audit trail
//! is not copied: the key backup records the chain head at the snapshot, and the restore's audit
//! event on the target names it.

pub mod create;
pub mod format;
pub mod restore;
pub mod verify;
pub mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::archive::ArchivedVersion;
use crate::clock::Timestamp;
use crate::ids::TenantId;
use crate::model::{
    Alias, ClientCertRecord, Grant, KeyRecord, KeyVersion, TenantRecord, TokenRecord,
    TrustAnchorRecord,
};
use crate::policy::{ApprovalRecord, GrantUses, PolicyVersion};

pub use format::{ArtifactHeader, ArtifactKind, BackupError, BackupKey, BackupSecret, Protection};

/// Records of a key backup, in this order: tenants; each key followed by its versions and
/// archived versions; aliases; grants; tokens; client certificates; trust anchors; policy
/// versions, grant use counters and approvals; the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum KeyEntry {
    /// A tenant, without its wrapped KEK (that is in the KEK backup).
    Tenant(TenantRecord),
    /// A key.
    Key(KeyRecord),
    /// A version, material wrapped under its tenant KEK.
    Version(KeyVersion),
    /// An archived version, material wrapped under its tenant archive key.
    Archived(ArchivedVersion),
    /// An alias.
    Alias(Alias),
    /// A grant.
    Grant(Grant),
    /// A token (its secret's hash only).
    Token(TokenRecord),
    /// A client certificate that authenticates a principal (public, pinned by fingerprint).
    ClientCert(ClientCertRecord),
    /// A trust anchor (a CA certificate trusted for one tenant's client certificates; public).
    TrustAnchor(TrustAnchorRecord),
    /// A version of a policy (a key's grants, an approval policy, a duties setting).
    PolicyVersion(PolicyVersion),
    /// How many times a limited grant was used.
    GrantUses(GrantUses),
    /// A request waiting for (or done with) its approvals.
    Approval(Box<ApprovalRecord>),
    /// The last record.
    End(KeyBackupEnd),
}

impl KeyEntry {
    /// The section's position in the order of sections.
    pub(crate) fn section(&self) -> u8 {
        match self {
            Self::Tenant(_) => 0,
            Self::Key(_) | Self::Version(_) | Self::Archived(_) => 1,
            Self::Alias(_) => 2,
            Self::Grant(_) => 3,
            Self::Token(_) => 4,
            Self::ClientCert(_) => 5,
            Self::TrustAnchor(_) => 6,
            Self::PolicyVersion(_) | Self::GrantUses(_) | Self::Approval(_) => 7,
            Self::End(_) => 8,
        }
    }
}

/// The trailer of a key backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBackupEnd {
    /// How many records of each kind precede it.
    pub counts: Counts,
    /// The audit chain's last sequence number and hash at the snapshot.
    pub audit_head: Option<(u64, String)>,
}

/// Records of a KEK backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum KekEntry {
    /// A tenant's key-encryption key, AES-256-GCM under the KEK wrap key.
    Kek {
        /// The tenant.
        tenant: TenantId,
        /// Nonce.
        #[serde(with = "crate::b64")]
        nonce: Vec<u8>,
        /// The wrapped KEK.
        #[serde(with = "crate::b64")]
        wrapped: Vec<u8>,
    },
    /// A tenant's archive key, AES-256-GCM under the KEK wrap key.
    ArchiveKey {
        /// The tenant.
        tenant: TenantId,
        /// When the archive key was made.
        created_at: Timestamp,
        /// Nonce.
        #[serde(with = "crate::b64")]
        nonce: Vec<u8>,
        /// The wrapped archive key.
        #[serde(with = "crate::b64")]
        wrapped: Vec<u8>,
    },
    /// The last record: names the key backup.
    End {
        /// Hex SHA-256 of the whole key backup file.
        key_backup_sha256: String,
        /// Its length in bytes.
        key_backup_bytes: u64,
        /// The key backup's counts.
        counts: Counts,
    },
}

/// Numbers of records in a key backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Tenants.
    pub tenants: u64,
    /// Keys.
    pub keys: u64,
    /// Versions (destroyed ones included, without material).
    pub versions: u64,
    /// Archived versions.
    pub archived: u64,
    /// Aliases.
    pub aliases: u64,
    /// Grants.
    pub grants: u64,
    /// Tokens.
    pub tokens: u64,
    /// Client certificates.
    #[serde(default)]
    pub client_certs: u64,
    /// Trust anchors.
    #[serde(default)]
    pub trust_anchors: u64,
    /// Policy versions.
    #[serde(default)]
    pub policy_versions: u64,
    /// Grant use counters.
    #[serde(default)]
    pub grant_uses: u64,
    /// Approvals.
    #[serde(default)]
    pub approvals: u64,
}

impl Counts {
    /// Counts `entry`.
    pub(crate) fn add(&mut self, entry: &KeyEntry) {
        match entry {
            KeyEntry::Tenant(_) => self.tenants += 1,
            KeyEntry::Key(_) => self.keys += 1,
            KeyEntry::Version(_) => self.versions += 1,
            KeyEntry::Archived(_) => self.archived += 1,
            KeyEntry::Alias(_) => self.aliases += 1,
            KeyEntry::Grant(_) => self.grants += 1,
            KeyEntry::Token(_) => self.tokens += 1,
            KeyEntry::ClientCert(_) => self.client_certs += 1,
            KeyEntry::TrustAnchor(_) => self.trust_anchors += 1,
            KeyEntry::PolicyVersion(_) => self.policy_versions += 1,
            KeyEntry::GrantUses(_) => self.grant_uses += 1,
            KeyEntry::Approval(_) => self.approvals += 1,
            KeyEntry::End(_) => {}
        }
    }

    /// Every record but the trailer.
    pub fn records(&self) -> u64 {
        self.tenants
            + self.keys
            + self.versions
            + self.archived
            + self.aliases
            + self.grants
            + self.tokens
            + self.client_certs
            + self.trust_anchors
            + self.policy_versions
            + self.grant_uses
            + self.approvals
    }
}

/// What a backup holds and what was checked, as `keyhold backup verify` reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// The backup.
    pub backup_id: String,
    /// When the snapshot was taken.
    pub created_at: Option<Timestamp>,
    /// How the backup key is protected (`shares 2-of-3`, `recipient <sha256>`).
    pub protection: String,
    /// Whether the contents were opened and checked (needs the shares or private key); when
    /// false only the headers and their pairing were checked.
    pub contents_verified: bool,
    /// Record counts (when contents were verified).
    pub counts: Option<Counts>,
    /// Keys per tenant, then per state.
    pub keys_by_tenant_state: BTreeMap<String, BTreeMap<String, u64>>,
    /// Keys per algorithm.
    pub keys_by_algorithm: BTreeMap<String, u64>,
    /// Archived keys.
    pub archived_keys: u64,
    /// Versions whose material was unwrapped under its tenant KEK and authenticated.
    pub versions_checked: u64,
    /// The audit chain head at the snapshot.
    pub audit_head: Option<(u64, String)>,
    /// Hex SHA-256 of the key backup file.
    pub key_backup_sha256: Option<String>,
    /// What verification covered, in words.
    pub checks: Vec<String>,
}

/// Progress of a long backup or restore: records done so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);
