//! The request metrics: `keyhold_requests_total{action,outcome}` and
//! `keyhold_request_duration_seconds{action}`, for every operation over REST and KMIP.
//!
//! The handles are looked up once per label set and kept, so that a request records its
//! metrics without building a key (an allocation and a hash of its labels) or searching the
//! registry. The label sets are bounded: actions and error codes are the core's static names.
//!
//! The Prometheus recorder keeps every duration sample until it is drained into its summary,
//! which a scrape of `/metrics` does, or [`RequestMetrics::upkeep`]: the server calls it every
//! few seconds, so memory does not grow with the number of requests when nothing scrapes.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::PrometheusHandle;

/// How often the server drains the recorder's pending samples.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

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
            || metrics::histogram!("keyhold_request_duration_seconds", "action" => action),
        )
        .record(took.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains the pending duration samples into their summaries.
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
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn counts_and_durations_are_recorded_through_the_cached_handles() {
        let recorder = PrometheusBuilder::new().build_recorder();
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
        assert_eq!(m.counters.read().unwrap().len(), 3);
        assert_eq!(m.durations.read().unwrap().len(), 2);
    }
}
