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
    bench, CompareReport, Endpoint, KeyConfig, KmipTarget, LoadConfig, Mix, Mode, Op, RunReport,
    Settings, Stop, Target,
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
            rate: None,
        },
        keys: KeyConfig::default(),
        progress: false,
    }
}

async fn start_baseline(dir: &tempfile::TempDir) -> (RunningBaseline, Endpoint) {
    let running = baseline::start(BaselineConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("baseline"),
        kmip_listen: Some("127.0.0.1:0".parse().unwrap()),
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
    (running, Endpoint::Rest(target))
}

/// The baseline's KMIP listener as a target.
fn baseline_kmip(running: &RunningBaseline) -> Endpoint {
    let (cert, key) = running.kmip_client();
    Endpoint::Kmip(
        KmipTarget::new(
            "baseline",
            &running.kmip_addr().unwrap().to_string(),
            running.ca_cert(),
            &cert,
            &key,
            false,
        )
        .unwrap(),
    )
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
    let target: Target = server.target().unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypt_and_verify_alone_get_what_their_set_up_needs() {
    // Their inputs are made by the key user during set-up (a ciphertext, a signature), so the
    // key user's grant must cover encrypting and signing too, without encrypt or sign in the mix.
    let Some(keyhold) = keyhold_binary() else {
        return;
    };
    let server = ServerProcess::keyhold(&keyhold, Some("warn"))
        .await
        .unwrap();
    let target: Target = server.target().unwrap();
    let token = std::fs::read_to_string(server.dir().join("admin.token")).unwrap();
    let output = tokio::process::Command::new(BENCH)
        .args(["run", "--addr", target.url.as_str(), "--cacert"])
        .arg(server.dir().join("ca.pem"))
        .args(["--connections", "2", "--requests", "20", "--warmup", "0s"])
        .args(["--mix", "decrypt-64,verify-p256", "--quiet"])
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

/// The KMIP operations the harness sends (all but datakey), with a few keys each.
const KMIP_MIX: &str = "encrypt-64,encrypt-1k,decrypt-64,decrypt-1k,sign-p256,verify-p256,\
                        mac,create-key,describe-key";

fn kmip_ops() -> Vec<Op> {
    KMIP_MIX.parse::<Mix>().unwrap().ops()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmip_runs_against_the_baseline_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _) = start_baseline(&dir).await;
    let endpoint = baseline_kmip(&running);
    let mut s = settings(KMIP_MIX, Mode::Each, Stop::Requests(30));
    s.keys.count = 3;
    let report = bench::run(&endpoint, &s).await.unwrap();
    // Decrypt answers are checked against the plaintext, verify answers for Valid: a wrong
    // answer would be a `wrong_result` error.
    assert_all_succeeded(&report.ops, &kmip_ops());
    for row in &report.ops {
        assert_eq!(row.ok, 30, "{}", row.op);
        let keys = if row.op == "create-key" { 1 } else { 3 };
        assert_eq!(row.keys_used, keys, "{}", row.op);
    }
    assert!(report.url.starts_with("kmip://"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["info"]["protocol"], "kmip");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmip_runs_against_keyhold_without_errors() {
    let Some(keyhold) = keyhold_binary() else {
        return;
    };
    let server = ServerProcess::keyhold(&keyhold, Some("warn"))
        .await
        .unwrap();
    let endpoint = Endpoint::Kmip(server.kmip_target().unwrap());
    let mut s = settings(KMIP_MIX, Mode::Mix, Stop::Requests(90));
    s.keys.count = 2;
    let report = bench::run(&endpoint, &s).await.unwrap();
    assert_all_succeeded(&report.ops, &kmip_ops());
    assert_eq!(report.ops.last().unwrap().ok, 90);
    for row in report
        .ops
        .iter()
        .filter(|r| r.op != "all" && r.op != "create-key")
    {
        assert_eq!(row.keys_used, 2, "{}", row.op);
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_run_sends_about_the_rate_times_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let (running, target) = start_baseline(&dir).await;
    let mut s = settings(
        "encrypt-64,mac",
        Mode::Each,
        Stop::Time(Duration::from_secs(1)),
    );
    s.load.rate = Some(200.0);
    let report = bench::run(&target, &s).await.unwrap();
    for row in &report.ops {
        // 200/s for 1 s: the window holds the requests whose intended times fall in it.
        assert!(
            (190..=210).contains(&row.ok),
            "{}: {} requests at 200/s for 1 s",
            row.op,
            row.ok
        );
        assert_eq!(row.errors, 0);
    }
    assert_eq!(report.info.rate_per_sec, Some(200.0));

    // A request count is exact in open loop too.
    let mut s = settings("encrypt-64", Mode::Each, Stop::Requests(50));
    s.load.rate = Some(500.0);
    let report = bench::run(&target, &s).await.unwrap();
    assert_eq!(report.ops[0].ok, 50);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_spread_the_requests_and_are_found_again_by_name() {
    let Some(keyhold) = keyhold_binary() else {
        return;
    };
    let server = ServerProcess::keyhold(&keyhold, Some("warn"))
        .await
        .unwrap();
    let target: Target = server.target().unwrap();
    let endpoint = Endpoint::Rest(target.clone());
    let mut s = settings("encrypt-64,decrypt-64", Mode::Each, Stop::Requests(100));
    s.keys.count = 20;
    let report = bench::run(&endpoint, &s).await.unwrap();
    // Each decrypt sends a ciphertext made under one of the 20 keys and checks the plaintext
    // it gets back, so the server did use 20 different keys.
    assert_all_succeeded(&report.ops, &[Op::Encrypt64, Op::Decrypt64]);
    for row in &report.ops {
        assert_eq!(row.keys_used, 20, "{}", row.op);
    }

    // Named keys: a first run makes 3, a second run with 5 finds those and makes 2 more.
    let client = |token: &str| {
        keyhold_client::Client::builder()
            .address(target.url.as_str())
            .token(token)
            .ca_cert_pem(target.ca_pem.clone())
            .build()
            .unwrap()
    };
    let manager = client(target.setup_token.as_str())
        .create_token(&keyhold_core::ops::CreateToken {
            principal: "test-manager".parse().unwrap(),
            role: keyhold_core::model::Role::KeyManager,
            ttl_secs: None,
            description: String::new(),
            tenant: None,
        })
        .await
        .unwrap();
    let admin = client(manager.token.expose());
    let mut first = settings("encrypt-64", Mode::Each, Stop::Requests(20));
    first.keys = KeyConfig {
        count: 3,
        reuse_prefix: Some("t".into()),
    };
    bench::run(&endpoint, &first).await.unwrap();
    let third = admin.describe_key("t-aes-256-0000002").await.unwrap();
    assert!(admin.describe_key("t-aes-256-0000003").await.is_err());
    let mut second = first.clone();
    second.keys.count = 5;
    let report = bench::run(&endpoint, &second).await.unwrap();
    assert_all_succeeded(&report.ops, &[Op::Encrypt64]);
    assert_eq!(report.ops[0].keys_used, 5);
    assert_eq!(
        admin.describe_key("t-aes-256-0000002").await.unwrap().id,
        third.id
    );
    admin.describe_key("t-aes-256-0000004").await.unwrap();
    assert!(admin.describe_key("t-aes-256-0000005").await.is_err());
    server.stop().await.unwrap();
}

#[test]
fn compare_over_kmip_with_half_load_reports_both_tables() {
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
        .args(["--protocol", "kmip", "--mix", "encrypt-64,decrypt-64"])
        .args(["--duration", "500ms", "--warmup", "100ms", "--rounds", "1"])
        .arg("--half-load")
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
    assert!(
        stdout.contains("half of each server's own maximum"),
        "{stdout}"
    );
    let report: CompareReport =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(report.errors(), 0);
    assert!(report.baseline_url.starts_with("kmip://"));
    assert_eq!(report.ops.len(), 2);
    for row in &report.ops {
        assert!(row.throughput_ratio.is_some(), "{}", row.op);
        let h = row.half_load.as_ref().expect("half-load figures");
        // Each server was offered half of what it did in its closed-loop window.
        assert!(
            (h.baseline_rate - row.baseline.throughput_per_sec / 2.0).abs() < 1e-6,
            "{}",
            row.op
        );
        assert!(
            (h.keyhold_rate - row.keyhold.throughput_per_sec / 2.0).abs() < 1e-6,
            "{}",
            row.op
        );
        assert!(h.baseline.ok > 0 && h.keyhold.ok > 0, "{}", row.op);
        assert!(h.p99_ratio.is_some());
    }
}
