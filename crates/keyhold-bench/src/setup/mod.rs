//! Prepares a server for a mix, through the protocol under test only, and turns each
//! operation into ready-to-send requests: one per key the operation is spread over.
//!
//! ```text
//!  REST (rest.rs):  admin token ─► key-manager and key-user tokens ─► N keys per algorithm
//!                   ─► grants ─► ciphertexts / signatures for decrypt and verify
//!  KMIP (kmip.rs):  client certificate ─► Create / Create Key Pair ─► Activate
//!                   ─► Encrypt / Sign for decrypt and verify
//!  ─► Plan: per operation, one request per key (URL or TTLV bytes, credentials, and what a
//!     right answer is); workers walk the keys round robin
//! ```

pub mod kmip;
pub mod rest;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use crate::kmip::KmipRequest;
use crate::mix::Op;
use crate::target::Endpoint;
use crate::BenchError;

pub use rest::{Expect, HttpRequest};

/// Size of the messages signed, verified and MACed.
pub const MESSAGE_LEN: usize = 64;

/// Description of everything the harness creates, so it can be found afterwards.
pub const DESCRIPTION: &str = "keyhold-bench";

/// Set-up calls in flight at once when many keys are created or found.
const SETUP_CONCURRENCY: usize = 16;

/// How many keys each operation is spread over, and whether they are made anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConfig {
    /// Keys per algorithm the mix needs (at least 1).
    pub count: usize,
    /// Find the keys by name (`PREFIX-ALGORITHM-NNNNNNN`) and create only the missing ones,
    /// instead of creating unnamed keys; the key user is `PREFIX-user` so that its grants on
    /// found keys still hold. REST only.
    pub reuse_prefix: Option<String>,
}

impl Default for KeyConfig {
    fn default() -> Self {
        Self {
            count: 1,
            reuse_prefix: None,
        }
    }
}

/// One operation as it goes on the wire, built once and sent many times.
#[derive(Debug)]
pub enum Request {
    /// An HTTPS request.
    Http(HttpRequest),
    /// A KMIP message.
    Kmip(KmipRequest),
}

/// The requests of every operation of a mix on one server.
#[derive(Debug, Default)]
pub struct Plan {
    requests: BTreeMap<Op, Vec<Arc<Request>>>,
}

impl Plan {
    /// The requests of `op`, one per key, if it was prepared.
    pub fn requests(&self, op: Op) -> Option<Arc<[Arc<Request>]>> {
        self.requests
            .get(&op)
            .filter(|r| !r.is_empty())
            .map(|r| r.clone().into())
    }

    /// Adds a request of `op` (on the next key).
    pub(crate) fn push(&mut self, op: Op, request: Request) {
        self.requests.entry(op).or_default().push(Arc::new(request));
    }
}

/// Sets `endpoint` up for `ops` and builds their requests.
pub async fn prepare(
    endpoint: &Endpoint,
    ops: &[Op],
    keys: &KeyConfig,
) -> Result<Plan, BenchError> {
    if keys.count == 0 {
        return Err(BenchError::Usage("--keys must be at least 1".into()));
    }
    match endpoint {
        Endpoint::Rest(target) => rest::prepare(target, ops, keys).await,
        Endpoint::Kmip(target) => kmip::prepare(target, ops, keys).await,
    }
}

/// Runs `work(i)` for every `i` in `0..n`, at most [`SETUP_CONCURRENCY`] at once, and returns
/// the results in index order. Each of the concurrent tasks gets its own state from `state`
/// (a connection, a client) and passes it from one item to the next.
pub(crate) async fn in_parallel<S, T, Make, Work, Fut>(
    n: usize,
    state: Make,
    work: Work,
) -> Result<Vec<T>, BenchError>
where
    S: Send + 'static,
    T: Send + 'static,
    Make: Fn() -> S,
    Work: Fn(S, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(S, T), BenchError>> + Send,
{
    if n == 0 {
        return Ok(Vec::new());
    }
    let lanes = n.min(SETUP_CONCURRENCY);
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let mut s = state();
        let work = work.clone();
        tasks.spawn(async move {
            let mut out = Vec::new();
            for i in (lane..n).step_by(lanes) {
                let (next, t) = work(s, i).await?;
                s = next;
                out.push((i, t));
            }
            Ok::<_, BenchError>(out)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        let part = done.map_err(|e| BenchError::Worker(e.to_string()))??;
        all.extend(part);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_parallel_keeps_the_order_and_passes_the_state_along() {
        let out = in_parallel(
            40,
            || 0usize,
            |seen: usize, i: usize| async move { Ok((seen + 1, (i, seen))) },
        )
        .await
        .unwrap();
        assert_eq!(out.len(), 40);
        for (k, (i, _)) in out.iter().enumerate() {
            assert_eq!(*i, k);
        }
        // 16 lanes over 40 items: some lane handled a third item with its state carried.
        assert!(out.iter().any(|(_, seen)| *seen == 2));
    }
}
