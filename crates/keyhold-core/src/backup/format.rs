//! The artifact format shared by the key backup and the KEK backup.
//!
//! ```text
//!  artifact = "KHBACKUP" ‖ format version (1) ‖ header length (u32 BE) ‖ header JSON ‖ chunks
//!  chunk i  = AES-256-GCM(file key, nonce i, AAD = SHA-256(everything before the chunks),
//!                         plaintext i)            plaintext i: CHUNK_SIZE bytes, the last 0..=
//!  nonce i  = nonce_prefix (7) ‖ i (u32 BE) ‖ 0x01 if last else 0x00          (STREAM)
//!  plaintext of all chunks = records, each u32 BE length ‖ JSON
//!
//!  backup key BK: 32 random bytes, M-of-N shares or RSA-OAEP to a recipient public key
//!  file key  = HKDF-SHA256(BK, salt = backup id, info = "keyhold/backup/v1/file/<kind>")
//!  KEK wrap  = HKDF-SHA256(BK, salt = backup id, info = "keyhold/backup/v1/kek-wrap")
//!  key check = HMAC-SHA256(BK, "keyhold/backup/v1/key-check" ‖ backup id)   (in the KEK header)
//! ```
//!
//! The nonce counter detects reordered, dropped or repeated chunks; the last-chunk flag detects
//! truncation at a chunk boundary and appended data; the header digest in every chunk's AAD
//! binds the header (a header edited or swapped from another artifact fails the first chunk).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use keyhold_crypto::{CryptoError, Provider, SecretBytes, Sha256Stream, AES_GCM_TAG_LEN};

use crate::clock::Timestamp;
use crate::error::KmsError;

/// The first bytes of every backup artifact.
pub const MAGIC: &[u8; 8] = b"KHBACKUP";
/// The format version written after the magic.
pub const FORMAT_VERSION: u8 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// The cipher named in every header.
pub const CIPHER: &str = "aes-256-gcm-stream";
/// Length of the backup key.
pub const BACKUP_KEY_LEN: usize = 32;

const NONCE_PREFIX_LEN: usize = 7;
const MAX_HEADER_LEN: u32 = 64 * 1024;
const MAX_CHUNK_SIZE: u32 = 1 << 20;
/// Largest record (a key with its metadata is a few KiB).
const MAX_RECORD_LEN: u32 = 4 << 20;

/// Why an artifact cannot be read, written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The input does not start with the magic bytes.
    #[error("not a Keyhold backup artifact (the magic bytes are missing)")]
    NotAnArtifact,
    /// Written by a newer format.
    #[error("backup format version {0} is not supported by this release")]
    UnsupportedVersion(u8),
    /// The header does not parse or has values out of range.
    #[error("invalid artifact header: {0}")]
    BadHeader(String),
    /// The input ends early.
    #[error("the artifact is truncated")]
    Truncated,
    /// A chunk does not authenticate.
    #[error(
        "the artifact is corrupt: chunk {chunk} does not authenticate (modified, truncated, \
         reordered, or the header does not belong to it)"
    )]
    Corrupt {
        /// Index of the first chunk that failed.
        chunk: u64,
    },
    /// The two artifacts are not of the same backup, or not what they claim.
    #[error("the artifacts do not belong together: {0}")]
    Mismatch(String),
    /// The shares or private key do not open this backup.
    #[error("the backup shares or private key do not open this backup: {0}")]
    WrongSecret(&'static str),
    /// The content is inconsistent (authenticated, but not a complete backup).
    #[error("the backup is incomplete or inconsistent: {0}")]
    Incomplete(String),
    /// A cryptographic failure that is not about the data.
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] CryptoError),
}

impl From<BackupError> for KmsError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::Crypto(c) => KmsError::Crypto(c),
            other => KmsError::invalid(other.to_string()),
        }
    }
}

/// Which of the two artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// Keys, versions (wrapped under tenant KEKs), metadata, aliases, grants, tokens.
    KeyBackup,
    /// Tenant KEKs and archive keys, wrapped under the backup key.
    KekBackup,
}

impl ArtifactKind {
    /// The name used in key derivation and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyBackup => "key-backup",
            Self::KekBackup => "kek-backup",
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the backup key is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Protection {
    /// M-of-N Shamir shares handed to the operator once.
    Shares {
        /// M.
        threshold: u8,
        /// N.
        shares: u8,
    },
    /// RSA-OAEP-SHA256 of the backup key to a recipient's public key.
    Recipient {
        /// Hex SHA-256 of the recipient's SubjectPublicKeyInfo DER.
        recipient_sha256: String,
        /// The backup key, encrypted to the recipient.
        #[serde(with = "crate::b64")]
        wrapped_backup_key: Vec<u8>,
    },
}

/// The JSON header of an artifact (authenticated by every chunk, readable without a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactHeader {
    /// Which artifact.
    pub kind: ArtifactKind,
    /// Shared by the two artifacts of one backup.
    pub backup_id: uuid::Uuid,
    /// When the snapshot was taken.
    pub created_at: Timestamp,
    /// Always [`CIPHER`].
    pub cipher: String,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// The random first 7 bytes of every chunk nonce.
    #[serde(with = "crate::b64")]
    pub nonce_prefix: Vec<u8>,
    /// Release of the server that wrote it.
    pub server_version: String,
    /// Key backup: hex SHA-256 of the KEK backup's header bytes (the KEK backup names the key
    /// backup's full digest in its authenticated trailer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kek_backup_header_sha256: Option<String>,
    /// KEK backup: how the backup key is protected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<Protection>,
    /// KEK backup: hex of the first 16 bytes of the key check value, so wrong shares are told
    /// apart from a corrupt file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

impl ArtifactHeader {
    /// A header with a fresh nonce prefix.
    pub fn new(
        kind: ArtifactKind,
        backup_id: uuid::Uuid,
        created_at: Timestamp,
    ) -> Result<Self, BackupError> {
        let prefix: [u8; NONCE_PREFIX_LEN] = Provider::aws_lc().random_array()?;
        Ok(Self {
            kind,
            backup_id,
            created_at,
            cipher: CIPHER.to_owned(),
            chunk_size: CHUNK_SIZE,
            nonce_prefix: prefix.to_vec(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            kek_backup_header_sha256: None,
            protection: None,
            key_check: None,
        })
    }

    /// The bytes as written: magic, version, length, JSON.
    pub fn encode(&self) -> Result<Vec<u8>, BackupError> {
        self.validate()?;
        let json = serde_json::to_vec(self).map_err(|e| BackupError::BadHeader(e.to_string()))?;
        let len = u32::try_from(json.len())
            .ok()
            .filter(|l| *l <= MAX_HEADER_LEN)
            .ok_or_else(|| BackupError::BadHeader("header too large".into()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 5 + json.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&json);
        Ok(out)
    }

    fn validate(&self) -> Result<(), BackupError> {
        if self.cipher != CIPHER {
            return Err(BackupError::BadHeader(format!(
                "unknown cipher '{}'",
                self.cipher
            )));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(BackupError::BadHeader(format!(
                "chunk size {} out of range",
                self.chunk_size
            )));
        }
        if self.nonce_prefix.len() != NONCE_PREFIX_LEN {
            return Err(BackupError::BadHeader(
                "nonce prefix must be 7 bytes".into(),
            ));
        }
        let kek = self.kind == ArtifactKind::KekBackup;
        if kek != self.protection.is_some()
            || kek != self.key_check.is_some()
            || kek == self.kek_backup_header_sha256.is_some()
        {
            return Err(BackupError::BadHeader(format!(
                "fields do not match a {} header",
                self.kind
            )));
        }
        Ok(())
    }

    fn prefix(&self) -> [u8; NONCE_PREFIX_LEN] {
        let mut p = [0u8; NONCE_PREFIX_LEN];
        p.copy_from_slice(&self.nonce_prefix[..NONCE_PREFIX_LEN]);
        p
    }
}

/// The backup key, wiped on drop.
#[derive(Clone)]
pub struct BackupKey(SecretBytes);

impl fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupKey([redacted])")
    }
}

impl BackupKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, BackupError> {
        Ok(Self(Provider::aws_lc().random(BACKUP_KEY_LEN)?))
    }

    /// Wraps 32 bytes.
    pub fn from_bytes(bytes: SecretBytes) -> Result<Self, BackupError> {
        if bytes.len() != BACKUP_KEY_LEN {
            return Err(BackupError::WrongSecret("a backup key is 32 bytes"));
        }
        Ok(Self(bytes))
    }

    /// The raw key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn derive(&self, backup_id: &uuid::Uuid, info: &str) -> Result<SecretBytes, BackupError> {
        Ok(Provider::aws_lc().hkdf_sha256(
            self.0.as_bytes(),
            backup_id.as_bytes(),
            info.as_bytes(),
            32,
        )?)
    }

    /// The key of an artifact's chunks.
    pub fn file_key(&self, header: &ArtifactHeader) -> Result<SecretBytes, BackupError> {
        self.derive(
            &header.backup_id,
            &format!("keyhold/backup/v1/file/{}", header.kind),
        )
    }

    /// The key wrapping each KEK and archive key inside the KEK backup.
    pub fn kek_wrap_key(&self, backup_id: &uuid::Uuid) -> Result<SecretBytes, BackupError> {
        self.derive(backup_id, "keyhold/backup/v1/kek-wrap")
    }

    /// The key check value written in the KEK backup's header.
    pub fn key_check(&self, backup_id: &uuid::Uuid) -> String {
        let mut input = b"keyhold/backup/v1/key-check".to_vec();
        input.extend_from_slice(backup_id.as_bytes());
        hex::encode(&Provider::aws_lc().hmac_sha256(self.0.as_bytes(), &input)[..16])
    }

    /// Opens the backup key of a KEK backup header with `secret`.
    pub fn open(header: &ArtifactHeader, secret: &BackupSecret) -> Result<Self, BackupError> {
        let provider = Provider::aws_lc();
        let key = match (&header.protection, secret) {
            (Some(Protection::Shares { .. }), BackupSecret::Shares(shares)) => {
                let combined = keyhold_crypto::shamir::combine(shares)
                    .map_err(|_| BackupError::WrongSecret("the shares do not combine"))?;
                Self::from_bytes(combined)?
            }
            (
                Some(Protection::Recipient {
                    wrapped_backup_key, ..
                }),
                BackupSecret::PrivateKey(pkcs8),
            ) => {
                let key = provider
                    .rsa_oaep_sha256_decrypt(pkcs8.as_bytes(), wrapped_backup_key)
                    .map_err(|_| {
                        BackupError::WrongSecret("the private key does not decrypt the backup key")
                    })?;
                Self::from_bytes(key)?
            }
            (_, BackupSecret::Key(key)) => key.clone(),
            (Some(Protection::Shares { .. }), _) => {
                return Err(BackupError::WrongSecret(
                    "this backup is protected by shares; give --share",
                ))
            }
            (Some(Protection::Recipient { .. }), _) => {
                return Err(BackupError::WrongSecret(
                    "this backup is protected by a recipient key; give --private-key",
                ))
            }
            (None, _) => return Err(BackupError::BadHeader("not a KEK backup header".into())),
        };
        let expected = header.key_check.as_deref().unwrap_or_default();
        if !keyhold_crypto::constant_time_eq(
            key.key_check(&header.backup_id).as_bytes(),
            expected.as_bytes(),
        ) {
            return Err(BackupError::WrongSecret(
                "the key check fails (wrong or too few shares, or the wrong private key)",
            ));
        }
        Ok(key)
    }
}

/// What opens a backup: shares, a recipient private key, or the backup key itself.
pub enum BackupSecret {
    /// At least the threshold of shares.
    Shares(Vec<keyhold_crypto::shamir::Share>),
    /// The recipient's PKCS#8 private key (DER).
    PrivateKey(SecretBytes),
    /// The backup key (the client opens it and sends it to the server for a restore).
    Key(BackupKey),
}

impl fmt::Debug for BackupSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Shares(_) => "BackupSecret::Shares([redacted])",
            Self::PrivateKey(_) => "BackupSecret::PrivateKey([redacted])",
            Self::Key(_) => "BackupSecret::Key([redacted])",
        })
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

/// Writes an artifact: header, then records sealed chunk by chunk. Memory holds one chunk.
pub struct ArtifactWriter<W> {
    out: W,
    key: SecretBytes,
    aad: [u8; 32],
    prefix: [u8; NONCE_PREFIX_LEN],
    chunk: usize,
    counter: u32,
    buf: Zeroizing<Vec<u8>>,
    hash: Sha256Stream,
    bytes: u64,
}

impl<W: AsyncWrite + Unpin> ArtifactWriter<W> {
    /// Writes the header and prepares to seal records under `file_key`.
    pub async fn start(
        mut out: W,
        header: &ArtifactHeader,
        file_key: SecretBytes,
    ) -> Result<Self, BackupError> {
        let bytes = header.encode()?;
        out.write_all(&bytes).await?;
        let mut hash = Sha256Stream::new();
        hash.update(&bytes);
        Ok(Self {
            out,
            key: file_key,
            aad: Provider::aws_lc().sha256(&bytes),
            prefix: header.prefix(),
            chunk: header.chunk_size as usize,
            counter: 0,
            buf: Zeroizing::new(Vec::with_capacity(header.chunk_size as usize * 2)),
            hash,
            bytes: bytes.len() as u64,
        })
    }

    /// Appends one record.
    pub async fn record<T: Serialize>(&mut self, record: &T) -> Result<(), BackupError> {
        let json = Zeroizing::new(
            serde_json::to_vec(record)
                .map_err(|e| BackupError::BadHeader(format!("record encoding: {e}")))?,
        );
        let len = u32::try_from(json.len())
            .ok()
            .filter(|l| *l <= MAX_RECORD_LEN)
            .ok_or_else(|| BackupError::Incomplete("a record is too large".into()))?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&json);
        // A chunk is sealed as "not last" only when at least one more byte follows it.
        while self.buf.len() > self.chunk {
            self.seal(self.chunk, false).await?;
        }
        Ok(())
    }

    async fn seal(&mut self, n: usize, last: bool) -> Result<(), BackupError> {
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        let sealed = Provider::aws_lc().aes_gcm_seal_with_nonce(
            self.key.as_bytes(),
            &nonce,
            &self.aad,
            &self.buf[..n],
        )?;
        self.out.write_all(&sealed).await?;
        self.hash.update(&sealed);
        self.bytes += sealed.len() as u64;
        self.buf.drain(..n);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| BackupError::Incomplete("too many chunks".into()))?;
        Ok(())
    }

    /// Seals the last chunk and flushes. Returns the output, the SHA-256 of every byte written
    /// and their number.
    pub async fn finish(mut self) -> Result<(W, [u8; 32], u64), BackupError> {
        let n = self.buf.len();
        self.seal(n, true).await?;
        self.out.flush().await?;
        Ok((self.out, self.hash.digest(), self.bytes))
    }
}

/// Reads an artifact's header without any secret.
pub async fn read_header<R: AsyncRead + Unpin>(
    input: &mut R,
) -> Result<(ArtifactHeader, Vec<u8>), BackupError> {
    let mut fixed = [0u8; 13];
    let n = read_full(input, &mut fixed).await?;
    if n < MAGIC.len() || &fixed[..MAGIC.len()] != MAGIC {
        return Err(BackupError::NotAnArtifact);
    }
    if n < fixed.len() {
        return Err(BackupError::Truncated);
    }
    if fixed[8] != FORMAT_VERSION {
        return Err(BackupError::UnsupportedVersion(fixed[8]));
    }
    let len = u32::from_be_bytes([fixed[9], fixed[10], fixed[11], fixed[12]]);
    if len > MAX_HEADER_LEN {
        return Err(BackupError::BadHeader(format!(
            "header length {len} is too large"
        )));
    }
    let mut bytes = fixed.to_vec();
    bytes.resize(fixed.len() + len as usize, 0);
    if read_full(input, &mut bytes[fixed.len()..]).await? < len as usize {
        return Err(BackupError::Truncated);
    }
    let header: ArtifactHeader = serde_json::from_slice(&bytes[fixed.len()..])
        .map_err(|e| BackupError::BadHeader(e.to_string()))?;
    header.validate()?;
    // The canonical encoding must be what was read, so the header digest means one header.
    if header.encode()? != bytes {
        return Err(BackupError::BadHeader(
            "header is not in canonical form".into(),
        ));
    }
    Ok((header, bytes))
}

/// Reads the records of an artifact, authenticating chunk by chunk. Memory holds one chunk.
pub struct ArtifactReader<R> {
    input: R,
    key: SecretBytes,
    aad: [u8; 32],
    prefix: [u8; NONCE_PREFIX_LEN],
    sealed_chunk: usize,
    counter: u32,
    /// Sealed bytes read ahead (one chunk plus one byte tells whether a chunk is the last).
    sealed: Vec<u8>,
    plain: Zeroizing<Vec<u8>>,
    done: bool,
    hash: Sha256Stream,
    bytes: u64,
}

impl<R: AsyncRead + Unpin> ArtifactReader<R> {
    /// Starts reading the chunks that follow a header read by [`read_header`].
    pub fn new(
        input: R,
        header: &ArtifactHeader,
        header_bytes: &[u8],
        file_key: SecretBytes,
    ) -> Self {
        let mut hash = Sha256Stream::new();
        hash.update(header_bytes);
        Self {
            input,
            key: file_key,
            aad: Provider::aws_lc().sha256(header_bytes),
            prefix: header.prefix(),
            sealed_chunk: header.chunk_size as usize + AES_GCM_TAG_LEN,
            counter: 0,
            sealed: Vec::new(),
            plain: Zeroizing::new(Vec::new()),
            done: false,
            hash,
            bytes: header_bytes.len() as u64,
        }
    }

    /// Bytes of the artifact read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Opens the next chunk into `plain`; false when the last one was already opened.
    async fn pull(&mut self) -> Result<bool, BackupError> {
        if self.done {
            return Ok(false);
        }
        let want = self.sealed_chunk + 1;
        let have = self.sealed.len();
        if have < want {
            self.sealed.resize(want, 0);
            let n = read_full(&mut self.input, &mut self.sealed[have..]).await?;
            self.sealed.truncate(have + n);
            self.hash.update(&self.sealed[have..]);
            self.bytes += n as u64;
        }
        let last = self.sealed.len() <= self.sealed_chunk;
        let n = self.sealed.len().min(self.sealed_chunk);
        if n < AES_GCM_TAG_LEN {
            return Err(BackupError::Truncated);
        }
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        let plaintext = Provider::aws_lc()
            .aes_gcm_open(self.key.as_bytes(), &nonce, &self.aad, &self.sealed[..n])
            .map_err(|e| match e {
                CryptoError::AuthenticationFailed => BackupError::Corrupt {
                    chunk: u64::from(self.counter),
                },
                other => BackupError::Crypto(other),
            })?;
        self.plain.extend_from_slice(plaintext.as_bytes());
        self.sealed.drain(..n);
        self.done = last;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| BackupError::Incomplete("too many chunks".into()))?;
        Ok(true)
    }

    /// Ensures `n` plaintext bytes are buffered; false if the artifact ends cleanly before any.
    async fn fill(&mut self, n: usize) -> Result<bool, BackupError> {
        while self.plain.len() < n {
            if !self.pull().await? {
                if self.plain.is_empty() {
                    return Ok(false);
                }
                return Err(BackupError::Incomplete(
                    "the last record is cut short".into(),
                ));
            }
        }
        Ok(true)
    }

    /// The next record, or `None` after the last chunk.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>, BackupError> {
        if !self.fill(4).await? {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.plain[0], self.plain[1], self.plain[2], self.plain[3]]);
        if len > MAX_RECORD_LEN {
            return Err(BackupError::Incomplete(format!(
                "record length {len} is too large"
            )));
        }
        let total = 4 + len as usize;
        if !self.fill(total).await? {
            return Err(BackupError::Incomplete(
                "the last record is cut short".into(),
            ));
        }
        let record = serde_json::from_slice(&self.plain[4..total])
            .map_err(|e| BackupError::Incomplete(format!("a record does not decode: {e}")))?;
        self.plain.drain(..total);
        Ok(Some(record))
    }

    /// Requires the end of the artifact (every chunk opened, nothing after the last record)
    /// and returns the SHA-256 of every byte and their number.
    pub async fn finish(mut self) -> Result<([u8; 32], u64), BackupError> {
        if !self.plain.is_empty() {
            return Err(BackupError::Incomplete("data after the last record".into()));
        }
        while self.pull().await? {
            if !self.plain.is_empty() {
                return Err(BackupError::Incomplete("data after the last record".into()));
            }
        }
        Ok((self.hash.digest(), self.bytes))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]).await {
            Ok(0) => break,
            Ok(m) => n += m,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
