//! Archive storage: where the material of an archived key lives until it is recovered.
//!
//! ```text
//!  root key ──wraps──► tenant archive key (system value `archive-key/<tenant>`, made on first use)
//!                          └──wraps──► ArchivedVersion (table `archive`, one row per version)
//!  archive:  version row loses `wrapped`/`nonce`  +  ArchivedVersion inserted   (one transaction)
//!  recover:  version row gets them back (under the tenant KEK)  +  ArchivedVersion deleted
//! ```
//!
//! The archive key is separate from the tenant key-encryption key, so the active hierarchy (the
//! KEK and the keys it wraps) can no longer reach an archived key's material. The AAD of an
//! archived version binds the same identity as an active one, under another label.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{KeyId, TenantId};
use crate::model::KeyRecord;

/// The AAD of an archived version under the archive key: the active AAD under another label,
/// so archived material cannot be passed off as active material or moved to another key.
pub fn archived_version_aad(key: &KeyRecord, version: u32) -> Vec<u8> {
    let mut aad = b"keyhold/archived-version/v1/".to_vec();
    aad.extend_from_slice(&key.version_aad(version));
    aad
}

/// Prefix of the system values holding each tenant's sealed archive key.
pub const ARCHIVE_KEY_PREFIX: &str = "archive-key/";

/// The system value name of `tenant`'s archive key.
pub fn archive_key_name(tenant: &TenantId) -> String {
    format!("{ARCHIVE_KEY_PREFIX}{tenant}")
}

/// The AAD of a tenant archive key under the root key.
pub fn archive_key_aad(tenant: &TenantId) -> Vec<u8> {
    format!("keyhold/archive-key/v1/{tenant}").into_bytes()
}

/// A tenant's archive key, AES-256-GCM under the root key (stored as a system value, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedArchiveKey {
    /// Record format version.
    pub v: u32,
    /// The tenant.
    pub tenant: TenantId,
    /// When it was made.
    pub created_at: Timestamp,
    /// Its nonce.
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    /// The key, sealed under the root key with [`archive_key_aad`].
    #[serde(with = "crate::b64")]
    pub wrapped: Vec<u8>,
}

impl crate::kms::RootSealedValue for SealedArchiveKey {
    const UNDECODABLE: &'static str = "an archive key record does not decode";
    const UNENCODABLE: &'static str = "archive key encoding";
    fn sealed(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>) {
        (&mut self.nonce, &mut self.wrapped)
    }
}

/// One version's material in archive storage, wrapped under its tenant's archive key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedVersion {
    /// Record format version.
    pub v: u32,
    /// The key.
    pub key_id: KeyId,
    /// The version.
    pub version: u32,
    /// When it was archived.
    pub archived_at: Timestamp,
    /// AES-256-GCM of the material under the tenant archive key.
    #[serde(with = "crate::b64")]
    pub wrapped: Vec<u8>,
    /// Its nonce.
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
}
