//! [`Kms`]: the one entry point of the core.
//!
//! ```text
//!  run(meta, credential, op)
//!    ├─ sealed?                       → Sealed
//!    ├─ authenticate(credential)      → Caller (tenant, principal, role)
//!    ├─ ops::execute(cx, op)          → Done { response, writes }   (authorize, life cycle, crypto)
//!    ├─ commit(writes + audit event)  → one transaction: fail closed
//!    └─ response
//! ```
//!
//! A failed or refused request is audited too, with its error code. Conflicting concurrent
//! updates are retried a few times from the start (authorization included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use keyhold_crypto::{Provider, SecretBytes};

use crate::audit::{AuthMethod, EventDraft, Outcome, Protocol};
use crate::cache::{touches, CacheLimits, CacheSizes, CachedToken, Caches};
use crate::clock::{Clock, Timestamp};
use crate::error::{ErrorCode, KmsError};
use crate::ids::{PrincipalName, RequestId, TenantId, TokenId};
use crate::model::{Role, Roles, TenantRecord, TokenRecord, RECORD_VERSION};
use crate::ops::{self, Caller, Cx, Operation, Response};
use crate::root::{RootOfTrust, SealedBlob};
use crate::store::{KeyStore, StoreError, Write, WriteBatch};

const ROOT_BLOB: &str = "root-key";
const ROOT_AAD: &[u8] = b"keyhold/root-key/v1";
const MAX_ATTEMPTS: usize = 4;
/// Attempts of one request in all, counting those lost to root-key changes (which do not count
/// against [`MAX_ATTEMPTS`]: a rotation must not fail requests).
const MAX_ROOT_RETRIES: usize = 32;

/// Tunables of the core, validated by the server's configuration.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    /// Waiting period of a scheduled destruction when the request names none.
    pub default_destroy_wait_secs: u64,
    /// The shortest waiting period a request may ask for.
    pub min_destroy_wait_secs: u64,
    /// Largest page of a list.
    pub max_page: u32,
    /// Largest plaintext accepted by encrypt.
    pub max_plaintext: usize,
    /// How long an import wrapping key stays valid.
    pub import_ttl_secs: u64,
    /// How long this node trusts a cached token, key record, key reference or grant list.
    /// Changes made through this node invalidate them at once; this bounds how long a change
    /// made by another node sharing the store can go unseen here.
    pub cache_ttl_millis: u64,
    /// Entries per cache of tokens, key records, key references and grant lists.
    pub cache_capacity: usize,
    /// Unwrapped key versions kept in memory (zeroized on eviction); 0 disables the cache.
    pub key_cache_capacity: usize,
    /// Lifetime of an unwrapped key version in the cache.
    pub key_cache_ttl_secs: u64,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            default_destroy_wait_secs: 30 * 86_400,
            min_destroy_wait_secs: 86_400,
            max_page: 1000,
            max_plaintext: 64 * 1024,
            import_ttl_secs: 24 * 3600,
            cache_ttl_millis: 5_000,
            cache_capacity: 10_000,
            key_cache_capacity: 10_000,
            key_cache_ttl_secs: 300,
        }
    }
}

/// Who the adapter says is calling, before authentication.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A bearer token's secret.
    Bearer(SecretBytes),
    /// The DER certificate chain a mutual-TLS handshake received, end entity first (the peer
    /// proved it holds the end entity's private key). It authenticates if the end entity is
    /// pinned, or chains to a trust anchor (see [`crate::pki`]).
    Certificate(ClientChain),
    /// No credential.
    None,
}

/// A client's certificate chain as a mutual-TLS handshake received it, end entity first, with
/// the digest under which its authentication is cached (computed once per connection).
/// Cloning it (for each request of the connection) copies no certificate.
#[derive(Debug, Clone)]
pub struct ClientChain {
    certs: Arc<[Vec<u8>]>,
    digest: [u8; 32],
}

impl ClientChain {
    /// The chain of DER certificates, end entity first.
    pub fn new(certs: Vec<Vec<u8>>) -> Self {
        let digest = crate::pki::chain_digest(&certs);
        Self {
            certs: certs.into(),
            digest,
        }
    }

    /// The certificates, end entity first.
    pub fn certs(&self) -> &[Vec<u8>] {
        &self.certs
    }
}

/// Facts about the request that the adapter knows.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Request id.
    pub request_id: RequestId,
    /// Interface.
    pub protocol: Protocol,
    /// Peer address.
    pub peer: Option<String>,
}

impl RequestMeta {
    /// Metadata for an internal action.
    pub fn internal() -> Self {
        Self {
            request_id: RequestId::generate(),
            protocol: Protocol::Internal,
            peer: None,
        }
    }
}

/// Whether the server is initialized and unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SealStatus {
    /// A root key exists.
    pub initialized: bool,
    /// The root key is not in memory.
    pub sealed: bool,
}

/// The root key and the tenant key-encryption keys, in memory while unsealed.
struct Unsealed {
    root_key: SecretBytes,
    keks: HashMap<TenantId, SecretBytes>,
    /// The root of trust that sealed the root key, kept to seal a rotated one.
    root: Arc<dyn RootOfTrust>,
    /// The stored root-key blob `root_key` came from: batches holding values sealed under the
    /// root key assert it unchanged, so none commits across a rotation.
    root_blob: Vec<u8>,
    /// The root key before a rotation, until the rotation has rewrapped everything.
    previous_root: Option<SecretBytes>,
    /// Counts root-key changes, so a request whose attempt crossed one retries for free.
    generation: u64,
}

/// A short-lived RSA wrapping key issued for an import.
pub(crate) struct ImportSlot {
    pub tenant: TenantId,
    pub private_pkcs8: SecretBytes,
    pub expires: Timestamp,
}

/// The key management system's core.
pub struct Kms {
    pub(crate) store: Arc<dyn KeyStore>,
    pub(crate) crypto: Provider,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: KmsConfig,
    unsealed: RwLock<Option<Unsealed>>,
    /// Tokens, key records, grants and unwrapped versions (see [`crate::cache`]).
    pub(crate) caches: Arc<Caches>,
    pub(crate) imports: Mutex<HashMap<String, ImportSlot>>,
    /// Makes new roots of trust for the unseal rekey (set by the server).
    root_factory: RwLock<Option<Arc<dyn crate::root::RootFactory>>>,
    /// The head the last audit checkpoint this process made attests (see
    /// [`crate::checkpoint`]): verification must find it.
    checkpointed: Mutex<Option<u64>>,
    /// Held by the restore running in this process (see [`crate::backup::restore`]).
    pub(crate) restoring: tokio::sync::Mutex<()>,
    /// A restore is begun and not finished on this store (its marker is stored): its last
    /// batch replaces the tenants' KEKs, so nothing may be wrapped under the current ones
    /// until then (see [`Kms::wrapping_kek`]).
    restore_pending: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// Opens the core over a store. The server starts sealed.
    pub async fn open(
        store: Arc<dyn KeyStore>,
        crypto: Provider,
        clock: Arc<dyn Clock>,
        config: KmsConfig,
    ) -> Result<Self, KmsError> {
        let caches = Arc::new(Caches::new(CacheLimits {
            records: config.cache_capacity,
            versions: config.key_cache_capacity,
            ttl_ms: millis(config.cache_ttl_millis),
            version_ttl_ms: millis(config.key_cache_ttl_secs.saturating_mul(1000)),
        }));
        caches.trust.reload(store.as_ref()).await?;
        Ok(Self {
            store,
            crypto,
            clock,
            config,
            caches,
            unsealed: RwLock::new(None),
            imports: Mutex::new(HashMap::new()),
            root_factory: RwLock::new(None),
            checkpointed: Mutex::new(None),
            restoring: tokio::sync::Mutex::new(()),
            restore_pending: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Sets what makes a new root of trust when the unseal keys are rekeyed.
    pub fn set_root_factory(&self, factory: Arc<dyn crate::root::RootFactory>) {
        *self.root_factory.write().unwrap_or_else(|e| e.into_inner()) = Some(factory);
    }

    /// The pins and trust anchors the TLS listeners check client certificates against during
    /// the handshake (the core checks again on every request, see `authenticate_certificate`).
    pub fn client_trust(&self) -> &crate::pki::ClientTrust {
        &self.caches.trust
    }

    /// The store (for backups and diagnostics).
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// A system value written at initialization (non-secret configuration).
    pub async fn system_value(&self, name: &str) -> Result<Option<Vec<u8>>, KmsError> {
        Ok(self.store.system_value(name).await?)
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether the server is initialized and unsealed.
    pub async fn seal_status(&self) -> Result<SealStatus, KmsError> {
        let initialized = self.store.system_value(ROOT_BLOB).await?.is_some();
        Ok(SealStatus {
            initialized,
            sealed: self.read_unsealed().is_none(),
        })
    }

    /// First start: creates the root key sealed by `root`, the default tenant with its
    /// key-encryption key, and an admin token, whose secret is returned once. Leaves the server
    /// unsealed.
    ///
    /// `system` values (e.g. the seal configuration) are written in the same transaction.
    pub async fn initialize(
        &self,
        root: &dyn RootOfTrust,
        admin: PrincipalName,
        system: Vec<(String, Vec<u8>)>,
    ) -> Result<SecretBytes, KmsError> {
        if self.store.system_value(ROOT_BLOB).await?.is_some() {
            return Err(KmsError::AlreadyExists(
                "root key (the server is already initialized)",
            ));
        }
        let now = self.clock.now();
        let root_key = self.crypto.random(32)?;
        let blob = root.seal(root_key.as_bytes(), ROOT_AAD)?;
        let tenant = TenantId::default_tenant();
        let kek = self.crypto.random(32)?;
        let (nonce, wrapped_kek) =
            self.crypto
                .aes_gcm_seal(root_key.as_bytes(), &tenant_aad(&tenant), kek.as_bytes())?;
        let (secret, token) = self.new_token(
            &tenant,
            admin.clone(),
            Role::Admin,
            None,
            "initial admin",
            &admin,
            now,
        )?;
        let root_blob =
            serde_json::to_vec(&blob).map_err(|_| KmsError::Integrity("root blob encoding"))?;
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertSystem {
            name: ROOT_BLOB.into(),
            value: root_blob.clone(),
        });
        batch.push(Write::InsertTenant(TenantRecord {
            v: RECORD_VERSION,
            id: tenant.clone(),
            created_at: now,
            wrapped_kek,
            kek_nonce: nonce.to_vec(),
            disabled: false,
            revision: 1,
        }));
        batch.push(Write::InsertToken(token));
        for (name, value) in system {
            batch.push(Write::InsertSystem { name, value });
        }
        let draft = self.system_event(
            "system.initialize",
            Outcome::Ok,
            None,
            Some(format!("root of trust: {}", root.mechanism())),
        );
        self.commit(batch, draft).await?;
        let mut keks = HashMap::new();
        keks.insert(tenant, kek);
        *self.write_unsealed() = Some(Unsealed {
            root_key,
            keks,
            root: root.shared(),
            root_blob,
            previous_root: None,
            generation: 0,
        });
        Ok(secret)
    }

    /// Unseals: opens the root-key blob with `root` and unwraps every tenant KEK. Fails, and
    /// stays sealed, if `root` is not the one that sealed it.
    pub async fn unseal(&self, root: &dyn RootOfTrust) -> Result<(), KmsError> {
        let raw = self
            .store
            .system_value(ROOT_BLOB)
            .await?
            .ok_or(KmsError::invalid(
                "the server is not initialized; run `keyhold init`",
            ))?;
        let blob: SealedBlob = serde_json::from_slice(&raw)
            .map_err(|_| KmsError::Integrity("root-key blob does not decode"))?;
        let root_key = root.unseal(&blob, ROOT_AAD)?;
        let mut keks = HashMap::new();
        for t in self.store.tenants().await? {
            let nonce: [u8; 12] = t
                .kek_nonce
                .as_slice()
                .try_into()
                .map_err(|_| KmsError::Integrity("tenant KEK nonce"))?;
            let kek = self
                .crypto
                .aes_gcm_open(
                    root_key.as_bytes(),
                    &nonce,
                    &tenant_aad(&t.id),
                    &t.wrapped_kek,
                )
                .map_err(|_| {
                    KmsError::Integrity(
                        "a tenant key-encryption key does not unwrap under the root key",
                    )
                })?;
            keks.insert(t.id, kek);
        }
        *self.write_unsealed() = Some(Unsealed {
            root_key,
            keks,
            root: root.shared(),
            root_blob: raw,
            previous_root: None,
            generation: 0,
        });
        let pending = self
            .store
            .system_value(crate::backup::restore::RESTORE_MARKER)
            .await?
            .is_some();
        self.set_restore_pending(pending);
        let draft = self.system_event("system.unseal", Outcome::Ok, None, None);
        self.commit(WriteBatch::default(), draft).await?;
        Ok(())
    }

    /// Records whether a restore is begun and not finished (see [`Kms::wrapping_kek`]).
    pub(crate) fn set_restore_pending(&self, pending: bool) {
        self.restore_pending
            .store(pending, std::sync::atomic::Ordering::SeqCst);
    }

    /// Drops the root key and every tenant KEK from memory.
    pub async fn seal(&self) -> Result<(), KmsError> {
        *self.write_unsealed() = None;
        lock(&self.imports).clear();
        self.caches.clear();
        let draft = self.system_event("system.seal", Outcome::Ok, None, None);
        self.commit(WriteBatch::default(), draft).await
    }

    /// Records a request that failed before reaching an operation (e.g. a wrong unseal share).
    pub async fn record_failure(
        &self,
        meta: &RequestMeta,
        action: &str,
        err: &KmsError,
    ) -> Result<(), KmsError> {
        self.audit_failure(meta, None, action, None, err).await
    }

    /// Records a request a protocol adapter refused before it became an operation (a body or
    /// query it could not decode, an unknown endpoint): under the caller its credential
    /// authenticates, else as anonymous. `detail` names the endpoint, never the request's
    /// content (a decoding error can quote it).
    pub async fn record_rejected(
        &self,
        meta: &RequestMeta,
        credential: &Credential,
        code: ErrorCode,
        detail: String,
    ) -> Result<(), KmsError> {
        let caller = match credential {
            Credential::None => None,
            c => self.authenticate(c).await.ok(),
        };
        let outcome = match code {
            ErrorCode::Unauthenticated | ErrorCode::PermissionDenied => Outcome::Denied,
            _ => Outcome::Error,
        };
        let draft = EventDraft {
            outcome,
            error_code: Some(code),
            detail: Some(detail),
            ..request_event(
                meta,
                caller.as_ref(),
                "request.rejected".to_owned(),
                self.clock.now(),
            )
        };
        self.commit(WriteBatch::default(), draft).await
    }

    /// Runs one operation for a caller: the only way in for protocol adapters.
    pub async fn run(
        &self,
        meta: &RequestMeta,
        credential: &Credential,
        op: Operation,
    ) -> Result<Response, KmsError> {
        let action = op.action();
        let key_hint = op.key_hint();
        let caller = match self.authenticate(credential).await {
            Ok(c) => c,
            Err(e) => {
                self.audit_failure(meta, None, action, key_hint, &e).await?;
                return Err(e);
            }
        };
        if let Err(e) = self.ensure_kek(&caller.tenant).await {
            self.audit_failure(meta, Some(&caller), action, key_hint, &e)
                .await?;
            return Err(e);
        }
        let mut attempt = 0;
        let mut tries = 0;
        loop {
            attempt += 1;
            tries += 1;
            let generation = self.root_generation();
            let mut cx = Cx::new(self, &caller, self.clock.now(), self.caches.epoch());
            cx.op = Some(&op);
            let result = ops::execute(&cx, op.clone()).await;
            let mut done = match result {
                Ok(done) => done,
                Err(KmsError::Conflict) if attempt < MAX_ATTEMPTS => {
                    if self.root_changed_since(generation).await? && tries < MAX_ROOT_RETRIES {
                        attempt -= 1;
                    }
                    continue;
                }
                Err(KmsError::NeedsApproval) => match cx.take_need() {
                    Some(need) => {
                        let stored = ops::StoredOperation::of(&op, need.key);
                        return self
                            .request_approval(meta, &caller, stored, need, cx.now)
                            .await;
                    }
                    None => {
                        let e = KmsError::Integrity("approval needed without a request");
                        let key = resolved_or(&cx, key_hint);
                        let target = cx.target_tenant_acted();
                        self.audit_failure_on(meta, Some(&caller), action, key, target, &e)
                            .await?;
                        return Err(e);
                    }
                },
                Err(e) => {
                    let key = resolved_or(&cx, key_hint);
                    let target = cx.target_tenant_acted();
                    self.audit_failure_on(meta, Some(&caller), action, key, target, &e)
                        .await?;
                    return Err(e);
                }
            };
            done.writes.0.extend(cx.take_extra());
            if let Some(id) = cx.released() {
                // The re-issue of an approved request: the approval is consumed with it.
                let note = format!("under approval {id}");
                done.detail = Some(match done.detail {
                    Some(d) => format!("{d}; {note}"),
                    None => note,
                });
            }
            let target = cx.target_tenant_acted();
            let mut drafts = vec![EventDraft {
                target_tenant: target.clone(),
                key: done.key.map(|k| k.to_string()).or_else(|| key_hint.clone()),
                key_version: done.version,
                compromised_key_used: done.compromised,
                detail: done.detail,
                ..request_event(meta, Some(&caller), action.to_owned(), cx.now)
            }];
            for also in done.also {
                drafts.push(EventDraft {
                    target_tenant: target.clone(),
                    principal: also.principal,
                    auth_method: also.auth,
                    key: also.key.map(|k| k.to_string()),
                    key_version: also.version,
                    outcome: also.outcome,
                    error_code: also.error_code,
                    compromised_key_used: also.compromised,
                    detail: also.detail,
                    ..request_event(meta, Some(&caller), also.action, cx.now)
                });
            }
            match self.commit_events(done.writes, drafts).await {
                Ok(()) => {
                    match done.root_change {
                        Some(RootChange::Rotated(rotated)) => {
                            self.finish_root_rotation(rotated).await?
                        }
                        Some(RootChange::Rekeyed(rekeyed)) => {
                            let mut guard = self.write_unsealed();
                            if let Some(u) = guard.as_mut() {
                                u.root = rekeyed.root;
                                u.root_blob = rekeyed.blob;
                                u.generation += 1;
                            }
                        }
                        None => {}
                    }
                    if let Response::AuditCheckpoint(c) = &done.response {
                        self.note_checkpoint(c.seq, &c.hash);
                    }
                    return Ok(done.response);
                }
                Err(KmsError::Conflict | KmsError::AlreadyExists(_)) if attempt < MAX_ATTEMPTS => {
                    // A conflict because the root key changed under this attempt is not its
                    // fault: it retries without using up an attempt.
                    if self.root_changed_since(generation).await? && tries < MAX_ROOT_RETRIES {
                        attempt -= 1;
                    }
                    continue;
                }
                Err(e) => {
                    self.audit_failure_on(meta, Some(&caller), action, key_hint, target, &e)
                        .await?;
                    return Err(e);
                }
            }
        }
    }

    /// Checkpoints the audit chain (see [`crate::checkpoint`]) unless nothing but the last
    /// checkpoint this server made was appended since; returns the head it attests. The server
    /// calls this periodically; nothing happens while sealed.
    pub async fn audit_checkpoint(&self) -> Result<Option<u64>, KmsError> {
        if self.read_unsealed().is_none() {
            return Ok(None);
        }
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let (attested, writes) = crate::checkpoint::attest(self, now).await?;
            if self
                .last_checkpoint()
                .is_some_and(|last| attested.seq <= last + 1)
            {
                return Ok(None);
            }
            let draft = self.system_event(
                crate::checkpoint::CHECKPOINT_ACTION,
                Outcome::Ok,
                None,
                Some(attested.detail()),
            );
            match self.commit(WriteBatch(writes), draft).await {
                Ok(()) => {
                    self.note_checkpoint(attested.seq, &attested.hash);
                    return Ok(Some(attested.seq));
                }
                // Another node stored the first checkpoint key, or the root key changed.
                Err(KmsError::AlreadyExists(_) | KmsError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(KmsError::Conflict)
    }

    /// The head the last checkpoint this process made attests.
    pub fn last_checkpoint(&self) -> Option<u64> {
        *self.checkpointed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a committed checkpoint, and logs it: the log is a witness outside the database.
    fn note_checkpoint(&self, seq: u64, hash: &str) {
        let mut last = self.checkpointed.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some(last.map_or(seq, |l| l.max(seq)));
        tracing::info!(seq, hash, "audit checkpoint");
    }

    /// Stores a pending approval for a request the gate held, with its `approval.request`
    /// event, and answers [`KmsError::ApprovalRequired`].
    pub(crate) async fn request_approval(
        &self,
        meta: &RequestMeta,
        caller: &Caller,
        stored: Option<ops::StoredOperation>,
        need: ops::approvals::ApprovalNeed,
        now: Timestamp,
    ) -> Result<Response, KmsError> {
        let rule = ops::approvals::describe_rule(&need.rule);
        let record = ops::approvals::new_approval(need, caller, stored, now);
        let required = KmsError::ApprovalRequired {
            approval: record.id,
            action: record.action,
            required: record.required,
            rerun: !record.executes_on_approval(),
        };
        let draft = EventDraft {
            key: record.key.map(|k| k.to_string()),
            detail: Some(format!(
                "approval {} for {} ({}): needs {rule}; expires {}",
                record.id, record.action, record.summary, record.expires_at
            )),
            ..request_event(meta, Some(caller), "approval.request".to_owned(), now)
        };
        let mut batch = WriteBatch::default();
        batch.push(Write::InsertApproval(record));
        self.commit(batch, draft).await?;
        Err(required)
    }

    /// Applies due date-driven transitions and rotations, and expires approvals past their
    /// instant; returns how many keys and approvals changed. The server calls this
    /// periodically; reads apply the same rules on access.
    pub async fn sweep(&self) -> Result<usize, KmsError> {
        // Pins and anchors changed by another node reach the TLS listeners here.
        self.caches.trust.reload(self.store.as_ref()).await?;
        if self.read_unsealed().is_none() {
            return Ok(0);
        }
        let now = self.clock.now();
        self.caches.purge_expired(now);
        let mut changed = 0;
        for record in self.store.keys_due(now, 256).await? {
            self.ensure_kek(&record.tenant).await?;
            let (writes, detail) = ops::sweep_key(self, &record, now)?;
            if writes.0.is_empty() {
                continue;
            }
            let mut draft = self.system_event(
                "key.sweep",
                Outcome::Ok,
                Some(record.id.to_string()),
                Some(detail),
            );
            draft.tenant = Some(record.tenant.clone());
            match self.commit(writes, draft).await {
                Ok(()) => changed += 1,
                // A concurrent request changed the key; the next sweep looks again.
                Err(KmsError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        for approval in self.store.approvals_due(now, 256).await? {
            let (write, detail) = ops::approvals::expired(&approval, now);
            let mut draft = self.system_event(
                "approval.expire",
                Outcome::Ok,
                approval.key.map(|k| k.to_string()),
                Some(detail),
            );
            draft.tenant = Some(approval.tenant.clone());
            match self.commit(WriteBatch(vec![write]), draft).await {
                Ok(()) => changed += 1,
                // Approved, rejected or executed meanwhile.
                Err(KmsError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }

    /// Commits `batch` and the audit event for it in one transaction, extending the chain, and
    /// returns only when both are durable.
    ///
    /// The store seals the event after the chain's head as it commits, and groups the batches
    /// that arrive while it writes into one transaction with one fsync (each batch still
    /// succeeds or fails alone), so concurrent requests share their durable writes without
    /// waiting for one another here.
    pub(crate) async fn commit(
        &self,
        batch: WriteBatch,
        draft: EventDraft,
    ) -> Result<(), KmsError> {
        self.commit_events(batch, vec![draft]).await
    }

    /// [`Kms::commit`] with several audit events, linked in order after the writes.
    ///
    /// The caches forget what the batch changes once it is committed, and whatever the outcome:
    /// after a conflict the cached revision lost (another node wrote it), so the retry reads the
    /// store. A batch that can make cache entries stale commits in a task of its own, so that a
    /// cancelled request (its client went away) still invalidates after its writes land.
    pub(crate) async fn commit_events(
        &self,
        mut batch: WriteBatch,
        drafts: Vec<EventDraft>,
    ) -> Result<(), KmsError> {
        let touched: Vec<Write> = batch.0.iter().filter(|w| touches(w)).cloned().collect();
        let trust: Vec<Write> = batch
            .0
            .iter()
            .filter(|w| crate::pki::ClientTrust::concerns(w))
            .cloned()
            .collect();
        batch
            .0
            .extend(drafts.iter().map(|d| Write::Audit(d.prepare())));
        let result = if touched.is_empty() && trust.is_empty() {
            self.store.commit(batch).await
        } else {
            let store = self.store.clone();
            let caches = self.caches.clone();
            tokio::spawn(async move {
                let result = store.commit(batch).await;
                caches.invalidate(&touched);
                if result.is_ok() {
                    caches.trust.committed(&trust);
                }
                result
            })
            .await
            .map_err(|_| KmsError::Integrity("commit task ended without an answer"))?
        };
        result.map_err(|e| match e {
            StoreError::Conflict => KmsError::Conflict,
            StoreError::AlreadyExists(what) => KmsError::AlreadyExists(what),
            StoreError::NotFound(what) => KmsError::NotFound(what),
            e => KmsError::AuditUnavailable(e),
        })
    }

    /// Records a refused or failed request. If even that cannot be recorded, the error says so.
    async fn audit_failure(
        &self,
        meta: &RequestMeta,
        caller: Option<&Caller>,
        action: &str,
        key_hint: Option<String>,
        err: &KmsError,
    ) -> Result<(), KmsError> {
        self.audit_failure_on(meta, caller, action, key_hint, None, err)
            .await
    }

    /// [`Kms::audit_failure`] of an execution that acted on another tenant (`target`, see
    /// [`AuditEvent::target_tenant`](crate::audit::AuditEvent::target_tenant)).
    async fn audit_failure_on(
        &self,
        meta: &RequestMeta,
        caller: Option<&Caller>,
        action: &str,
        key_hint: Option<String>,
        target: Option<TenantId>,
        err: &KmsError,
    ) -> Result<(), KmsError> {
        let outcome = match err {
            KmsError::Unauthenticated | KmsError::PermissionDenied(_) => Outcome::Denied,
            _ => Outcome::Error,
        };
        let draft = EventDraft {
            key: key_hint,
            target_tenant: target,
            outcome,
            error_code: Some(err.code()),
            ..request_event(meta, caller, action.to_owned(), self.clock.now())
        };
        // A batch of events alone has no precondition to lose: it cannot conflict.
        self.commit(WriteBatch::default(), draft).await
    }

    pub(crate) fn system_event(
        &self,
        action: &str,
        outcome: Outcome,
        key: Option<String>,
        detail: Option<String>,
    ) -> EventDraft {
        EventDraft {
            time: self.clock.now(),
            tenant: None,
            target_tenant: None,
            principal: PrincipalName::system(),
            auth_method: AuthMethod::System,
            protocol: Protocol::Internal,
            action: action.to_owned(),
            key,
            key_version: None,
            outcome,
            error_code: None,
            compromised_key_used: false,
            detail,
            request_id: RequestId::generate(),
            peer: None,
        }
    }

    pub(crate) async fn authenticate(&self, credential: &Credential) -> Result<Caller, KmsError> {
        if self.read_unsealed().is_none() {
            return Err(KmsError::Sealed);
        }
        match credential {
            Credential::Bearer(secret) => self.authenticate_token(secret).await,
            Credential::Certificate(chain) => self.authenticate_certificate(chain).await,
            Credential::None => Err(KmsError::Unauthenticated),
        }
    }

    async fn authenticate_token(&self, secret: &SecretBytes) -> Result<Caller, KmsError> {
        let hash = keyhold_crypto::to_hex(&self.crypto.sha256(secret.as_bytes()));
        let now = self.clock.now();
        let cached = match self.caches.token(&hash, now) {
            Some(c) => c,
            None => {
                let epoch = self.caches.epoch();
                let record = self
                    .store
                    .token_by_hash(&hash)
                    .await?
                    .ok_or(KmsError::Unauthenticated)?;
                let tenant = self
                    .store
                    .tenant(&record.tenant)
                    .await?
                    .ok_or(KmsError::Unauthenticated)?;
                let c = CachedToken {
                    record,
                    tenant_disabled: tenant.disabled,
                };
                self.caches.put_token(epoch, hash.clone(), c.clone(), now);
                c
            }
        };
        // The lookup was by hash; compare again in constant time so a store (or cache) that
        // matched loosely cannot let a different secret in.
        if !keyhold_crypto::constant_time_eq(cached.record.secret_hash.as_bytes(), hash.as_bytes())
        {
            return Err(KmsError::Unauthenticated);
        }
        let token = cached.record;
        if token.revoked_at.is_some() || token.expires_at.is_some_and(|e| e <= now) {
            return Err(KmsError::Unauthenticated);
        }
        if cached.tenant_disabled {
            return Err(KmsError::Unauthenticated);
        }
        Ok(Caller {
            tenant: token.tenant,
            principal: token.principal,
            roles: Roles::one(token.role),
            auth: AuthMethod::Token,
            token: Some(token.id),
        })
    }

    async fn authenticate_certificate(&self, client: &ClientChain) -> Result<Caller, KmsError> {
        let chain = client.certs();
        let end_entity = chain.first().ok_or(KmsError::Unauthenticated)?;
        let now = self.clock.now();
        let digest = client.digest;
        let cached = match self.caches.cert(&digest, now) {
            Some(c) => c,
            None => {
                let epoch = self.caches.epoch();
                let fingerprint = crate::pki::fingerprint(end_entity);
                let pin = self.store.client_cert(&fingerprint).await?;
                if let Some(pin) = &pin {
                    if !keyhold_crypto::constant_time_eq(
                        pin.fingerprint.as_bytes(),
                        fingerprint.as_bytes(),
                    ) {
                        return Err(KmsError::Unauthenticated);
                    }
                }
                // Read for pinned certificates too: a pin does not capture a certificate that
                // another tenant's anchor issued (see `pki::decide`).
                let anchors = self.store.trust_anchors(None).await?;
                let who = crate::pki::decide(chain, pin.as_ref(), &anchors, now)?;
                let tenant = self
                    .store
                    .tenant(who.tenant())
                    .await?
                    .ok_or(KmsError::Unauthenticated)?;
                // Cached until the first certificate involved expires; a chain that does not
                // parse whole is decided anew each time.
                let valid_until = crate::pki::decision_valid_until(chain, &who);
                let c = crate::cache::CachedCert {
                    who,
                    valid_until: valid_until.unwrap_or(now),
                    tenant_disabled: tenant.disabled,
                };
                if valid_until.is_some() {
                    self.caches.put_cert(epoch, digest, c.clone(), now);
                }
                c
            }
        };
        if cached.tenant_disabled {
            return Err(KmsError::Unauthenticated);
        }
        let who = cached.who;
        Ok(Caller {
            tenant: who.tenant().clone(),
            principal: who.principal().clone(),
            roles: who.roles(),
            auth: AuthMethod::Certificate,
            token: None,
        })
    }

    /// Makes a token: returns the secret (shown once) and the record to store.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_token(
        &self,
        tenant: &TenantId,
        principal: PrincipalName,
        role: Role,
        expires_at: Option<Timestamp>,
        description: &str,
        created_by: &PrincipalName,
        now: Timestamp,
    ) -> Result<(SecretBytes, TokenRecord), KmsError> {
        let raw = self.crypto.random(32)?;
        let secret = format!("kh_{}", hex::encode(raw.as_bytes()));
        let hash = keyhold_crypto::to_hex(&self.crypto.sha256(secret.as_bytes()));
        let record = TokenRecord {
            v: RECORD_VERSION,
            id: TokenId::generate(),
            tenant: tenant.clone(),
            principal,
            role,
            secret_hash: hash,
            description: description.to_owned(),
            created_at: now,
            created_by: created_by.clone(),
            expires_at,
            revoked_at: None,
            revision: 1,
        };
        Ok((SecretBytes::new(secret.into_bytes()), record))
    }

    /// The key-encryption key of `tenant`.
    /// The KEK of `tenant` to wrap new key material under. Refused while a restore is begun
    /// and not finished: its last batch replaces the KEKs, and material wrapped under the one
    /// it replaces could never be unwrapped again.
    pub(crate) fn wrapping_kek(&self, tenant: &TenantId) -> Result<SecretBytes, KmsError> {
        if self
            .restore_pending
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(KmsError::invalid(
                "a backup restore is not finished on this server: no key material can be                  created, rotated, imported or recovered until it is (run the same restore                  again to finish it)",
            ));
        }
        self.kek(tenant)
    }

    pub(crate) fn kek(&self, tenant: &TenantId) -> Result<SecretBytes, KmsError> {
        let guard = self.read_unsealed();
        let unsealed = guard.as_ref().ok_or(KmsError::Sealed)?;
        unsealed
            .keks
            .get(tenant)
            .cloned()
            .ok_or(KmsError::Integrity("tenant has no key-encryption key"))
    }

    /// How many entries each cache holds (for diagnostics and tests).
    pub fn cache_sizes(&self) -> CacheSizes {
        self.caches.sizes()
    }

    /// Seals `secret` under the root key with `aad` (tenant KEKs, archive keys).
    pub(crate) fn root_seal(&self, aad: &[u8], secret: &[u8]) -> Result<RootSealed, KmsError> {
        let guard = self.read_unsealed();
        let unsealed = guard.as_ref().ok_or(KmsError::Sealed)?;
        let (nonce, wrapped) =
            self.crypto
                .aes_gcm_seal(unsealed.root_key.as_bytes(), aad, secret)?;
        Ok(RootSealed {
            nonce,
            wrapped,
            guard: Write::UpdateSystem {
                name: ROOT_BLOB.into(),
                value: unsealed.root_blob.clone(),
                expected: unsealed.root_blob.clone(),
            },
        })
    }

    /// Plans a root-key rotation: a new root key sealed by the root of trust, and every tenant
    /// KEK and archive key rewrapped under it. The writes compare-and-swap the root-key blob and
    /// each record, so the rotation commits whole or not at all; the new key takes effect in
    /// [`Kms::finish_root_rotation`] once they are durable.
    pub(crate) async fn plan_root_rotation(&self) -> Result<(RootRotated, WriteBatch), KmsError> {
        let (old_blob, root) = {
            let guard = self.read_unsealed();
            let u = guard.as_ref().ok_or(KmsError::Sealed)?;
            (u.root_blob.clone(), u.root.clone())
        };
        let key = self.crypto.random(32)?;
        let sealed = root.seal(key.as_bytes(), ROOT_AAD)?;
        let blob =
            serde_json::to_vec(&sealed).map_err(|_| KmsError::Integrity("root blob encoding"))?;
        let mut batch = WriteBatch::default();
        batch.push(Write::UpdateSystem {
            name: ROOT_BLOB.into(),
            value: blob.clone(),
            expected: old_blob,
        });
        let (writes, tenants, archive_keys) = self.rewrap_under(&key).await?;
        batch.0.extend(writes);
        Ok((
            RootRotated {
                key,
                blob,
                key_id: sealed.key_id,
                tenants,
                archive_keys,
            },
            batch,
        ))
    }

    /// Plans an unseal rekey: a new root of trust (new unseal shares, a new threshold) seals the
    /// same root key. Nothing wrapped under the root key changes. Returns what the custodians
    /// are handed.
    pub(crate) async fn plan_unseal_rekey(
        &self,
        shares: u8,
        threshold: u8,
    ) -> Result<(RootRekeyed, WriteBatch, Vec<SecretBytes>), KmsError> {
        let factory = self
            .root_factory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(KmsError::invalid(
                "this server's root of trust cannot be rekeyed",
            ))?;
        let (root_key, old_blob) = {
            let guard = self.read_unsealed();
            let u = guard.as_ref().ok_or(KmsError::Sealed)?;
            (u.root_key.clone(), u.root_blob.clone())
        };
        let new = factory.rekey(shares, threshold)?;
        let sealed = new.root.seal(root_key.as_bytes(), ROOT_AAD)?;
        let blob =
            serde_json::to_vec(&sealed).map_err(|_| KmsError::Integrity("root blob encoding"))?;
        let mut batch = WriteBatch::default();
        batch.push(Write::UpdateSystem {
            name: ROOT_BLOB.into(),
            value: blob.clone(),
            expected: old_blob,
        });
        for (name, value) in new.system {
            batch.push(match self.store.system_value(&name).await? {
                Some(expected) => Write::UpdateSystem {
                    name,
                    value,
                    expected,
                },
                None => Write::InsertSystem { name, value },
            });
        }
        Ok((
            RootRekeyed {
                root: new.root,
                blob,
                key_id: sealed.key_id,
            },
            batch,
            new.secrets,
        ))
    }

    /// Writes that move every tenant KEK and archive key not yet under `new` to it (opening
    /// them with the current or the previous root key), with their counts.
    async fn rewrap_under(
        &self,
        new: &SecretBytes,
    ) -> Result<(Vec<Write>, usize, usize), KmsError> {
        let mut writes = Vec::new();
        let (mut tenants, mut archive_keys) = (0, 0);
        writes.extend(
            self.rewrap_value::<crate::checkpoint::SealedCheckpointKey>(
                new,
                crate::checkpoint::CHECKPOINT_KEY_NAME.to_owned(),
                crate::checkpoint::CHECKPOINT_KEY_AAD,
            )
            .await?,
        );
        for t in self.store.tenants().await? {
            let archive_key = self
                .rewrap_value::<crate::archive::SealedArchiveKey>(
                    new,
                    crate::archive::archive_key_name(&t.id),
                    &crate::archive::archive_key_aad(&t.id),
                )
                .await?;
            if let Some(write) = archive_key {
                writes.push(write);
                archive_keys += 1;
            }
            let aad = tenant_aad(&t.id);
            if let Some((nonce, wrapped)) = self.rewrap(new, &aad, &t.kek_nonce, &t.wrapped_kek)? {
                let expected_revision = t.revision;
                let mut record = t;
                record.kek_nonce = nonce.to_vec();
                record.wrapped_kek = wrapped;
                record.revision += 1;
                writes.push(Write::UpdateTenant {
                    record,
                    expected_revision,
                });
                tenants += 1;
            }
        }
        Ok((writes, tenants, archive_keys))
    }

    /// The write that moves the system value `name`, sealed by the root key with `aad`, under
    /// `new`; `None` when there is no such value or it is already under `new`.
    async fn rewrap_value<T: RootSealedValue>(
        &self,
        new: &SecretBytes,
        name: String,
        aad: &[u8],
    ) -> Result<Option<Write>, KmsError> {
        let Some(raw) = self.store.system_value(&name).await? else {
            return Ok(None);
        };
        let mut value = T::decode(&raw)?;
        let (nonce, wrapped) = value.sealed();
        let Some((new_nonce, new_wrapped)) = self.rewrap(new, aad, nonce, wrapped)? else {
            return Ok(None);
        };
        *nonce = new_nonce.to_vec();
        *wrapped = new_wrapped;
        Ok(Some(Write::UpdateSystem {
            name,
            value: value.encode()?,
            expected: raw,
        }))
    }

    /// Opens a value sealed under the current or previous root key and seals it under `new`;
    /// `None` when it is already under `new`.
    fn rewrap(
        &self,
        new: &SecretBytes,
        aad: &[u8],
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<Option<Resealed>, KmsError> {
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| KmsError::Integrity("nonce of a value sealed by the root key"))?;
        if self
            .crypto
            .aes_gcm_open(new.as_bytes(), &nonce, aad, sealed)
            .is_ok()
        {
            return Ok(None);
        }
        let secret = self.root_open(aad, &nonce, sealed)?;
        Ok(Some(self.crypto.aes_gcm_seal(
            new.as_bytes(),
            aad,
            secret.as_bytes(),
        )?))
    }

    /// Makes a committed rotation's key the root key, then rewraps whatever was sealed under
    /// the old one while the rotation was planned (a tenant or archive key created meanwhile),
    /// and forgets the old key.
    async fn finish_root_rotation(&self, rotated: RootRotated) -> Result<(), KmsError> {
        {
            let mut guard = self.write_unsealed();
            let u = guard.as_mut().ok_or(KmsError::Sealed)?;
            let old = std::mem::replace(&mut u.root_key, rotated.key.clone());
            u.previous_root = Some(old);
            u.root_blob = rotated.blob;
            u.generation += 1;
        }
        // The rotation is committed: from here on nothing may fail the request. What cannot be
        // rewrapped now keeps opening under the previous key, which stays in memory until a
        // later rotation or a restart.
        let mut done = false;
        for _ in 0..MAX_ATTEMPTS {
            let (writes, tenants, archive_keys) = match self.rewrap_under(&rotated.key).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "root-key rotation: sweep failed");
                    break;
                }
            };
            if writes.is_empty() {
                done = true;
                break;
            }
            let draft = self.system_event(
                "root.rotate.sweep",
                Outcome::Ok,
                None,
                Some(format!(
                    "rewrapped {tenants} tenant KEKs and {archive_keys} archive keys sealed during the rotation"
                )),
            );
            match self.commit(WriteBatch(writes), draft).await {
                Ok(()) | Err(KmsError::Conflict) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "root-key rotation: sweep failed");
                    break;
                }
            }
        }
        if done {
            if let Some(u) = self.write_unsealed().as_mut() {
                u.previous_root = None;
            }
        }
        Ok(())
    }

    /// Whether the root key (or what seals it) changed since `generation`; when a change is
    /// committed but not yet in memory, waits for it (briefly: it follows its commit at once).
    async fn root_changed_since(&self, generation: u64) -> Result<bool, KmsError> {
        for _ in 0..1000 {
            if self.root_generation() != generation {
                return Ok(true);
            }
            let stored = self.store.system_value(ROOT_BLOB).await?;
            let in_memory = self.read_unsealed().as_ref().map(|u| u.root_blob.clone());
            if stored.is_none() || stored == in_memory {
                return Ok(self.root_generation() != generation);
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Ok(false)
    }

    /// How many times the root key (or what seals it) changed since unsealing.
    fn root_generation(&self) -> u64 {
        self.read_unsealed().as_ref().map_or(0, |u| u.generation)
    }

    /// Opens what [`Kms::root_seal`] sealed.
    pub(crate) fn root_open(
        &self,
        aad: &[u8],
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<SecretBytes, KmsError> {
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| KmsError::Integrity("nonce of a value sealed by the root key"))?;
        let guard = self.read_unsealed();
        let unsealed = guard.as_ref().ok_or(KmsError::Sealed)?;
        // During a rotation's sweep a value may still be under the previous root key.
        std::iter::once(&unsealed.root_key)
            .chain(unsealed.previous_root.as_ref())
            .find_map(|root| {
                self.crypto
                    .aes_gcm_open(root.as_bytes(), &nonce, aad, sealed)
                    .ok()
            })
            .ok_or(KmsError::Integrity(
                "a value sealed by the root key does not open",
            ))
    }

    /// Loads the key-encryption key of `tenant` into memory if it is not there yet: a tenant
    /// created after this node unsealed (by this node or another one sharing the store).
    pub(crate) async fn ensure_kek(&self, tenant: &TenantId) -> Result<(), KmsError> {
        if self
            .read_unsealed()
            .as_ref()
            .is_some_and(|u| u.keks.contains_key(tenant))
        {
            return Ok(());
        }
        let record = self
            .store
            .tenant(tenant)
            .await?
            .ok_or(KmsError::Integrity("tenant record missing"))?;
        let kek = self.root_open(&tenant_aad(tenant), &record.kek_nonce, &record.wrapped_kek)?;
        self.install_kek(tenant.clone(), kek)
    }

    /// Makes `kek` the in-memory key-encryption key of `tenant` (after a restore committed it).
    pub(crate) fn install_kek(&self, tenant: TenantId, kek: SecretBytes) -> Result<(), KmsError> {
        let mut guard = self.write_unsealed();
        let unsealed = guard.as_mut().ok_or(KmsError::Sealed)?;
        unsealed.keks.insert(tenant, kek);
        Ok(())
    }

    /// Whether the root key is in memory (used by health and by tests).
    pub fn is_unsealed(&self) -> bool {
        self.read_unsealed().is_some()
    }

    /// A fingerprint of the root key (SHA-256 of a derived value), for diagnostics only.
    pub fn root_fingerprint(&self) -> Option<String> {
        let guard = self.read_unsealed();
        let u = guard.as_ref()?;
        let d = self
            .crypto
            .hmac_sha256(u.root_key.as_bytes(), b"keyhold/root-fingerprint");
        Some(hex::encode(&d[..8]))
    }

    fn read_unsealed(&self) -> std::sync::RwLockReadGuard<'_, Option<Unsealed>> {
        self.unsealed.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_unsealed(&self) -> std::sync::RwLockWriteGuard<'_, Option<Unsealed>> {
        self.unsealed.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A change of the root key or of what seals it, applied once its writes are durable.
#[derive(Debug)]
pub(crate) enum RootChange {
    /// A new root key.
    Rotated(RootRotated),
    /// The same root key sealed by a new root of trust.
    Rekeyed(RootRekeyed),
}

/// An unseal rekey whose writes are being committed.
pub(crate) struct RootRekeyed {
    /// The new root of trust.
    pub root: Arc<dyn RootOfTrust>,
    /// The root key sealed by it, as stored.
    pub blob: Vec<u8>,
    /// Which key of the root of trust sealed it.
    pub key_id: String,
}

impl std::fmt::Debug for RootRekeyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootRekeyed")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A nonce and ciphertext sealed anew under a rotated root key.
type Resealed = ([u8; 12], Vec<u8>);

/// A root-key rotation whose writes are being committed.
#[derive(Debug)]
pub(crate) struct RootRotated {
    /// The new root key.
    pub key: SecretBytes,
    /// Its sealed blob, as stored.
    pub blob: Vec<u8>,
    /// Which key of the root of trust sealed it.
    pub key_id: String,
    /// Tenant KEKs rewrapped.
    pub tenants: usize,
    /// Archive keys rewrapped.
    pub archive_keys: usize,
}

/// A value sealed under the root key, with the write that asserts (in the batch storing it)
/// that the root key did not rotate meanwhile.
pub(crate) struct RootSealed {
    pub nonce: [u8; 12],
    pub wrapped: Vec<u8>,
    pub guard: Write,
}

/// A system value holding a secret sealed by the root key (AES-GCM), which a root-key
/// rotation rewraps (see `Kms::rewrap_value`).
pub(crate) trait RootSealedValue: serde::Serialize + serde::de::DeserializeOwned {
    /// The error when a stored value does not decode.
    const UNDECODABLE: &'static str;
    /// The error when a value does not encode.
    const UNENCODABLE: &'static str;
    /// Its nonce and sealed bytes.
    fn sealed(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>);

    /// The value decoded from its stored bytes.
    fn decode(raw: &[u8]) -> Result<Self, KmsError> {
        serde_json::from_slice(raw).map_err(|_| KmsError::Integrity(Self::UNDECODABLE))
    }

    /// The value's stored bytes.
    fn encode(&self) -> Result<Vec<u8>, KmsError> {
        serde_json::to_vec(self).map_err(|_| KmsError::Integrity(Self::UNENCODABLE))
    }
}

/// Locks a mutex; a panic elsewhere while holding it leaves plain data, still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The key a failed execution is audited under: the id it resolved, else the client's reference.
fn resolved_or(cx: &Cx<'_>, key_hint: Option<String>) -> Option<String> {
    cx.resolved_key().map(|id| id.to_string()).or(key_hint)
}

/// The event of a request by `caller` (anonymous if it did not authenticate) at `time`: a
/// success with no key, detail or error, which the call site completes.
fn request_event(
    meta: &RequestMeta,
    caller: Option<&Caller>,
    action: String,
    time: Timestamp,
) -> EventDraft {
    EventDraft {
        time,
        tenant: caller.map(|c| c.tenant.clone()),
        target_tenant: None,
        principal: caller.map_or_else(PrincipalName::anonymous, |c| c.principal.clone()),
        auth_method: caller.map_or(AuthMethod::None, |c| c.auth),
        protocol: meta.protocol,
        action,
        key: None,
        key_version: None,
        outcome: Outcome::Ok,
        error_code: None,
        compromised_key_used: false,
        detail: None,
        request_id: meta.request_id.clone(),
        peer: meta.peer.clone(),
    }
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub(crate) fn tenant_aad(tenant: &TenantId) -> Vec<u8> {
    format!("keyhold/tenant-kek/v1/{tenant}").into_bytes()
}
