//! Restoring a backup into an empty server, and recovering one key into a running one.
//!
//! Both verify the whole pair first (nothing is written if any byte is wrong), then read the key
//! backup a second time and write it in batches, each committed with its audit event.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

use keyhold_crypto::{Provider, SecretBytes};

use super::create::{audit, audit_with};
use super::format::{BackupError, BackupKey, BackupSecret};
use super::verify::{key_reader, open_keks, read_pair, Checker, Keks, Pair};
use super::{KeyEntry, Progress, Report};
use crate::archive::{
    archive_key_aad, archive_key_name, archived_version_aad, ArchivedVersion, SealedArchiveKey,
};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{KeyId, PrincipalName, TenantId};
use crate::kms::{tenant_aad, Kms, RequestMeta, RootSealedValue as _};
use crate::model::{Alias, Grant, KeyRecord, KeyVersion, RECORD_VERSION};
use crate::ops::approvals::gate_outside;
use crate::policy::{ApprovalAction, GrantUses, PolicySubject, PolicyVersion};
use crate::store::{decode_record, encode_record, Insert, KeyFilter, Write, WriteBatch};

/// The canonical form of a restore (or, with a key, a Recover Key) for dual control: the
/// backup's id and the digest of its key backup header.
fn restore_request(pair: &Pair, key: Option<KeyId>) -> Vec<u8> {
    format!(
        "backup.restore\0{}\0{}\0{}",
        pair.key_header.backup_id,
        key_header_sha256(pair),
        key.map(|k| k.to_string()).unwrap_or_default()
    )
    .into_bytes()
}

/// Writes per committed batch.
const BATCH: usize = 500;

/// Verifies the pair in full and returns the opened KEK backup and the report (pass one).
async fn verify_all(
    key_backup: &Path,
    kek_backup: &[u8],
    key: &BackupKey,
    progress: Progress<'_>,
) -> Result<(Pair, Keks, Report), KmsError> {
    let mut file = tokio::fs::File::open(key_backup)
        .await
        .map_err(|e| KmsError::invalid(format!("cannot read the key backup: {e}")))?;
    let mut kek = kek_backup;
    let pair = read_pair(&mut file, &mut kek).await?;
    let keks = open_keks(&pair, kek, &BackupSecret::Key(key.clone())).await?;
    let mut reader = key_reader(&pair, file, &keks)?;
    let mut checker = Checker::new(&pair, &keks);
    while let Some(entry) = reader.next::<KeyEntry>().await? {
        checker.check(&entry)?;
        progress(reader.bytes_read());
    }
    let (digest, bytes) = reader.finish().await?;
    let report = checker.finish(digest, bytes)?;
    Ok((pair, keks, report))
}

/// The key backup read a second time (pass two), every record checked as in pass one.
struct Replay<'a> {
    reader: super::format::ArtifactReader<tokio::fs::File>,
    checker: Checker<'a>,
}

impl<'a> Replay<'a> {
    async fn start(
        key_backup: &Path,
        pair: &'a Pair,
        keks: &'a Keks,
    ) -> Result<Replay<'a>, KmsError> {
        let mut file = tokio::fs::File::open(key_backup)
            .await
            .map_err(|e| KmsError::invalid(format!("cannot read the key backup: {e}")))?;
        let (header, header_bytes) = super::format::read_header(&mut file).await?;
        if header_bytes != pair.key_header_bytes || header != pair.key_header {
            return Err(BackupError::Mismatch(
                "the key backup changed between its two readings".into(),
            )
            .into());
        }
        Ok(Replay {
            reader: key_reader(pair, file, keks)?,
            checker: Checker::new(pair, keks),
        })
    }

    async fn next(&mut self) -> Result<Option<KeyEntry>, KmsError> {
        let Some(entry) = self.reader.next::<KeyEntry>().await? else {
            return Ok(None);
        };
        self.checker.check(&entry)?;
        Ok(Some(entry))
    }

    async fn finish(self) -> Result<(), KmsError> {
        let (digest, bytes) = self.reader.finish().await?;
        self.checker.finish(digest, bytes)?;
        Ok(())
    }
}

/// Whether the server holds no key in any tenant.
async fn is_empty(kms: &Kms) -> Result<bool, KmsError> {
    for t in kms.store().tenants().await? {
        if !kms
            .store()
            .list_keys(&t.id, &KeyFilter::default(), None, 1)
            .await?
            .is_empty()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The system value that marks a restore begun and not finished: inserted (only if absent) with
/// the approval the restore consumes, before its first record is written, and deleted by the
/// batch that installs the tenants' KEKs. While it exists, only a run of the same backup may
/// write (a resume), and the server holds keys it cannot use yet.
pub const RESTORE_MARKER: &str = "restore-in-progress";

/// What [`RESTORE_MARKER`] holds: the backup being restored, and the run that writes it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreMarker {
    /// Record format version.
    pub v: u32,
    /// The backup.
    pub backup_id: uuid::Uuid,
    /// Hex SHA-256 of its key backup's header: with the id, names the pair.
    pub key_header_sha256: String,
    /// When the first run started writing.
    pub started_at: Timestamp,
    /// Who started it.
    pub started_by: PrincipalName,
    /// The run that writes it now: 1, plus one per resume.
    pub run: u32,
    /// That run's own id: each of its batches asserts that the marker still names it, so a run
    /// taken over by a resume (on another server sharing the store) writes nothing more.
    pub run_id: uuid::Uuid,
    /// When that run began writing.
    pub run_at: Timestamp,
    /// Who asked for that run.
    pub run_by: PrincipalName,
}

impl RestoreMarker {
    fn decode(bytes: &[u8]) -> Result<Self, KmsError> {
        decode_record(bytes).map_err(|_| KmsError::Integrity("the restore marker does not decode"))
    }

    /// The marker and its stored bytes, if a restore is begun and not finished.
    async fn read(kms: &Kms) -> Result<Option<(Self, Vec<u8>)>, KmsError> {
        match kms.store().system_value(RESTORE_MARKER).await? {
            Some(bytes) => Ok(Some((Self::decode(&bytes)?, bytes))),
            None => Ok(None),
        }
    }

    /// Whether it names this pair.
    fn names(&self, backup_id: uuid::Uuid, key_header_sha256: &str) -> bool {
        self.backup_id == backup_id && self.key_header_sha256 == key_header_sha256
    }

    /// The refusal of any other backup while this restore is not finished.
    fn unfinished(&self) -> KmsError {
        KmsError::invalid(format!(
            "the restore of backup {} (started {} by {}) is not finished: run the same restore \
             again, with that backup's key backup and KEK backup, to finish it; no other backup \
             can be restored until then",
            self.backup_id, self.started_at, self.started_by
        ))
    }
}

/// A restore begun and not finished, as health reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreInProgress {
    /// The backup.
    pub backup_id: uuid::Uuid,
    /// When its first run started.
    pub started_at: Timestamp,
    /// Runs so far (1, plus one per resume).
    pub runs: u32,
    /// Whether a run is writing it in this process now; when false it was interrupted (or runs
    /// on another server sharing the store) and is finished by running the same restore again.
    pub running_here: bool,
}

/// The restore begun and not finished on this server's store, if any.
pub async fn in_progress(kms: &Kms) -> Result<Option<RestoreInProgress>, KmsError> {
    Ok(RestoreMarker::read(kms)
        .await?
        .map(|(m, _)| RestoreInProgress {
            backup_id: m.backup_id,
            started_at: m.started_at,
            runs: m.run,
            running_here: kms.restoring.try_lock().is_err(),
        }))
}

/// The run of a restore that holds the marker.
struct Run {
    backup_id: uuid::Uuid,
    marker: RestoreMarker,
    bytes: Vec<u8>,
}

impl Run {
    /// Asserts that this run still holds the restore (joins each of its batches).
    fn holds(&self) -> Write {
        Write::UpdateSystem {
            name: RESTORE_MARKER.into(),
            value: self.bytes.clone(),
            expected: self.bytes.clone(),
        }
    }

    /// Ends the restore (joins its last batch).
    fn finish(&self) -> Write {
        Write::DeleteSystem {
            name: RESTORE_MARKER.into(),
            expected: self.bytes.clone(),
        }
    }

    /// Commits one batch of records with its audit event, if this run still holds the restore.
    async fn commit_part(
        &self,
        kms: &Kms,
        meta: &RequestMeta,
        caller: &crate::ops::Caller,
        detail: String,
        mut batch: WriteBatch,
    ) -> Result<(), KmsError> {
        // First, so that a run taken over fails on it rather than on a record the other run
        // wrote meanwhile.
        batch.0.insert(0, self.holds());
        self.commit(kms, meta, caller, detail, batch).await
    }

    /// Commits the last batch with its audit event and ends the restore, if this run still
    /// holds it.
    async fn commit_last(
        &self,
        kms: &Kms,
        meta: &RequestMeta,
        caller: &crate::ops::Caller,
        detail: String,
        mut batch: WriteBatch,
    ) -> Result<(), KmsError> {
        batch.0.insert(0, self.finish());
        self.commit(kms, meta, caller, detail, batch).await
    }

    /// Commits a batch of this run. A batch refused because the marker no longer names this
    /// run says who has the restore now.
    async fn commit(
        &self,
        kms: &Kms,
        meta: &RequestMeta,
        caller: &crate::ops::Caller,
        detail: String,
        batch: WriteBatch,
    ) -> Result<(), KmsError> {
        match audit_with(
            kms,
            meta,
            Some(caller),
            "backup.restore",
            Ok(Some(detail)),
            batch,
        )
        .await
        {
            Err(e @ (KmsError::Conflict | KmsError::NotFound(_))) => {
                Err(match RestoreMarker::read(kms).await? {
                    Some((now, _)) if now.run_id == self.marker.run_id => e,
                    Some((now, _)) => KmsError::invalid(format!(
                        "this run of the restore of backup {} stopped: run {} (by {}) took it \
                         over and finishes it",
                        self.backup_id, now.run, now.run_by
                    )),
                    None => KmsError::invalid(format!(
                        "this run of the restore of backup {} stopped: another run finished it",
                        self.backup_id
                    )),
                })
            }
            other => other,
        }
    }
}

/// Takes the restore of `pair`: inserts the marker (a fresh restore) or takes over the marker
/// of an interrupted one (`unfinished`, a resume), in one batch with the writes that consume
/// the approval and a `backup.restore` event. Exactly one of several runs started at once,
/// here or on other servers sharing the store, gets it; the others are refused.
async fn claim(
    kms: &Kms,
    meta: &RequestMeta,
    caller: &crate::ops::Caller,
    pair: &Pair,
    unfinished: Option<(RestoreMarker, Vec<u8>)>,
    consumed: Vec<Write>,
) -> Result<Run, KmsError> {
    let now = kms.now();
    let backup_id = pair.key_header.backup_id;
    let run_id = uuid::Uuid::now_v7();
    let (marker, detail, expected) = match unfinished {
        None => (
            RestoreMarker {
                v: RECORD_VERSION,
                backup_id,
                key_header_sha256: key_header_sha256(pair),
                started_at: now,
                started_by: caller.principal.clone(),
                run: 1,
                run_id,
                run_at: now,
                run_by: caller.principal.clone(),
            },
            format!("backup {backup_id}: started"),
            None,
        ),
        Some((old, expected)) => (
            RestoreMarker {
                run: old.run + 1,
                run_id,
                run_at: now,
                run_by: caller.principal.clone(),
                ..old.clone()
            },
            format!(
                "backup {backup_id}: resumed (run {}; started {} by {}; what the interrupted \
                 run committed is kept)",
                old.run + 1,
                old.started_at,
                old.started_by
            ),
            Some(expected),
        ),
    };
    let bytes = encode_record(&marker);
    // Inserted only if absent, or taken over from the value the resume read: either way,
    // one run wins.
    let write = match expected {
        None => Write::InsertSystem {
            name: RESTORE_MARKER.into(),
            value: bytes.clone(),
        },
        Some(expected) => Write::UpdateSystem {
            name: RESTORE_MARKER.into(),
            value: bytes.clone(),
            expected,
        },
    };
    let mut batch = WriteBatch(consumed);
    batch.push(write);
    match audit_with(
        kms,
        meta,
        Some(caller),
        "backup.restore",
        Ok(Some(detail)),
        batch,
    )
    .await
    {
        Ok(()) => {
            kms.set_restore_pending(true);
            Ok(Run {
                backup_id,
                marker,
                bytes,
            })
        }
        // The marker was inserted or taken over first by another run, or the approval was
        // consumed by it.
        Err(KmsError::AlreadyExists(_) | KmsError::Conflict | KmsError::NotFound(_)) => {
            Err(match RestoreMarker::read(kms).await? {
                Some((other, _)) => KmsError::invalid(format!(
                    "another restore of backup {} (run {} by {}) started at the same time and \
                     runs now; only one restore runs at a time: wait for it to finish (if it is \
                     interrupted, run the restore of that backup again)",
                    other.backup_id, other.run, other.run_by
                )),
                None => KmsError::invalid(
                    "another restore changed the server at the same time; run the restore again",
                ),
            })
        }
        Err(e) => Err(e),
    }
}

/// Hex SHA-256 of the key backup's header.
fn key_header_sha256(pair: &Pair) -> String {
    hex::encode(Provider::aws_lc().sha256(&pair.key_header_bytes))
}

/// Refuses a restore of `key_backup` while a restore of another backup is not finished,
/// reading only the key backup's header.
async fn same_backup(marker: &RestoreMarker, key_backup: &Path) -> Result<(), KmsError> {
    let mut file = tokio::fs::File::open(key_backup)
        .await
        .map_err(|e| KmsError::invalid(format!("cannot read the key backup: {e}")))?;
    let (header, bytes) = super::format::read_header(&mut file).await?;
    let digest = hex::encode(Provider::aws_lc().sha256(&bytes));
    if marker.names(header.backup_id, &digest) {
        Ok(())
    } else {
        Err(marker.unfinished())
    }
}

/// Restores a backup into a server that holds no key (initialized and unsealed): every tenant
/// gets its backed-up KEK (wrapped under this server's root key) and archive key, and every
/// record is written as it was. Tokens already present (same id or secret) are kept as they are.
///
/// The key backup is read from `key_backup` twice: verified in full, then written. Audited as
/// `backup.restore` (one event when it starts or resumes, one per committed batch, the last
/// naming the source audit head).
///
/// Restores are exclusive and resumable. One runs at a time in a process, and the
/// [`RESTORE_MARKER`] system value, inserted only if absent before the first record is written
/// and deleted by the last batch, makes it one at a time over a shared store too. A restore
/// interrupted part way (a crash, a lost connection) leaves the marker: running the same
/// restore again (same pair) resumes it although the server is no longer empty, and writes
/// only what is missing (records are inserted if absent); a restore of another backup is
/// refused until then. A resume is a new request for dual control: it passes the gate as a
/// fresh restore does (an approval consumed by the interrupted run is spent; a new one is
/// asked for and, once approved, consumed by the resume).
pub async fn restore_as(
    kms: &Kms,
    meta: &RequestMeta,
    caller: &crate::ops::Caller,
    key: BackupKey,
    kek_backup: &[u8],
    key_backup: &Path,
    progress: Progress<'_>,
) -> Result<Report, KmsError> {
    let result = restore(kms, meta, caller, &key, kek_backup, key_backup, progress).await;
    match &result {
        // Audited as `approval.request` already.
        Err(KmsError::ApprovalRequired { .. }) => {}
        Err(e) => audit(kms, meta, Some(caller), "backup.restore", Err(e)).await?,
        Ok(_) => {}
    }
    result
}

async fn restore(
    kms: &Kms,
    meta: &RequestMeta,
    caller: &crate::ops::Caller,
    key: &BackupKey,
    kek_backup: &[u8],
    key_backup: &Path,
    progress: Progress<'_>,
) -> Result<Report, KmsError> {
    // One restore at a time in this process (the marker below makes it one at a time over
    // the store, for other servers sharing it).
    let Ok(_running) = kms.restoring.try_lock() else {
        return Err(match RestoreMarker::read(kms).await? {
            Some((m, _)) => KmsError::invalid(format!(
                "a restore of backup {} is running on this server (run {} by {}); wait for it \
                 to finish",
                m.backup_id, m.run, m.run_by
            )),
            None => KmsError::invalid(
                "a restore is running on this server (verifying its backup); wait for it to \
                 finish",
            ),
        });
    };
    let unfinished = RestoreMarker::read(kms).await?;
    match &unfinished {
        Some((marker, _)) => same_backup(marker, key_backup).await?,
        None if !is_empty(kms).await? => {
            return Err(KmsError::invalid(
                "the server already holds keys: restore only into an empty server (initialize a new one), \
                 or recover single keys with `keyhold backup recover-key`",
            ));
        }
        None => {}
    }
    let (pair, keks, report) = verify_all(key_backup, kek_backup, key, progress).await?;
    let id = pair.key_header.backup_id;
    if let Some((marker, _)) = &unfinished {
        // The file read in full must be the one named above.
        if !marker.names(id, &key_header_sha256(&pair)) {
            return Err(marker.unfinished());
        }
    }
    // Dual control: the approval binds this backup (its id and header), and is consumed with
    // the first batch written, the one that takes the marker.
    let consumed = gate_outside(
        kms,
        meta,
        caller,
        ApprovalAction::BackupRestore,
        None,
        restore_request(&pair, None),
        format!("restore backup {id} into this server"),
    )
    .await?;
    let resumed = unfinished.is_some();
    let run = claim(kms, meta, caller, &pair, unfinished, consumed).await?;

    // Tenants (with their KEKs), their policies and archive keys go in the last batch: until
    // it commits, the restored keys cannot be used, and dual control and separation of duties
    // stay those of this server (so a resume passes the same gate as the first run).
    let current_tenants = kms.store().tenants().await?;
    let mut tenant_writes = Vec::new();
    let mut tenant_policy_writes = Vec::new();
    let mut anchor_writes = Vec::new();
    let mut pending = WriteBatch::default();
    let mut existing_policies = std::collections::HashMap::new();
    let mut root_guard = None;
    let mut part = 0usize;
    let mut replay = Replay::start(key_backup, &pair, &keks).await?;
    // Records are inserted if absent: those a resumed restore's interrupted run committed are
    // skipped.
    let if_absent = Write::InsertIfAbsent;
    while let Some(entry) = replay.next().await? {
        match entry {
            KeyEntry::Tenant(mut t) => {
                let kek = keks
                    .keks
                    .get(&t.id)
                    .ok_or(KmsError::Integrity("tenant without KEK after verification"))?;
                let sealed = kms.root_seal(&tenant_aad(&t.id), kek.as_bytes())?;
                t.wrapped_kek = sealed.wrapped;
                t.kek_nonce = sealed.nonce.to_vec();
                root_guard = Some(sealed.guard);
                match current_tenants.iter().find(|c| c.id == t.id) {
                    Some(current) => tenant_writes.push(Write::UpdateTenant {
                        record: t,
                        expected_revision: current.revision,
                    }),
                    None => tenant_writes.push(Write::InsertTenant(t)),
                }
            }
            KeyEntry::Key(mut k) => {
                k.upgrade_legacy_labels();
                pending.push(if_absent(Insert::Key(Box::new(k))))
            }
            KeyEntry::Version(v) => pending.push(if_absent(Insert::Version(v))),
            KeyEntry::Archived(a) => pending.push(if_absent(Insert::Archived(a))),
            KeyEntry::Alias(a) => pending.push(if_absent(Insert::Alias(a))),
            KeyEntry::Grant(g) => pending.push(if_absent(Insert::Grant(g))),
            KeyEntry::Token(t) => {
                // The target's own tokens stay; a backed-up one whose id or secret is present
                // (the target's, or restored by an interrupted run) is skipped.
                let taken = kms.store().token(&t.tenant, &t.id).await?.is_some()
                    || kms.store().token_by_hash(&t.secret_hash).await?.is_some();
                if !taken {
                    pending.push(Write::InsertToken(t));
                }
            }
            KeyEntry::ClientCert(c) => {
                // Likewise the target's own client certificates stay.
                if kms.store().client_cert(&c.fingerprint).await?.is_none() {
                    pending.push(Write::InsertClientCert(c));
                }
            }
            // Anchors need their tenant: they go in the last batch, after the tenants.
            // The target's own anchors stay; a backed-up one whose id or live identity is taken
            // is skipped.
            KeyEntry::TrustAnchor(a) => {
                let live = kms.store().trust_anchors(None).await?;
                let taken = live.iter().any(|l| {
                    l.id == a.id
                        || (l.removed_at.is_none()
                            && a.removed_at.is_none()
                            && l.identity == a.identity)
                });
                if !taken {
                    anchor_writes.push(Write::InsertTrustAnchor(a));
                }
            }
            // A key's grant history comes back with its key.
            KeyEntry::PolicyVersion(p) if matches!(p.subject, PolicySubject::Key(_)) => {
                pending.push(if_absent(Insert::PolicyVersion(p)));
            }
            KeyEntry::PolicyVersion(p) => {
                // A tenant policy this server set already (e.g. its duties setting) stays, as
                // its own tokens do; the backed-up history of that policy is skipped. Only the
                // last batch writes tenant policies, so what is stored is this server's own.
                let at = (p.tenant.clone(), p.subject);
                let taken = match existing_policies.get(&at) {
                    Some(t) => *t,
                    None => {
                        let t = kms
                            .store()
                            .latest_policy(&p.tenant, &p.subject)
                            .await?
                            .is_some();
                        existing_policies.insert(at, t);
                        t
                    }
                };
                if !taken {
                    tenant_policy_writes.push(Write::InsertPolicyVersion(p));
                }
            }
            KeyEntry::GrantUses(u) => pending.push(Write::PutGrantUses(u)),
            KeyEntry::Approval(a) => pending.push(if_absent(Insert::Approval(a))),
            KeyEntry::End(_) => {}
        }
        if pending.0.len() >= BATCH {
            part += 1;
            let detail = format!("backup {id}: part {part}");
            run.commit_part(kms, meta, caller, detail, std::mem::take(&mut pending))
                .await?;
            progress(replay.reader.bytes_read());
        }
    }
    replay.finish().await?;
    if !pending.0.is_empty() {
        part += 1;
        let detail = format!("backup {id}: part {part}");
        run.commit_part(kms, meta, caller, detail, pending).await?;
    }
    tenant_writes.extend(tenant_policy_writes);
    tenant_writes.extend(anchor_writes);
    let mut last = WriteBatch(tenant_writes);
    for (tenant, (created_at, archive_key)) in &keks.archive_keys {
        let root_sealed = kms.root_seal(&archive_key_aad(tenant), archive_key.as_bytes())?;
        root_guard = Some(root_sealed.guard);
        let sealed = SealedArchiveKey {
            v: RECORD_VERSION,
            tenant: tenant.clone(),
            created_at: *created_at,
            nonce: root_sealed.nonce.to_vec(),
            wrapped: root_sealed.wrapped,
        };
        last.push(Write::InsertSystem {
            name: archive_key_name(tenant),
            value: sealed.encode()?,
        });
    }
    // The last batch holds values sealed under the root key: it must not commit across a
    // root-key rotation (the guard is the same for every value sealed here).
    if let Some(guard) = root_guard {
        last.push(guard);
    }
    let c = report.counts.clone().unwrap_or_default();
    let detail = format!(
        "restored backup {id}{}: {} tenants, {} keys, {} versions, {} archived, {} aliases, {} grants, {} tokens, {} client certificates, {} trust anchors; \
         source audit head {}",
        if resumed { " (resumed)" } else { "" },
        c.tenants,
        c.keys,
        c.versions,
        c.archived,
        c.aliases,
        c.grants,
        c.tokens,
        c.client_certs,
        c.trust_anchors,
        report
            .audit_head
            .as_ref()
            .map_or("none".to_owned(), |(seq, hash)| format!("seq {seq} hash {hash}")),
    );
    // It ends the restore: the marker goes with it.
    run.commit_last(kms, meta, caller, detail, last).await?;
    for (tenant, kek) in &keks.keks {
        kms.install_kek(tenant.clone(), kek.clone())?;
    }
    kms.set_restore_pending(false);
    Ok(report)
}

/// What Recover Key did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovered {
    /// The key.
    pub key_id: KeyId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Versions restored.
    pub versions: u32,
    /// Aliases restored.
    pub aliases: Vec<String>,
    /// Aliases not restored because the name now points elsewhere.
    pub aliases_skipped: Vec<String>,
    /// Grants restored.
    pub grants: u32,
    /// The backup it came from.
    pub backup_id: String,
}

/// Recovers one key from a backup into a running server.
///
/// The rule: the key is restored only if no key with its id exists on the server, whatever the
/// existing key's state. A key destroyed since the backup stays destroyed: destruction is a
/// deliberate, audited, irreversible act, and bringing its material back into service would undo
/// it behind the life cycle's back (to read old data, restore the backup into a separate, empty
/// server instead). Its tenant must exist and its name must be free; aliases whose names are
/// taken are skipped and reported. Versions are re-wrapped under the server's KEK when it differs
/// from the backup's. Audited as `backup.recover-key`.
pub async fn recover_key_as(
    kms: &Kms,
    meta: &RequestMeta,
    caller: &crate::ops::Caller,
    key: BackupKey,
    kek_backup: &[u8],
    key_backup: &Path,
    key_id: KeyId,
) -> Result<Recovered, KmsError> {
    let result = recover_key(kms, meta, caller, &key, kek_backup, key_backup, key_id).await;
    match &result {
        Err(KmsError::ApprovalRequired { .. }) => {}
        Ok((recovered, writes)) => {
            let detail = format!(
                "key {} recovered from backup {}: {} versions, {} aliases ({} skipped), {} grants",
                recovered.key_id,
                recovered.backup_id,
                recovered.versions,
                recovered.aliases.len(),
                recovered.aliases_skipped.len(),
                recovered.grants
            );
            audit_with(
                kms,
                meta,
                Some(caller),
                "backup.recover-key",
                Ok(Some(detail)),
                writes.clone(),
            )
            .await?;
        }
        Err(e) => audit(kms, meta, Some(caller), "backup.recover-key", Err(e)).await?,
    }
    result.map(|(r, _)| r)
}

/// Everything of one key found in a backup.
#[derive(Default)]
struct Found {
    key: Option<KeyRecord>,
    versions: Vec<KeyVersion>,
    archived: Vec<ArchivedVersion>,
    aliases: Vec<Alias>,
    grants: Vec<Grant>,
    policy: Vec<PolicyVersion>,
    uses: Vec<GrantUses>,
}

async fn recover_key(
    kms: &Kms,
    meta: &RequestMeta,
    caller: &crate::ops::Caller,
    key: &BackupKey,
    kek_backup: &[u8],
    key_backup: &Path,
    key_id: KeyId,
) -> Result<(Recovered, WriteBatch), KmsError> {
    // A restore not finished is about to replace tenant KEKs: a key recovered now (wrapped
    // under the current one) would not survive it.
    if let Some((marker, _)) = RestoreMarker::read(kms).await? {
        return Err(KmsError::invalid(format!(
            "the restore of backup {} (started {} by {}) is not finished: finish it (run the same \
             restore again) before recovering keys",
            marker.backup_id, marker.started_at, marker.started_by
        )));
    }
    let (pair, keks, _) = verify_all(key_backup, kek_backup, key, &|_| {}).await?;
    let mut found = Found::default();
    let mut replay = Replay::start(key_backup, &pair, &keks).await?;
    while let Some(entry) = replay.next().await? {
        match entry {
            KeyEntry::Key(mut k) if k.id == key_id => {
                k.upgrade_legacy_labels();
                found.key = Some(k)
            }
            KeyEntry::Version(v) if v.key_id == key_id => found.versions.push(v),
            KeyEntry::Archived(a) if a.key_id == key_id => found.archived.push(a),
            KeyEntry::Alias(a) if a.key_id == key_id => found.aliases.push(a),
            KeyEntry::Grant(g) if g.key_id == key_id => found.grants.push(g),
            KeyEntry::PolicyVersion(p) if p.subject == PolicySubject::Key(key_id) => {
                found.policy.push(p)
            }
            KeyEntry::GrantUses(u) => found.uses.push(u),
            _ => {}
        }
    }
    replay.finish().await?;
    let record = found.key.ok_or(KmsError::NotFound("key in this backup"))?;
    let grant_ids: std::collections::BTreeSet<_> = found.grants.iter().map(|g| g.id).collect();
    found.uses.retain(|u| grant_ids.contains(&u.grant));
    let store = kms.store();
    if let Some(existing) = store.key_any_tenant(&key_id).await? {
        return Err(if existing.lifecycle.state.is_destroyed() {
            KmsError::invalid(
                "the key was destroyed after this backup and stays destroyed; to read data under it, \
                 restore the backup into a separate, empty server",
            )
        } else {
            KmsError::AlreadyExists("key (it exists on this server; nothing to recover)")
        });
    }
    if store.tenant(&record.tenant).await?.is_none() {
        return Err(KmsError::invalid(format!(
            "tenant {} does not exist on this server",
            record.tenant
        )));
    }
    if let Some(name) = &record.name {
        if store.key_by_name(&record.tenant, name).await?.is_some() {
            return Err(KmsError::AlreadyExists("key name (another key has it now)"));
        }
    }
    let provider = Provider::aws_lc();
    let backup_kek = keks
        .keks
        .get(&record.tenant)
        .ok_or(KmsError::Integrity("tenant without KEK after verification"))?;
    kms.ensure_kek(&record.tenant).await?;
    let server_kek = kms.wrapping_kek(&record.tenant)?;
    let same_kek = keyhold_crypto::constant_time_eq(backup_kek.as_bytes(), server_kek.as_bytes());
    let consumed = gate_outside(
        kms,
        meta,
        caller,
        ApprovalAction::BackupRestore,
        Some(key_id),
        restore_request(&pair, Some(key_id)),
        format!(
            "recover key {key_id} from backup {}",
            pair.key_header.backup_id
        ),
    )
    .await?;
    let mut writes = WriteBatch(consumed);
    writes.push(Write::InsertKey(record.clone()));
    let versions = found.versions.len() as u32;
    for mut v in found.versions {
        if !same_kek && !v.destroyed && !v.wrapped.is_empty() {
            let material = open(
                &provider,
                backup_kek,
                &v.nonce,
                &record.version_aad(v.version),
                &v.wrapped,
            )?;
            let (nonce, wrapped) = provider.aes_gcm_seal(
                server_kek.as_bytes(),
                &record.version_aad(v.version),
                material.as_bytes(),
            )?;
            v.wrapped = wrapped;
            v.nonce = nonce.to_vec();
        }
        writes.push(Write::InsertVersion(v));
    }
    if !found.archived.is_empty() {
        let (_, backup_archive_key) =
            keks.archive_keys
                .get(&record.tenant)
                .ok_or(KmsError::Integrity(
                    "archived material without archive key after verification",
                ))?;
        let (server_archive_key, store_key) =
            crate::ops::archive::archive_key(kms, &record.tenant, kms.now()).await?;
        writes.0.extend(store_key);
        for mut a in found.archived {
            let aad = archived_version_aad(&record, a.version);
            let material = open(&provider, backup_archive_key, &a.nonce, &aad, &a.wrapped)?;
            let (nonce, wrapped) =
                provider.aes_gcm_seal(server_archive_key.as_bytes(), &aad, material.as_bytes())?;
            a.wrapped = wrapped;
            a.nonce = nonce.to_vec();
            writes.push(Write::ArchiveVersion(a));
        }
    }
    let mut aliases = Vec::new();
    let mut aliases_skipped = Vec::new();
    for a in found.aliases {
        if store.alias(&a.tenant, &a.name).await?.is_some() {
            aliases_skipped.push(a.name.to_string());
        } else {
            aliases.push(a.name.to_string());
            writes.push(Write::InsertAlias(a));
        }
    }
    let mut grants = 0;
    for g in found.grants {
        grants += 1;
        writes.push(Write::InsertGrant(g));
    }
    // The key's policy history and its grants' use counters come back with it.
    for p in found.policy {
        writes.push(Write::InsertPolicyVersion(p));
    }
    for u in found.uses {
        writes.push(Write::PutGrantUses(u));
    }
    Ok((
        Recovered {
            key_id,
            tenant: record.tenant,
            versions,
            aliases,
            aliases_skipped,
            grants,
            backup_id: pair.key_header.backup_id.to_string(),
        },
        writes,
    ))
}

fn open(
    provider: &Provider,
    key: &SecretBytes,
    nonce: &[u8],
    aad: &[u8],
    wrapped: &[u8],
) -> Result<SecretBytes, KmsError> {
    let nonce: [u8; 12] = nonce
        .try_into()
        .map_err(|_| KmsError::Integrity("wrapped material nonce"))?;
    provider
        .aes_gcm_open(key.as_bytes(), &nonce, aad, wrapped)
        .map_err(|_| KmsError::Integrity("backed-up material does not authenticate"))
}

/// Reads a whole stream into memory up to `limit` bytes (the KEK backup is small).
pub async fn read_limited<R: AsyncRead + Unpin>(
    mut r: R,
    limit: usize,
) -> Result<Vec<u8>, BackupError> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let n = (&mut r)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .await?;
    if n > limit {
        return Err(BackupError::BadHeader("the KEK backup is too large".into()));
    }
    Ok(out)
}
