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

/// Makes a new root of trust of the mechanism in use (the unseal rekey). Injected by the server,
/// which knows the mechanism; the core only uses what it returns.
pub trait RootFactory: Send + Sync + 'static {
    /// A new root of trust for `shares` custodians of whom `threshold` unseal (mechanisms
    /// without custodians may refuse), what each custodian is handed, once, and system values
    /// that describe it (e.g. the seal configuration).
    fn rekey(&self, shares: u8, threshold: u8) -> Result<NewRoot, KmsError>;
}

/// A new root of trust from [`RootFactory::rekey`].
pub struct NewRoot {
    /// The root of trust.
    pub root: std::sync::Arc<dyn RootOfTrust>,
    /// What each custodian is handed (e.g. an unseal share in text), shown once.
    pub secrets: Vec<SecretBytes>,
    /// System values to store with the new sealed root key.
    pub system: Vec<(String, Vec<u8>)>,
}

/// Seals and unseals the root key.
pub trait RootOfTrust: Send + Sync + 'static {
    /// The mechanism name written into blobs.
    fn mechanism(&self) -> &'static str;
    /// Seals `secret`, bound to `aad`.
    fn seal(&self, secret: &[u8], aad: &[u8]) -> Result<SealedBlob, KmsError>;
    /// Opens a blob made by `seal` with the same `aad`.
    fn unseal(&self, blob: &SealedBlob, aad: &[u8]) -> Result<SecretBytes, KmsError>;
    /// A handle the server keeps while unsealed, to seal a rotated root key.
    fn shared(&self) -> std::sync::Arc<dyn RootOfTrust>;
}
