//! keyhold-crypto: the cryptographic provider of Keyhold, on aws-lc-rs.
//!
//! Everything cryptographic that Keyhold does goes through [`Provider`]:
//! key generation and import validation, AES-GCM, RSA-OAEP, signatures,
//! HMAC, AES key wrap (RFC 5649), the import transport format, hashing, HKDF
//! and PEM. [`shamir`] splits and rebuilds secrets. Secrets travel as
//! [`SecretBytes`], which is wiped on drop and never printed.
//!
//! Names of algorithms ([`Algorithm`], [`SigningAlgorithm`]) are parsed at the
//! edge with `FromStr` and serialized with serde under the same names.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod aead;
mod algorithm;
mod asym;
mod block;
mod digest;
mod error;
mod kdf;
mod keys;
mod mac;
mod provider;
mod secret;
pub mod shamir;
mod wrap;

#[cfg(test)]
mod testutil;

pub use aead::{AES_GCM_NONCE_LEN, AES_GCM_TAG_LEN};
pub use algorithm::{Algorithm, KeyFamily, MessageType, SigningAlgorithm};
pub use block::{BlockMode, BlockPadding, AES_BLOCK_LEN};
pub use digest::{to_hex, Sha256Stream};
pub use error::CryptoError;
pub use kdf::{KdfHash, MAX_DERIVED_LEN, MAX_PBKDF2_ITERATIONS};
pub use keys::KeyMaterial;
pub use provider::{FipsReport, Provider};
pub use secret::{constant_time_eq, SecretBytes};
