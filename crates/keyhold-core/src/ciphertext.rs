//! Self-describing ciphertext, so decrypt needs no key id.
//!
//! ```text
//!  0        1                17             21           33
//!  ┌────────┬────────────────┬──────────────┬────────────┬──────────────────────┐
//!  │ format │ key id (16)    │ version (BE) │ nonce (12) │ ciphertext ‖ tag (16) │   format 1: AES-GCM
//!  └────────┴────────────────┴──────────────┴────────────┴──────────────────────┘
//!  ┌────────┬────────────────┬──────────────┬────────────────────────────────────┐
//!  │ format │ key id (16)    │ version (BE) │ RSA-OAEP-SHA256 ciphertext         │   format 2
//!  └────────┴────────────────┴──────────────┴────────────────────────────────────┘
//! ```
//!
//! For AES-GCM the AAD is the 21-byte header followed by the canonical encoding of the
//! encryption context, so neither the header nor the context can be changed undetected.

use std::collections::BTreeMap;

use crate::error::KmsError;
use crate::ids::KeyId;

/// Length of the common header.
pub const HEADER_LEN: usize = 21;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The encryption scheme of a ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Format {
    /// AES-GCM under a symmetric key version.
    AesGcm = 1,
    /// RSA-OAEP with SHA-256 under an RSA key version.
    RsaOaep = 2,
}

/// A parsed ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ciphertext {
    /// The scheme.
    pub format: Format,
    /// The key that made it.
    pub key_id: KeyId,
    /// The key version that made it.
    pub version: u32,
    /// The GCM nonce (empty for RSA).
    pub nonce: Vec<u8>,
    /// The ciphertext (with tag for GCM).
    pub body: Vec<u8>,
}

impl Ciphertext {
    /// The header bytes (part of the AAD).
    pub fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = self.format as u8;
        h[1..17].copy_from_slice(self.key_id.as_bytes());
        h[17..21].copy_from_slice(&self.version.to_be_bytes());
        h
    }

    /// Serializes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.nonce.len() + self.body.len());
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses, checking lengths; the content is authenticated later by the key.
    pub fn parse(bytes: &[u8]) -> Result<Self, KmsError> {
        if bytes.len() < HEADER_LEN {
            return Err(KmsError::InvalidCiphertext);
        }
        let format = match bytes[0] {
            1 => Format::AesGcm,
            2 => Format::RsaOaep,
            _ => return Err(KmsError::InvalidCiphertext),
        };
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[1..17]);
        let mut ver = [0u8; 4];
        ver.copy_from_slice(&bytes[17..21]);
        let rest = &bytes[HEADER_LEN..];
        let (nonce, body) = match format {
            Format::AesGcm if rest.len() >= NONCE_LEN + TAG_LEN => rest.split_at(NONCE_LEN),
            Format::RsaOaep if !rest.is_empty() => (&rest[..0], rest),
            _ => return Err(KmsError::InvalidCiphertext),
        };
        Ok(Self {
            format,
            key_id: KeyId::from_bytes(id),
            version: u32::from_be_bytes(ver),
            nonce: nonce.to_vec(),
            body: body.to_vec(),
        })
    }

    /// The GCM AAD: header ‖ canonical context.
    pub fn aad(&self, context: &BTreeMap<String, String>) -> Vec<u8> {
        let mut aad = self.header().to_vec();
        aad.extend_from_slice(&canonical_context(context));
        aad
    }
}

/// Length-prefixed, key-sorted encoding of an encryption context (empty for an empty context).
pub fn canonical_context(context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in context {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Ciphertext {
            format: Format::AesGcm,
            key_id: KeyId::generate(),
            version: 7,
            nonce: vec![1; 12],
            body: vec![2; 20],
        };
        assert_eq!(Ciphertext::parse(&c.to_bytes()).unwrap(), c);
    }

    #[test]
    fn short_or_unknown_input_is_rejected() {
        assert!(Ciphertext::parse(&[1; 20]).is_err());
        assert!(Ciphertext::parse(&[9; 64]).is_err());
        assert!(Ciphertext::parse(&[1; 40]).is_err());
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        let a = BTreeMap::from([("ab".to_string(), "c".to_string())]);
        let b = BTreeMap::from([("a".to_string(), "bc".to_string())]);
        assert_ne!(canonical_context(&a), canonical_context(&b));
    }
}
