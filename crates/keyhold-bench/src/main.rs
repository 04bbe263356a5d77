//! `keyhold-bench`: load generator (`run`), bare baseline server (`baseline`), and the
//! side-by-side measurement of Keyhold against the baseline (`compare`).
//!
//! ```text
//!  argv ─► clap ─► run:      Target ─► bench::run ─► table (stdout), JSON (--json)
//!               ─► baseline: baseline::start ─► "baseline listening on https://…" ─► until signal
//!               ─► compare:  ServerProcess × 2 ─► bench::compare ─► ratio table, JSON
//!  exit: 0 done, 1 failed, 2 usage, 3 done but some requests failed
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use keyhold_bench::baseline::{self, BaselineConfig};
use keyhold_bench::process::{find_keyhold, ServerProcess};
use keyhold_bench::target::parse_duration;
use keyhold_bench::{bench, BenchError, LoadConfig, Mix, Mode, Settings, Stop, Target};
use serde::Serialize;

/// The allocator of the `keyhold` binary, so the baseline runs on the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "keyhold-bench",
    version,
    about = "Load generator for Keyhold's REST API, and the bare baseline server its figures are divided by"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a server that speaks Keyhold's REST API; report throughput, latency and errors.
    Run(RunArgs),
    /// Serve Keyhold's API with only the cryptography (no authentication, policy, store or
    /// audit; creating a key writes one row to SQLite with group commit). Loopback only.
    Baseline(BaselineArgs),
    /// Start the baseline and `keyhold serve --dev`, run the same load on both in alternation,
    /// and print Keyhold's figures as ratios to the baseline's.
    Compare(CompareArgs),
}

/// What to run and for how long.
#[derive(Debug, Args)]
struct LoadArgs {
    /// Concurrent connections (one HTTP/1.1 keep-alive connection per worker).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Length of each measured window, e.g. 10s (default 10s unless --requests is given).
    #[arg(long, value_parser = parse_duration, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Requests of each measured window, instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Warm-up before each window: requests sent but not recorded.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    warmup: Duration,
    /// Operations and weights, e.g. encrypt-64:2,decrypt-64:1, or `all`.
    #[arg(long, default_value = "all")]
    mix: Mix,
    /// `each`: every operation alone, one window each; `mix`: all together in one window.
    #[arg(long, value_enum, default_value_t = Mode::Each)]
    mode: Mode,
    /// A request taking longer than this counts as a `timeout` error.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

impl LoadArgs {
    fn settings(&self) -> Settings {
        let stop = match (self.requests, self.duration) {
            (Some(n), _) => Stop::Requests(n),
            (None, Some(d)) => Stop::Time(d),
            (None, None) => Stop::Time(Duration::from_secs(10)),
        };
        Settings {
            mix: self.mix.clone(),
            mode: self.mode,
            load: LoadConfig {
                connections: self.connections,
                warmup: self.warmup,
                stop,
                request_timeout: self.timeout,
            },
            progress: !self.quiet,
        }
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The server, https://host:port.
    #[arg(long, env = "KEYHOLD_ADDR")]
    addr: String,
    /// The CA certificate (PEM) to trust for it, and no other.
    #[arg(long, env = "KEYHOLD_CACERT")]
    cacert: PathBuf,
    /// An admin token: creates the benchmark's key-manager and key-user tokens.
    #[arg(
        long,
        visible_alias = "setup-token",
        env = "KEYHOLD_TOKEN",
        hide_env_values = true
    )]
    token: String,
    /// Allow a server that is not on this machine.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct BaselineArgs {
    /// Loopback address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Directory for the generated CA and certificate and the database.
    #[arg(long)]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The `keyhold` binary (default: next to this executable).
    #[arg(long)]
    keyhold: Option<PathBuf>,
    /// Windows per operation and server, alternating baseline and Keyhold.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// KEYHOLD_LOG for the Keyhold server (default: Keyhold's own, `info`).
    #[arg(long)]
    keyhold_log: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&BenchError::io("starting the async runtime")(e)),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Baseline(args) => serve_baseline(args).await,
            Command::Compare(args) => compare(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &BenchError) -> ExitCode {
    eprintln!("error: {e}");
    if matches!(e, BenchError::Usage(_)) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// 0, or 3 when some requests failed (the report says which).
fn outcome(errors: u64) -> ExitCode {
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("warning: {errors} requests failed; see the errors column");
        ExitCode::from(3)
    }
}

fn write_json(path: Option<&Path>, report: &impl Serialize) -> Result<(), BenchError> {
    let Some(path) = path else { return Ok(()) };
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| BenchError::Worker(format!("encoding the report: {e}")))?;
    std::fs::write(path, text + "\n").map_err(BenchError::io(format!("writing {}", path.display())))
}

async fn run(args: RunArgs) -> Result<ExitCode, BenchError> {
    let target = Target::new(
        "target",
        &args.addr,
        &args.cacert,
        &args.token,
        args.allow_remote,
    )?;
    let report = bench::run(&target, &args.load.settings()).await?;
    print!("{}", report.table());
    write_json(args.load.json.as_deref(), &report)?;
    Ok(outcome(report.errors()))
}

async fn serve_baseline(args: BaselineArgs) -> Result<ExitCode, BenchError> {
    let running = baseline::start(BaselineConfig {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
    })
    .await?;
    println!(
        "baseline listening on {} (no authentication, policy, store or audit)",
        running.url()
    );
    println!("  CA certificate: {}", running.ca_cert().display());
    shutdown_signal().await;
    let (commits, rows) = running.commits();
    eprintln!("baseline stopping: {rows} keys written in {commits} transactions");
    running.stop().await?;
    Ok(ExitCode::SUCCESS)
}

async fn compare(args: CompareArgs) -> Result<ExitCode, BenchError> {
    let keyhold_exe = find_keyhold(args.keyhold.as_deref())?;
    let bench_exe = std::env::current_exe().map_err(BenchError::io("locating this executable"))?;
    let settings = args.load.settings();
    let baseline = ServerProcess::baseline(&bench_exe).await?;
    let keyhold = match ServerProcess::keyhold(&keyhold_exe, args.keyhold_log.as_deref()).await {
        Ok(k) => k,
        Err(e) => {
            let _ = baseline.stop().await;
            return Err(e);
        }
    };
    if settings.progress {
        eprintln!(
            "baseline at {}, keyhold at {}",
            baseline.url(),
            keyhold.url()
        );
    }
    let result = async {
        bench::compare(
            &baseline.target()?,
            &keyhold.target()?,
            &settings,
            args.rounds,
        )
        .await
    }
    .await;
    let stopped = (baseline.stop().await, keyhold.stop().await);
    let report = result?;
    stopped.0?;
    stopped.1?;
    print!("{}", report.table());
    write_json(args.load.json.as_deref(), &report)?;
    Ok(outcome(report.errors()))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
