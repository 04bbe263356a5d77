//! Reports: per-operation rows (throughput, latency percentiles, errors), the machine they were
//! measured on, and their rendering as a table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bench::{Mode, Settings};
use crate::load::{OpStats, Stop};
use crate::target::Protocol;

/// Latency percentiles of successful requests, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// Slowest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// One operation (or `all` for a whole mix) in one measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpReport {
    /// Operation name, e.g. `encrypt-64`, or `all`.
    pub op: String,
    /// Requests completed in the window, successful or not.
    pub requests: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Failed requests by error code.
    pub error_codes: BTreeMap<String, u64>,
    /// Length of the window, seconds.
    pub seconds: f64,
    /// Successful requests per second.
    pub throughput_per_sec: f64,
    /// Latency of successful requests, microseconds (open loop: from each request's intended
    /// send time).
    pub latency_us: Latency,
    /// Distinct keys the requests went to (`--keys`).
    #[serde(default)]
    pub keys_used: u64,
}

impl OpReport {
    /// A row from what a window measured.
    pub fn new(op: &str, stats: &OpStats, elapsed: Duration) -> Self {
        let h = &stats.latency;
        let seconds = elapsed.as_secs_f64();
        let errors = stats.error_count();
        Self {
            op: op.to_owned(),
            requests: stats.ok + errors,
            ok: stats.ok,
            errors,
            error_codes: stats.errors.clone(),
            seconds,
            throughput_per_sec: if seconds > 0.0 {
                stats.ok as f64 / seconds
            } else {
                0.0
            },
            latency_us: Latency {
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                p99_9: h.value_at_quantile(0.999),
                max: h.max(),
                mean: h.mean(),
            },
            keys_used: stats.keys_used(),
        }
    }
}

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Total memory, from /proc/meminfo.
    pub memory: String,
    /// Operating system and kernel.
    pub os: String,
}

impl Machine {
    /// Describes this machine (best effort: unknown fields say `unknown`).
    pub fn describe() -> Self {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = field(&meminfo, "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
            );
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let distro = release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| std::env::consts::OS.to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Self {
            cpus,
            cpu_model,
            memory,
            os: format!("{distro}, kernel {}", kernel.trim()),
        }
    }
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_owned())
    })
}

/// How a report was produced: the settings and the build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `keyhold-bench <version>`.
    pub tool: String,
    /// `release` or `dev`: figures of a dev build are indicative only.
    pub build: String,
    /// `each` (one operation at a time) or `mix` (all together).
    pub mode: Mode,
    /// `rest` or `kmip`.
    #[serde(default)]
    pub protocol: Protocol,
    /// The mix, `op:weight,…`.
    pub mix: String,
    /// Concurrent connections.
    pub connections: usize,
    /// Warm-up before each window, seconds.
    pub warmup_secs: f64,
    /// Length of each window, seconds (when stopped by time).
    pub duration_secs: Option<f64>,
    /// Requests of each window (when stopped by count).
    pub requests: Option<u64>,
    /// Open loop: requests per second offered (`--rate`); absent: closed loop.
    #[serde(default)]
    pub rate_per_sec: Option<f64>,
    /// Keys per algorithm each operation is spread over (`--keys`).
    #[serde(default)]
    pub keys: usize,
    /// When the run started, seconds since the epoch.
    pub started_unix_secs: u64,
    /// The machine.
    pub machine: Machine,
}

impl RunInfo {
    /// Describes `settings` on this machine, now.
    pub fn new(settings: &Settings, protocol: Protocol) -> Self {
        let (duration_secs, requests) = match settings.load.stop {
            Stop::Time(d) => (Some(d.as_secs_f64()), None),
            Stop::Requests(n) => (None, Some(n)),
        };
        Self {
            tool: concat!("keyhold-bench ", env!("CARGO_PKG_VERSION")).into(),
            build: if cfg!(debug_assertions) {
                "dev"
            } else {
                "release"
            }
            .into(),
            mode: settings.mode,
            protocol,
            mix: settings.mix.to_string(),
            connections: settings.load.connections,
            warmup_secs: settings.load.warmup.as_secs_f64(),
            duration_secs,
            requests,
            rate_per_sec: settings.load.rate,
            keys: settings.keys.count,
            started_unix_secs: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: Machine::describe(),
        }
    }

    fn header(&self) -> String {
        let stop = match (self.duration_secs, self.requests) {
            (Some(d), _) => format!("{d} s"),
            (None, Some(n)) => format!("{n} requests"),
            (None, None) => "?".into(),
        };
        let rate = self
            .rate_per_sec
            .map_or_else(String::new, |r| format!(", open loop at {r:.1}/s"));
        let keys = if self.keys > 1 {
            format!(", {} keys per algorithm", self.keys)
        } else {
            String::new()
        };
        format!(
            "{} ({} build), {}, mode {}, {} connections, warm-up {} s, window {stop}{rate}{keys}\n\
             machine: {} × {}, {}, {}\n",
            self.tool,
            self.build,
            self.protocol.as_str(),
            self.mode.as_str(),
            self.connections,
            self.warmup_secs,
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.memory,
            self.machine.os
        )
    }
}

/// The report of `keyhold-bench run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Settings, build, machine.
    pub info: RunInfo,
    /// The server's label.
    pub target: String,
    /// The server's address.
    pub url: String,
    /// One row per operation (and `all` in mix mode).
    pub ops: Vec<OpReport>,
}

impl RunReport {
    /// Total failed requests.
    pub fn errors(&self) -> u64 {
        self.ops
            .iter()
            .filter(|o| o.op != "all")
            .map(|o| o.errors)
            .sum()
    }

    /// The table.
    pub fn table(&self) -> String {
        let mut out = self.info.header();
        let _ = writeln!(out, "target: {}\n", self.url);
        let many = self.info.keys > 1;
        let _ = write!(
            out,
            "{:<16} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10} {:>7}",
            "op", "requests", "ok/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors"
        );
        let _ = writeln!(out, "{}", if many { "  keys used" } else { "" });
        for r in &self.ops {
            let _ = write!(
                out,
                "{:<16} {:>9} {:>11.1} {:>10} {:>10} {:>10} {:>10} {:>7}",
                r.op,
                r.requests,
                r.throughput_per_sec,
                ms(r.latency_us.p50),
                ms(r.latency_us.p90),
                ms(r.latency_us.p99),
                ms(r.latency_us.p99_9),
                r.errors
            );
            let used = if many && r.op != "all" {
                format!(" {:>10}", r.keys_used)
            } else {
                String::new()
            };
            let _ = writeln!(out, "{used}");
        }
        append_error_codes(&mut out, self.ops.iter().map(|r| ("", r)));
        out
    }
}

/// One operation measured on both servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// Operation name.
    pub op: String,
    /// The baseline's figures.
    pub baseline: OpReport,
    /// Keyhold's figures.
    pub keyhold: OpReport,
    /// Keyhold's throughput divided by the baseline's (1.0 = as fast as the bare stack).
    pub throughput_ratio: Option<f64>,
    /// Keyhold's p99 latency divided by the baseline's (1.0 = no added tail latency).
    pub p99_ratio: Option<f64>,
    /// Latency at half of each server's own maximum throughput (`compare --half-load`).
    #[serde(default)]
    pub half_load: Option<HalfLoad>,
}

/// One operation measured in open loop on both servers, each at half of the throughput it
/// reached in the closed-loop windows of the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalfLoad {
    /// Requests per second offered to the baseline (half its maximum).
    pub baseline_rate: f64,
    /// Requests per second offered to Keyhold (half its maximum).
    pub keyhold_rate: f64,
    /// The baseline's figures at that rate.
    pub baseline: OpReport,
    /// Keyhold's figures at that rate.
    pub keyhold: OpReport,
    /// Keyhold's p99 divided by the baseline's, each at its own half load.
    pub p99_ratio: Option<f64>,
}

impl HalfLoad {
    /// Pairs the open-loop rows of one operation.
    pub fn new(
        baseline_rate: f64,
        keyhold_rate: f64,
        baseline: OpReport,
        keyhold: OpReport,
    ) -> Self {
        let b = baseline.latency_us.p99 as f64;
        Self {
            baseline_rate,
            keyhold_rate,
            p99_ratio: (b > 0.0).then(|| keyhold.latency_us.p99 as f64 / b),
            baseline,
            keyhold,
        }
    }
}

impl CompareRow {
    /// Pairs the two rows of one operation.
    pub fn new(baseline: OpReport, keyhold: OpReport) -> Self {
        let ratio = |k: f64, b: f64| (b > 0.0 && k.is_finite()).then(|| k / b);
        Self {
            op: keyhold.op.clone(),
            throughput_ratio: ratio(keyhold.throughput_per_sec, baseline.throughput_per_sec),
            p99_ratio: ratio(
                keyhold.latency_us.p99 as f64,
                baseline.latency_us.p99 as f64,
            ),
            baseline,
            keyhold,
            half_load: None,
        }
    }
}

/// The report of `keyhold-bench compare`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// Settings, build, machine.
    pub info: RunInfo,
    /// Rounds per phase (baseline, keyhold, baseline, keyhold, …).
    pub rounds: u32,
    /// The baseline's address.
    pub baseline_url: String,
    /// Keyhold's address.
    pub keyhold_url: String,
    /// One row per operation (and `all` in mix mode).
    pub ops: Vec<CompareRow>,
}

impl CompareReport {
    /// Total failed requests on either server.
    pub fn errors(&self) -> u64 {
        self.ops
            .iter()
            .filter(|o| o.op != "all")
            .map(|o| {
                o.baseline.errors
                    + o.keyhold.errors
                    + o.half_load
                        .as_ref()
                        .map_or(0, |h| h.baseline.errors + h.keyhold.errors)
            })
            .sum()
    }

    /// The ratio table.
    pub fn table(&self) -> String {
        let mut out = self.info.header();
        let _ = writeln!(
            out,
            "rounds: {} (baseline, keyhold alternating); ratio = keyhold ÷ baseline\n",
            self.rounds
        );
        let _ = writeln!(
            out,
            "{:<16} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8} {:>9}",
            "op", "baseline/s", "keyhold/s", "ratio", "p99 base ms", "p99 kh ms", "p99 ×", "errors"
        );
        for r in &self.ops {
            let _ = writeln!(
                out,
                "{:<16} {:>12.1} {:>12.1} {:>8} {:>12} {:>12} {:>8} {:>9}",
                r.op,
                r.baseline.throughput_per_sec,
                r.keyhold.throughput_per_sec,
                r.throughput_ratio
                    .map_or_else(|| "-".into(), |x| format!("{x:.3}")),
                ms(r.baseline.latency_us.p99),
                ms(r.keyhold.latency_us.p99),
                r.p99_ratio
                    .map_or_else(|| "-".into(), |x| format!("{x:.1}")),
                format!("{}/{}", r.baseline.errors, r.keyhold.errors)
            );
        }
        if self.ops.iter().any(|r| r.half_load.is_some()) {
            let _ = writeln!(
                out,
                "\nopen loop at half of each server's own maximum throughput above; \
                 latency from each request's intended send time\n"
            );
            let _ = writeln!(
                out,
                "{:<16} {:>12} {:>12} {:>12} {:>12} {:>8} {:>9}",
                "op", "base rate/s", "p99 base ms", "kh rate/s", "p99 kh ms", "p99 ×", "errors"
            );
            for r in &self.ops {
                let Some(h) = &r.half_load else { continue };
                let _ = writeln!(
                    out,
                    "{:<16} {:>12.1} {:>12} {:>12.1} {:>12} {:>8} {:>9}",
                    r.op,
                    h.baseline_rate,
                    ms(h.baseline.latency_us.p99),
                    h.keyhold_rate,
                    ms(h.keyhold.latency_us.p99),
                    h.p99_ratio
                        .map_or_else(|| "-".into(), |x| format!("{x:.1}")),
                    format!("{}/{}", h.baseline.errors, h.keyhold.errors)
                );
            }
        }
        append_error_codes(
            &mut out,
            self.ops.iter().flat_map(|r| {
                let mut v = vec![("baseline ", &r.baseline), ("keyhold ", &r.keyhold)];
                if let Some(h) = &r.half_load {
                    v.push(("baseline at half load ", &h.baseline));
                    v.push(("keyhold at half load ", &h.keyhold));
                }
                v
            }),
        );
        out
    }
}

/// Microseconds as milliseconds with three decimals.
fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn append_error_codes<'a>(out: &mut String, rows: impl Iterator<Item = (&'a str, &'a OpReport)>) {
    let mut first = true;
    for (who, r) in rows {
        if r.op == "all" || r.error_codes.is_empty() {
            continue;
        }
        if first {
            let _ = writeln!(out, "\nerrors by code:");
            first = false;
        }
        let codes: Vec<String> = r
            .error_codes
            .iter()
            .map(|(c, n)| format!("{c} × {n}"))
            .collect();
        let _ = writeln!(out, "  {who}{}: {}", r.op, codes.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(op: &str, ok: u64, p99_us: u64) -> OpReport {
        let mut s = OpStats::new();
        s.ok = ok;
        for _ in 0..ok {
            s.latency.record(p99_us).unwrap();
        }
        OpReport::new(op, &s, Duration::from_secs(1))
    }

    #[test]
    fn ratios_divide_keyhold_by_baseline() {
        let r = CompareRow::new(row("mac", 100, 1000), row("mac", 25, 4000));
        assert!((r.throughput_ratio.unwrap() - 0.25).abs() < 1e-9);
        assert!((r.p99_ratio.unwrap() - 4.0).abs() < 0.01);
        let none = CompareRow::new(row("mac", 0, 1), row("mac", 5, 1));
        assert_eq!(none.throughput_ratio, None);
    }

    #[test]
    fn fields_of_cpuinfo_are_found() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\n";
        assert_eq!(field(text, "model name").as_deref(), Some("AMD EPYC"));
        assert_eq!(field(text, "flags"), None);
    }
}
