//! Envelope encryption of streams and files of any size, in constant memory.
//!
//! ```text
//!  encrypt: server ── datakey(key, context) ──► data key (plaintext + wrapped under key)
//!  file   = header ‖ chunk 0 ‖ chunk 1 ‖ … ‖ chunk n        (chunk n is the last, maybe empty)
//!  header = "KHENV1" ‖ format version (1 byte) ‖ length (u32 BE) ‖ JSON
//!           JSON: cipher, key_id, wrapped_key (base64), chunk_size (65536),
//!                 nonce_prefix (7 random bytes, base64), context
//!  chunk i = AES-256-GCM(data key, nonce i, AAD = SHA-256(header), plaintext i) = ciphertext ‖ tag
//!           plaintext i is chunk_size bytes, except the last which holds 0..=chunk_size
//!  nonce i = nonce_prefix (7) ‖ i (u32 BE) ‖ 0x01 if last else 0x00      (the STREAM construction)
//!  decrypt: server ── decrypt(wrapped_key, context) ──► data key; open chunk by chunk
//! ```
//!
//! The counter in the nonce detects reordered, dropped or duplicated chunks; the last-chunk flag
//! detects truncation at a chunk boundary and appended data; the header hash in the AAD detects a
//! header swapped from another envelope or edited. The data key is wiped after use.
//!
//! Decryption writes each chunk only after it authenticates, but a stream cut short is only
//! detected at its end: write the output to a temporary file and keep it only when
//! [`decrypt_stream`] succeeds (the `keyhold decrypt-file` command does).

use std::io;

use keyhold_core::ids::{KeyId, KeyRef};
use keyhold_core::ops::{Context, Decrypt, GenerateDataKey};
use keyhold_crypto::{CryptoError, Provider, AES_GCM_TAG_LEN};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::{Client, ClientError};

/// The first bytes of every envelope.
pub const MAGIC: &[u8; 6] = b"KHENV1";
/// The format version written after the magic.
pub const FORMAT_VERSION: u8 = 1;
/// Plaintext bytes per chunk written by [`encrypt_stream`].
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// The cipher named in the header.
pub const CIPHER: &str = "aes-256-gcm-stream";

/// Headers longer than this are refused (real ones are a few hundred bytes).
const MAX_HEADER_LEN: u32 = 64 * 1024;
/// Chunk sizes accepted when reading, so that memory stays bounded.
const MAX_CHUNK_SIZE: u32 = 16 << 20;
const NONCE_PREFIX_LEN: usize = 7;
const DATA_KEY_LEN: usize = 32;

/// What can go wrong encrypting or decrypting an envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The server refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Reading the input or writing the output failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The input does not start with the envelope magic.
    #[error("not a Keyhold envelope (the magic bytes are missing)")]
    NotAnEnvelope,
    /// The envelope was written by a newer format.
    #[error("envelope format version {0} is not supported by this client")]
    UnsupportedVersion(u8),
    /// The header does not parse or has values out of range.
    #[error("invalid envelope header: {0}")]
    BadHeader(String),
    /// The input ends before its last chunk.
    #[error("the envelope is truncated")]
    Truncated,
    /// A chunk did not authenticate.
    #[error(
        "the envelope is corrupt: chunk {chunk} does not authenticate \
         (modified, truncated, reordered, or the header does not belong to it)"
    )]
    Corrupt {
        /// Index of the first chunk that failed.
        chunk: u64,
    },
    /// The server's data key answer is not usable.
    #[error("unusable data key from the server: {0}")]
    DataKey(&'static str),
    /// More than 2^32 chunks.
    #[error("the input is too large for one envelope")]
    TooLarge,
    /// A cryptographic failure that is not about the data.
    #[error("cryptographic failure")]
    Crypto(#[source] CryptoError),
}

/// The JSON part of the header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeHeader {
    /// Always [`CIPHER`].
    pub cipher: String,
    /// The key that wrapped the data key.
    pub key_id: KeyId,
    /// The data key, encrypted by the server under `key_id` (a Keyhold ciphertext).
    #[serde(with = "keyhold_core::b64")]
    pub wrapped_key: Vec<u8>,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// The random first 7 bytes of every chunk nonce.
    #[serde(with = "keyhold_core::b64")]
    pub nonce_prefix: Vec<u8>,
    /// The encryption context the data key was wrapped with (needed to unwrap it).
    #[serde(default)]
    pub context: Context,
}

impl EnvelopeHeader {
    /// A header for a new envelope with a fresh random nonce prefix.
    pub fn new(
        key_id: KeyId,
        wrapped_key: Vec<u8>,
        context: Context,
    ) -> Result<Self, EnvelopeError> {
        let prefix: [u8; NONCE_PREFIX_LEN] = Provider::aws_lc()
            .random_array()
            .map_err(EnvelopeError::Crypto)?;
        Ok(Self {
            cipher: CIPHER.to_owned(),
            key_id,
            wrapped_key,
            chunk_size: CHUNK_SIZE,
            nonce_prefix: prefix.to_vec(),
            context,
        })
    }

    /// The header's bytes as written: magic, version, length, JSON.
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        self.validate()?;
        let json = serde_json::to_vec(self).map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
        let len = u32::try_from(json.len())
            .ok()
            .filter(|l| *l <= MAX_HEADER_LEN)
            .ok_or_else(|| {
                EnvelopeError::BadHeader("header too large (is the context huge?)".into())
            })?;
        let mut out = Vec::with_capacity(MAGIC.len() + 5 + json.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&json);
        Ok(out)
    }

    fn validate(&self) -> Result<(), EnvelopeError> {
        if self.cipher != CIPHER {
            return Err(EnvelopeError::BadHeader(format!(
                "unknown cipher '{}'",
                self.cipher
            )));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(EnvelopeError::BadHeader(format!(
                "chunk size {} out of range",
                self.chunk_size
            )));
        }
        if self.nonce_prefix.len() != NONCE_PREFIX_LEN {
            return Err(EnvelopeError::BadHeader(
                "nonce prefix must be 7 bytes".into(),
            ));
        }
        Ok(())
    }

    fn prefix(&self) -> [u8; NONCE_PREFIX_LEN] {
        let mut p = [0u8; NONCE_PREFIX_LEN];
        p.copy_from_slice(&self.nonce_prefix[..NONCE_PREFIX_LEN]);
        p
    }
}

/// A header read from an envelope, with what the chunks are bound to.
#[derive(Debug, Clone)]
pub struct ReadHeader {
    /// The parsed header.
    pub header: EnvelopeHeader,
    /// SHA-256 of the header bytes: every chunk's AAD.
    aad: [u8; 32],
    /// Bytes the header took.
    len: u64,
}

/// The result of encrypting or decrypting an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeSummary {
    /// The key that wraps the data key.
    pub key_id: KeyId,
    /// Plaintext bytes read (encrypt) or written (decrypt).
    pub plaintext_bytes: u64,
    /// Set when the server reports the key compromised (decrypt only).
    pub key_compromised: bool,
}

/// Encrypts everything `reader` yields into an envelope written to `writer`, under a fresh data
/// key from the server wrapped by `key` (id, name or `alias/x`) with `context`.
///
/// `progress` is called with the number of plaintext bytes read so far.
pub async fn encrypt_stream<R, W>(
    client: &Client,
    key: &str,
    context: &Context,
    reader: R,
    writer: W,
    mut progress: impl FnMut(u64),
) -> Result<EnvelopeSummary, EnvelopeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let answer = client
        .generate_data_key(&GenerateDataKey {
            key: KeyRef(key.to_owned()),
            number_of_bytes: Some(DATA_KEY_LEN as u32),
            context: context.clone(),
            include_plaintext: Some(true),
        })
        .await?;
    // `SecretData` wipes the data key when it goes out of scope.
    let data_key = answer
        .plaintext
        .ok_or(EnvelopeError::DataKey("no plaintext data key"))?;
    let header = EnvelopeHeader::new(answer.key_id, answer.ciphertext, context.clone())?;
    let plaintext_bytes = seal_with_data_key(
        data_key.0.as_bytes(),
        &header,
        reader,
        writer,
        &mut progress,
    )
    .await?;
    Ok(EnvelopeSummary {
        key_id: answer.key_id,
        plaintext_bytes,
        key_compromised: false,
    })
}

/// Decrypts an envelope from `reader` into `writer`, unwrapping its data key on the server.
///
/// `progress` is called with the number of envelope bytes read so far. On error, part of the
/// plaintext may already have been written: discard the output.
pub async fn decrypt_stream<R, W>(
    client: &Client,
    mut reader: R,
    writer: W,
    mut progress: impl FnMut(u64),
) -> Result<EnvelopeSummary, EnvelopeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let read = read_header(&mut reader).await?;
    progress(read.len);
    let answer = client
        .decrypt(&Decrypt {
            ciphertext: read.header.wrapped_key.clone(),
            context: read.header.context.clone(),
        })
        .await?;
    if answer.key_id != read.header.key_id {
        return Err(EnvelopeError::BadHeader(
            "the wrapped data key belongs to another key than the header names".into(),
        ));
    }
    let plaintext_bytes = open_with_data_key(
        answer.plaintext.0.as_bytes(),
        &read,
        reader,
        writer,
        &mut progress,
    )
    .await?;
    Ok(EnvelopeSummary {
        key_id: read.header.key_id,
        plaintext_bytes,
        key_compromised: answer.key_compromised,
    })
}

/// Writes `header` and the chunks of everything `reader` yields, sealed under `data_key`.
/// Returns the number of plaintext bytes; `progress` gets the same count as it grows.
pub async fn seal_with_data_key<R, W>(
    data_key: &[u8],
    header: &EnvelopeHeader,
    mut reader: R,
    mut writer: W,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, EnvelopeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    check_data_key(data_key)?;
    let provider = Provider::aws_lc();
    let bytes = header.encode()?;
    let aad = provider.sha256(&bytes);
    writer.write_all(&bytes).await?;
    let chunk = header.chunk_size as usize;
    let prefix = header.prefix();
    // One chunk plus one byte of look-ahead: a chunk is the last exactly when no byte follows.
    let mut buf = Zeroizing::new(vec![0u8; chunk + 1]);
    let mut filled = read_full(&mut reader, &mut buf[..]).await?;
    let mut total = filled as u64;
    progress(total);
    let mut counter: u32 = 0;
    loop {
        let last = filled <= chunk;
        let n = filled.min(chunk);
        let nonce = chunk_nonce(&prefix, counter, last);
        let sealed = provider
            .aes_gcm_seal_with_nonce(data_key, &nonce, &aad, &buf[..n])
            .map_err(EnvelopeError::Crypto)?;
        writer.write_all(&sealed).await?;
        if last {
            break;
        }
        counter = counter.checked_add(1).ok_or(EnvelopeError::TooLarge)?;
        buf.copy_within(chunk.., 0);
        let more = read_full(&mut reader, &mut buf[1..]).await?;
        filled = 1 + more;
        total += more as u64;
        progress(total);
    }
    writer.flush().await?;
    Ok(total)
}

/// Reads and checks an envelope's header.
pub async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<ReadHeader, EnvelopeError> {
    let mut fixed = [0u8; 11];
    let n = read_full(reader, &mut fixed).await?;
    if n < MAGIC.len() || &fixed[..MAGIC.len()] != MAGIC {
        return Err(EnvelopeError::NotAnEnvelope);
    }
    if n < fixed.len() {
        return Err(EnvelopeError::Truncated);
    }
    if fixed[6] != FORMAT_VERSION {
        return Err(EnvelopeError::UnsupportedVersion(fixed[6]));
    }
    let len = u32::from_be_bytes([fixed[7], fixed[8], fixed[9], fixed[10]]);
    if len > MAX_HEADER_LEN {
        return Err(EnvelopeError::BadHeader(format!(
            "header length {len} is too large"
        )));
    }
    let mut bytes = fixed.to_vec();
    bytes.resize(fixed.len() + len as usize, 0);
    if read_full(reader, &mut bytes[fixed.len()..]).await? < len as usize {
        return Err(EnvelopeError::Truncated);
    }
    let header: EnvelopeHeader = serde_json::from_slice(&bytes[fixed.len()..])
        .map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
    header.validate()?;
    Ok(ReadHeader {
        header,
        aad: Provider::aws_lc().sha256(&bytes),
        len: bytes.len() as u64,
    })
}

/// Opens the chunks that follow `read` (a header from [`read_header`]) with `data_key` and
/// writes the plaintext. Returns the number of plaintext bytes; `progress` gets the number of
/// envelope bytes read, header included.
pub async fn open_with_data_key<R, W>(
    data_key: &[u8],
    read: &ReadHeader,
    mut reader: R,
    mut writer: W,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, EnvelopeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    check_data_key(data_key)?;
    let provider = Provider::aws_lc();
    let sealed_chunk = read.header.chunk_size as usize + AES_GCM_TAG_LEN;
    let prefix = read.header.prefix();
    let mut buf = vec![0u8; sealed_chunk + 1];
    let mut filled = read_full(&mut reader, &mut buf[..]).await?;
    let mut consumed = read.len + filled as u64;
    progress(consumed);
    let mut counter: u32 = 0;
    let mut written = 0u64;
    loop {
        let last = filled <= sealed_chunk;
        let n = filled.min(sealed_chunk);
        if n < AES_GCM_TAG_LEN {
            return Err(EnvelopeError::Truncated);
        }
        let nonce = chunk_nonce(&prefix, counter, last);
        let plaintext = provider
            .aes_gcm_open(data_key, &nonce, &read.aad, &buf[..n])
            .map_err(|e| match e {
                CryptoError::AuthenticationFailed => EnvelopeError::Corrupt {
                    chunk: u64::from(counter),
                },
                other => EnvelopeError::Crypto(other),
            })?;
        writer.write_all(plaintext.as_bytes()).await?;
        written += plaintext.len() as u64;
        if last {
            break;
        }
        counter = counter.checked_add(1).ok_or(EnvelopeError::TooLarge)?;
        buf.copy_within(sealed_chunk.., 0);
        let more = read_full(&mut reader, &mut buf[1..]).await?;
        filled = 1 + more;
        consumed += more as u64;
        progress(consumed);
    }
    writer.flush().await?;
    Ok(written)
}

fn check_data_key(data_key: &[u8]) -> Result<(), EnvelopeError> {
    if data_key.len() == DATA_KEY_LEN {
        Ok(())
    } else {
        Err(EnvelopeError::DataKey("the data key must be 32 bytes"))
    }
}

/// `prefix (7) ‖ counter (4, BE) ‖ last flag (1)`.
fn chunk_nonce(prefix: &[u8; NONCE_PREFIX_LEN], counter: u32, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    nonce[NONCE_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]).await {
            Ok(0) => break,
            Ok(m) => n += m,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: u32 = 16;

    fn key() -> Vec<u8> {
        Provider::aws_lc().random(32).unwrap().as_bytes().to_vec()
    }

    fn header(chunk_size: u32) -> EnvelopeHeader {
        let mut h = EnvelopeHeader::new(
            KeyId::generate(),
            b"wrapped".to_vec(),
            [("file".to_owned(), "a.txt".to_owned())].into(),
        )
        .unwrap();
        h.chunk_size = chunk_size;
        h
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    async fn seal(key: &[u8], h: &EnvelopeHeader, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let n = seal_with_data_key(key, h, input, &mut out, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(n, input.len() as u64);
        out
    }

    async fn open(key: &[u8], envelope: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut reader = envelope;
        let read = read_header(&mut reader).await?;
        let mut out = Vec::new();
        let n = open_with_data_key(key, &read, reader, &mut out, &mut |_| {}).await?;
        assert_eq!(n, out.len() as u64);
        Ok(out)
    }

    fn header_len(envelope: &[u8]) -> usize {
        11 + u32::from_be_bytes(envelope[7..11].try_into().unwrap()) as usize
    }

    #[tokio::test]
    async fn round_trips_every_size_around_chunk_boundaries() {
        let k = key();
        let h = header(SMALL);
        let c = SMALL as usize;
        for len in [0, 1, c - 1, c, c + 1, 2 * c, 3 * c + 5, 10 * c] {
            let input = data(len);
            let env = seal(&k, &h, &input).await;
            // ceil(len / c) chunks, at least one (the empty last chunk of empty input).
            let chunks = len.div_ceil(c).max(1);
            assert_eq!(
                env.len(),
                header_len(&env) + len + chunks * AES_GCM_TAG_LEN,
                "len {len}"
            );
            assert_eq!(open(&k, &env).await.unwrap(), input, "len {len}");
        }
    }

    #[tokio::test]
    async fn empty_input_is_one_empty_last_chunk() {
        let k = key();
        let env = seal(&k, &header(CHUNK_SIZE), &[]).await;
        assert_eq!(env.len(), header_len(&env) + AES_GCM_TAG_LEN);
        assert!(open(&k, &env).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn exact_multiple_of_the_default_chunk_size_round_trips() {
        let k = key();
        let input = data(2 * CHUNK_SIZE as usize);
        let env = seal(&k, &header(CHUNK_SIZE), &input).await;
        // Two full chunks, the second one marked last: no empty trailing chunk.
        assert_eq!(
            env.len(),
            header_len(&env) + input.len() + 2 * AES_GCM_TAG_LEN
        );
        assert_eq!(open(&k, &env).await.unwrap(), input);
    }

    #[tokio::test]
    async fn truncation_is_detected_anywhere() {
        let k = key();
        let h = header(SMALL);
        let input = data(3 * SMALL as usize);
        let env = seal(&k, &h, &input).await;
        let hl = header_len(&env);
        let sealed = SMALL as usize + AES_GCM_TAG_LEN;
        // Cut inside the last chunk, exactly at a chunk boundary, right after the header, and
        // inside the header.
        for cut in [
            env.len() - 1,
            hl + 2 * sealed,
            hl + sealed,
            hl,
            hl - 3,
            8,
            3,
        ] {
            assert!(open(&k, &env[..cut]).await.is_err(), "cut at {cut}");
        }
        assert!(matches!(
            open(&k, &env[..hl]).await,
            Err(EnvelopeError::Truncated)
        ));
        assert!(matches!(
            open(&k, &env[..hl + 2 * sealed]).await,
            Err(EnvelopeError::Corrupt { chunk: 1 })
        ));
    }

    #[tokio::test]
    async fn every_flipped_byte_is_detected() {
        let k = key();
        let env = seal(&k, &header(SMALL), &data(40)).await;
        for i in 0..env.len() {
            let mut bad = env.clone();
            bad[i] ^= 0x01;
            assert!(open(&k, &bad).await.is_err(), "flip at {i}");
        }
    }

    #[tokio::test]
    async fn swapped_chunks_are_detected() {
        let k = key();
        let env = seal(&k, &header(SMALL), &data(3 * SMALL as usize)).await;
        let hl = header_len(&env);
        let s = SMALL as usize + AES_GCM_TAG_LEN;
        let mut bad = env[..hl].to_vec();
        bad.extend_from_slice(&env[hl + s..hl + 2 * s]);
        bad.extend_from_slice(&env[hl..hl + s]);
        bad.extend_from_slice(&env[hl + 2 * s..]);
        assert!(matches!(
            open(&k, &bad).await,
            Err(EnvelopeError::Corrupt { chunk: 0 })
        ));
    }

    #[tokio::test]
    async fn appended_data_is_detected() {
        let k = key();
        let env = seal(&k, &header(SMALL), &data(2 * SMALL as usize)).await;
        let mut bad = env.clone();
        bad.extend_from_slice(&env[header_len(&env)..]);
        assert!(open(&k, &bad).await.is_err());
    }

    #[tokio::test]
    async fn a_header_from_another_envelope_is_detected() {
        let k = key();
        let a = seal(&k, &header(SMALL), &data(20)).await;
        let b = seal(&k, &header(SMALL), &data(20)).await;
        let mut swapped = b[..header_len(&b)].to_vec();
        swapped.extend_from_slice(&a[header_len(&a)..]);
        assert!(matches!(
            open(&k, &swapped).await,
            Err(EnvelopeError::Corrupt { chunk: 0 })
        ));
    }

    #[tokio::test]
    async fn the_wrong_data_key_fails() {
        let env = seal(&key(), &header(SMALL), &data(5)).await;
        assert!(matches!(
            open(&key(), &env).await,
            Err(EnvelopeError::Corrupt { .. })
        ));
        assert!(matches!(
            open(&[0u8; 16], &env).await,
            Err(EnvelopeError::DataKey(_))
        ));
    }

    #[tokio::test]
    async fn foreign_input_and_future_versions_are_refused() {
        assert!(matches!(
            open(&key(), b"hello world, plain text").await,
            Err(EnvelopeError::NotAnEnvelope)
        ));
        assert!(matches!(
            open(&key(), b"").await,
            Err(EnvelopeError::NotAnEnvelope)
        ));
        let mut env = seal(&key(), &header(SMALL), &data(5)).await;
        env[6] = 2;
        assert!(matches!(
            open(&key(), &env).await,
            Err(EnvelopeError::UnsupportedVersion(2))
        ));
        let mut huge = MAGIC.to_vec();
        huge.push(FORMAT_VERSION);
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            open(&key(), &huge).await,
            Err(EnvelopeError::BadHeader(_))
        ));
    }

    #[tokio::test]
    async fn header_values_out_of_range_are_refused() {
        let mut h = header(0);
        assert!(h.encode().is_err());
        h.chunk_size = SMALL;
        h.nonce_prefix = vec![0; 8];
        assert!(h.encode().is_err());
        h.nonce_prefix = vec![0; 7];
        h.cipher = "rot13".into();
        assert!(h.encode().is_err());
    }

    #[tokio::test]
    async fn progress_grows_to_the_total() {
        let k = key();
        let input = data(5 * SMALL as usize + 3);
        let mut seen = Vec::new();
        let mut env = Vec::new();
        seal_with_data_key(&k, &header(SMALL), &input[..], &mut env, &mut |n| {
            seen.push(n)
        })
        .await
        .unwrap();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(seen.last().copied(), Some(input.len() as u64));

        let mut seen = Vec::new();
        let mut reader = &env[..];
        let read = read_header(&mut reader).await.unwrap();
        open_with_data_key(&k, &read, reader, tokio::io::sink(), &mut |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!(seen.last().copied(), Some(env.len() as u64));
    }
}
