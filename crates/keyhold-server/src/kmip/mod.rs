//! The KMIP adapter: binary TTLV over mutual TLS (default 127.0.0.1:5696), and over HTTPS as
//! `POST /kmip` on the REST port.
//!
//! ```text
//!  TLS (client certificate required) ─► 8-byte header ─► message_length (limits)
//!   ─► read body (timeout) ─► ttlv::decode ─► RequestMessage ─► for each batch item:
//!        ops::Session::execute ─► Kms::run(credential = the certificate) ─► payload
//!   ─► Response Message (the request's version) ─► socket
//! ```
//!
//! The listener ([`serve_with`]) is generic over a [`MessageHandler`]; [`App`] is Keyhold's, and
//! the benchmark's baseline server plugs its crypto-only handler into the same loop.
//!
//! A message that cannot be decoded gets an Invalid Message response when its header could be
//! read, and the connection is closed; nothing a peer sends can make the server allocate more
//! than the configured message limit.

mod changes;
pub mod convert;
mod objects;
mod ops;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyhold_core::audit::Protocol;
use keyhold_core::ids::RequestId;
use keyhold_core::{ClientChain, Credential, RequestMeta};
use keyhold_kmip::enums::ResultReason;
use keyhold_kmip::message::{self, OnError, ResponseBatchItem};
use keyhold_kmip::{Failure, Limits, ProtocolVersion, RequestMessage};
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::app::App;

/// Bounds of the KMIP listener.
#[derive(Debug, Clone, Copy)]
pub struct KmipLimits {
    /// A client must finish the TLS handshake, and send each message once started, within this.
    pub handshake_timeout: Duration,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Simultaneous connections.
    pub max_connections: usize,
    /// TTLV decoding limits (message size, depth, items).
    pub ttlv: Limits,
}

/// Handles one encoded request; always returns an encoded response.
pub async fn handle(
    app: &App,
    credential: &Credential,
    peer: Option<String>,
    request: &[u8],
    limits: &Limits,
) -> Vec<u8> {
    let now = app.kms.now().millis().div_euclid(1000);
    let meta = RequestMeta {
        request_id: RequestId::generate(),
        protocol: Protocol::Kmip,
        peer,
    };
    let item = match keyhold_kmip::decode(request, limits) {
        Ok(item) => item,
        Err(e) => {
            let f = Failure::new(ResultReason::InvalidMessage, e.to_string());
            audit_rejected(app, &meta, credential, "message", &f).await;
            return failure_response(ProtocolVersion::new(1, 0), now, f);
        }
    };
    let msg = match RequestMessage::from_item(&item) {
        Ok(m) => m,
        Err((version, f)) => {
            audit_rejected(app, &meta, credential, "message", &f).await;
            return failure_response(version.unwrap_or(ProtocolVersion::new(1, 0)), now, f);
        }
    };
    if !msg.version.is_supported() {
        let f = Failure::new(
            ResultReason::InvalidMessage,
            format!("KMIP {} is not supported", msg.version),
        );
        audit_rejected(app, &meta, credential, "message", &f).await;
        return failure_response(ProtocolVersion::new(1, 0), now, f);
    }
    let mut session = ops::Session {
        app,
        credential,
        meta,
        version: msg.version,
        placeholder: None,
        core_calls: AtomicU32::new(0),
    };
    let mut results = Vec::with_capacity(msg.items.len());
    let mut failed = false;
    for item in &msg.items {
        let result = if failed {
            Err(Failure::new(
                ResultReason::OperationCanceledByRequester,
                "not executed: an earlier batch item failed",
            ))
        } else {
            let before = session.core_calls.load(Ordering::Relaxed);
            let result = session.execute(item.operation, &item.payload).await;
            if let Err(f) = &result {
                if session.core_calls.load(Ordering::Relaxed) == before {
                    let mut meta = session.meta.clone();
                    meta.request_id = RequestId::generate();
                    audit_rejected(app, &meta, credential, item.operation.name(), f).await;
                }
            }
            result
        };
        if result.is_err() && msg.on_error != OnError::Continue {
            failed = true;
        }
        results.push(ResponseBatchItem {
            operation: Some(item.operation),
            id: item.id.clone(),
            result,
        });
    }
    let response = message::response(msg.version, now, &results);
    let bytes = keyhold_kmip::encode(&response);
    match msg.max_response_size {
        Some(max) if usize::try_from(max).is_ok_and(|m| bytes.len() > m) => failure_response(
            msg.version,
            now,
            Failure::new(
                ResultReason::ResponseTooLarge,
                "the response exceeds Maximum Response Size",
            ),
        ),
        _ => bytes,
    }
}

/// Records a message or batch item the adapter refused before any operation ran (TTLV that
/// does not decode, an unsupported version, a payload without a required field): under the
/// caller the connection's certificate authenticates, with the operation's and the Result
/// Reason's names as detail. The failure's message is not recorded: it can quote the request.
async fn audit_rejected(
    app: &App,
    meta: &RequestMeta,
    credential: &Credential,
    what: &str,
    f: &Failure,
) {
    let code = match f.reason {
        ResultReason::PermissionDenied => keyhold_core::ErrorCode::PermissionDenied,
        ResultReason::AuthenticationNotSuccessful => keyhold_core::ErrorCode::Unauthenticated,
        ResultReason::ItemNotFound => keyhold_core::ErrorCode::NotFound,
        _ => keyhold_core::ErrorCode::MalformedRequest,
    };
    let detail = format!("KMIP {what}: {}", f.reason.name());
    if let Err(e) = app
        .kms
        .record_rejected(meta, credential, code, detail)
        .await
    {
        tracing::warn!(request_id = %meta.request_id, error = %e, "cannot audit a refused KMIP request");
    }
}

fn failure_response(version: ProtocolVersion, now: i64, f: Failure) -> Vec<u8> {
    let item = message::response(
        version,
        now,
        &[ResponseBatchItem {
            operation: None,
            id: None,
            result: Err(f),
        }],
    );
    keyhold_kmip::encode(&item)
}

/// What answers the messages of a KMIP listener: Keyhold's [`App`], or another server that
/// reuses this listener (the benchmark's bare baseline).
pub trait MessageHandler: Send + Sync + 'static {
    /// Handles one encoded request message from a peer authenticated by `credential`; always
    /// returns an encoded response.
    fn handle_message(
        &self,
        credential: &Credential,
        peer: Option<String>,
        request: &[u8],
        limits: &Limits,
    ) -> impl std::future::Future<Output = Vec<u8>> + Send;

    /// Seconds since the epoch, for the Time Stamp of an Invalid Message response.
    fn now_secs(&self) -> i64;
}

impl MessageHandler for App {
    fn handle_message(
        &self,
        credential: &Credential,
        peer: Option<String>,
        request: &[u8],
        limits: &Limits,
    ) -> impl std::future::Future<Output = Vec<u8>> + Send {
        handle(self, credential, peer, request, limits)
    }

    fn now_secs(&self) -> i64 {
        self.kms.now().millis().div_euclid(1000)
    }
}

/// Serves KMIP on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Arc<App>,
    limits: KmipLimits,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    serve_with(listener, tls, app, limits, stop).await
}

/// The KMIP listener with any [`MessageHandler`]: TLS accept (the configuration decides
/// whether a client certificate is required), the connection cap, the handshake and idle
/// timeouts, and length-prefixed TTLV messages answered one at a time per connection.
pub async fn serve_with<H: MessageHandler>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: Arc<H>,
    limits: KmipLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "KMIP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return Ok(()),
        };
        if open.load(Ordering::Relaxed) >= limits.max_connections {
            drop(tcp);
            metrics::counter!("keyhold_kmip_connections_refused_total").increment(1);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        let (acceptor, handler, open, stop) = (
            acceptor.clone(),
            handler.clone(),
            open.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            connection(acceptor, tcp, peer, handler, limits, stop).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn connection<H: MessageHandler>(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    handler: Arc<H>,
    limits: KmipLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "KMIP handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "KMIP handshake timed out");
            return;
        }
    };
    let credential = match tls.get_ref().1.peer_certificates() {
        Some(chain) if !chain.is_empty() => Credential::Certificate(ClientChain::new(
            chain.iter().map(|c| c.as_ref().to_vec()).collect(),
        )),
        _ => Credential::None,
    };
    let peer_text = Some(peer.to_string());
    loop {
        let mut header = [0u8; keyhold_kmip::ttlv::HEADER_LEN];
        let first = tokio::select! {
            r = tokio::time::timeout(limits.idle_timeout, tls.read_exact(&mut header)) => r,
            _ = stop.changed() => return,
        };
        match first {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let len = match keyhold_kmip::message_length(&header, &limits.ttlv) {
            Ok(l) => l,
            Err(e) => {
                let now = handler.now_secs();
                let out = failure_response(
                    ProtocolVersion::new(1, 0),
                    now,
                    Failure::new(ResultReason::InvalidMessage, e.to_string()),
                );
                let _ = tls.write_all(&out).await;
                let _ = tls.shutdown().await;
                return;
            }
        };
        let mut buf = vec![0u8; len];
        buf[..header.len()].copy_from_slice(&header);
        match tokio::time::timeout(
            limits.handshake_timeout,
            tls.read_exact(&mut buf[header.len()..]),
        )
        .await
        {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let out = handler
            .handle_message(&credential, peer_text.clone(), &buf, &limits.ttlv)
            .await;
        metrics::counter!("keyhold_kmip_messages_total").increment(1);
        if tls.write_all(&out).await.is_err() || tls.flush().await.is_err() {
            return;
        }
    }
}
