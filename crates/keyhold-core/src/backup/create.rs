//! Creating a backup: one snapshot, streamed into the key backup; the KEK backup last.

use tokio::io::AsyncWrite;
use zeroize::Zeroizing;

use keyhold_crypto::Provider;

use super::format::{ArtifactHeader, ArtifactKind, ArtifactWriter, BackupKey, Protection};
use super::{Counts, KekEntry, KeyBackupEnd, KeyEntry, Progress};
use crate::archive::{archive_key_aad, SealedArchiveKey, ARCHIVE_KEY_PREFIX};
use crate::audit::{EventDraft, Outcome};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::TenantId;
use crate::kms::{tenant_aad, Credential, Kms, RequestMeta, RootSealedValue as _};
use crate::model::Role;
use crate::ops::{Caller, Cx};
use crate::store::{Snapshot, WriteBatch};

/// Records read from the snapshot per query.
const PAGE: u32 = 1000;

/// How the new backup's key is to be protected.
#[derive(Debug, Clone)]
pub enum ProtectionRequest {
    /// Split into `shares` shares, any `threshold` of which rebuild it.
    Shares {
        /// M.
        threshold: u8,
        /// N.
        shares: u8,
    },
    /// Encrypted to this RSA public key (SubjectPublicKeyInfo DER).
    Recipient {
        /// The recipient's public key.
        spki_der: Vec<u8>,
    },
}

/// A backup that was written.
#[derive(Debug)]
pub struct Created {
    /// Its id.
    pub backup_id: uuid::Uuid,
    /// The snapshot instant.
    pub created_at: Timestamp,
    /// Records in the key backup.
    pub counts: Counts,
    /// The audit chain head at the snapshot.
    pub audit_head: Option<(u64, String)>,
    /// Hex SHA-256 of the key backup.
    pub key_backup_sha256: String,
    /// Its length.
    pub key_backup_bytes: u64,
    /// The whole KEK backup (small: one entry per tenant).
    pub kek_backup: Vec<u8>,
    /// The backup key's shares in text form (shares protection only), to hand out once.
    pub shares: Vec<Zeroizing<String>>,
}

/// Creates a backup for a caller that [`authorize`] admitted, writing the key backup to `out`;
/// audited as `backup.create` whether it succeeds or fails.
pub async fn create_as<W: AsyncWrite + Unpin + Send>(
    kms: &Kms,
    meta: &RequestMeta,
    caller: &Caller,
    protection: ProtectionRequest,
    out: W,
) -> Result<Created, KmsError> {
    let result = write_backup(kms, protection, out, &|_| {}).await;
    audit(kms, meta, Some(caller), "backup.create", outcome(&result)).await?;
    result
}

/// Creates a scheduled backup for the server itself, protected for `recipient_spki_der`;
/// audited as `backup.scheduled` whether it succeeds or fails.
pub async fn create_scheduled<W: AsyncWrite + Unpin + Send>(
    kms: &Kms,
    recipient_spki_der: Vec<u8>,
    out: W,
) -> Result<Created, KmsError> {
    let protection = ProtectionRequest::Recipient {
        spki_der: recipient_spki_der,
    };
    let result = write_backup(kms, protection, out, &|_| {}).await;
    audit(
        kms,
        &RequestMeta::internal(),
        None,
        "backup.scheduled",
        outcome(&result),
    )
    .await?;
    result
}

/// Records a scheduled backup that failed outside the core (e.g. its destination cannot be
/// written) as a `backup.scheduled` event with an error outcome.
pub async fn record_scheduled_failure(kms: &Kms, reason: &str) -> Result<(), KmsError> {
    let e = KmsError::invalid(reason.to_owned());
    audit(
        kms,
        &RequestMeta::internal(),
        None,
        "backup.scheduled",
        Err(&e),
    )
    .await
}

/// Authenticates `credential` and requires an administrator of the default tenant (who
/// administers the installation); a refusal is audited under `action`.
pub async fn authorize(
    kms: &Kms,
    meta: &RequestMeta,
    credential: &Credential,
    action: &str,
) -> Result<Caller, KmsError> {
    let checked = async {
        let caller = kms.authenticate(credential).await?;
        let cx = Cx::new(kms, &caller, kms.now(), kms.caches.epoch());
        cx.require(
            &[Role::Admin],
            "only administrators back up and restore keys",
        )?;
        if caller.tenant != TenantId::default_tenant() {
            return Err(KmsError::PermissionDenied(
                "only administrators of the default tenant back up and restore the installation",
            ));
        }
        Ok(caller)
    }
    .await;
    if let Err(e) = &checked {
        audit(kms, meta, None, action, Err(e)).await?;
    }
    checked
}

/// The audit detail of a backup action that succeeded.
pub(crate) trait Detail {
    fn detail(&self) -> Option<String>;
}

impl Detail for Created {
    fn detail(&self) -> Option<String> {
        let c = &self.counts;
        Some(format!(
            "backup {}: {} tenants, {} keys, {} versions, {} archived, {} aliases, {} grants, {} tokens, {} client certificates, {} trust anchors; audit head {}",
            self.backup_id,
            c.tenants,
            c.keys,
            c.versions,
            c.archived,
            c.aliases,
            c.grants,
            c.tokens,
            c.client_certs,
            c.trust_anchors,
            self.audit_head.as_ref().map_or("none".to_owned(), |(s, _)| format!("seq {s}")),
        ))
    }
}

/// `Ok(detail)` or the error, for [`audit`].
pub(crate) fn outcome<T: Detail>(
    result: &Result<T, KmsError>,
) -> Result<Option<String>, &KmsError> {
    match result {
        Ok(done) => Ok(done.detail()),
        Err(e) => Err(e),
    }
}

/// Commits the audit event of a backup action (ok or failed).
pub(crate) async fn audit(
    kms: &Kms,
    meta: &RequestMeta,
    caller: Option<&Caller>,
    action: &str,
    result: Result<Option<String>, &KmsError>,
) -> Result<(), KmsError> {
    audit_with(kms, meta, caller, action, result, WriteBatch::default()).await
}

/// Commits `writes` with the audit event of a backup action.
pub(crate) async fn audit_with(
    kms: &Kms,
    meta: &RequestMeta,
    caller: Option<&Caller>,
    action: &str,
    result: Result<Option<String>, &KmsError>,
    writes: WriteBatch,
) -> Result<(), KmsError> {
    let mut draft: EventDraft = kms.system_event(action, Outcome::Ok, None, None);
    draft.request_id = meta.request_id.clone();
    draft.protocol = meta.protocol;
    draft.peer = meta.peer.clone();
    if let Some(c) = caller {
        draft.tenant = Some(c.tenant.clone());
        draft.principal = c.principal.clone();
        draft.auth_method = c.auth;
    }
    match result {
        Ok(detail) => draft.detail = detail,
        Err(e) => {
            draft.outcome = match e {
                KmsError::Unauthenticated | KmsError::PermissionDenied(_) => Outcome::Denied,
                _ => Outcome::Error,
            };
            draft.error_code = Some(e.code());
            draft.detail = Some(e.public_message());
        }
    }
    let mut last = KmsError::Conflict;
    for _ in 0..4 {
        match kms.commit(writes.clone(), draft.clone()).await {
            Ok(()) => return Ok(()),
            Err(KmsError::Conflict) => last = KmsError::Conflict,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Writes the key backup of a new snapshot to `out` and returns the KEK backup.
pub async fn write_backup<W: AsyncWrite + Unpin + Send>(
    kms: &Kms,
    protection: ProtectionRequest,
    out: W,
    progress: Progress<'_>,
) -> Result<Created, KmsError> {
    if !kms.is_unsealed() {
        return Err(KmsError::Sealed);
    }
    let provider = Provider::aws_lc();
    let backup_id = uuid::Uuid::now_v7();
    let created_at = kms.now();
    let key = BackupKey::generate()?;
    let (protection, shares) = protect(&provider, &key, protection)?;

    let mut kek_header = ArtifactHeader::new(ArtifactKind::KekBackup, backup_id, created_at)?;
    kek_header.protection = Some(protection);
    kek_header.key_check = Some(key.key_check(&backup_id));
    let kek_header_bytes = kek_header.encode()?;

    let mut snap = kms.store().snapshot().await?;
    let audit_head = snap.audit_head().await?;

    // The secrets of the KEK backup, wrapped under the backup key as they are read.
    let wrap_key = key.kek_wrap_key(&backup_id)?;
    let mut kek_entries = Vec::new();
    let tenants = snap.tenants().await?;
    for t in &tenants {
        let kek = kms.root_open(&tenant_aad(&t.id), &t.kek_nonce, &t.wrapped_kek)?;
        let (nonce, wrapped) = provider.aes_gcm_seal(
            wrap_key.as_bytes(),
            &kek_aad(&backup_id, "kek", &t.id),
            kek.as_bytes(),
        )?;
        kek_entries.push(KekEntry::Kek {
            tenant: t.id.clone(),
            nonce: nonce.to_vec(),
            wrapped,
        });
    }
    for (_, value) in snap.system_values(ARCHIVE_KEY_PREFIX).await? {
        let sealed = SealedArchiveKey::decode(&value)?;
        let archive_key = kms.root_open(
            &archive_key_aad(&sealed.tenant),
            &sealed.nonce,
            &sealed.wrapped,
        )?;
        let (nonce, wrapped) = provider.aes_gcm_seal(
            wrap_key.as_bytes(),
            &kek_aad(&backup_id, "archive-key", &sealed.tenant),
            archive_key.as_bytes(),
        )?;
        kek_entries.push(KekEntry::ArchiveKey {
            tenant: sealed.tenant,
            created_at: sealed.created_at,
            nonce: nonce.to_vec(),
            wrapped,
        });
    }

    let mut key_header = ArtifactHeader::new(ArtifactKind::KeyBackup, backup_id, created_at)?;
    key_header.kek_backup_header_sha256 = Some(hex::encode(provider.sha256(&kek_header_bytes)));
    let mut w = ArtifactWriter::start(out, &key_header, key.file_key(&key_header)?).await?;
    let mut counts = Counts::default();
    let mut emit = |entry: KeyEntry, counts: &mut Counts| {
        counts.add(&entry);
        progress(counts.records());
        entry
    };
    for mut t in tenants {
        t.wrapped_kek = Vec::new();
        t.kek_nonce = Vec::new();
        w.record(&emit(KeyEntry::Tenant(t), &mut counts)).await?;
    }
    stream_sections(&mut *snap, &mut w, &mut counts, &mut emit).await?;
    let end = KeyBackupEnd {
        counts: counts.clone(),
        audit_head: audit_head.clone(),
    };
    w.record(&KeyEntry::End(end)).await?;
    let (_, digest, key_backup_bytes) = w.finish().await?;
    drop(snap);

    let key_backup_sha256 = hex::encode(digest);
    kek_entries.push(KekEntry::End {
        key_backup_sha256: key_backup_sha256.clone(),
        key_backup_bytes,
        counts: counts.clone(),
    });
    let mut kw = ArtifactWriter::start(Vec::new(), &kek_header, key.file_key(&kek_header)?).await?;
    for e in &kek_entries {
        kw.record(e).await?;
    }
    let (kek_backup, _, _) = kw.finish().await?;
    Ok(Created {
        backup_id,
        created_at,
        counts,
        audit_head,
        key_backup_sha256,
        key_backup_bytes,
        kek_backup,
        shares,
    })
}

/// A sorted listing of the snapshot read one page at a time, with one record of look-ahead.
struct Cursor<T> {
    page: std::collections::VecDeque<T>,
    after: Option<(crate::ids::KeyId, u32)>,
    done: bool,
}

impl<T> Cursor<T> {
    fn new() -> Self {
        Self {
            page: Default::default(),
            after: None,
            done: false,
        }
    }
}

/// The `(key, version)` position of a version or archived version.
trait Positioned {
    fn position(&self) -> (crate::ids::KeyId, u32);
}

impl Positioned for crate::model::KeyVersion {
    fn position(&self) -> (crate::ids::KeyId, u32) {
        (self.key_id, self.version)
    }
}

impl Positioned for crate::archive::ArchivedVersion {
    fn position(&self) -> (crate::ids::KeyId, u32) {
        (self.key_id, self.version)
    }
}

/// Pops the cursor's next record if it belongs to `key`, reading the next page when needed.
macro_rules! next_of_key {
    ($snap:expr, $cursor:expr, $method:ident, $key:expr) => {{
        if $cursor.page.is_empty() && !$cursor.done {
            let page = $snap
                .$method($cursor.after.as_ref().map(|(k, v)| (k, *v)), PAGE)
                .await?;
            match page.last() {
                Some(last) => $cursor.after = Some(last.position()),
                None => $cursor.done = true,
            }
            $cursor.page.extend(page);
        }
        match $cursor.page.front() {
            Some(v) if v.position().0 == $key => $cursor.page.pop_front(),
            _ => None,
        }
    }};
}

/// Pages every section after the tenants out of the snapshot into the writer: each key followed
/// by its versions and archived versions (a merge of three listings sorted by key id), then
/// aliases, grants, tokens, client certificates and trust anchors.
async fn stream_sections<W: AsyncWrite + Unpin + Send>(
    snap: &mut dyn Snapshot,
    w: &mut ArtifactWriter<W>,
    counts: &mut Counts,
    emit: &mut (dyn FnMut(KeyEntry, &mut Counts) -> KeyEntry + Send),
) -> Result<(), KmsError> {
    let mut versions = Cursor::new();
    let mut archived = Cursor::new();
    let mut after = None;
    loop {
        let page = snap.keys(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for k in page {
            let id = k.id;
            w.record(&emit(KeyEntry::Key(k), counts)).await?;
            while let Some(v) = next_of_key!(snap, versions, versions, id) {
                w.record(&emit(KeyEntry::Version(v), counts)).await?;
            }
            while let Some(v) = next_of_key!(snap, archived, archived_versions, id) {
                w.record(&emit(KeyEntry::Archived(v), counts)).await?;
            }
        }
    }
    let mut after = None;
    loop {
        let page = snap
            .aliases(after.as_ref().map(|(t, n)| (t, n)), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.tenant.clone(), last.name.clone()));
        for a in page {
            w.record(&emit(KeyEntry::Alias(a), counts)).await?;
        }
    }
    let mut after = None;
    loop {
        let page = snap.grants(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for g in page {
            w.record(&emit(KeyEntry::Grant(g), counts)).await?;
        }
    }
    let mut after = None;
    loop {
        let page = snap.tokens(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for t in page {
            w.record(&emit(KeyEntry::Token(t), counts)).await?;
        }
    }
    let mut after: Option<String> = None;
    loop {
        let page = snap.client_certs(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.fingerprint.clone());
        for c in page {
            w.record(&emit(KeyEntry::ClientCert(c), counts)).await?;
        }
    }
    let mut after = None;
    loop {
        let page = snap.trust_anchors(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for a in page {
            w.record(&emit(KeyEntry::TrustAnchor(a), counts)).await?;
        }
    }
    let mut after: Option<(TenantId, String, u32)> = None;
    loop {
        let page = snap
            .policy_versions(after.as_ref().map(|(t, s, v)| (t, s.as_str(), *v)), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.tenant.clone(), last.subject.as_text(), last.version));
        for p in page {
            w.record(&emit(KeyEntry::PolicyVersion(p), counts)).await?;
        }
    }
    let mut after = None;
    loop {
        let page = snap.grant_uses(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.grant);
        for u in page {
            w.record(&emit(KeyEntry::GrantUses(u), counts)).await?;
        }
    }
    let mut after = None;
    loop {
        let page = snap.approvals(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for a in page {
            w.record(&emit(KeyEntry::Approval(Box::new(a)), counts))
                .await?;
        }
    }
    Ok(())
}

/// Protects the backup key as requested.
fn protect(
    provider: &Provider,
    key: &BackupKey,
    request: ProtectionRequest,
) -> Result<(Protection, Vec<Zeroizing<String>>), KmsError> {
    match request {
        ProtectionRequest::Shares { threshold, shares } => {
            if threshold < 1 || threshold > shares {
                return Err(KmsError::invalid(
                    "backup shares: need 1 <= threshold <= shares",
                ));
            }
            let parts = keyhold_crypto::shamir::split(key.as_bytes(), shares, threshold)?;
            let texts = parts.iter().map(|s| Zeroizing::new(s.to_text())).collect();
            Ok((Protection::Shares { threshold, shares }, texts))
        }
        ProtectionRequest::Recipient { spki_der } => {
            let wrapped_backup_key = provider
                .rsa_oaep_sha256_encrypt(&spki_der, key.as_bytes())
                .map_err(|_| {
                    KmsError::invalid(
                        "the recipient key must be an RSA public key (2048 bits or more)",
                    )
                })?;
            if spki_der.len() < 270 {
                return Err(KmsError::invalid(
                    "the recipient key must be an RSA public key of 2048 bits or more",
                ));
            }
            Ok((
                Protection::Recipient {
                    recipient_sha256: hex::encode(provider.sha256(&spki_der)),
                    wrapped_backup_key,
                },
                Vec::new(),
            ))
        }
    }
}

/// The AAD of a KEK or archive key inside the KEK backup.
pub(crate) fn kek_aad(backup_id: &uuid::Uuid, what: &str, tenant: &TenantId) -> Vec<u8> {
    format!("keyhold/backup/v1/{what}/{backup_id}/{tenant}").into_bytes()
}
