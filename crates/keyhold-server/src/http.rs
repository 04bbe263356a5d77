//! The HTTPS accept loop: TLS handshake with a timeout, HTTP/1.1 and HTTP/2 with header-read
//! and idle timeouts, a bound on simultaneous connections, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::rest::{Peer, PeerCertificates};
use keyhold_core::ClientChain;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TLS handshake and request-header deadline.
    pub header_timeout: Duration,
    /// Keep-alive connections idle this long are closed.
    pub idle_timeout: Duration,
    /// Simultaneous connections; more are closed at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing new connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            connection(tcp, peer, acceptor, router, limits, closing).await;
        });
    }
    // Stop accepting; let connections finish their current requests for a moment.
    let _ = closing_tx.send(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while slots.available_permits() < limits.max_connections
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    // The chain the handshake verified (end entity first), if the client sent one.
    let certs = tls
        .get_ref()
        .1
        .peer_certificates()
        .filter(|c| !c.is_empty())
        .map(|c| {
            PeerCertificates(ClientChain::new(
                c.iter().map(|d| d.as_ref().to_vec()).collect(),
            ))
        });
    let service = router.map_request(move |mut req: http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(Peer(peer));
        if let Some(c) = &certs {
            req.extensions_mut().insert(c.clone());
        }
        req
    });
    let service = TowerToHyperService::new(service);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.header_timeout)
        .max_concurrent_streams(256);
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let idle = limits.idle_timeout;
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = async { closing.wait_for(|c| *c).await.is_ok() } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
        }
        _ = idle_guard(idle) => {}
    }
}

/// Upper bound on a connection's life without a shutdown, so a trickling client cannot hold a
/// slot forever: one hour, or longer if the idle timeout is longer.
async fn idle_guard(idle: Duration) {
    tokio::time::sleep(idle.max(Duration::from_secs(3600))).await;
}
