//! `keyhold-root`: roots of trust that seal Keyhold's root key.
//!
//! Now: [`software::ShamirRoot`], an AES-256 unseal key split into M-of-N Shamir shares. The
//! PKCS#11 (HSM) and TPM 2.0 roots come with their issue and implement the same
//! [`keyhold_core::root::RootOfTrust`] trait.

#![warn(missing_docs)]

pub mod software;

pub use software::{SealConfig, ShamirFactory, ShamirRoot, UnsealProgress, SEAL_CONFIG};
