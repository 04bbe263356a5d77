//! Orchestration: set a server up, run the phases of a mix, and build the report; or do the
//! same on the baseline and Keyhold in alternation and pair the figures.
//!
//! A phase is one measured window: in mode `each`, one operation alone (so each row is that
//! operation's ceiling); in mode `mix`, the whole mix at its weights.

use serde::{Deserialize, Serialize};

use crate::load::{self, LoadConfig, Measurement, OpStats};
use crate::mix::{Mix, Op};
use crate::report::{CompareReport, CompareRow, OpReport, RunInfo, RunReport};
use crate::setup::{self, Plan};
use crate::target::Target;
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
    /// Connections, warm-up, window.
    pub load: LoadConfig,
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

/// Sets `target` up for the mix and measures every phase.
pub async fn run(target: &Target, settings: &Settings) -> Result<RunReport, BenchError> {
    let info = RunInfo::new(settings);
    let plan = setup::prepare(target, &settings.mix.ops()).await?;
    let mut ops = Vec::new();
    for phase in settings.phases() {
        let m = measure(target, &plan, &phase, settings).await?;
        progress(settings, &target.label, &phase, &m);
        ops.extend(settings.rows(&m));
    }
    Ok(RunReport {
        info,
        target: target.label.clone(),
        url: target.url.to_string(),
        ops,
    })
}

/// Sets both servers up, then for each phase runs `rounds` × (baseline, Keyhold) and pairs
/// the merged figures.
pub async fn compare(
    baseline: &Target,
    keyhold: &Target,
    settings: &Settings,
    rounds: u32,
) -> Result<CompareReport, BenchError> {
    if rounds == 0 {
        return Err(BenchError::Usage("--rounds must be at least 1".into()));
    }
    let info = RunInfo::new(settings);
    let ops = settings.mix.ops();
    let baseline_plan = setup::prepare(baseline, &ops).await?;
    let keyhold_plan = setup::prepare(keyhold, &ops).await?;
    let mut rows = Vec::new();
    for phase in settings.phases() {
        let mut on_baseline = Measurement::default();
        let mut on_keyhold = Measurement::default();
        for _ in 0..rounds {
            let m = measure(baseline, &baseline_plan, &phase, settings).await?;
            progress(settings, &baseline.label, &phase, &m);
            on_baseline.merge(&m);
            let m = measure(keyhold, &keyhold_plan, &phase, settings).await?;
            progress(settings, &keyhold.label, &phase, &m);
            on_keyhold.merge(&m);
        }
        let b = settings.rows(&on_baseline);
        let k = settings.rows(&on_keyhold);
        // Both sides have the same rows in the same order: every operation of the phase
        // has an entry (see `measure`).
        for (brow, krow) in b.into_iter().zip(k) {
            rows.push(CompareRow::new(brow, krow));
        }
    }
    Ok(CompareReport {
        info,
        rounds,
        baseline_url: baseline.url.to_string(),
        keyhold_url: keyhold.url.to_string(),
        ops: rows,
    })
}

async fn measure(
    target: &Target,
    plan: &Plan,
    phase: &Phase,
    settings: &Settings,
) -> Result<Measurement, BenchError> {
    let mut m = load::run(target, plan, &phase.schedule, &settings.load).await?;
    // An operation that recorded nothing (every request in flight at the close) still gets a
    // row, so that a report always has every operation of the mix.
    for op in &phase.schedule {
        m.ops.entry(*op).or_default();
    }
    Ok(m)
}
