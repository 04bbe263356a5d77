//! The software root of trust: an unseal key split with Shamir's scheme.
//!
//! ```text
//!  init:    unseal key U (32 random bytes) ──split──► N shares, any M rebuild U
//!           root key R ──AES-256-GCM(U, aad)──► sealed blob (in the store)
//!  unseal:  M shares ──combine──► U' ── fingerprint(U') == fingerprint in blob? ──► open blob ──► R
//! ```
//!
//! Combining too few or wrong shares yields a wrong U' rather than an error; the fingerprint
//! (an HMAC under U) and the GCM tag both catch it, so a wrong key is never used.

use keyhold_core::root::{NewRoot, RootFactory, RootOfTrust, SealedBlob};
use keyhold_core::KmsError;
use keyhold_crypto::shamir::{self, Share};
use keyhold_crypto::{Provider, SecretBytes};
use serde::{Deserialize, Serialize};

/// The mechanism name written into sealed blobs.
pub const MECHANISM: &str = "software-shamir";

/// The system value holding the [`SealConfig`].
pub const SEAL_CONFIG: &str = "seal-config";

/// Makes new Shamir roots for the unseal rekey: a new unseal key, its shares (handed out as
/// text) and the new [`SealConfig`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ShamirFactory;

impl RootFactory for ShamirFactory {
    fn rekey(&self, shares: u8, threshold: u8) -> Result<NewRoot, KmsError> {
        let (root, parts, config) = ShamirRoot::generate(shares, threshold)?;
        let config = serde_json::to_vec(&config)
            .map_err(|_| KmsError::Integrity("seal configuration encoding"))?;
        Ok(NewRoot {
            root: std::sync::Arc::new(root),
            secrets: parts
                .iter()
                .map(|p| SecretBytes::from(p.to_text().as_bytes()))
                .collect(),
            system: vec![(SEAL_CONFIG.to_owned(), config)],
        })
    }
}

/// How the unseal key was split; stored in clear (it is not secret) so the server can report
/// unseal progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    /// The mechanism (`software-shamir`).
    pub mechanism: SealMechanism,
    /// N: shares handed out.
    pub shares: u8,
    /// M: shares needed.
    pub threshold: u8,
}

/// Seal mechanisms known to this release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SealMechanism {
    /// [`ShamirRoot`].
    SoftwareShamir,
}

/// A root of trust holding the unseal key in memory.
#[derive(Clone)]
pub struct ShamirRoot {
    key: SecretBytes,
    crypto: Provider,
}

impl std::fmt::Debug for ShamirRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShamirRoot")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ShamirRoot {
    /// A new random unseal key and its `shares` shares, any `threshold` of which rebuild it.
    pub fn generate(shares: u8, threshold: u8) -> Result<(Self, Vec<Share>, SealConfig), KmsError> {
        if threshold == 0 || shares == 0 || threshold > shares {
            return Err(KmsError::invalid("need 1 <= threshold <= shares <= 255"));
        }
        let crypto = Provider::aws_lc();
        let key = crypto.random(32)?;
        let parts = shamir::split(key.as_bytes(), shares, threshold)?;
        let config = SealConfig {
            mechanism: SealMechanism::SoftwareShamir,
            shares,
            threshold,
        };
        Ok((Self { key, crypto }, parts, config))
    }

    /// Rebuilds the unseal key from shares. The result is only known to be right once it opens
    /// the sealed root key (see the module docs).
    pub fn from_shares(shares: &[Share]) -> Result<Self, KmsError> {
        let key = shamir::combine(shares)?;
        if key.len() != 32 {
            return Err(KmsError::invalid("the shares do not form an unseal key"));
        }
        Ok(Self {
            key,
            crypto: Provider::aws_lc(),
        })
    }

    /// A short non-secret fingerprint of the unseal key.
    pub fn fingerprint(&self) -> String {
        let mac = self
            .crypto
            .hmac_sha256(self.key.as_bytes(), b"keyhold/unseal-key-fingerprint");
        hex::encode(&mac[..8])
    }
}

impl RootOfTrust for ShamirRoot {
    fn mechanism(&self) -> &'static str {
        MECHANISM
    }

    fn shared(&self) -> std::sync::Arc<dyn RootOfTrust> {
        std::sync::Arc::new(self.clone())
    }

    fn seal(&self, secret: &[u8], aad: &[u8]) -> Result<SealedBlob, KmsError> {
        let (nonce, ct) = self.crypto.aes_gcm_seal(self.key.as_bytes(), aad, secret)?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ct);
        Ok(SealedBlob {
            v: 1,
            mechanism: MECHANISM.to_owned(),
            key_id: self.fingerprint(),
            data,
        })
    }

    fn unseal(&self, blob: &SealedBlob, aad: &[u8]) -> Result<SecretBytes, KmsError> {
        if blob.mechanism != MECHANISM {
            return Err(KmsError::invalid(format!(
                "the root key is sealed by '{}', not by unseal shares",
                blob.mechanism
            )));
        }
        if !keyhold_crypto::constant_time_eq(blob.key_id.as_bytes(), self.fingerprint().as_bytes())
        {
            return Err(KmsError::invalid(
                "the unseal shares do not rebuild the unseal key (wrong or too few shares)",
            ));
        }
        if blob.data.len() < 12 {
            return Err(KmsError::Integrity("sealed root key is truncated"));
        }
        let (nonce, ct) = blob.data.split_at(12);
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| KmsError::Integrity("sealed root key nonce"))?;
        self.crypto
            .aes_gcm_open(self.key.as_bytes(), &nonce, aad, ct)
            .map_err(|_| KmsError::Integrity("sealed root key does not open: it was altered"))
    }
}

/// Shares submitted so far while sealed. Duplicates (same index) count once.
#[derive(Debug)]
pub struct UnsealProgress {
    threshold: u8,
    shares: Vec<Share>,
}

/// What happened to a submitted share.
#[derive(Debug)]
pub enum Submitted {
    /// More shares are needed.
    Need {
        /// Distinct shares so far.
        submitted: u8,
        /// Needed.
        threshold: u8,
    },
    /// Enough shares: the rebuilt root of trust (not yet known to be right).
    Ready(ShamirRoot),
}

impl UnsealProgress {
    /// Starts collecting for a threshold.
    pub fn new(threshold: u8) -> Self {
        Self {
            threshold,
            shares: Vec::new(),
        }
    }

    /// Distinct shares submitted.
    pub fn submitted(&self) -> u8 {
        u8::try_from(self.shares.len()).unwrap_or(u8::MAX)
    }

    /// Shares needed.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Adds a share in its text form. When the threshold is reached the collected shares are
    /// combined and forgotten, whatever the result.
    pub fn submit(&mut self, text: &str) -> Result<Submitted, KmsError> {
        let share = Share::parse(text.trim())?;
        if !self.shares.iter().any(|s| s.index == share.index) {
            self.shares.push(share);
        }
        if self.shares.len() < usize::from(self.threshold) {
            return Ok(Submitted::Need {
                submitted: self.submitted(),
                threshold: self.threshold,
            });
        }
        let shares = std::mem::take(&mut self.shares);
        ShamirRoot::from_shares(&shares).map(Submitted::Ready)
    }

    /// Forgets submitted shares.
    pub fn reset(&mut self) {
        self.shares.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_shares_reopen_the_seal() {
        let (root, shares, cfg) = ShamirRoot::generate(5, 3).unwrap();
        assert_eq!(cfg.threshold, 3);
        let blob = root.seal(b"root key bytes", b"aad").unwrap();
        let mut p = UnsealProgress::new(3);
        assert!(matches!(
            p.submit(&shares[4].to_text()).unwrap(),
            Submitted::Need { submitted: 1, .. }
        ));
        // The same share twice counts once.
        assert!(matches!(
            p.submit(&shares[4].to_text()).unwrap(),
            Submitted::Need { submitted: 1, .. }
        ));
        assert!(matches!(
            p.submit(&shares[0].to_text()).unwrap(),
            Submitted::Need { submitted: 2, .. }
        ));
        let Submitted::Ready(rebuilt) = p.submit(&shares[2].to_text()).unwrap() else {
            panic!("three shares must be enough")
        };
        assert_eq!(
            rebuilt.unseal(&blob, b"aad").unwrap().as_bytes(),
            b"root key bytes"
        );
        assert!(rebuilt.unseal(&blob, b"other aad").is_err());
    }

    #[test]
    fn too_few_shares_are_refused_not_misused() {
        let (root, shares, _) = ShamirRoot::generate(5, 3).unwrap();
        let blob = root.seal(b"secret", b"aad").unwrap();
        let wrong = ShamirRoot::from_shares(&shares[..2]).unwrap();
        assert!(wrong.unseal(&blob, b"aad").is_err());
    }

    #[test]
    fn tampered_blob_is_refused() {
        let (root, _, _) = ShamirRoot::generate(1, 1).unwrap();
        let mut blob = root.seal(b"secret", b"aad").unwrap();
        let last = blob.data.len() - 1;
        blob.data[last] ^= 1;
        assert!(root.unseal(&blob, b"aad").is_err());
    }
}
