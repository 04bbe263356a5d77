//! How backups travel over HTTPS between the server and the CLI: a stream of frames
//! `tag (1 byte) ‖ length (u32 BE) ‖ payload`.
//!
//! ```text
//!  POST /v1/backups                  → 'K' key backup bytes … 'E' KEK backup 'S' summary JSON
//!                                      | 'X' error JSON (the backup failed; keep nothing)
//!  POST /v1/backups/restore          ← 'P' params JSON 'E' KEK backup 'K' key backup bytes … 'Z'
//!  POST /v1/backups/recover-key      ← the same; params name the key
//! ```
//!
//! A response that ends without 'S' is a failed backup: the client discards what it received.

use serde::{Deserialize, Serialize};

use super::format::BackupError;
use super::Counts;
use crate::clock::Timestamp;
use crate::ids::KeyId;
use crate::ops::SecretData;

/// Key backup bytes.
pub const KEY_BACKUP: u8 = b'K';
/// The whole KEK backup.
pub const KEK_BACKUP: u8 = b'E';
/// The summary ([`Summary`]); the backup succeeded.
pub const SUMMARY: u8 = b'S';
/// An error (`{code, message}`); the backup failed.
pub const ERROR: u8 = b'X';
/// Upload parameters ([`UploadParams`]).
pub const PARAMS: u8 = b'P';
/// End of an upload.
pub const END: u8 = b'Z';

/// Largest frame payload accepted.
pub const MAX_FRAME: usize = 16 << 20;

/// One frame.
pub fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(tag);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a byte stream into frames.
#[derive(Debug, Default)]
pub struct FrameParser {
    buf: Vec<u8>,
}

impl FrameParser {
    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, BackupError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(BackupError::BadHeader(format!(
                "frame of {len} bytes is too large"
            )));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let tag = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((tag, payload)))
    }

    /// Whether bytes of an incomplete frame remain.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }
}

/// Body of `POST /v1/backups`: exactly one protection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateBackupRequest {
    /// Split the backup key into M-of-N shares, returned once in the summary.
    #[serde(default)]
    pub shares: Option<SharesSpec>,
    /// Encrypt the backup key to this RSA public key (PEM, 2048 bits or more).
    #[serde(default)]
    pub recipient_public_key_pem: Option<String>,
}

/// M-of-N.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharesSpec {
    /// M.
    pub threshold: u8,
    /// N.
    pub shares: u8,
}

/// The 'S' frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// The backup.
    pub backup_id: String,
    /// The snapshot instant.
    pub created_at: Timestamp,
    /// Records in the key backup.
    pub counts: Counts,
    /// Audit chain head at the snapshot.
    pub audit_head: Option<(u64, String)>,
    /// Hex SHA-256 of the key backup.
    pub key_backup_sha256: String,
    /// Its length.
    pub key_backup_bytes: u64,
    /// The backup key's shares (shares protection only), shown once.
    #[serde(default)]
    pub shares: Vec<String>,
}

/// The 'P' frame of an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// The backup key, opened by the client from its shares or private key.
    pub backup_key: SecretData,
    /// Recover Key: the key to recover (absent for a full restore).
    #[serde(default)]
    pub key_id: Option<KeyId>,
}
