//! Orchestration: set a server up, run the phases of a mix, and build the report; or do the
//! same on the baseline and Keyhold in alternation and pair the figures.
//!
//! A phase is one measured window: in mode `each`, one operation alone (so each row is that
//! operation's ceiling); in mode `mix`, the whole mix at its weights.

use serde::{Deserialize, Serialize};

use crate::load::{self, LoadConfig, Measurement, OpStats};
use crate::mix::{Mix, Op};
use crate::report::{CompareReport, CompareRow, HalfLoad, OpReport, RunInfo, RunReport};
use crate::setup::{self, KeyConfig, Plan};
use crate::target::Endpoint;
use crate::BenchError;

/// How the operations of a mix are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Each operation alone, one window after another.
    Each,
    /// All operations together, interleaved at their weights, in one window.
    Mix,
}

impl Mode {
    /// `each` or `mix`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Each => "each",
            Mode::Mix => "mix",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Operations and weights.
    pub mix: Mix,
    /// One at a time, or together.
    pub mode: Mode,
    /// Connections, warm-up, window, rate.
    pub load: LoadConfig,
    /// How many keys each operation is spread over.
    pub keys: KeyConfig,
    /// Print a line per window on stderr.
    pub progress: bool,
}

/// One measured window's schedule.
#[derive(Debug, Clone)]
struct Phase {
    label: String,
    schedule: Vec<Op>,
}

impl Settings {
    fn phases(&self) -> Vec<Phase> {
        match self.mode {
            Mode::Each => self
                .mix
                .ops()
                .into_iter()
                .map(|op| Phase {
                    label: op.name().into(),
                    schedule: vec![op],
                })
                .collect(),
            Mode::Mix => vec![Phase {
                label: "mix".into(),
                schedule: self.mix.schedule(),
            }],
        }
    }

    /// The rows of one phase: its operation, or each operation of the mix and `all`.
    fn rows(&self, m: &Measurement) -> Vec<OpReport> {
        let row = |op: Op| {
            let stats = m.ops.get(&op).cloned().unwrap_or_default();
            OpReport::new(op.name(), &stats, m.elapsed)
        };
        match self.mode {
            Mode::Each => m.ops.keys().copied().map(row).collect(),
            Mode::Mix => {
                let mut rows: Vec<OpReport> = self.mix.ops().into_iter().map(row).collect();
                let mut all = OpStats::new();
                for stats in m.ops.values() {
                    all.merge(stats);
                }
                rows.push(OpReport::new("all", &all, m.elapsed));
                rows
            }
        }
    }
}

/// Successful requests per second of a whole window (every operation of the phase).
fn throughput(m: &Measurement) -> f64 {
    let ok: u64 = m.ops.values().map(|s| s.ok).sum();
    let secs = m.elapsed.as_secs_f64();
    if secs > 0.0 {
        ok as f64 / secs
    } else {
        0.0
    }
}

fn progress(settings: &Settings, who: &str, phase: &Phase, m: &Measurement) {
    if !settings.progress {
        return;
    }
    let ok: u64 = m.ops.values().map(|s| s.ok).sum();
    let errors: u64 = m.ops.values().map(OpStats::error_count).sum();
    let secs = m.elapsed.as_secs_f64();
    let rate = if secs > 0.0 { ok as f64 / secs } else { 0.0 };
    eprintln!(
        "{who:<8} {:<16} {ok:>8} ok {errors:>5} errors {rate:>10.1}/s",
        phase.label
    );
}

/// Sets `endpoint` up for the mix and measures every phase.
pub async fn run(endpoint: &Endpoint, settings: &Settings) -> Result<RunReport, BenchError> {
    let info = RunInfo::new(settings, endpoint.protocol());
    let plan = setup::prepare(endpoint, &settings.mix.ops(), &settings.keys).await?;
    let mut ops = Vec::new();
    for phase in settings.phases() {
        let m = measure(endpoint, &plan, &phase, &settings.load).await?;
        progress(settings, endpoint.label(), &phase, &m);
        ops.extend(settings.rows(&m));
    }
    Ok(RunReport {
        info,
        target: endpoint.label().to_owned(),
        url: endpoint.url(),
        ops,
    })
}

/// Sets both servers up, then for each phase runs `rounds` × (baseline, Keyhold) and pairs
/// the merged figures. With `half_load`, each phase then runs `rounds` × (baseline, Keyhold)
/// again in open loop, each server at half of its own throughput just measured, and the
/// rows get the latency at that rate.
pub async fn compare(
    baseline: &Endpoint,
    keyhold: &Endpoint,
    settings: &Settings,
    rounds: u32,
    half_load: bool,
) -> Result<CompareReport, BenchError> {
    if rounds == 0 {
        return Err(BenchError::Usage("--rounds must be at least 1".into()));
    }
    if half_load && settings.load.rate.is_some() {
        return Err(BenchError::Usage(
            "--half-load chooses the rates itself; leave out --rate".into(),
        ));
    }
    let info = RunInfo::new(settings, keyhold.protocol());
    let ops = settings.mix.ops();
    let baseline_plan = setup::prepare(baseline, &ops, &settings.keys).await?;
    let keyhold_plan = setup::prepare(keyhold, &ops, &settings.keys).await?;
    let mut rows = Vec::new();
    for phase in settings.phases() {
        let mut on_baseline = Measurement::default();
        let mut on_keyhold = Measurement::default();
        for _ in 0..rounds {
            let m = measure(baseline, &baseline_plan, &phase, &settings.load).await?;
            progress(settings, baseline.label(), &phase, &m);
            on_baseline.merge(&m);
            let m = measure(keyhold, &keyhold_plan, &phase, &settings.load).await?;
            progress(settings, keyhold.label(), &phase, &m);
            on_keyhold.merge(&m);
        }
        let b = settings.rows(&on_baseline);
        let k = settings.rows(&on_keyhold);
        // Both sides have the same rows in the same order: every operation of the phase
        // has an entry (see `measure`).
        let mut phase_rows: Vec<CompareRow> = b
            .into_iter()
            .zip(k)
            .map(|(b, k)| CompareRow::new(b, k))
            .collect();
        if half_load {
            let rate_b = throughput(&on_baseline) / 2.0;
            let rate_k = throughput(&on_keyhold) / 2.0;
            if rate_b > 0.0 && rate_k > 0.0 {
                let paced = |rate: f64| LoadConfig {
                    rate: Some(rate),
                    ..settings.load
                };
                let mut at_b = Measurement::default();
                let mut at_k = Measurement::default();
                for _ in 0..rounds {
                    let m = measure(baseline, &baseline_plan, &phase, &paced(rate_b)).await?;
                    progress(settings, baseline.label(), &phase, &m);
                    at_b.merge(&m);
                    let m = measure(keyhold, &keyhold_plan, &phase, &paced(rate_k)).await?;
                    progress(settings, keyhold.label(), &phase, &m);
                    at_k.merge(&m);
                }
                let hb = settings.rows(&at_b);
                let hk = settings.rows(&at_k);
                for (row, (b, k)) in phase_rows.iter_mut().zip(hb.into_iter().zip(hk)) {
                    row.half_load = Some(HalfLoad::new(rate_b, rate_k, b, k));
                }
            }
        }
        rows.extend(phase_rows);
    }
    Ok(CompareReport {
        info,
        rounds,
        baseline_url: baseline.url(),
        keyhold_url: keyhold.url(),
        ops: rows,
    })
}

async fn measure(
    endpoint: &Endpoint,
    plan: &Plan,
    phase: &Phase,
    load: &LoadConfig,
) -> Result<Measurement, BenchError> {
    let mut m = load::run(endpoint, plan, &phase.schedule, load).await?;
    // An operation that recorded nothing (every request in flight at the close) still gets a
    // row, so that a report always has every operation of the mix.
    for op in &phase.schedule {
        m.ops.entry(*op).or_default();
    }
    Ok(m)
}
