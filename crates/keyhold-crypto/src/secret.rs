//! Secret byte strings that wipe themselves.

use core::fmt;

use zeroize::Zeroizing;

/// Secret bytes: zeroized on drop, printed by `Debug` as `[redacted]`.
///
/// There is deliberately no `Display`, `Serialize` or `PartialEq`
/// implementation: comparing secrets must go through [`constant_time_eq`] and
/// persisting them must be an explicit `as_bytes()` call.
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `v`; its buffer is wiped when the value is dropped.
    pub fn new(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }

    /// A zero-filled secret of `len` bytes, to be filled in place.
    pub(crate) fn zeroed(len: usize) -> Self {
        Self::new(vec![0u8; len])
    }

    /// Borrows the secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Mutable access for filling a freshly allocated secret in place.
    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Shortens the secret to `len` bytes (the whole buffer is still wiped on drop).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(v: &[u8]) -> Self {
        Self::new(v.to_vec())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Compares two byte strings in time that depends only on their lengths (the cryptographic
/// module's `CRYPTO_memcmp`).
///
/// Returns `false` at once when the lengths differ (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_secret_bytes_is_redacted() {
        let s = SecretBytes::new(b"top secret".to_vec());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some([redacted])");
        assert_eq!(s.as_bytes(), b"top secret");
        assert_eq!(s.len(), 10);
        assert!(!s.is_empty());
        assert!(SecretBytes::from(Vec::new()).is_empty());
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
