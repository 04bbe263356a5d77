//! The harness against real servers: the baseline in process, `keyhold serve --dev` and the
//! baseline as child processes. Assertions are on correctness only (no errors, every operation
//! performed, reports complete); no test asserts a speed.
//!
//! The tests that need the `keyhold` binary look for it beside the test executable's directory
//! (`target/<profile>/keyhold`) and are skipped with a message when it is missing:
//! `scripts/test.sh` builds the whole workspace first, so in CI it is there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use keyhold_bench::baseline::{self, BaselineConfig, RunningBaseline};
use keyhold_bench::process::ServerProcess;
use keyhold_bench::report::OpReport;
use keyhold_bench::{
    bench, CompareReport, LoadConfig, Mix, Mode, Op, RunReport, Settings, Stop, Target,
};
use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_keyhold-bench");

fn settings(mix: &str, mode: Mode, stop: Stop) -> Settings {
    Settings {
        mix: mix.parse().unwrap(),
        mode,
        load: LoadConfig {
            connections: 4,
            warmup: Duration::from_millis(100),
            stop,
            request_timeout: Duration::from_secs(30),
        },
        progress: false,
    }
}

async fn start_baseline(dir: &tempfile::TempDir) -> (RunningBaseline, Target) {
    let running = baseline::start(BaselineConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("baseline"),
    })
    .await
    .unwrap();
    let target = Target::new(
        "baseline",
        &running.url(),
        running.ca_cert(),
        "any-token",
        false,
    )
    .unwrap();
    (running, target)
}

/// `target/<profile>/keyhold`, or `None` (with a message) when it was not built.
fn keyhold_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent()?.parent()?.join("keyhold");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: no keyhold binary at {}; build the workspace first \
             (cargo build --workspace, as scripts/test.sh does)",
            path.display()
        );
        None
    }
}

fn assert_all_succeeded(rows: &[OpReport], ops: &[Op]) {
    for op in ops {
        let row = rows
            .iter()
            .find(|r| r.op == op.name())
            .unwrap_or_else(|| panic!("no row for {op}"));
        assert_eq!(row.errors, 0, "{op}: {:?}", row.error_codes);
        assert!(row.ok > 0, "{op} performed no request");
        assert_eq!(row.requests, row.ok);
        assert!(row.throughput_per_sec > 0.0);
        let l = &row.latency_us;
        assert!(
            l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p99_9 && l.p99_9 <= l.max
        );
    }
}

/// The JSON form has the documented fields for every row.
fn assert_row_fields(row: &Value) {
    for field in [
        "op",
        "requests",
        "ok",
        "errors",
        "error_codes",
        "seconds",
        "throughput_per_sec",
    ] {
        assert!(row.get(field).is_some(), "missing {field} in {row}");
    }
    for p in ["p50", "p90", "p99", "p99_9", "max", "mean"] {
        assert!(row["latency_us"][p].is_number(), "missing latency {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_runs_against_the_baseline_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (running, target) = start_baseline(&dir).await;
    let report = bench::run(
        &target,
        &settings("all", Mode::Each, Stop::Time(Duration::from_secs(1))),
    )
    .await
    .unwrap();
    assert_eq!(report.ops.len(), Op::ALL.len());
    assert_all_succeeded(&report.ops, &Op::ALL);
    assert_eq!(report.errors(), 0);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["info"]["mode"], "each");
    assert_eq!(json["info"]["connections"], 4);
    assert!(json["info"]["machine"]["cpus"].as_u64().unwrap() > 0);
    for row in json["ops"].as_array().unwrap() {
        assert_row_fields(row);
    }
    let back: RunReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);

    // Every created key is a committed row.
    let (commits, rows) = running.commits();
    assert!(rows > 0 && commits > 0 && commits <= rows);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_count_is_exact_and_a_mix_has_a_total_row() {
    let dir = tempfile::tempdir().unwrap();
    let (running, target) = start_baseline(&dir).await;

    let each = bench::run(
        &target,
        &settings(
            "encrypt-64,verify-ed25519,create-key",
            Mode::Each,
            Stop::Requests(40),
        ),
    )
    .await
    .unwrap();
    assert_eq!(each.ops.len(), 3);
    for row in &each.ops {
        assert_eq!(row.ok, 40, "{}", row.op);
        assert_eq!(row.errors, 0);
    }

    let mix = bench::run(
        &target,
        &settings("encrypt-64:2,mac:1", Mode::Mix, Stop::Requests(60)),
    )
    .await
    .unwrap();
    let names: Vec<&str> = mix.ops.iter().map(|r| r.op.as_str()).collect();
    assert_eq!(names, ["encrypt-64", "mac", "all"]);
    assert_all_succeeded(&mix.ops, &[Op::Encrypt64, Op::Mac]);
    assert_eq!(mix.ops[2].ok, 60);
    assert_eq!(mix.ops[0].ok + mix.ops[1].ok, 60);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_command_loads_keyhold_in_mix_mode() {
    let Some(keyhold) = keyhold_binary() else {
        return;
    };
    let server = ServerProcess::keyhold(&keyhold, Some("warn"))
        .await
        .unwrap();
    let target = server.target().unwrap();
    let out = tempfile::tempdir().unwrap();
    let json_path = out.path().join("run.json");
    let token = std::fs::read_to_string(server.dir().join("admin.token")).unwrap();
    let output = tokio::process::Command::new(BENCH)
        .args(["run", "--addr", target.url.as_str(), "--cacert"])
        .arg(server.dir().join("ca.pem"))
        .args([
            "--connections",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
        ])
        .args([
            "--mode",
            "mix",
            "--mix",
            "encrypt-1k:2,decrypt-1k:2,sign-p256,describe-key",
        ])
        .arg("--json")
        .arg(&json_path)
        .arg("--quiet")
        .env("KEYHOLD_TOKEN", token.trim())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "keyhold-bench run exited with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: RunReport = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_all_succeeded(
        &report.ops,
        &[Op::Encrypt1k, Op::Decrypt1k, Op::SignP256, Op::DescribeKey],
    );
    assert_eq!(report.ops.last().unwrap().op, "all");
    server.stop().await.unwrap();
}

#[test]
fn compare_runs_every_operation_on_both_servers_and_reports_ratios() {
    let Some(keyhold) = keyhold_binary() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let json_path = out.path().join("compare.json");
    let output = Command::new(BENCH)
        .arg("compare")
        .arg("--keyhold")
        .arg(&keyhold)
        .args(["--keyhold-log", "warn", "--connections", "4"])
        .args(["--duration", "1s", "--warmup", "200ms", "--rounds", "1"])
        .arg("--json")
        .arg(&json_path)
        .arg("--quiet")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "compare exited with {}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ratio"), "{stdout}");

    let json: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let rows = json["ops"].as_array().unwrap();
    assert_eq!(rows.len(), Op::ALL.len());
    for row in rows {
        assert_row_fields(&row["baseline"]);
        assert_row_fields(&row["keyhold"]);
        assert!(row["throughput_ratio"].is_number(), "{row}");
        assert!(row["p99_ratio"].is_number(), "{row}");
    }
    let report: CompareReport = serde_json::from_value(json).unwrap();
    assert_eq!(report.errors(), 0);
    let baseline_rows: Vec<OpReport> = report.ops.iter().map(|r| r.baseline.clone()).collect();
    let keyhold_rows: Vec<OpReport> = report.ops.iter().map(|r| r.keyhold.clone()).collect();
    assert_all_succeeded(&baseline_rows, &Op::ALL);
    assert_all_succeeded(&keyhold_rows, &Op::ALL);
    assert_eq!(Mix::all().ops(), Op::ALL);
}
