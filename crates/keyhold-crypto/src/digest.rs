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

/// Lowercase hex of `bytes`, as `hex::encode` writes it, with a table lookup per byte instead
/// of its per-character iterator: digests are written in hex on every request (the token
/// lookup, the audit chain), where `hex::encode` cost ten times as many instructions.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    // Hex digits are ASCII: this cannot fail.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_hex_writes_what_hex_encode_writes() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(to_hex(&all), hex::encode(&all));
        assert_eq!(to_hex(&[]), "");
        let digest = crate::Provider::aws_lc().sha256(b"abc");
        assert_eq!(
            to_hex(&digest),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn pieces_hash_like_the_whole() {
        let mut h = Sha256Stream::new();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.digest(), crate::Provider::aws_lc().sha256(b"hello world"));
    }
}
