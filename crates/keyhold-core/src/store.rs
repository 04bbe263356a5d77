//! The [`KeyStore`] seam: untrusted persistence.
//!
//! # Security contract
//!
//! - The store sees only wrapped key material and metadata, never a plaintext key or token.
//! - [`KeyStore::commit`] applies a [`WriteBatch`] atomically and durably: when it returns `Ok`,
//!   every write in it survives a crash; when it returns `Err`, none of them is visible.
//! - Updates are compare-and-swap on a revision number: an `Update*` whose `expected_revision`
//!   is not the stored one fails the whole batch with [`StoreError::Conflict`], so two writers
//!   (or two nodes) cannot both win.
//! - A unique-constraint violation is reported as [`StoreError::AlreadyExists`], detected from
//!   the database error kind, never from message text.
//! - Audit events are sealed by the store: a [`Write::Audit`] draft becomes the event that
//!   follows the chain's stored head at the moment its batch commits (next sequence number,
//!   the head's hash as predecessor), so commits from any number of callers (or nodes) extend
//!   one chain in commit order. A batch that fails appends nothing and the next one links to the
//!   same head. Events are never updated or deleted.

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::archive::ArchivedVersion;
use crate::audit::{AuditEvent, PreparedEvent};
use crate::clock::Timestamp;
use crate::ids::{
    AliasName, ApprovalId, GrantId, KeyId, KeyName, PrincipalName, TenantId, TokenId, TrustAnchorId,
};
use crate::lifecycle::KeyState;
use crate::model::{
    Alias, ClientCertRecord, Grant, KeyRecord, KeyVersion, TenantRecord, TokenRecord,
    TrustAnchorRecord, RECORD_VERSION,
};
use crate::policy::{ApprovalRecord, ApprovalStatus, GrantUses, PolicySubject, PolicyVersion};
use keyhold_crypto::Algorithm;

/// Failures of a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A compare-and-swap precondition did not hold; nothing was written.
    #[error("concurrent modification")]
    Conflict,
    /// A unique constraint was violated; nothing was written.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A write referred to a row that does not exist; nothing was written.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One change inside a [`WriteBatch`].
#[derive(Debug, Clone)]
pub enum Write {
    /// Sets a system value (root-key blob, seal configuration, …) if it is not set yet.
    InsertSystem {
        /// Its name.
        name: String,
        /// Its value.
        value: Vec<u8>,
    },
    /// Replaces a system value whose stored value is `expected` (compare-and-swap: `Conflict`
    /// when it differs, `NotFound` when absent). With `value == expected` it only asserts that
    /// the value is unchanged, e.g. that the root key did not rotate under a batch sealed by it.
    UpdateSystem {
        /// Its name.
        name: String,
        /// The new value.
        value: Vec<u8>,
        /// The value the writer read.
        expected: Vec<u8>,
    },
    /// Deletes a system value whose stored value is `expected` (compare-and-delete: `Conflict`
    /// when it differs, `NotFound` when absent). A restore removes its marker this way, in the
    /// batch that finishes it.
    DeleteSystem {
        /// Its name.
        name: String,
        /// The value the writer read.
        expected: Vec<u8>,
    },
    /// Creates a tenant.
    InsertTenant(TenantRecord),
    /// Replaces a tenant whose stored revision is `expected_revision` (a restore installs the
    /// backed-up key-encryption key this way).
    UpdateTenant {
        /// The new record.
        record: TenantRecord,
        /// The revision the writer read.
        expected_revision: u64,
    },
    /// Creates a key; fails with `AlreadyExists` if its id, name or idempotency token is taken.
    InsertKey(KeyRecord),
    /// Replaces a key whose stored revision is `expected_revision` (the record carries +1).
    UpdateKey {
        /// The new record.
        record: KeyRecord,
        /// The revision the writer read.
        expected_revision: u64,
    },
    /// Adds a version to a key.
    InsertVersion(KeyVersion),
    /// Deletes the wrapped material (and public key) of one version, keeping the row.
    DestroyVersionMaterial {
        /// The key.
        key_id: KeyId,
        /// The version.
        version: u32,
    },
    /// Creates an alias; fails with `AlreadyExists` if taken.
    InsertAlias(Alias),
    /// Deletes an alias.
    DeleteAlias {
        /// Its tenant.
        tenant: TenantId,
        /// The alias.
        name: AliasName,
    },
    /// Creates a token.
    InsertToken(TokenRecord),
    /// Replaces a token whose stored revision is `expected_revision`.
    UpdateToken {
        /// The new record.
        record: TokenRecord,
        /// The revision the writer read.
        expected_revision: u64,
    },
    /// Creates a grant.
    InsertGrant(Grant),
    /// Deletes a grant.
    DeleteGrant {
        /// Its tenant.
        tenant: TenantId,
        /// The grant.
        id: GrantId,
    },
    /// Moves one version's material to archive storage: the version row keeps its metadata
    /// and public key but loses `wrapped` and `nonce`; the archived copy is inserted. Fails with
    /// `NotFound("key version")` if there is no such version, `AlreadyExists("archived
    /// version")` if it is archived already.
    ArchiveVersion(ArchivedVersion),
    /// Brings one version's material back from archive storage: replaces the version row (its
    /// material wrapped again under the tenant KEK) and deletes the archived copy. Fails with
    /// `NotFound("archived version")` if there is none.
    RecoverVersion(KeyVersion),
    /// Appends the audit event of this draft, sealed after the chain's head when the batch
    /// commits (see the module docs).
    Audit(PreparedEvent),
    /// Registers a client certificate; `AlreadyExists` if its fingerprint is registered.
    InsertClientCert(ClientCertRecord),
    /// Replaces a client certificate whose stored revision is `expected_revision`.
    UpdateClientCert {
        /// The new record.
        record: ClientCertRecord,
        /// The revision the writer read.
        expected_revision: u64,
    },
    /// Adds a trust anchor; `AlreadyExists("trust anchor")` if its id is taken or another
    /// anchor that is not removed has the same identity (in any tenant).
    InsertTrustAnchor(TrustAnchorRecord),
    /// Replaces a trust anchor whose stored revision is `expected_revision` (removal sets
    /// `removed_at`).
    UpdateTrustAnchor {
        /// The new record.
        record: TrustAnchorRecord,
        /// The revision the writer read.
        expected_revision: u64,
    },
    /// Counts one use of a grant limited to `limit` uses. Fails with `Conflict` (nothing
    /// written) if the grant no longer exists in `tenant` or has been used `limit` times, so
    /// that concurrent uses can never exceed the limit.
    CountGrantUse {
        /// Its tenant.
        tenant: TenantId,
        /// The grant.
        grant: GrantId,
        /// Its `max_uses`.
        limit: u64,
    },
    /// Sets a grant's use counter (restore only).
    PutGrantUses(GrantUses),
    /// Appends a policy version. Fails with `Conflict` unless `version` is exactly one more than
    /// the stored latest version of that (tenant, subject) (1 when there is none), so two
    /// concurrent changes of one policy cannot both win.
    InsertPolicyVersion(PolicyVersion),
    /// Creates an approval; `AlreadyExists` if its id is taken.
    InsertApproval(ApprovalRecord),
    /// Replaces an approval whose stored revision is `expected_revision` (the record carries +1).
    UpdateApproval {
        /// The new record.
        record: ApprovalRecord,
        /// The revision the writer read.
        expected_revision: u64,
    },
    /// Applies the insert unless the store already holds the record, by its identity (see
    /// [`Insert`]); then it writes nothing and is no error. A restore that resumes after an
    /// interruption writes its records this way, so what the interrupted run committed is
    /// skipped. Every other constraint holds as for the plain insert: a key name or an alias
    /// that another key holds fails with `AlreadyExists`, a version of a missing key with
    /// `NotFound`, a policy version out of sequence with `Conflict`.
    InsertIfAbsent(Insert),
}

/// A record for [`Write::InsertIfAbsent`], with the identity that tells it is stored already.
#[derive(Debug, Clone)]
pub enum Insert {
    /// A key ([`Write::InsertKey`]); identity: its id.
    Key(Box<KeyRecord>),
    /// A version ([`Write::InsertVersion`]); identity: its key and number.
    Version(KeyVersion),
    /// An archived version ([`Write::ArchiveVersion`]); identity: its key and number in archive
    /// storage.
    Archived(ArchivedVersion),
    /// An alias ([`Write::InsertAlias`]); identity: its tenant and name, bound to the same key
    /// (the name bound to another key fails as the plain insert does).
    Alias(Alias),
    /// A grant ([`Write::InsertGrant`]); identity: its id.
    Grant(Grant),
    /// A policy version ([`Write::InsertPolicyVersion`]); identity: its tenant, subject and
    /// number.
    PolicyVersion(PolicyVersion),
    /// An approval ([`Write::InsertApproval`]); identity: its id.
    Approval(Box<ApprovalRecord>),
}

impl Insert {
    /// The plain write, applied when the record is absent.
    pub fn into_write(self) -> Write {
        match self {
            Self::Key(k) => Write::InsertKey(*k),
            Self::Version(v) => Write::InsertVersion(v),
            Self::Archived(a) => Write::ArchiveVersion(a),
            Self::Alias(a) => Write::InsertAlias(a),
            Self::Grant(g) => Write::InsertGrant(g),
            Self::PolicyVersion(p) => Write::InsertPolicyVersion(p),
            Self::Approval(a) => Write::InsertApproval(*a),
        }
    }
}

/// Writes applied atomically by [`KeyStore::commit`].
#[derive(Debug, Clone, Default)]
pub struct WriteBatch(pub Vec<Write>);

impl WriteBatch {
    /// Adds a write.
    pub fn push(&mut self, w: Write) {
        self.0.push(w);
    }
}

/// Filters for [`KeyStore::list_keys`]; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Stored state.
    pub state: Option<KeyState>,
    /// Algorithm.
    pub algorithm: Option<Algorithm>,
    /// Tag key and value.
    pub tag: Option<(String, String)>,
    /// Name prefix.
    pub name_prefix: Option<String>,
    /// One of the key's labels.
    pub label: Option<String>,
}

/// Untrusted, durable persistence for every record of the core. See the module docs for the
/// contract every implementation must keep; `keyhold-testkit` holds the conformance suite.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// A system value, if set.
    async fn system_value(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError>;
    /// All tenants.
    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;
    /// A key of `tenant` by id.
    async fn key(&self, tenant: &TenantId, id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;
    /// A key by id, whatever its tenant (for the sweeper and ciphertext headers; callers check
    /// the tenant).
    async fn key_any_tenant(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;
    /// A key of `tenant` by name.
    async fn key_by_name(
        &self,
        tenant: &TenantId,
        name: &KeyName,
    ) -> Result<Option<KeyRecord>, StoreError>;
    /// A key of `tenant` created with this idempotency token.
    async fn key_by_idempotency(
        &self,
        tenant: &TenantId,
        token: &str,
    ) -> Result<Option<KeyRecord>, StoreError>;
    /// Keys of `tenant` matching `filter`, ordered by id (= creation order), after `after`.
    async fn list_keys(
        &self,
        tenant: &TenantId,
        filter: &KeyFilter,
        after: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;
    /// Keys of any tenant whose next date-driven event is due at `now`.
    async fn keys_due(&self, now: Timestamp, limit: u32) -> Result<Vec<KeyRecord>, StoreError>;
    /// One version of a key.
    async fn version(&self, key: &KeyId, version: u32) -> Result<Option<KeyVersion>, StoreError>;
    /// All versions of a key, oldest first.
    async fn versions(&self, key: &KeyId) -> Result<Vec<KeyVersion>, StoreError>;
    /// An alias.
    async fn alias(&self, tenant: &TenantId, name: &AliasName)
        -> Result<Option<Alias>, StoreError>;
    /// Aliases of a tenant, optionally only those of one key, ordered by name.
    async fn aliases(
        &self,
        tenant: &TenantId,
        key: Option<&KeyId>,
    ) -> Result<Vec<Alias>, StoreError>;
    /// A token by the hex SHA-256 of its secret.
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// A token by id.
    async fn token(
        &self,
        tenant: &TenantId,
        id: &TokenId,
    ) -> Result<Option<TokenRecord>, StoreError>;
    /// A client certificate by fingerprint, whatever its tenant (authentication).
    async fn client_cert(&self, fingerprint: &str) -> Result<Option<ClientCertRecord>, StoreError>;
    /// Client certificates of a tenant, by fingerprint.
    async fn client_certs(&self, tenant: &TenantId) -> Result<Vec<ClientCertRecord>, StoreError>;
    /// A trust anchor by id, whatever its tenant (callers check the tenant).
    async fn trust_anchor(
        &self,
        id: &TrustAnchorId,
    ) -> Result<Option<TrustAnchorRecord>, StoreError>;
    /// Trust anchors of one tenant, or of every tenant, removed ones included, ordered by id.
    async fn trust_anchors(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<TrustAnchorRecord>, StoreError>;
    /// Tokens of a tenant, ordered by creation.
    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError>;
    /// Grants of a tenant, optionally of one key and/or to one principal (grants to roles never
    /// match a principal filter), ordered by id.
    async fn grants(
        &self,
        tenant: &TenantId,
        key: Option<&KeyId>,
        grantee: Option<&PrincipalName>,
    ) -> Result<Vec<Grant>, StoreError>;
    /// How many times a grant was used (0 when never).
    async fn grant_uses(&self, tenant: &TenantId, grant: &GrantId) -> Result<u64, StoreError>;
    /// Every version of a policy, oldest first.
    async fn policy_versions(
        &self,
        tenant: &TenantId,
        subject: &PolicySubject,
    ) -> Result<Vec<PolicyVersion>, StoreError>;
    /// The latest version of a policy, if it ever changed.
    async fn latest_policy(
        &self,
        tenant: &TenantId,
        subject: &PolicySubject,
    ) -> Result<Option<PolicyVersion>, StoreError>;
    /// An approval of `tenant`.
    async fn approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRecord>, StoreError>;
    /// Approvals of `tenant`, optionally with one stored status, newest first, before `before`.
    async fn approvals(
        &self,
        tenant: &TenantId,
        status: Option<ApprovalStatus>,
        before: Option<&ApprovalId>,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Open (pending or approved) approvals of `tenant` for the request with this digest.
    async fn open_approvals(
        &self,
        tenant: &TenantId,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// Open approvals of any tenant whose expiry is at or before `now`.
    async fn approvals_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;
    /// The last audit event's sequence number and hash, if any.
    async fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// Up to `limit` audit events with `seq >= from`, in order.
    async fn audit_events(&self, from: u64, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;
    /// Applies `batch` atomically and durably (see the module docs).
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError>;
    /// One version's material in archive storage.
    async fn archived_version(
        &self,
        key: &KeyId,
        version: u32,
    ) -> Result<Option<ArchivedVersion>, StoreError>;
    /// A consistent, read-only view of the whole store as of now (for backups). Writes go on
    /// while it is open and are not visible through it; it holds at most one page of records.
    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError>;
}

/// A consistent, read-only view of every record at one instant (one read transaction). Each
/// listing is a page in a fixed order after the last record of the previous page, so a reader
/// holds one page at a time whatever the size of the store.
#[async_trait]
pub trait Snapshot: Send {
    /// Every tenant, by id.
    async fn tenants(&mut self) -> Result<Vec<TenantRecord>, StoreError>;
    /// System values whose name starts with `prefix`, by name.
    async fn system_values(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// The last audit event's sequence number and hash, if any.
    async fn audit_head(&mut self) -> Result<Option<(u64, String)>, StoreError>;
    /// Keys of every tenant, by id, after `after`.
    async fn keys(
        &mut self,
        after: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;
    /// Versions of every key, by key id then version, after `after`.
    async fn versions(
        &mut self,
        after: Option<(&KeyId, u32)>,
        limit: u32,
    ) -> Result<Vec<KeyVersion>, StoreError>;
    /// Archived versions, by key id then version, after `after`.
    async fn archived_versions(
        &mut self,
        after: Option<(&KeyId, u32)>,
        limit: u32,
    ) -> Result<Vec<ArchivedVersion>, StoreError>;
    /// Aliases of every tenant, by tenant then name, after `after`.
    async fn aliases(
        &mut self,
        after: Option<(&TenantId, &AliasName)>,
        limit: u32,
    ) -> Result<Vec<Alias>, StoreError>;
    /// Grants of every tenant, by id, after `after`.
    async fn grants(
        &mut self,
        after: Option<&GrantId>,
        limit: u32,
    ) -> Result<Vec<Grant>, StoreError>;
    /// Tokens of every tenant, by id, after `after`.
    async fn tokens(
        &mut self,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    /// Client certificates of every tenant, by fingerprint, after `after`.
    async fn client_certs(
        &mut self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ClientCertRecord>, StoreError>;
    /// Trust anchors of every tenant, by id, after `after`.
    async fn trust_anchors(
        &mut self,
        after: Option<&TrustAnchorId>,
        limit: u32,
    ) -> Result<Vec<TrustAnchorRecord>, StoreError>;
    /// Policy versions of every tenant, by tenant, subject text and version, after `after`.
    async fn policy_versions(
        &mut self,
        after: Option<(&TenantId, &str, u32)>,
        limit: u32,
    ) -> Result<Vec<PolicyVersion>, StoreError>;
    /// Grant use counters, by grant id, after `after`.
    async fn grant_uses(
        &mut self,
        after: Option<&GrantId>,
        limit: u32,
    ) -> Result<Vec<GrantUses>, StoreError>;
    /// Approvals of every tenant, by id, after `after`.
    async fn approvals(
        &mut self,
        after: Option<&ApprovalId>,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError>;
}

/// Decodes a stored JSON record, checking its format version. Records of older versions are
/// migrated here when a later release changes a format.
pub fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    #[derive(serde::Deserialize)]
    struct Version {
        v: u32,
    }
    let ver: Version = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("record without format version: {e}")))?;
    if ver.v != RECORD_VERSION {
        return Err(StoreError::Corrupt(format!(
            "record format version {} is not supported by this release (expects {RECORD_VERSION})",
            ver.v
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Encodes a record for storage.
pub fn encode_record<T: serde::Serialize>(record: &T) -> Vec<u8> {
    // Serializing these plain data types to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(record).unwrap_or_default()
}
