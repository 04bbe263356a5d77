//! The HTTPS accept loop: TLS handshake with a timeout, HTTP/1.1 and HTTP/2 with header-read
//! and idle timeouts, a bound on simultaneous connections, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::rest::{Peer, PeerCertificates};
use keyhold_core::ClientChain;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TLS handshake deadline; then the deadline for the first request bytes after the
    /// handshake, and for each request's headers.
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
    let activity = Arc::new(Activity::new());
    let in_flight = activity.clone();
    let peer_of_requests = Peer::new(peer);
    let service = tower::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let guard = InFlight::start(&in_flight);
        req.extensions_mut().insert(peer_of_requests.clone());
        if let Some(c) = &certs {
            req.extensions_mut().insert(c.clone());
        }
        let router = router.clone();
        async move {
            let resp = router.oneshot(req).await?;
            // The request stays in flight until its answer's body has been sent.
            Ok::<_, std::convert::Infallible>(resp.map(|body| {
                axum::body::Body::new(Answering {
                    body,
                    _guard: guard,
                })
            }))
        }
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
    let io = FirstByteDeadline::new(tls, limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
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
        _ = activity.idle_for(idle) => {
            tracing::debug!(%peer, "closing a connection idle for the idle timeout");
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
        }
        _ = idle_guard(idle) => {}
    }
}

/// The requests in flight on one connection, and when the last one ended: a keep-alive
/// connection (HTTP/1.1 between requests, HTTP/2 without streams) is closed once it has had
/// no request in flight for the idle timeout. hyper's HTTP/1 header timeout does not cover the
/// wait for the next request, and HTTP/2 pings keep an idle connection alive.
struct Activity {
    start: tokio::time::Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start` when the last request ended (0: none yet).
    ended_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            in_flight: AtomicUsize::new(0),
            ended_ms: AtomicU64::new(0),
        }
    }

    /// Returns once no request has been in flight for `idle`. While requests are in flight
    /// it looks again every second (or every `idle`, if shorter), so a connection is closed
    /// at most that late.
    async fn idle_for(&self, idle: Duration) {
        let recheck = idle.min(Duration::from_secs(1));
        loop {
            let now = tokio::time::Instant::now();
            let wake = if self.in_flight.load(Ordering::Acquire) > 0 {
                now + recheck
            } else {
                let ended =
                    self.start + Duration::from_millis(self.ended_ms.load(Ordering::Acquire));
                if now >= ended + idle {
                    return;
                }
                ended + idle
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// One request in flight, from its headers to the end of its answer's body.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        let ms = u64::try_from(a.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        a.ended_ms.fetch_max(ms, Ordering::AcqRel);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body, holding its request's [`InFlight`] until the body is sent (or dropped).
struct Answering {
    body: axum::body::Body,
    _guard: InFlight,
}

impl hyper::body::Body for Answering {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Upper bound on a connection's life without a shutdown, so a trickling client cannot hold a
/// slot forever: one hour, or longer if the idle timeout is longer.
async fn idle_guard(idle: Duration) {
    tokio::time::sleep(idle.max(Duration::from_secs(3600))).await;
}

/// The connection's I/O with a deadline on the first request byte after the handshake.
/// hyper's header-read timeout starts with the first byte of a request, and the HTTP/1-or-2
/// detection waits for the first bytes without one, so a client that completes the handshake
/// and then sends nothing would keep its connection slot until the idle guard. A read still
/// empty when the deadline passes fails with `TimedOut`, which ends the connection.
struct FirstByteDeadline<T> {
    inner: T,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> FirstByteDeadline<T> {
    fn new(inner: T, within: Duration) -> Self {
        Self {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FirstByteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Some(deadline) = this.deadline.as_mut() {
            match &read {
                Poll::Ready(Ok(())) if buf.filled().len() > before => this.deadline = None,
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no request within the header timeout after the handshake",
                    )));
                }
                _ => {}
            }
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FirstByteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
