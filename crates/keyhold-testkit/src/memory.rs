//! [`MemoryStore`]: the [`KeyStore`] contract kept in memory.
//!
//! A batch is applied write by write to the live maps while an undo log records the inverse of
//! each change; the first failing write replays the log backwards, so a failed batch leaves
//! nothing behind and later writes of a batch see the earlier ones (as in one SQL transaction).
//! Every record goes through [`encode_record`] / [`decode_record`] on the way in, so a record
//! that would not survive the SQL store fails here too.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use keyhold_core::archive::ArchivedVersion;
use keyhold_core::audit::{AuditEvent, GENESIS_HASH};
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{
    AliasName, ApprovalId, GrantId, KeyId, KeyName, PrincipalName, TenantId, TokenId, TrustAnchorId,
};
use keyhold_core::model::{
    Alias, ClientCertRecord, Grant, Grantee, KeyRecord, KeyVersion, TenantRecord, TokenRecord,
    TrustAnchorRecord, RECORD_VERSION,
};
use keyhold_core::policy::{
    ApprovalRecord, ApprovalStatus, GrantUses, PolicySubject, PolicyVersion,
};
use keyhold_core::store::{
    decode_record, encode_record, Insert, KeyFilter, KeyStore, Snapshot, StoreError, Write,
    WriteBatch,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A [`KeyStore`] held in memory, for tests. Same semantics as the SQL store; nothing survives
/// the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// The tables.
#[derive(Debug, Default, Clone)]
struct State {
    system: BTreeMap<String, Vec<u8>>,
    tenants: BTreeMap<TenantId, TenantRecord>,
    keys: BTreeMap<KeyId, KeyRecord>,
    versions: BTreeMap<(KeyId, u32), KeyVersion>,
    aliases: BTreeMap<(TenantId, AliasName), Alias>,
    tokens: BTreeMap<TokenId, TokenRecord>,
    grants: BTreeMap<GrantId, Grant>,
    client_certs: BTreeMap<String, ClientCertRecord>,
    trust_anchors: BTreeMap<TrustAnchorId, TrustAnchorRecord>,
    archive: BTreeMap<(KeyId, u32), ArchivedVersion>,
    grant_uses: BTreeMap<GrantId, GrantUses>,
    /// By (tenant, subject text, version).
    policies: BTreeMap<(TenantId, String, u32), PolicyVersion>,
    approvals: BTreeMap<ApprovalId, ApprovalRecord>,
    /// Event `seq` is at index `seq - 1`.
    audit: Vec<AuditEvent>,
}

/// The inverse of one applied write.
enum Undo {
    System(String),
    SystemUpdate(String, Vec<u8>),
    Tenant(TenantId),
    TenantUpdate(TenantRecord),
    ArchiveMove((KeyId, u32), Option<KeyVersion>),
    RecoverMove((KeyId, u32), Option<KeyVersion>, ArchivedVersion),
    Key(KeyId, Option<KeyRecord>),
    Version((KeyId, u32), Option<KeyVersion>),
    Alias((TenantId, AliasName), Option<Alias>),
    Token(TokenId, Option<TokenRecord>),
    Grant(GrantId, Option<Grant>),
    ClientCert(String, Option<ClientCertRecord>),
    TrustAnchor(TrustAnchorId, Option<TrustAnchorRecord>),
    GrantUses(GrantId, Option<GrantUses>),
    Policy((TenantId, String, u32)),
    Approval(ApprovalId, Option<ApprovalRecord>),
    Audit,
    /// A write that changed nothing.
    Nothing,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the tables. Nothing that runs under the lock panics (a commit undoes its own
    /// failures before returning), so even a poisoned lock guards consistent tables.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Applies `write`, returning how to undo it.
    fn apply(&mut self, write: Write) -> Result<Undo, StoreError> {
        match write {
            Write::InsertSystem { name, value } => {
                if self.system.contains_key(&name) {
                    return Err(StoreError::AlreadyExists("system value"));
                }
                self.system.insert(name.clone(), value);
                Ok(Undo::System(name))
            }
            Write::UpdateSystem {
                name,
                value,
                expected,
            } => match self.system.get(&name) {
                None => Err(StoreError::NotFound("system value")),
                Some(current) if *current != expected => Err(StoreError::Conflict),
                Some(_) => {
                    let old = self.system.insert(name.clone(), value);
                    Ok(Undo::SystemUpdate(name, old.unwrap_or_default()))
                }
            },
            Write::DeleteSystem { name, expected } => match self.system.get(&name) {
                None => Err(StoreError::NotFound("system value")),
                Some(current) if *current != expected => Err(StoreError::Conflict),
                Some(_) => {
                    let old = self.system.remove(&name);
                    Ok(Undo::SystemUpdate(name, old.unwrap_or_default()))
                }
            },
            Write::InsertIfAbsent(insert) => {
                if self.stored(&insert) {
                    Ok(Undo::Nothing)
                } else {
                    self.apply(insert.into_write())
                }
            }
            Write::InsertTenant(tenant) => {
                let tenant = round_trip(&tenant)?;
                if self.tenants.contains_key(&tenant.id) {
                    return Err(StoreError::AlreadyExists("tenant"));
                }
                let id = tenant.id.clone();
                self.tenants.insert(id.clone(), tenant);
                Ok(Undo::Tenant(id))
            }
            Write::UpdateTenant {
                record,
                expected_revision,
            } => {
                let record = round_trip(&record)?;
                let current = self
                    .tenants
                    .get(&record.id)
                    .ok_or(StoreError::NotFound("tenant"))?;
                if current.revision != expected_revision {
                    return Err(StoreError::Conflict);
                }
                let old = self.tenants.insert(record.id.clone(), record);
                Ok(Undo::TenantUpdate(
                    old.ok_or(StoreError::NotFound("tenant"))?,
                ))
            }
            Write::ArchiveVersion(archived) => {
                let archived = round_trip(&archived)?;
                let at = (archived.key_id, archived.version);
                let current = self
                    .versions
                    .get(&at)
                    .ok_or(StoreError::NotFound("key version"))?;
                if self.archive.contains_key(&at) {
                    return Err(StoreError::AlreadyExists("archived version"));
                }
                let mut emptied = current.clone();
                emptied.wrapped = Vec::new();
                emptied.nonce = Vec::new();
                let old = self.versions.insert(at, emptied);
                self.archive.insert(at, archived);
                // Undoing the version restores the row; the archive row goes with the next undo.
                Ok(Undo::ArchiveMove(at, old))
            }
            Write::RecoverVersion(version) => {
                let version = round_trip(&version)?;
                let at = (version.key_id, version.version);
                if !self.versions.contains_key(&at) {
                    return Err(StoreError::NotFound("key version"));
                }
                let archived = self
                    .archive
                    .remove(&at)
                    .ok_or(StoreError::NotFound("archived version"))?;
                let old = self.versions.insert(at, version);
                Ok(Undo::RecoverMove(at, old, archived))
            }
            Write::InsertKey(record) => {
                let record = round_trip(&record)?;
                if self.keys.contains_key(&record.id) {
                    return Err(StoreError::AlreadyExists("key"));
                }
                self.check_key_uniques(&record)?;
                let id = record.id;
                self.keys.insert(id, record);
                Ok(Undo::Key(id, None))
            }
            Write::UpdateKey {
                record,
                expected_revision,
            } => {
                let record = round_trip(&record)?;
                match self.keys.get(&record.id) {
                    Some(current) if current.tenant == record.tenant => {
                        if current.revision != expected_revision {
                            return Err(StoreError::Conflict);
                        }
                    }
                    _ => return Err(StoreError::NotFound("key")),
                }
                self.check_key_uniques(&record)?;
                let id = record.id;
                let old = self.keys.insert(id, record);
                Ok(Undo::Key(id, old))
            }
            Write::InsertVersion(version) => {
                let version = round_trip(&version)?;
                if !self.keys.contains_key(&version.key_id) {
                    return Err(StoreError::NotFound("key"));
                }
                let at = (version.key_id, version.version);
                if self.versions.contains_key(&at) {
                    return Err(StoreError::AlreadyExists("key version"));
                }
                self.versions.insert(at, version);
                Ok(Undo::Version(at, None))
            }
            Write::DestroyVersionMaterial { key_id, version } => {
                let at = (key_id, version);
                let current = self
                    .versions
                    .get(&at)
                    .ok_or(StoreError::NotFound("key version"))?;
                let mut destroyed = current.clone();
                destroyed.wrapped = Vec::new();
                destroyed.nonce = Vec::new();
                destroyed.public_key = None;
                destroyed.destroyed = true;
                let old = self.versions.insert(at, destroyed);
                Ok(Undo::Version(at, old))
            }
            Write::InsertAlias(alias) => {
                let alias = round_trip(&alias)?;
                self.require_key(&alias.key_id, &alias.tenant)?;
                let at = (alias.tenant.clone(), alias.name.clone());
                if self.aliases.contains_key(&at) {
                    return Err(StoreError::AlreadyExists("alias"));
                }
                self.aliases.insert(at.clone(), alias);
                Ok(Undo::Alias(at, None))
            }
            Write::DeleteAlias { tenant, name } => {
                let at = (tenant, name);
                let old = self
                    .aliases
                    .remove(&at)
                    .ok_or(StoreError::NotFound("alias"))?;
                Ok(Undo::Alias(at, Some(old)))
            }
            Write::InsertToken(token) => {
                let token = round_trip(&token)?;
                if self.tokens.contains_key(&token.id) || self.hash_taken(&token.secret_hash, None)
                {
                    return Err(StoreError::AlreadyExists("token"));
                }
                let id = token.id;
                self.tokens.insert(id, token);
                Ok(Undo::Token(id, None))
            }
            Write::UpdateToken {
                record,
                expected_revision,
            } => {
                let record = round_trip(&record)?;
                match self.tokens.get(&record.id) {
                    Some(current) if current.tenant == record.tenant => {
                        if current.revision != expected_revision {
                            return Err(StoreError::Conflict);
                        }
                    }
                    _ => return Err(StoreError::NotFound("token")),
                }
                if self.hash_taken(&record.secret_hash, Some(&record.id)) {
                    return Err(StoreError::AlreadyExists("token"));
                }
                let id = record.id;
                let old = self.tokens.insert(id, record);
                Ok(Undo::Token(id, old))
            }
            Write::InsertGrant(grant) => {
                let grant = round_trip(&grant)?;
                self.require_key(&grant.key_id, &grant.tenant)?;
                if self.grants.contains_key(&grant.id) {
                    return Err(StoreError::AlreadyExists("grant"));
                }
                let id = grant.id;
                self.grants.insert(id, grant);
                Ok(Undo::Grant(id, None))
            }
            Write::DeleteGrant { tenant, id } => {
                if self.grants.get(&id).is_none_or(|g| g.tenant != tenant) {
                    return Err(StoreError::NotFound("grant"));
                }
                let old = self.grants.remove(&id);
                Ok(Undo::Grant(id, old))
            }
            Write::Audit(draft) => {
                let sealed = match self.audit.last() {
                    Some(head) => draft.seal(head.seq, &head.hash),
                    None => draft.seal(0, GENESIS_HASH),
                };
                // Kept as a SQL store would read it back: decoded from its stored record.
                let event: AuditEvent = serde_json::from_slice(&sealed.doc)
                    .map_err(|e| StoreError::Corrupt(format!("audit event: {e}")))?;
                self.audit.push(event);
                Ok(Undo::Audit)
            }
            Write::InsertClientCert(cert) => {
                let cert = round_trip(&cert)?;
                if self.client_certs.contains_key(&cert.fingerprint) {
                    return Err(StoreError::AlreadyExists("client certificate"));
                }
                let fp = cert.fingerprint.clone();
                self.client_certs.insert(fp.clone(), cert);
                Ok(Undo::ClientCert(fp, None))
            }
            Write::UpdateClientCert {
                record,
                expected_revision,
            } => {
                let record = round_trip(&record)?;
                match self.client_certs.get(&record.fingerprint) {
                    Some(c) if c.tenant == record.tenant => {
                        if c.revision != expected_revision {
                            return Err(StoreError::Conflict);
                        }
                    }
                    _ => return Err(StoreError::NotFound("client certificate")),
                }
                let fp = record.fingerprint.clone();
                let old = self.client_certs.insert(fp.clone(), record);
                Ok(Undo::ClientCert(fp, old))
            }
            Write::CountGrantUse {
                tenant,
                grant,
                limit,
            } => {
                if self.grants.get(&grant).is_none_or(|g| g.tenant != tenant) {
                    return Err(StoreError::Conflict);
                }
                let old = self.grant_uses.get(&grant).cloned();
                let uses = old.as_ref().map_or(0, |u| u.uses);
                if uses >= limit {
                    return Err(StoreError::Conflict);
                }
                self.grant_uses.insert(
                    grant,
                    GrantUses {
                        v: RECORD_VERSION,
                        tenant,
                        grant,
                        uses: uses + 1,
                    },
                );
                Ok(Undo::GrantUses(grant, old))
            }
            Write::PutGrantUses(uses) => {
                let uses = round_trip(&uses)?;
                let grant = uses.grant;
                let old = self.grant_uses.insert(grant, uses);
                Ok(Undo::GrantUses(grant, old))
            }
            Write::InsertPolicyVersion(version) => {
                let version = round_trip(&version)?;
                let subject = version.subject.as_text();
                let latest = self
                    .policies
                    .range(
                        (version.tenant.clone(), subject.clone(), 0)
                            ..=(version.tenant.clone(), subject.clone(), u32::MAX),
                    )
                    .next_back()
                    .map_or(0, |(k, _)| k.2);
                if version.version != latest + 1 {
                    return Err(StoreError::Conflict);
                }
                let at = (version.tenant.clone(), subject, version.version);
                self.policies.insert(at.clone(), version);
                Ok(Undo::Policy(at))
            }
            Write::InsertApproval(approval) => {
                let approval = round_trip(&approval)?;
                if self.approvals.contains_key(&approval.id) {
                    return Err(StoreError::AlreadyExists("approval"));
                }
                let id = approval.id;
                self.approvals.insert(id, approval);
                Ok(Undo::Approval(id, None))
            }
            Write::UpdateApproval {
                record,
                expected_revision,
            } => {
                let record = round_trip(&record)?;
                match self.approvals.get(&record.id) {
                    Some(current) if current.tenant == record.tenant => {
                        if current.revision != expected_revision {
                            return Err(StoreError::Conflict);
                        }
                    }
                    _ => return Err(StoreError::NotFound("approval")),
                }
                let id = record.id;
                let old = self.approvals.insert(id, record);
                Ok(Undo::Approval(id, old))
            }
            Write::InsertTrustAnchor(anchor) => {
                let anchor = round_trip(&anchor)?;
                if !self.tenants.contains_key(&anchor.tenant) {
                    return Err(StoreError::NotFound("tenant"));
                }
                if self.trust_anchors.contains_key(&anchor.id) || self.live_identity_taken(&anchor)
                {
                    return Err(StoreError::AlreadyExists("trust anchor"));
                }
                let id = anchor.id;
                self.trust_anchors.insert(id, anchor);
                Ok(Undo::TrustAnchor(id, None))
            }
            Write::UpdateTrustAnchor {
                record,
                expected_revision,
            } => {
                let record = round_trip(&record)?;
                match self.trust_anchors.get(&record.id) {
                    Some(a) if a.tenant == record.tenant => {
                        if a.revision != expected_revision {
                            return Err(StoreError::Conflict);
                        }
                    }
                    _ => return Err(StoreError::NotFound("trust anchor")),
                }
                if self.live_identity_taken(&record) {
                    return Err(StoreError::AlreadyExists("trust anchor"));
                }
                let id = record.id;
                let old = self.trust_anchors.insert(id, record);
                Ok(Undo::TrustAnchor(id, old))
            }
        }
    }

    /// Whether another anchor that is not removed has `anchor`'s identity (only checked when
    /// `anchor` itself is not removed).
    fn live_identity_taken(&self, anchor: &TrustAnchorRecord) -> bool {
        anchor.removed_at.is_none()
            && self.trust_anchors.values().any(|a| {
                a.id != anchor.id && a.removed_at.is_none() && a.identity == anchor.identity
            })
    }

    /// Reverts one applied write.
    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::System(name) => {
                self.system.remove(&name);
            }
            Undo::SystemUpdate(name, old) => {
                self.system.insert(name, old);
            }
            Undo::Tenant(id) => {
                self.tenants.remove(&id);
            }
            Undo::TenantUpdate(old) => {
                self.tenants.insert(old.id.clone(), old);
            }
            Undo::ArchiveMove(at, old) => {
                restore(&mut self.versions, at, old);
                self.archive.remove(&at);
            }
            Undo::RecoverMove(at, old, archived) => {
                restore(&mut self.versions, at, old);
                self.archive.insert(at, archived);
            }
            Undo::Key(id, old) => restore(&mut self.keys, id, old),
            Undo::Version(at, old) => restore(&mut self.versions, at, old),
            Undo::Alias(at, old) => restore(&mut self.aliases, at, old),
            Undo::Token(id, old) => restore(&mut self.tokens, id, old),
            Undo::Grant(id, old) => restore(&mut self.grants, id, old),
            Undo::ClientCert(fp, old) => restore(&mut self.client_certs, fp, old),
            Undo::TrustAnchor(id, old) => restore(&mut self.trust_anchors, id, old),
            Undo::GrantUses(id, old) => restore(&mut self.grant_uses, id, old),
            Undo::Policy(at) => {
                self.policies.remove(&at);
            }
            Undo::Approval(id, old) => restore(&mut self.approvals, id, old),
            Undo::Audit => {
                self.audit.pop();
            }
            Undo::Nothing => {}
        }
    }

    /// Whether the record of `insert` is stored already, by its identity (see [`Insert`]).
    fn stored(&self, insert: &Insert) -> bool {
        match insert {
            Insert::Key(k) => self.keys.contains_key(&k.id),
            Insert::Version(v) => self.versions.contains_key(&(v.key_id, v.version)),
            Insert::Archived(a) => self.archive.contains_key(&(a.key_id, a.version)),
            Insert::Alias(a) => self
                .aliases
                .get(&(a.tenant.clone(), a.name.clone()))
                .is_some_and(|stored| stored.key_id == a.key_id),
            Insert::Grant(g) => self.grants.contains_key(&g.id),
            Insert::PolicyVersion(p) => {
                self.policies
                    .contains_key(&(p.tenant.clone(), p.subject.as_text(), p.version))
            }
            Insert::Approval(a) => self.approvals.contains_key(&a.id),
        }
    }

    /// Fails if another key of the tenant has the record's name or idempotency token.
    fn check_key_uniques(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let others = self
            .keys
            .values()
            .filter(|k| k.tenant == record.tenant && k.id != record.id);
        for other in others {
            if record.name.is_some() && other.name == record.name {
                return Err(StoreError::AlreadyExists("key name"));
            }
            if let (Some(mine), Some(theirs)) = (&record.idempotency, &other.idempotency) {
                if mine.token == theirs.token {
                    return Err(StoreError::AlreadyExists("idempotency token"));
                }
            }
        }
        Ok(())
    }

    /// Fails with `NotFound("key")` unless the key exists in `tenant`.
    fn require_key(&self, key_id: &KeyId, tenant: &TenantId) -> Result<(), StoreError> {
        match self.keys.get(key_id) {
            Some(k) if &k.tenant == tenant => Ok(()),
            _ => Err(StoreError::NotFound("key")),
        }
    }

    /// Whether a token other than `except` has this secret hash.
    fn hash_taken(&self, hash: &str, except: Option<&TokenId>) -> bool {
        self.tokens
            .values()
            .any(|t| t.secret_hash == hash && Some(&t.id) != except)
    }

    /// A key of `tenant`.
    fn key_of(&self, tenant: &TenantId, id: &KeyId) -> Option<&KeyRecord> {
        self.keys.get(id).filter(|k| &k.tenant == tenant)
    }
}

/// Puts back the previous value of `at` (or removes it if there was none).
fn restore<K: Ord, V>(map: &mut BTreeMap<K, V>, at: K, old: Option<V>) {
    match old {
        Some(v) => {
            map.insert(at, v);
        }
        None => {
            map.remove(&at);
        }
    }
}

/// Passes a record through its stored form.
fn round_trip<T: Serialize + DeserializeOwned>(record: &T) -> Result<T, StoreError> {
    decode_record(&encode_record(record))
}

/// Whether `key` passes `filter`.
fn matches(key: &KeyRecord, filter: &KeyFilter) -> bool {
    filter.state.is_none_or(|s| key.lifecycle.state == s)
        && filter.algorithm.is_none_or(|a| key.algorithm == a)
        && filter
            .tag
            .as_ref()
            .is_none_or(|(tag, value)| key.tags.get(tag) == Some(value))
        && filter
            .name_prefix
            .as_deref()
            .filter(|p| !p.is_empty())
            .is_none_or(|p| key.name.as_ref().is_some_and(|n| n.as_str().starts_with(p)))
        && filter.label.as_ref().is_none_or(|l| key.labels.contains(l))
}

/// `limit` as a `take` count.
fn take(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn system_value(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().system.get(name).cloned())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        Ok(self.lock().tenants.get(id).cloned())
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn key(&self, tenant: &TenantId, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.lock().key_of(tenant, id).cloned())
    }

    async fn key_any_tenant(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.lock().keys.get(id).cloned())
    }

    async fn key_by_name(
        &self,
        tenant: &TenantId,
        name: &KeyName,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let state = self.lock();
        let found = state
            .keys
            .values()
            .find(|k| &k.tenant == tenant && k.name.as_ref() == Some(name));
        Ok(found.cloned())
    }

    async fn key_by_idempotency(
        &self,
        tenant: &TenantId,
        token: &str,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let state = self.lock();
        let found = state.keys.values().find(|k| {
            &k.tenant == tenant && k.idempotency.as_ref().is_some_and(|i| i.token == token)
        });
        Ok(found.cloned())
    }

    async fn list_keys(
        &self,
        tenant: &TenantId,
        filter: &KeyFilter,
        after: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let state = self.lock();
        // Ordered by id: `KeyId` orders by its bytes, as its text form does.
        let found = state
            .keys
            .values()
            .filter(|k| {
                &k.tenant == tenant && after.is_none_or(|a| k.id > *a) && matches(k, filter)
            })
            .take(take(limit))
            .cloned()
            .collect();
        Ok(found)
    }

    async fn keys_due(&self, now: Timestamp, limit: u32) -> Result<Vec<KeyRecord>, StoreError> {
        let state = self.lock();
        let mut due: Vec<(Timestamp, &KeyRecord)> = state
            .keys
            .values()
            .filter_map(|k| k.next_due().filter(|d| *d <= now).map(|d| (d, k)))
            .collect();
        due.sort_by(|(a, ka), (b, kb)| a.cmp(b).then(ka.id.cmp(&kb.id)));
        Ok(due
            .into_iter()
            .take(take(limit))
            .map(|(_, k)| k.clone())
            .collect())
    }

    async fn version(&self, key: &KeyId, version: u32) -> Result<Option<KeyVersion>, StoreError> {
        Ok(self.lock().versions.get(&(*key, version)).cloned())
    }

    async fn versions(&self, key: &KeyId) -> Result<Vec<KeyVersion>, StoreError> {
        let state = self.lock();
        Ok(state
            .versions
            .range((*key, 0)..=(*key, u32::MAX))
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn alias(
        &self,
        tenant: &TenantId,
        name: &AliasName,
    ) -> Result<Option<Alias>, StoreError> {
        Ok(self
            .lock()
            .aliases
            .get(&(tenant.clone(), name.clone()))
            .cloned())
    }

    async fn aliases(
        &self,
        tenant: &TenantId,
        key: Option<&KeyId>,
    ) -> Result<Vec<Alias>, StoreError> {
        let state = self.lock();
        Ok(state
            .aliases
            .values()
            .filter(|a| &a.tenant == tenant && key.is_none_or(|k| a.key_id == *k))
            .cloned()
            .collect())
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let state = self.lock();
        Ok(state
            .tokens
            .values()
            .find(|t| t.secret_hash == secret_hash)
            .cloned())
    }

    async fn token(
        &self,
        tenant: &TenantId,
        id: &TokenId,
    ) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self
            .lock()
            .tokens
            .get(id)
            .filter(|t| &t.tenant == tenant)
            .cloned())
    }

    async fn client_cert(&self, fingerprint: &str) -> Result<Option<ClientCertRecord>, StoreError> {
        Ok(self.lock().client_certs.get(fingerprint).cloned())
    }

    async fn client_certs(&self, tenant: &TenantId) -> Result<Vec<ClientCertRecord>, StoreError> {
        Ok(self
            .lock()
            .client_certs
            .values()
            .filter(|c| &c.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn trust_anchor(
        &self,
        id: &TrustAnchorId,
    ) -> Result<Option<TrustAnchorRecord>, StoreError> {
        Ok(self.lock().trust_anchors.get(id).cloned())
    }

    async fn trust_anchors(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<TrustAnchorRecord>, StoreError> {
        Ok(self
            .lock()
            .trust_anchors
            .values()
            .filter(|a| tenant.is_none_or(|t| &a.tenant == t))
            .cloned()
            .collect())
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let state = self.lock();
        Ok(state
            .tokens
            .values()
            .filter(|t| &t.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn grants(
        &self,
        tenant: &TenantId,
        key: Option<&KeyId>,
        grantee: Option<&PrincipalName>,
    ) -> Result<Vec<Grant>, StoreError> {
        let state = self.lock();
        Ok(state
            .grants
            .values()
            .filter(|g| {
                &g.tenant == tenant
                    && key.is_none_or(|k| g.key_id == *k)
                    && grantee.is_none_or(|p| g.grantee == Grantee::Principal(p.clone()))
            })
            .cloned()
            .collect())
    }

    async fn grant_uses(&self, tenant: &TenantId, grant: &GrantId) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .grant_uses
            .get(grant)
            .filter(|u| &u.tenant == tenant)
            .map_or(0, |u| u.uses))
    }

    async fn policy_versions(
        &self,
        tenant: &TenantId,
        subject: &PolicySubject,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let s = subject.as_text();
        Ok(self
            .lock()
            .policies
            .range((tenant.clone(), s.clone(), 0)..=(tenant.clone(), s, u32::MAX))
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn latest_policy(
        &self,
        tenant: &TenantId,
        subject: &PolicySubject,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        let s = subject.as_text();
        Ok(self
            .lock()
            .policies
            .range((tenant.clone(), s.clone(), 0)..=(tenant.clone(), s, u32::MAX))
            .next_back()
            .map(|(_, v)| v.clone()))
    }

    async fn approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        Ok(self
            .lock()
            .approvals
            .get(id)
            .filter(|a| &a.tenant == tenant)
            .cloned())
    }

    async fn approvals(
        &self,
        tenant: &TenantId,
        status: Option<ApprovalStatus>,
        before: Option<&ApprovalId>,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        Ok(self
            .lock()
            .approvals
            .values()
            .rev()
            .filter(|a| {
                &a.tenant == tenant
                    && status.is_none_or(|s| a.status == s)
                    && before.is_none_or(|b| a.id < *b)
            })
            .take(take(limit))
            .cloned()
            .collect())
    }

    async fn open_approvals(
        &self,
        tenant: &TenantId,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        Ok(self
            .lock()
            .approvals
            .values()
            .filter(|a| {
                &a.tenant == tenant && a.request_digest == request_digest && a.status.is_open()
            })
            .cloned()
            .collect())
    }

    async fn approvals_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let state = self.lock();
        let mut due: Vec<&ApprovalRecord> = state
            .approvals
            .values()
            .filter(|a| a.status.is_open() && a.expires_at <= now)
            .collect();
        due.sort_by(|a, b| a.expires_at.cmp(&b.expires_at).then(a.id.cmp(&b.id)));
        Ok(due.into_iter().take(take(limit)).cloned().collect())
    }

    async fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self.lock().audit.last().map(|e| (e.seq, e.hash.clone())))
    }

    async fn audit_events(&self, from: u64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let state = self.lock();
        Ok(state
            .audit
            .iter()
            .filter(|e| e.seq >= from)
            .take(take(limit))
            .cloned()
            .collect())
    }

    async fn archived_version(
        &self,
        key: &KeyId,
        version: u32,
    ) -> Result<Option<ArchivedVersion>, StoreError> {
        Ok(self.lock().archive.get(&(*key, version)).cloned())
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        Ok(Box::new(MemorySnapshot(self.lock().clone())))
    }

    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        // A durable store's commit waits for I/O; this one would never give the runtime back,
        // and a loop of requests on a current-thread runtime would starve every other task.
        tokio::task::yield_now().await;
        let mut state = self.lock();
        let mut undo_log = Vec::with_capacity(batch.0.len());
        for write in batch.0 {
            match state.apply(write) {
                Ok(undo) => undo_log.push(undo),
                Err(e) => {
                    while let Some(undo) = undo_log.pop() {
                        state.undo(undo);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// A copy of the tables taken under the lock: the in-memory form of a read transaction.
struct MemorySnapshot(State);

/// Up to `limit` values of `map` after `after` (every value when `after` is `None`).
fn page<K: Ord + Clone, V: Clone>(map: &BTreeMap<K, V>, after: Option<K>, limit: u32) -> Vec<V> {
    use std::ops::Bound;
    let lower = match after {
        Some(k) => Bound::Excluded(k),
        None => Bound::Unbounded,
    };
    map.range((lower, Bound::Unbounded))
        .take(take(limit))
        .map(|(_, v)| v.clone())
        .collect()
}

#[async_trait]
impl Snapshot for MemorySnapshot {
    async fn tenants(&mut self) -> Result<Vec<TenantRecord>, StoreError> {
        Ok(self.0.tenants.values().cloned().collect())
    }

    async fn system_values(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(self
            .0
            .system
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn audit_head(&mut self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self.0.audit.last().map(|e| (e.seq, e.hash.clone())))
    }

    async fn keys(
        &mut self,
        after: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(page(&self.0.keys, after.copied(), limit))
    }

    async fn versions(
        &mut self,
        after: Option<(&KeyId, u32)>,
        limit: u32,
    ) -> Result<Vec<KeyVersion>, StoreError> {
        Ok(page(&self.0.versions, after.map(|(k, v)| (*k, v)), limit))
    }

    async fn archived_versions(
        &mut self,
        after: Option<(&KeyId, u32)>,
        limit: u32,
    ) -> Result<Vec<ArchivedVersion>, StoreError> {
        Ok(page(&self.0.archive, after.map(|(k, v)| (*k, v)), limit))
    }

    async fn aliases(
        &mut self,
        after: Option<(&TenantId, &AliasName)>,
        limit: u32,
    ) -> Result<Vec<Alias>, StoreError> {
        Ok(page(
            &self.0.aliases,
            after.map(|(t, n)| (t.clone(), n.clone())),
            limit,
        ))
    }

    async fn grants(
        &mut self,
        after: Option<&GrantId>,
        limit: u32,
    ) -> Result<Vec<Grant>, StoreError> {
        Ok(page(&self.0.grants, after.copied(), limit))
    }

    async fn tokens(
        &mut self,
        after: Option<&TokenId>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(page(&self.0.tokens, after.copied(), limit))
    }

    async fn client_certs(
        &mut self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ClientCertRecord>, StoreError> {
        Ok(page(&self.0.client_certs, after.map(str::to_owned), limit))
    }

    async fn trust_anchors(
        &mut self,
        after: Option<&TrustAnchorId>,
        limit: u32,
    ) -> Result<Vec<TrustAnchorRecord>, StoreError> {
        Ok(page(&self.0.trust_anchors, after.copied(), limit))
    }

    async fn policy_versions(
        &mut self,
        after: Option<(&TenantId, &str, u32)>,
        limit: u32,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        Ok(page(
            &self.0.policies,
            after.map(|(t, s, v)| (t.clone(), s.to_owned(), v)),
            limit,
        ))
    }

    async fn grant_uses(
        &mut self,
        after: Option<&GrantId>,
        limit: u32,
    ) -> Result<Vec<GrantUses>, StoreError> {
        Ok(page(&self.0.grant_uses, after.copied(), limit))
    }

    async fn approvals(
        &mut self,
        after: Option<&ApprovalId>,
        limit: u32,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        Ok(page(&self.0.approvals, after.copied(), limit))
    }
}
