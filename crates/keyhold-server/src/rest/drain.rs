//! The request body, shared between the handler and the request-id middleware, so that what a
//! handler left unread (an oversized body it refused at `limits.max_body_bytes`, or a body it
//! never read because the request failed first) is read and discarded before the answer goes
//! out. Without it, a client still sending when the server answers and stops reading gets a
//! broken pipe or a reset (HTTP/1.1: hyper closes the connection) or a reset stream (HTTP/2)
//! instead of the `413` JSON error.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, SizeHint};

/// At most this much of an unread body is read and discarded before answering.
pub const DRAIN_BYTES: usize = 64 * 1024 * 1024;
/// For at most this long; past either bound the answer goes out anyway.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

struct Slot {
    body: Option<Body>,
    /// The handler asked for the body at least once (so a `100 Continue` went out).
    polled: bool,
}

/// The middleware's handle on the body it handed to the handler.
#[derive(Clone)]
pub struct SharedBody(Arc<Mutex<Slot>>);

impl SharedBody {
    /// Splits `body` into the handle kept by the middleware and the body for the handler.
    pub fn wrap(body: Body) -> (SharedBody, Body) {
        let shared = SharedBody(Arc::new(Mutex::new(Slot {
            body: Some(body),
            polled: false,
        })));
        (shared.clone(), Body::new(Handed(shared)))
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads and discards what is left of the body, up to [`DRAIN_BYTES`] and [`DRAIN_TIME`].
    /// The handler's copy reads as ended from then on.
    ///
    /// A client that sent `Expect: 100-continue` and was never asked for its body sends none:
    /// it reads the answer without uploading, so nothing is read for it.
    pub async fn discard_rest(&self, expects_continue: bool) {
        let body = {
            let mut slot = self.slot();
            let unread = slot.body.as_ref().is_some_and(|b| !b.is_end_stream());
            if !unread || (expects_continue && !slot.polled) {
                return;
            }
            slot.body.take()
        };
        let Some(mut body) = body else { return };
        let mut left = DRAIN_BYTES;
        let read = async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    match left.checked_sub(data.len()) {
                        Some(l) => left = l,
                        None => return false,
                    }
                }
            }
            true
        };
        match tokio::time::timeout(DRAIN_TIME, read).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!("request body past the discard bound; answering anyway"),
            Err(_) => tracing::debug!("request body still arriving; answering anyway"),
        }
    }
}

/// The body as the handler sees it.
struct Handed(SharedBody);

impl hyper::body::Body for Handed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.slot();
        slot.polled = true;
        match slot.body.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .slot()
            .body
            .as_ref()
            .is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .slot()
            .body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}
