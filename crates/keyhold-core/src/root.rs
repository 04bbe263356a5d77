//! The [`RootOfTrust`] seam: what seals the root key.
//!
//! # Security contract
//!
//! - `seal` returns a blob that reveals nothing about `secret` and that only the same root of
//!   trust can open; `unseal` fails (never returns wrong bytes) if the blob or `aad` was changed.
//! - A blob names the mechanism and the key that sealed it ([`SealedBlob::mechanism`],
//!   [`SealedBlob::key_id`]), so the root can be rotated or moved to an HSM later.
//! - Implementations never log or persist the unsealed secret.

use serde::{Deserialize, Serialize};

use keyhold_crypto::SecretBytes;

use crate::error::KmsError;

/// A secret sealed by a root of trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedBlob {
    /// Format version.
    pub v: u32,
    /// E.g. `software-shamir`, `pkcs11`, `tpm2`.
    pub mechanism: String,
    /// Which key of that mechanism sealed it (e.g. a fingerprint, an HSM label).
    pub key_id: String,
    /// Mechanism-specific bytes.
    #[serde(with = "crate::b64")]
    pub data: Vec<u8>,
}

/// Seals and unseals the root key.
pub trait RootOfTrust: Send + Sync + 'static {
    /// The mechanism name written into blobs.
    fn mechanism(&self) -> &'static str;
    /// Seals `secret`, bound to `aad`.
    fn seal(&self, secret: &[u8], aad: &[u8]) -> Result<SealedBlob, KmsError>;
    /// Opens a blob made by `seal` with the same `aad`.
    fn unseal(&self, blob: &SealedBlob, aad: &[u8]) -> Result<SecretBytes, KmsError>;
}
