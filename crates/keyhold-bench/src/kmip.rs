//! KMIP over mutual TLS: the target (address, CA, client certificate), one persistent
//! connection per worker with one request in flight, and the messages the harness sends,
//! built with the workspace's own TTLV codec (`keyhold-kmip`), KMIP 1.4.
//!
//! ```text
//!  request bytes (built once at set-up) ─► TLS write ─► read 8-byte header
//!      ─► message_length ─► read the body ─► decode ─► first Batch Item
//!      ─► Result Status Success? ─► what a right answer is (plaintext, Validity Indicator)
//!  failure ─► the Result Reason in snake case (`permission_denied`, `item_not_found`, …),
//!             or `connect`, `timeout`, `transport` (the connection is dropped and reopened)
//! ```

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyhold_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation, ResultReason, ResultStatus,
};
use keyhold_kmip::{tags, Item, Limits, Tag};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::BenchError;

/// The protocol version of every message the harness sends (Keyhold and PyKMIP speak it).
pub const VERSION: (i32, i32) = (1, 4);

/// How long a TCP connect and TLS handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Cryptographic Usage Mask bits (KMIP 1.4 §9.1.3.3.1).
pub mod usage {
    /// Sign.
    pub const SIGN: i32 = 0x1;
    /// Verify.
    pub const VERIFY: i32 = 0x2;
    /// Encrypt.
    pub const ENCRYPT: i32 = 0x4;
    /// Decrypt.
    pub const DECRYPT: i32 = 0x8;
    /// MAC Generate.
    pub const MAC_GENERATE: i32 = 0x80;
    /// MAC Verify.
    pub const MAC_VERIFY: i32 = 0x100;
}

/// A server that speaks KMIP over mutual TLS.
#[derive(Clone)]
pub struct KmipTarget {
    /// A label for reports.
    pub label: String,
    /// `host:port`.
    pub addr: String,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for KmipTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmipTarget")
            .field("label", &self.label)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl KmipTarget {
    /// Checks the address (`host:port`, optionally `kmip://host:port`) and reads the CA and the
    /// client certificate and key. Unless `allow_remote`, only loopback hosts are accepted.
    pub fn new(
        label: impl Into<String>,
        addr: &str,
        ca_file: &Path,
        cert_file: &Path,
        key_file: &Path,
        allow_remote: bool,
    ) -> Result<Self, BenchError> {
        let addr = addr.trim();
        let addr = addr.strip_prefix("kmip://").unwrap_or(addr);
        let (host, _port) = addr
            .rsplit_once(':')
            .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            .ok_or_else(|| BenchError::Usage(format!("'{addr}' must look like host:port")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !allow_remote && !loopback {
            return Err(BenchError::Usage(format!(
                "{addr} is not a loopback address; pass --allow-remote to load another machine"
            )));
        }
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|e| BenchError::Usage(format!("'{host}' is not a server name: {e}")))?;
        let usage = |what: &str, path: &Path, e: &dyn fmt::Display| {
            BenchError::Usage(format!("cannot read {what} {}: {e}", path.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| usage("the CA file", ca_file, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| usage("the CA file", ca_file, &e))?;
        if cas.is_empty() {
            return Err(BenchError::Usage(format!(
                "the CA file {} holds no certificate",
                ca_file.display()
            )));
        }
        for c in cas {
            roots
                .add(c)
                .map_err(|e| usage("the CA file", ca_file, &e))?;
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
            .map_err(|e| usage("the client certificate", cert_file, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| usage("the client certificate", cert_file, &e))?;
        if chain.is_empty() {
            return Err(BenchError::Usage(format!(
                "{} holds no certificate",
                cert_file.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| usage("the client key", key_file, &e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| BenchError::Usage(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| BenchError::Usage(format!("the client certificate and key: {e}")))?;
        Ok(Self {
            label: label.into(),
            addr: addr.to_owned(),
            server_name,
            tls: Arc::new(config),
        })
    }

    /// `kmip://host:port`.
    pub fn url(&self) -> String {
        format!("kmip://{}", self.addr)
    }
}

/// What a successful KMIP answer must contain, beyond Result Status Success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmipExpect {
    /// Success is enough.
    Success,
    /// Data equal to these bytes (Decrypt).
    Data(Vec<u8>),
    /// Validity Indicator Valid (Signature Verify).
    Valid,
}

impl KmipExpect {
    /// Whether the response payload is a right answer.
    pub fn accepts(&self, payload: Option<&Item>) -> bool {
        match self {
            KmipExpect::Success => true,
            KmipExpect::Data(want) => payload
                .and_then(|p| p.child(tags::DATA))
                .and_then(|d| d.as_bytes().ok())
                .is_some_and(|d| d.as_slice() == want.as_slice()),
            KmipExpect::Valid => payload
                .and_then(|p| p.child(tags::VALIDITY_INDICATOR))
                .and_then(|v| v.as_enum().ok())
                .is_some_and(|v| v == 1),
        }
    }
}

/// One benchmarked KMIP request: its encoded message and what a right answer is.
#[derive(Debug)]
pub struct KmipRequest {
    /// The whole encoded Request Message.
    pub bytes: Vec<u8>,
    /// What a right answer is.
    pub expect: KmipExpect,
}

/// One worker's connection: opened on first use, reopened after a failure.
pub struct KmipConn {
    target: KmipTarget,
    stream: Option<TlsStream<TcpStream>>,
    timeout: Duration,
}

impl fmt::Debug for KmipConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmipConn")
            .field("addr", &self.target.addr)
            .field("open", &self.stream.is_some())
            .finish()
    }
}

impl KmipConn {
    /// A connection to `target` (not opened yet); each request may take up to `timeout`.
    pub fn new(target: &KmipTarget, timeout: Duration) -> Self {
        Self {
            target: target.clone(),
            stream: None,
            timeout,
        }
    }

    async fn open(&mut self) -> Result<&mut TlsStream<TcpStream>, String> {
        if self.stream.is_none() {
            let connector = TlsConnector::from(self.target.tls.clone());
            let name = self.target.server_name.clone();
            let addr = self.target.addr.clone();
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, async move {
                let tcp = TcpStream::connect(&addr).await?;
                tcp.set_nodelay(true)?;
                connector.connect(name, tcp).await
            })
            .await
            .map_err(|_| "connect".to_owned())?
            .map_err(|_| "connect".to_owned())?;
            self.stream = Some(stream);
        }
        self.stream.as_mut().ok_or_else(|| "connect".to_owned())
    }

    /// Sends one encoded request and returns the first Batch Item of the response, or an
    /// error code (`connect`, `timeout`, `transport`, `invalid_response`).
    pub async fn exchange(&mut self, request: &[u8]) -> Result<Item, String> {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, async {
            let stream = self.open().await?;
            stream
                .write_all(request)
                .await
                .map_err(|_| "transport".to_owned())?;
            stream.flush().await.map_err(|_| "transport".to_owned())?;
            let mut header = [0u8; keyhold_kmip::ttlv::HEADER_LEN];
            stream
                .read_exact(&mut header)
                .await
                .map_err(|_| "transport".to_owned())?;
            let len = keyhold_kmip::message_length(&header, &Limits::DEFAULT)
                .map_err(|_| "invalid_response".to_owned())?;
            let mut buf = vec![0u8; len];
            buf[..header.len()].copy_from_slice(&header);
            stream
                .read_exact(&mut buf[header.len()..])
                .await
                .map_err(|_| "transport".to_owned())?;
            Ok::<_, String>(buf)
        })
        .await;
        let buf = match result {
            Ok(Ok(buf)) => buf,
            Ok(Err(code)) => {
                self.stream = None;
                return Err(code);
            }
            Err(_) => {
                self.stream = None;
                return Err("timeout".into());
            }
        };
        let message = keyhold_kmip::decode(&buf, &Limits::DEFAULT)
            .map_err(|_| "invalid_response".to_owned())?;
        message
            .child(tags::BATCH_ITEM)
            .cloned()
            .ok_or_else(|| "invalid_response".to_owned())
    }

    /// Sends `request` and checks the answer: `Err(code)` for any failure.
    pub async fn send(&mut self, request: &KmipRequest) -> Result<(), String> {
        let item = self.exchange(&request.bytes).await?;
        let payload = outcome(&item)?;
        if request.expect.accepts(payload) {
            Ok(())
        } else {
            Err("wrong_result".into())
        }
    }

    /// Sends a message built from `op` and `payload` and returns the Response Payload, or a
    /// description of the failure (for set-up).
    pub async fn call(&mut self, op: Operation, payload: Vec<Item>) -> Result<Item, String> {
        let item = self.exchange(&message(op, payload)).await?;
        match outcome(&item) {
            Ok(p) => Ok(p
                .cloned()
                .unwrap_or_else(|| Item::structure(tags::RESPONSE_PAYLOAD, Vec::new()))),
            Err(code) => {
                let text = item
                    .child(tags::RESULT_MESSAGE)
                    .and_then(|m| m.as_text().ok())
                    .unwrap_or("");
                Err(format!("{} failed: {code}: {text}", op.name()))
            }
        }
    }
}

/// The Response Payload of a successful batch item, or the failure's code.
fn outcome(item: &Item) -> Result<Option<&Item>, String> {
    let status = item
        .child(tags::RESULT_STATUS)
        .and_then(|s| s.as_enum().ok())
        .ok_or_else(|| "invalid_response".to_owned())?;
    if status == ResultStatus::Success.to_u32() {
        return Ok(item.child(tags::RESPONSE_PAYLOAD));
    }
    let reason = item
        .child(tags::RESULT_REASON)
        .and_then(|r| r.as_enum().ok())
        .and_then(ResultReason::from_u32);
    Err(match reason {
        Some(r) => reason_code(r),
        None => format!(
            "kmip_{}",
            ResultStatus::from_u32(status).map_or("unknown_status", |s| s.name())
        )
        .to_ascii_lowercase()
        .replace([' ', '-'], "_"),
    })
}

/// `Item Not Found` → `item_not_found`.
pub fn reason_code(reason: ResultReason) -> String {
    reason
        .name()
        .to_ascii_lowercase()
        .replace([' ', '-', '/'], "_")
}

/// A Request Message of one batch item, KMIP 1.4, encoded.
pub fn message(op: Operation, payload: Vec<Item>) -> Vec<u8> {
    let request = Item::structure(
        tags::REQUEST_MESSAGE,
        vec![
            Item::structure(
                tags::REQUEST_HEADER,
                vec![
                    Item::structure(
                        tags::PROTOCOL_VERSION,
                        vec![
                            Item::int(tags::PROTOCOL_VERSION_MAJOR, VERSION.0),
                            Item::int(tags::PROTOCOL_VERSION_MINOR, VERSION.1),
                        ],
                    ),
                    Item::int(tags::BATCH_COUNT, 1),
                ],
            ),
            Item::structure(
                tags::BATCH_ITEM,
                vec![
                    Item::enumeration(tags::OPERATION, op),
                    Item::structure(tags::REQUEST_PAYLOAD, payload),
                ],
            ),
        ],
    );
    keyhold_kmip::encode(&request)
}

/// A KMIP 1.x Attribute structure.
pub fn attribute(name: &str, value: Item) -> Item {
    Item::structure(
        tags::ATTRIBUTE,
        vec![Item::text(tags::ATTRIBUTE_NAME, name), value],
    )
}

/// The Unique Identifier item.
pub fn uid(id: &str) -> Item {
    Item::text(tags::UNIQUE_IDENTIFIER, id)
}

/// The payload of Create for a symmetric key.
pub fn create_payload(alg: CryptographicAlgorithm, length: i32, mask: i32) -> Vec<Item> {
    vec![
        Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
        Item::structure(
            tags::TEMPLATE_ATTRIBUTE,
            vec![
                attribute(
                    "Cryptographic Algorithm",
                    Item::enumeration(tags::ATTRIBUTE_VALUE, alg),
                ),
                attribute(
                    "Cryptographic Length",
                    Item::int(tags::ATTRIBUTE_VALUE, length),
                ),
                attribute(
                    "Cryptographic Usage Mask",
                    Item::int(tags::ATTRIBUTE_VALUE, mask),
                ),
            ],
        ),
    ]
}

/// The payload of Create Key Pair: algorithm and length in common, Sign on the private key,
/// Verify on the public key.
pub fn create_pair_payload(alg: CryptographicAlgorithm, length: i32) -> Vec<Item> {
    let mask = |m: i32| {
        attribute(
            "Cryptographic Usage Mask",
            Item::int(tags::ATTRIBUTE_VALUE, m),
        )
    };
    vec![
        Item::structure(
            tags::COMMON_TEMPLATE_ATTRIBUTE,
            vec![
                attribute(
                    "Cryptographic Algorithm",
                    Item::enumeration(tags::ATTRIBUTE_VALUE, alg),
                ),
                attribute(
                    "Cryptographic Length",
                    Item::int(tags::ATTRIBUTE_VALUE, length),
                ),
            ],
        ),
        Item::structure(
            tags::PRIVATE_KEY_TEMPLATE_ATTRIBUTE,
            vec![mask(usage::SIGN)],
        ),
        Item::structure(
            tags::PUBLIC_KEY_TEMPLATE_ATTRIBUTE,
            vec![mask(usage::VERIFY)],
        ),
    ]
}

/// Cryptographic Parameters for AES-GCM (so that the server need not look the key up to
/// choose the mode).
pub fn gcm_parameters() -> Item {
    Item::structure(
        tags::CRYPTOGRAPHIC_PARAMETERS,
        vec![
            Item::enumeration(tags::BLOCK_CIPHER_MODE, BlockCipherMode::Gcm),
            Item::enumeration(tags::CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm::Aes),
        ],
    )
}

/// A text child of a payload.
pub fn text_of(payload: &Item, tag: Tag) -> Result<String, String> {
    payload
        .child(tag)
        .and_then(|i| i.as_text().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("the answer has no {}", tags::name(tag).unwrap_or("field")))
}

/// A byte-string child of a payload.
pub fn bytes_of(payload: &Item, tag: Tag) -> Result<Vec<u8>, String> {
    payload
        .child(tag)
        .and_then(|i| i.as_bytes().ok())
        .map(|b| b.as_slice().to_vec())
        .ok_or_else(|| format!("the answer has no {}", tags::name(tag).unwrap_or("field")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_become_snake_case_codes() {
        assert_eq!(reason_code(ResultReason::ItemNotFound), "item_not_found");
        assert_eq!(
            reason_code(ResultReason::PermissionDenied),
            "permission_denied"
        );
    }

    #[test]
    fn a_message_decodes_as_a_request_of_one_item() {
        let bytes = message(Operation::Encrypt, vec![uid("k")]);
        let item = keyhold_kmip::decode(&bytes, &Limits::DEFAULT).unwrap();
        let msg = keyhold_kmip::RequestMessage::from_item(&item).unwrap();
        assert_eq!(msg.version, keyhold_kmip::ProtocolVersion::new(1, 4));
        assert_eq!(msg.items.len(), 1);
        assert_eq!(msg.items[0].operation, Operation::Encrypt);
    }

    #[test]
    fn expectations_read_the_payload() {
        let payload = Item::structure(
            tags::RESPONSE_PAYLOAD,
            vec![
                Item::bytes(tags::DATA, vec![1u8, 2]),
                Item::enumeration(tags::VALIDITY_INDICATOR, 1u32),
            ],
        );
        assert!(KmipExpect::Data(vec![1, 2]).accepts(Some(&payload)));
        assert!(!KmipExpect::Data(vec![1, 3]).accepts(Some(&payload)));
        assert!(KmipExpect::Valid.accepts(Some(&payload)));
        assert!(!KmipExpect::Valid.accepts(None));
        assert!(KmipExpect::Success.accepts(None));
    }

    #[test]
    fn only_loopback_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let err =
            KmipTarget::new("t", "10.0.0.1:5696", &missing, &missing, &missing, false).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        let err =
            KmipTarget::new("t", "nonsense", &missing, &missing, &missing, false).unwrap_err();
        assert!(err.to_string().contains("host:port"), "{err}");
    }
}
