//! The one error type of this crate.

/// Everything that can go wrong in a cryptographic operation.
///
/// The variants are deliberately coarse. In particular every integrity failure
/// (an AEAD tag, an AES key-wrap check, an RSA-OAEP decryption) is reported as
/// the single variant [`CryptoError::AuthenticationFailed`] without any detail,
/// so that callers cannot accidentally build a padding or decryption oracle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An algorithm name that this crate does not know.
    #[error("unknown algorithm: {0:?}")]
    UnknownAlgorithm(String),
    /// Key material does not parse, or does not match the requested algorithm
    /// (wrong length, wrong RSA modulus size, wrong curve, ...).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// An input has the wrong length or the requested combination of
    /// parameters is not valid (e.g. Ed25519 with a pre-computed digest).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Decryption or unwrapping failed its integrity check. Carries no detail
    /// on purpose.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The operation is valid in principle but not provided by this build.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The underlying library failed in a way that is not the caller's fault
    /// (e.g. the random number generator).
    #[error("internal cryptographic error: {0}")]
    Internal(&'static str),
}
