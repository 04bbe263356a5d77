//! The load itself: N workers, each with its own connection (HTTP/1.1 keep-alive, or one
//! persistent KMIP TLS connection) and one request in flight, walking a cyclic schedule of
//! operations and, within each operation, its keys round robin; every request timed here, in
//! the harness.
//!
//! ```text
//!  t0 ──── warm-up (requests sent, not recorded) ──── t0+warmup ──── measured ──── stop
//!                                                       │ Stop::Time(d): until t0+warmup+d
//!                                                       │ Stop::Requests(n): n requests in all
//! ```
//!
//! **Closed loop** (default): each worker sends its next request as soon as the previous
//! answer is in; latency runs from sending to the last byte of the answer.
//!
//! **Open loop** (`rate`): request *k* of worker *i* has an intended send time,
//! `t0 + (i + k·N) / rate`, so that the N workers together offer `rate` requests per second
//! whatever the server does. A worker sleeps until that time; if it is already late (its
//! previous request took longer than the interval), it sends at once and the request's latency
//! is counted **from its intended time**, so a server that stalls is charged for every request
//! it delayed (no coordinated omission). When the worker was idle and only its timer woke it a
//! little late, latency counts from the actual send, so timer slack is not charged to the
//! server. Windows open and close on intended times.
//!
//! Each worker keeps its own histograms (no sharing on the hot path); they are merged at the
//! end. A request in flight when the window closes is still recorded; the measured time runs
//! until the last worker is done.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Certificate;

use crate::kmip::KmipConn;
use crate::mix::Op;
use crate::setup::{HttpRequest, Plan, Request};
use crate::target::{Endpoint, Target};
use crate::BenchError;

/// Highest latency the histograms hold, in microseconds (longer ones are clamped).
const MAX_LATENCY_US: u64 = 60_000_000;

/// When the measured window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long.
    Time(Duration),
    /// After this many requests, all workers together.
    Requests(u64),
}

/// How to load the server.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Concurrent connections, one worker each.
    pub connections: usize,
    /// Requests sent before the window opens, not recorded.
    pub warmup: Duration,
    /// When the window closes.
    pub stop: Stop,
    /// A request that takes longer fails with `timeout`.
    pub request_timeout: Duration,
    /// Open loop: requests per second offered by all workers together, each sent at its
    /// intended time; `None`: closed loop, as fast as the server answers.
    pub rate: Option<f64>,
}

/// What one operation did in a measured window.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Latency of successful requests, microseconds.
    pub latency: Histogram<u64>,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests by error code (the server's `code`, or `http_NNN`, `timeout`,
    /// `connect`, `transport`, `wrong_result`, or a KMIP Result Reason such as
    /// `permission_denied`).
    pub errors: BTreeMap<String, u64>,
    /// Requests per key (index into the operation's keys), successful or not.
    pub per_key: Vec<u64>,
}

impl OpStats {
    /// No requests yet.
    pub fn new() -> Self {
        Self {
            latency: new_histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            per_key: Vec::new(),
        }
    }

    /// Keys that received at least one request.
    pub fn keys_used(&self) -> u64 {
        self.per_key.iter().filter(|n| **n > 0).count() as u64
    }

    fn count_key(&mut self, key: usize) {
        if self.per_key.len() <= key {
            self.per_key.resize(key + 1, 0);
        }
        self.per_key[key] += 1;
    }

    /// Failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other`'s requests to these.
    pub fn merge(&mut self, other: &OpStats) {
        // Both histograms have the same bounds, so adding cannot fail; a failure would only
        // lose latency samples, never counts.
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        if self.per_key.len() < other.per_key.len() {
            self.per_key.resize(other.per_key.len(), 0);
        }
        for (mine, theirs) in self.per_key.iter_mut().zip(&other.per_key) {
            *mine += theirs;
        }
    }
}

impl Default for OpStats {
    fn default() -> Self {
        Self::new()
    }
}

fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy the crate's conditions (low ≥ 1, high ≥ 2·low,
    // 3 significant figures ≤ 5), so construction cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

/// What a window measured: its length and each operation's requests.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// From the opening of the window to the end of the last request.
    pub elapsed: Duration,
    /// Per operation.
    pub ops: BTreeMap<Op, OpStats>,
}

impl Measurement {
    /// Adds another window (e.g. a later round of the same phase): times and requests add up.
    pub fn merge(&mut self, other: &Measurement) {
        self.elapsed += other.elapsed;
        for (op, stats) in &other.ops {
            self.ops.entry(*op).or_default().merge(stats);
        }
    }
}

/// One HTTPS client per connection: HTTP/1.1, at most one pooled connection, trusting only the
/// target's CA, no proxy.
fn http_client(target: &Target, timeout: Duration) -> Result<reqwest::Client, BenchError> {
    let certs = Certificate::from_pem_bundle(&target.ca_pem).map_err(BenchError::Http)?;
    if certs.is_empty() {
        return Err(BenchError::Usage(format!(
            "the CA file of {} holds no certificate",
            target.label
        )));
    }
    reqwest::Client::builder()
        .user_agent(concat!("keyhold-bench/", env!("CARGO_PKG_VERSION")))
        .http1_only()
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .no_proxy()
        .tls_certs_only(certs)
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .build()
        .map_err(BenchError::Http)
}

/// A worker's connection.
enum Conn {
    Http(reqwest::Client),
    Kmip(Box<KmipConn>),
}

impl Conn {
    async fn send(&mut self, request: &Request) -> Result<(), String> {
        match (self, request) {
            (Conn::Http(client), Request::Http(r)) => send_http(client, r).await,
            (Conn::Kmip(conn), Request::Kmip(r)) => conn.send(r).await,
            _ => Err("protocol_mismatch".into()),
        }
    }
}

/// One step of the cycle: an operation and its requests, one per key.
type Step = (Op, Arc<[Arc<Request>]>);

/// Runs `schedule` (cycled; worker *i* starts at position *i*) against `endpoint` and
/// measures.
pub async fn run(
    endpoint: &Endpoint,
    plan: &Plan,
    schedule: &[Op],
    config: &LoadConfig,
) -> Result<Measurement, BenchError> {
    if config.connections == 0 {
        return Err(BenchError::Usage("--connections must be at least 1".into()));
    }
    if let Some(rate) = config.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(BenchError::Usage("--rate must be a positive number".into()));
        }
    }
    let steps: Vec<Step> = schedule
        .iter()
        .map(|&op| {
            plan.requests(op)
                .map(|r| (op, r))
                .ok_or_else(|| BenchError::Worker(format!("{op} was not prepared")))
        })
        .collect::<Result<_, _>>()?;
    if steps.is_empty() {
        return Err(BenchError::Usage("nothing to run".into()));
    }
    let steps = Arc::new(steps);
    let conns = (0..config.connections)
        .map(|_| match endpoint {
            Endpoint::Rest(target) => http_client(target, config.request_timeout).map(Conn::Http),
            Endpoint::Kmip(target) => Ok(Conn::Kmip(Box::new(KmipConn::new(
                target,
                config.request_timeout,
            )))),
        })
        .collect::<Result<Vec<_>, _>>()?;

    let start = Instant::now();
    let opens = start + config.warmup;
    let window = Arc::new(Window {
        opens,
        stop: config.stop,
        tickets: AtomicU64::new(0),
    });
    let pacing = config.rate.map(|rate| Pacing {
        start,
        rate,
        workers: config.connections,
    });
    let workers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            tokio::spawn(worker(
                i,
                config.connections,
                conn,
                steps.clone(),
                window.clone(),
                pacing,
            ))
        })
        .collect();
    let mut total = Measurement::default();
    let mut last = opens;
    for w in workers {
        let (ops, done) = w.await.map_err(|e| BenchError::Worker(e.to_string()))?;
        for (op, stats) in &ops {
            total.ops.entry(*op).or_default().merge(stats);
        }
        last = last.max(done);
    }
    total.elapsed = last.saturating_duration_since(opens);
    Ok(total)
}

/// The measured window, shared by the workers.
struct Window {
    opens: Instant,
    stop: Stop,
    tickets: AtomicU64,
}

impl Window {
    /// Whether a request starting at `now` is recorded; `None` when the worker must stop.
    fn admit(&self, now: Instant) -> Option<bool> {
        if now < self.opens {
            return Some(false);
        }
        match self.stop {
            Stop::Time(d) => (now < self.opens + d).then_some(true),
            Stop::Requests(n) => (self.tickets.fetch_add(1, Ordering::Relaxed) < n).then_some(true),
        }
    }
}

/// The open-loop schedule: request `k` of worker `i` is due at `start + (i + k·workers)/rate`.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    start: Instant,
    rate: f64,
    workers: usize,
}

impl Pacing {
    fn due(&self, worker: usize, k: u64) -> Instant {
        let n = worker as f64 + k as f64 * self.workers as f64;
        self.start + Duration::from_secs_f64(n / self.rate)
    }
}

/// One connection's loop. It ends when the window closes: by time, or once every ticket is
/// taken (each request is bounded by the client's timeout).
async fn worker(
    index: usize,
    workers: usize,
    mut conn: Conn,
    steps: Arc<Vec<Step>>,
    window: Arc<Window>,
    pacing: Option<Pacing>,
) -> (BTreeMap<Op, OpStats>, Instant) {
    let mut stats: BTreeMap<Op, OpStats> = BTreeMap::new();
    let mut last = window.opens;
    let mut position = index % steps.len();
    // Per operation (an operation of weight w has w steps), the next key; workers start
    // spread over the keys.
    let mut ops: Vec<Op> = Vec::new();
    let slot: Vec<usize> = steps
        .iter()
        .map(|(op, _)| match ops.iter().position(|o| o == op) {
            Some(i) => i,
            None => {
                ops.push(*op);
                ops.len() - 1
            }
        })
        .collect();
    let mut next_key: Vec<usize> = ops
        .iter()
        .map(|op| {
            let keys = steps
                .iter()
                .find(|(o, _)| o == op)
                .map_or(1, |(_, r)| r.len());
            index * keys / workers.max(1)
        })
        .collect();
    let mut previous_end = pacing.map_or_else(Instant::now, |p| p.start);
    let mut k: u64 = 0;
    loop {
        let due = pacing.map(|p| p.due(index, k));
        k += 1;
        let Some(recorded) = window.admit(due.unwrap_or_else(Instant::now)) else {
            break;
        };
        if let Some(due) = due {
            tokio::time::sleep_until(due.into()).await;
        }
        let step = position;
        position = (position + 1) % steps.len();
        let (op, requests) = &steps[step];
        let key = next_key[slot[step]] % requests.len();
        next_key[slot[step]] = (key + 1) % requests.len();
        let sent = Instant::now();
        // Open loop: a request that is late because the previous one was still running is
        // timed from when it should have been sent.
        let start = match due {
            Some(due) if previous_end > due => due,
            _ => sent,
        };
        let outcome = conn.send(&requests[key]).await;
        let end = Instant::now();
        previous_end = end;
        if !recorded {
            continue;
        }
        last = end;
        let s = stats.entry(*op).or_default();
        s.count_key(key);
        match outcome {
            Ok(()) => {
                let micros =
                    u64::try_from(end.duration_since(start).as_micros()).unwrap_or(u64::MAX);
                s.latency.saturating_record(micros.max(1));
                s.ok += 1;
            }
            Err(code) => *s.errors.entry(code).or_default() += 1,
        }
    }
    (stats, last)
}

/// Sends one request and reads the whole answer; `Err(code)` for any failure.
async fn send_http(client: &reqwest::Client, request: &HttpRequest) -> Result<(), String> {
    let mut rb = client
        .request(request.method.clone(), request.url.clone())
        .header(AUTHORIZATION, request.authorization.clone());
    if let Some(body) = &request.body {
        rb = rb
            .header(CONTENT_TYPE, "application/json")
            .body(body.as_ref().clone());
    }
    let response = rb.send().await.map_err(|e| transport_code(&e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport_code(&e))?;
    if !status.is_success() {
        return Err(error_code(status.as_u16(), &body));
    }
    if request.expect.accepts(&body) {
        Ok(())
    } else {
        Err("wrong_result".into())
    }
}

fn transport_code(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
    .into()
}

/// The `code` of a Keyhold error body, or `http_<status>`.
fn error_code(status: u16, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        code: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if !e.code.is_empty() && e.code.len() <= 64 => e.code,
        _ => format!("http_{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_the_body_or_the_status() {
        assert_eq!(
            error_code(403, br#"{"code":"permission_denied","message":"m"}"#),
            "permission_denied"
        );
        assert_eq!(error_code(502, b"<html>bad gateway</html>"), "http_502");
    }

    #[test]
    fn a_request_window_hands_out_exactly_n_tickets() {
        let w = Window {
            opens: Instant::now(),
            stop: Stop::Requests(3),
            tickets: AtomicU64::new(0),
        };
        let now = Instant::now();
        let admitted = (0..10).filter(|_| w.admit(now) == Some(true)).count();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn warm_up_is_not_recorded_and_time_closes_the_window() {
        let opens = Instant::now() + Duration::from_secs(5);
        let w = Window {
            opens,
            stop: Stop::Time(Duration::from_secs(1)),
            tickets: AtomicU64::new(0),
        };
        assert_eq!(w.admit(Instant::now()), Some(false));
        assert_eq!(w.admit(opens), Some(true));
        assert_eq!(w.admit(opens + Duration::from_secs(2)), None);
    }

    #[test]
    fn the_open_loop_schedule_spreads_the_workers() {
        let start = Instant::now();
        let p = Pacing {
            start,
            rate: 100.0,
            workers: 4,
        };
        // 100/s over 4 workers: each worker every 40 ms, worker 1 10 ms after worker 0.
        assert_eq!(p.due(0, 0), start);
        assert_eq!(p.due(1, 0) - start, Duration::from_millis(10));
        assert_eq!(p.due(0, 1) - start, Duration::from_millis(40));
        assert_eq!(p.due(3, 2) - start, Duration::from_millis(110));
    }

    #[test]
    fn keys_used_counts_distinct_keys_across_merges() {
        let mut a = OpStats::new();
        a.count_key(0);
        a.count_key(3);
        let mut b = OpStats::new();
        b.count_key(3);
        b.count_key(7);
        a.merge(&b);
        assert_eq!(a.keys_used(), 3);
        assert_eq!(a.per_key[3], 2);
    }

    #[test]
    fn merging_adds_requests_and_time() {
        let mut a = Measurement::default();
        let mut s = OpStats::new();
        s.ok = 2;
        s.latency.record(10).unwrap();
        s.errors.insert("timeout".into(), 1);
        a.ops.insert(Op::Mac, s);
        a.elapsed = Duration::from_secs(1);
        let b = a.clone();
        a.merge(&b);
        assert_eq!(a.elapsed, Duration::from_secs(2));
        assert_eq!(a.ops[&Op::Mac].ok, 4);
        assert_eq!(a.ops[&Op::Mac].error_count(), 2);
        assert_eq!(a.ops[&Op::Mac].latency.len(), 2);
    }
}
