//! The request metrics: `keyhold_requests_total{action,outcome}` and
//! `keyhold_request_duration_seconds{action}`, for every operation over REST and KMIP.
//!
//! The handles are looked up once per label set and kept, so that a request records its
//! metrics without building a key (an allocation and a hash of its labels) or searching the
//! registry. The label sets are bounded: actions and error codes are the core's static names.
//!
//! Durations are a Prometheus histogram with fixed buckets (from 100 µs to 10 s), which
//! Prometheus can aggregate over servers, and which is cheap to keep: the recorder keeps every
//! duration sample until it is drained into the buckets, which a scrape of `/metrics` does, or
//! [`RequestMetrics::upkeep`]. The server calls it every second, so memory does not grow with
//! the number of requests when nothing scrapes, and each drain is short. (A summary, the
//! recorder's default, took 8–11 ms to drain 100,000 samples, on an async worker every 5 s,
//! which stalled the requests queued behind it; the buckets take 0.5 ms.)

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// How often the server drains the recorder's pending samples.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The name of the request-duration histogram.
const DURATION: &str = "keyhold_request_duration_seconds";

/// The upper bounds of its buckets, in seconds.
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The server's Prometheus recorder: the request-duration histogram with its buckets.
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.into()), DURATION_BUCKETS)
        // Only an empty list of buckets is refused; this one is a constant.
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder()
}

/// The recorder's handle and the request metrics' cached handles.
pub struct RequestMetrics {
    handle: PrometheusHandle,
    counters: RwLock<HashMap<(&'static str, &'static str), Counter>>,
    durations: RwLock<HashMap<&'static str, Histogram>>,
}

impl RequestMetrics {
    /// Request metrics recorded through the global recorder, rendered by `handle`.
    pub fn new(handle: PrometheusHandle) -> Self {
        Self {
            handle,
            counters: RwLock::default(),
            durations: RwLock::default(),
        }
    }

    /// Counts one operation and records how long it took.
    pub fn record(&self, action: &'static str, outcome: &'static str, took: Duration) {
        cached(&self.counters, (action, outcome), || {
            metrics::counter!("keyhold_requests_total", "action" => action, "outcome" => outcome)
        })
        .increment(1);
        cached(
            &self.durations,
            action,
            || metrics::histogram!(DURATION, "action" => action),
        )
        .record(took.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains the pending duration samples into their buckets.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The handle kept under `key`, made by `make` the first time.
fn cached<K, H>(map: &RwLock<HashMap<K, H>>, key: K, make: impl FnOnce() -> H) -> H
where
    K: std::hash::Hash + Eq,
    H: Clone,
{
    if let Some(h) = map.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return h.clone();
    }
    map.write()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_insert_with(make)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_are_recorded_through_the_cached_handles() {
        let recorder = recorder();
        let m = RequestMetrics::new(recorder.handle());
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..3 {
                m.record("key.encrypt", "ok", Duration::from_micros(50));
            }
            m.record("key.encrypt", "not_found", Duration::from_micros(20));
            m.record("key.create", "ok", Duration::from_millis(2));
        });
        m.upkeep();
        let text = m.render();
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_owned()
        };
        assert!(
            line(r#"keyhold_requests_total{action="key.encrypt",outcome="ok"}"#).ends_with(" 3")
        );
        assert!(
            line(r#"keyhold_requests_total{action="key.encrypt",outcome="not_found"}"#)
                .ends_with(" 1")
        );
        assert!(
            line(r#"keyhold_request_duration_seconds_count{action="key.encrypt"}"#).ends_with(" 4")
        );
        assert!(
            line(r#"keyhold_request_duration_seconds_count{action="key.create"}"#).ends_with(" 1")
        );
        // A histogram: 50 µs falls in the first bucket, 2 ms in the 2.5 ms one.
        assert!(line(
            r#"keyhold_request_duration_seconds_bucket{action="key.encrypt",le="0.0001"}"#
        )
        .ends_with(" 4"));
        assert!(
            line(r#"keyhold_request_duration_seconds_bucket{action="key.create",le="0.001"}"#)
                .ends_with(" 0")
        );
        assert!(line(
            r#"keyhold_request_duration_seconds_bucket{action="key.create",le="0.0025"}"#
        )
        .ends_with(" 1"));
        assert_eq!(m.counters.read().unwrap().len(), 3);
        assert_eq!(m.durations.read().unwrap().len(), 2);
    }
}
