//! Verifying an artifact pair, offline: the CLI runs it without a server, and a restore runs it
//! over the whole key backup before writing anything.
//!
//! Without a secret: both headers parse, are of the right kinds and format version, carry the
//! same backup id, and the key backup names the digest of this KEK backup's header. Nothing
//! inside the encrypted chunks can be checked (a flipped byte there is found only with the
//! secret).
//!
//! With the shares or private key: additionally every chunk of both artifacts authenticates
//! (including the last-chunk flag, so truncation is found), every record decodes, records come in
//! order and without duplicates, every tenant has its KEK, every key has exactly versions
//! 1..=current with each live version's material authenticating under its tenant KEK (archived
//! material under the archive key), the counts match both trailers, and the key backup's digest
//! and length match what the KEK backup names.

use std::collections::HashMap;

use tokio::io::AsyncRead;

use keyhold_crypto::{Provider, SecretBytes};

use super::create::kek_aad;
use super::format::{
    read_header, ArtifactHeader, ArtifactKind, ArtifactReader, BackupError, BackupKey,
    BackupSecret, Protection,
};
use super::{Counts, KekEntry, KeyBackupEnd, KeyEntry, Progress, Report};
use crate::archive::archived_version_aad;
use crate::clock::Timestamp;
use crate::ids::{KeyId, TenantId};
use crate::model::KeyRecord;

/// The two headers, checked to belong together.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The key backup's header.
    pub key_header: ArtifactHeader,
    /// Its bytes.
    pub key_header_bytes: Vec<u8>,
    /// The KEK backup's header.
    pub kek_header: ArtifactHeader,
    /// Its bytes.
    pub kek_header_bytes: Vec<u8>,
}

/// Reads both headers (leaving the readers at the first chunk) and checks their pairing.
pub async fn read_pair<K: AsyncRead + Unpin, E: AsyncRead + Unpin>(
    key_backup: &mut K,
    kek_backup: &mut E,
) -> Result<Pair, BackupError> {
    let (key_header, key_header_bytes) = read_header(key_backup).await?;
    let (kek_header, kek_header_bytes) = read_header(kek_backup).await?;
    if key_header.kind != ArtifactKind::KeyBackup {
        return Err(BackupError::Mismatch(format!(
            "the file given as key backup is a {}",
            key_header.kind
        )));
    }
    if kek_header.kind != ArtifactKind::KekBackup {
        return Err(BackupError::Mismatch(format!(
            "the file given as KEK backup is a {}",
            kek_header.kind
        )));
    }
    if key_header.backup_id != kek_header.backup_id {
        return Err(BackupError::Mismatch(format!(
            "key backup {} and KEK backup {} are of different backups",
            key_header.backup_id, kek_header.backup_id
        )));
    }
    let expected = hex::encode(Provider::aws_lc().sha256(&kek_header_bytes));
    if key_header.kek_backup_header_sha256.as_deref() != Some(expected.as_str()) {
        return Err(BackupError::Mismatch(
            "the key backup does not name this KEK backup's header".into(),
        ));
    }
    Ok(Pair {
        key_header,
        key_header_bytes,
        kek_header,
        kek_header_bytes,
    })
}

/// The opened KEK backup.
pub struct Keks {
    /// The backup key.
    pub key: BackupKey,
    /// Each tenant's KEK.
    pub keks: HashMap<TenantId, SecretBytes>,
    /// Each tenant's archive key, with when it was made.
    pub archive_keys: HashMap<TenantId, (Timestamp, SecretBytes)>,
    /// Hex SHA-256 of the key backup it names.
    pub key_backup_sha256: String,
    /// Length of the key backup it names.
    pub key_backup_bytes: u64,
    /// The counts it names.
    pub counts: Counts,
}

impl std::fmt::Debug for Keks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keks")
            .field("tenants", &self.keks.len())
            .finish_non_exhaustive()
    }
}

/// Opens the KEK backup (whose header `pair` holds; `rest` is positioned after it).
pub async fn open_keks<E: AsyncRead + Unpin>(
    pair: &Pair,
    rest: E,
    secret: &BackupSecret,
) -> Result<Keks, BackupError> {
    let key = BackupKey::open(&pair.kek_header, secret)?;
    let id = pair.kek_header.backup_id;
    let mut reader = ArtifactReader::new(
        rest,
        &pair.kek_header,
        &pair.kek_header_bytes,
        key.file_key(&pair.kek_header)?,
    );
    let wrap = key.kek_wrap_key(&id)?;
    let provider = Provider::aws_lc();
    let open = |what: &str,
                tenant: &TenantId,
                nonce: &[u8],
                wrapped: &[u8]|
     -> Result<SecretBytes, BackupError> {
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| BackupError::Incomplete(format!("a {what} nonce is malformed")))?;
        provider
            .aes_gcm_open(
                wrap.as_bytes(),
                &nonce,
                &kek_aad(&id, what, tenant),
                wrapped,
            )
            .map_err(|_| {
                BackupError::Incomplete(format!(
                    "the {what} of tenant {tenant} does not authenticate"
                ))
            })
    };
    let mut keks = HashMap::new();
    let mut archive_keys = HashMap::new();
    let mut end = None;
    while let Some(entry) = reader.next::<KekEntry>().await? {
        if end.is_some() {
            return Err(BackupError::Incomplete(
                "records after the KEK backup's end".into(),
            ));
        }
        match entry {
            KekEntry::Kek {
                tenant,
                nonce,
                wrapped,
            } => {
                let kek = open("kek", &tenant, &nonce, &wrapped)?;
                if keks.insert(tenant.clone(), kek).is_some() {
                    return Err(BackupError::Incomplete(format!(
                        "tenant {tenant} has two KEKs"
                    )));
                }
            }
            KekEntry::ArchiveKey {
                tenant,
                created_at,
                nonce,
                wrapped,
            } => {
                let k = open("archive-key", &tenant, &nonce, &wrapped)?;
                if archive_keys
                    .insert(tenant.clone(), (created_at, k))
                    .is_some()
                {
                    return Err(BackupError::Incomplete(format!(
                        "tenant {tenant} has two archive keys"
                    )));
                }
            }
            KekEntry::End {
                key_backup_sha256,
                key_backup_bytes,
                counts,
            } => {
                end = Some((key_backup_sha256, key_backup_bytes, counts));
            }
        }
    }
    reader.finish().await?;
    let (key_backup_sha256, key_backup_bytes, counts) =
        end.ok_or_else(|| BackupError::Incomplete("the KEK backup has no end record".into()))?;
    Ok(Keks {
        key,
        keks,
        archive_keys,
        key_backup_sha256,
        key_backup_bytes,
        counts,
    })
}

/// Opens the key backup's chunks (`rest` positioned after its header).
pub fn key_reader<K: AsyncRead + Unpin>(
    pair: &Pair,
    rest: K,
    keks: &Keks,
) -> Result<ArtifactReader<K>, BackupError> {
    Ok(ArtifactReader::new(
        rest,
        &pair.key_header,
        &pair.key_header_bytes,
        keks.key.file_key(&pair.key_header)?,
    ))
}

/// Checks the records of a key backup one at a time, holding only the current key.
pub struct Checker<'a> {
    keks: &'a Keks,
    section: u8,
    counts: Counts,
    last_tenant: Option<TenantId>,
    tenants: Vec<TenantId>,
    key: Option<KeyRecord>,
    next_version: u32,
    next_archived: u32,
    end: Option<KeyBackupEnd>,
    report: Report,
}

impl<'a> Checker<'a> {
    /// A checker against the opened KEK backup.
    pub fn new(pair: &Pair, keks: &'a Keks) -> Self {
        Checker {
            keks,
            section: 0,
            counts: Counts::default(),
            last_tenant: None,
            tenants: Vec::new(),
            key: None,
            next_version: 1,
            next_archived: 1,
            end: None,
            report: Report {
                backup_id: pair.key_header.backup_id.to_string(),
                created_at: Some(pair.key_header.created_at),
                protection: describe(&pair.kek_header),
                ..Report::default()
            },
        }
    }

    /// The key whose versions are being read.
    pub fn current_key(&self) -> Option<&KeyRecord> {
        self.key.as_ref()
    }

    /// Checks one record.
    pub fn check(&mut self, entry: &KeyEntry) -> Result<(), BackupError> {
        let bad = |m: String| Err(BackupError::Incomplete(m));
        if self.end.is_some() {
            return bad("records after the end record".into());
        }
        let section = entry.section();
        if section < self.section {
            return bad("records out of order".into());
        }
        if section > 1 && self.section <= 1 {
            self.close_key()?;
        }
        self.section = section;
        self.counts.add(entry);
        match entry {
            KeyEntry::Tenant(t) => {
                if self.last_tenant.as_ref().is_some_and(|l| *l >= t.id) {
                    return bad("tenants out of order or repeated".into());
                }
                if !self.keks.keks.contains_key(&t.id) {
                    return bad(format!("the KEK backup has no KEK for tenant {}", t.id));
                }
                self.last_tenant = Some(t.id.clone());
                self.tenants.push(t.id.clone());
            }
            KeyEntry::Key(k) => {
                self.close_key()?;
                if self.key.as_ref().is_some_and(|prev| prev.id >= k.id) {
                    return bad("keys out of order or repeated".into());
                }
                if !self.tenants.contains(&k.tenant) {
                    return bad(format!(
                        "key {} belongs to a tenant not in the backup",
                        k.id
                    ));
                }
                let state = k.lifecycle.state.as_str().to_owned();
                *self
                    .report
                    .keys_by_tenant_state
                    .entry(k.tenant.to_string())
                    .or_default()
                    .entry(state)
                    .or_default() += 1;
                *self
                    .report
                    .keys_by_algorithm
                    .entry(k.algorithm.as_str().to_owned())
                    .or_default() += 1;
                if k.lifecycle.archived_at.is_some() {
                    self.report.archived_keys += 1;
                }
                self.key = Some(k.clone());
                self.next_version = 1;
                self.next_archived = 1;
            }
            KeyEntry::Version(v) => {
                let key = self.current(&v.key_id, "version")?;
                if v.version != self.next_version {
                    return bad(format!(
                        "key {} is missing version {}",
                        key.id, self.next_version
                    ));
                }
                let archived = key.lifecycle.archived_at.is_some();
                if !v.destroyed && !archived {
                    let kek = self.keks.keks.get(&key.tenant).ok_or_else(|| {
                        BackupError::Incomplete(format!("no KEK for tenant {}", key.tenant))
                    })?;
                    unwrap(kek, &v.nonce, &key.version_aad(v.version), &v.wrapped).map_err(
                        |_| {
                            BackupError::Incomplete(format!(
                                "version {} of key {} does not authenticate under its tenant KEK",
                                v.version, key.id
                            ))
                        },
                    )?;
                    self.report.versions_checked += 1;
                }
                self.next_version += 1;
            }
            KeyEntry::Archived(a) => {
                let key = self.current(&a.key_id, "archived version")?;
                if key.lifecycle.archived_at.is_none() {
                    return bad(format!(
                        "key {} has archived material but is not archived",
                        key.id
                    ));
                }
                if a.version < self.next_archived || a.version > key.current_version {
                    return bad(format!("archived versions of key {} out of order", key.id));
                }
                let (_, archive_key) =
                    self.keks.archive_keys.get(&key.tenant).ok_or_else(|| {
                        BackupError::Incomplete(format!("no archive key for tenant {}", key.tenant))
                    })?;
                unwrap(
                    archive_key,
                    &a.nonce,
                    &archived_version_aad(key, a.version),
                    &a.wrapped,
                )
                .map_err(|_| {
                    BackupError::Incomplete(format!(
                        "archived version {} of key {} does not authenticate under its archive key",
                        a.version, key.id
                    ))
                })?;
                self.report.versions_checked += 1;
                self.next_archived = a.version + 1;
            }
            KeyEntry::Alias(_)
            | KeyEntry::Grant(_)
            | KeyEntry::Token(_)
            | KeyEntry::ClientCert(_)
            | KeyEntry::TrustAnchor(_) => {}
            KeyEntry::PolicyVersion(_) | KeyEntry::GrantUses(_) | KeyEntry::Approval(_) => {}
            KeyEntry::End(end) => {
                self.close_key()?;
                self.end = Some(end.clone());
            }
        }
        Ok(())
    }

    fn current(&self, key_id: &KeyId, what: &str) -> Result<&KeyRecord, BackupError> {
        match &self.key {
            Some(k) if k.id == *key_id => Ok(k),
            _ => Err(BackupError::Incomplete(format!(
                "a {what} of key {key_id} is not after its key"
            ))),
        }
    }

    /// Requires every version of the current key to have been seen.
    fn close_key(&mut self) -> Result<(), BackupError> {
        if let Some(k) = &self.key {
            if self.next_version != k.current_version + 1 {
                return Err(BackupError::Incomplete(format!(
                    "key {} has {} versions in the backup, expected {}",
                    k.id,
                    self.next_version - 1,
                    k.current_version
                )));
            }
        }
        Ok(())
    }

    /// Checks the trailers against what was seen and the artifact's digest; returns the report.
    pub fn finish(mut self, digest: [u8; 32], bytes: u64) -> Result<Report, BackupError> {
        let end = self
            .end
            .take()
            .ok_or_else(|| BackupError::Incomplete("the key backup has no end record".into()))?;
        if end.counts != self.counts {
            return Err(BackupError::Incomplete(
                "the record counts do not match the key backup's end".into(),
            ));
        }
        if end.counts != self.keks.counts {
            return Err(BackupError::Mismatch(
                "the KEK backup names other record counts".into(),
            ));
        }
        let sha = hex::encode(digest);
        if sha != self.keks.key_backup_sha256 || bytes != self.keks.key_backup_bytes {
            return Err(BackupError::Mismatch(
                "the KEK backup names another key backup (digest or length differ)".into(),
            ));
        }
        let mut report = self.report;
        report.contents_verified = true;
        report.counts = Some(self.counts);
        report.audit_head = end.audit_head;
        report.key_backup_sha256 = Some(sha);
        report.checks = vec![
            "headers, format version and backup id of both artifacts".into(),
            "every chunk of both artifacts authenticates; the last chunk is flagged (no truncation)".into(),
            "every record decodes and comes in order".into(),
            "every tenant has its KEK; every key has versions 1..=current".into(),
            "every live version authenticates under its tenant KEK (archived ones under the archive key)".into(),
            "record counts, key backup digest and length match both trailers".into(),
        ];
        Ok(report)
    }
}

/// What can be said without the secret.
pub fn structural_report(pair: &Pair) -> Report {
    Report {
        backup_id: pair.key_header.backup_id.to_string(),
        created_at: Some(pair.key_header.created_at),
        protection: describe(&pair.kek_header),
        contents_verified: false,
        checks: vec![
            "headers, format version and backup id of both artifacts".into(),
            "the key backup names this KEK backup's header digest".into(),
            "NOT checked without the shares or private key: the encrypted contents".into(),
        ],
        ..Report::default()
    }
}

/// Verifies a whole pair with the secret; `progress` gets the key backup bytes read.
pub async fn verify<K: AsyncRead + Unpin, E: AsyncRead + Unpin>(
    mut key_backup: K,
    mut kek_backup: E,
    secret: &BackupSecret,
    progress: Progress<'_>,
) -> Result<Report, BackupError> {
    let pair = read_pair(&mut key_backup, &mut kek_backup).await?;
    let keks = open_keks(&pair, kek_backup, secret).await?;
    let mut reader = key_reader(&pair, key_backup, &keks)?;
    let mut checker = Checker::new(&pair, &keks);
    while let Some(entry) = reader.next::<KeyEntry>().await? {
        checker.check(&entry)?;
        progress(reader.bytes_read());
    }
    let (digest, bytes) = reader.finish().await?;
    checker.finish(digest, bytes)
}

fn unwrap(
    key: &SecretBytes,
    nonce: &[u8],
    aad: &[u8],
    wrapped: &[u8],
) -> Result<SecretBytes, BackupError> {
    let nonce: [u8; 12] = nonce
        .try_into()
        .map_err(|_| BackupError::Incomplete("a nonce is malformed".into()))?;
    Provider::aws_lc()
        .aes_gcm_open(key.as_bytes(), &nonce, aad, wrapped)
        .map_err(BackupError::Crypto)
}

fn describe(h: &ArtifactHeader) -> String {
    match &h.protection {
        Some(Protection::Shares { threshold, shares }) => format!("shares {threshold}-of-{shares}"),
        Some(Protection::Recipient {
            recipient_sha256, ..
        }) => format!("recipient public key sha256:{recipient_sha256}"),
        None => "none".into(),
    }
}
