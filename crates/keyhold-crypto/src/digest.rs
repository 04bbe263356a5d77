//! Incremental SHA-256, for digests of streams (backup artifacts) that never sit in memory whole.

use aws_lc_rs::digest;

/// SHA-256 over data fed in pieces; [`Sha256Stream::finish`] gives the same digest as
/// [`crate::Provider::sha256`] over the concatenation.
#[derive(Clone)]
pub struct Sha256Stream(digest::Context);

impl std::fmt::Debug for Sha256Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256Stream")
    }
}

impl Default for Sha256Stream {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256Stream {
    /// An empty hash.
    pub fn new() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything fed so far (the stream can go on).
    pub fn digest(&self) -> [u8; 32] {
        let d = self.0.clone().finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_hash_like_the_whole() {
        let mut h = Sha256Stream::new();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.digest(), crate::Provider::aws_lc().sha256(b"hello world"));
    }
}
