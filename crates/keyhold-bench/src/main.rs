//! `keyhold-bench`: load generator (`run`), bare baseline server (`baseline`), and the
//! side-by-side measurement of Keyhold against the baseline (`compare`).
//!
//! ```text
//!  argv ─► clap ─► run:      Endpoint (REST or KMIP) ─► bench::run ─► table (stdout), JSON
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
use keyhold_bench::{
    bench, BenchError, Endpoint, KeyConfig, KmipTarget, LoadConfig, Mix, Mode, Protocol, Settings,
    Stop, Target,
};
use serde::Serialize;

/// The allocator of the `keyhold` binary, so the baseline runs on the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "keyhold-bench",
    version,
    about = "Load generator for Keyhold's REST API and KMIP, and the bare baseline server its figures are divided by"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a server that speaks Keyhold's REST API or KMIP over mutual TLS; report
    /// throughput, latency and errors.
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
    /// `rest` (HTTPS, bearer tokens) or `kmip` (KMIP 1.4 over mutual TLS).
    #[arg(long, value_enum, default_value_t = Protocol::Rest)]
    protocol: Protocol,
    /// Concurrent connections (one HTTP/1.1 keep-alive or KMIP connection per worker, one
    /// request in flight on each).
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
    /// Operations and weights, e.g. encrypt-64:2,decrypt-64:1, or `all` (over KMIP, all but
    /// datakey).
    #[arg(long, default_value = "all")]
    mix: Mix,
    /// Open loop: offer this many requests per second in all, each sent at its intended time
    /// and timed from it (default: closed loop, as fast as the server answers).
    #[arg(long)]
    rate: Option<f64>,
    /// Keys per algorithm the mix needs; each operation's requests go to them round robin.
    #[arg(long, default_value_t = 1)]
    keys: usize,
    /// Find the keys by name (PREFIX-ALGORITHM-NNNNNNN, see --key-prefix) and create only the
    /// missing ones (REST only).
    #[arg(long)]
    reuse_keys: bool,
    /// Name prefix of the keys and principals of --reuse-keys.
    #[arg(long, default_value = "bench", requires = "reuse_keys")]
    key_prefix: String,
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
    fn settings(&self) -> Result<Settings, BenchError> {
        let stop = match (self.requests, self.duration) {
            (Some(n), _) => Stop::Requests(n),
            (None, Some(d)) => Stop::Time(d),
            (None, None) => Stop::Time(Duration::from_secs(10)),
        };
        let mix = self
            .mix
            .clone()
            .for_protocol(self.protocol)
            .map_err(|e| BenchError::Usage(e.to_string()))?;
        Ok(Settings {
            mix,
            mode: self.mode,
            load: LoadConfig {
                connections: self.connections,
                warmup: self.warmup,
                stop,
                request_timeout: self.timeout,
                rate: self.rate,
            },
            keys: KeyConfig {
                count: self.keys,
                reuse_prefix: self.reuse_keys.then(|| self.key_prefix.clone()),
            },
            progress: !self.quiet,
        })
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The server: https://host:port (REST), or host:port (KMIP).
    #[arg(long, env = "KEYHOLD_ADDR")]
    addr: String,
    /// The CA certificate (PEM) to trust for it, and no other.
    #[arg(long, env = "KEYHOLD_CACERT")]
    cacert: PathBuf,
    /// REST: an admin token, which creates the benchmark's key-manager and key-user tokens.
    #[arg(
        long,
        visible_alias = "setup-token",
        env = "KEYHOLD_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// KMIP: the client certificate (PEM), allowed to create and use keys.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// KMIP: the client certificate's private key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
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
    /// Directory for the generated CA and certificates and the database.
    #[arg(long)]
    data_dir: PathBuf,
    /// Loopback address of the KMIP listener (mutual TLS; DATA_DIR/kmip-client.pem and .key
    /// are the client's certificate); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    kmip_listen: SocketAddr,
    /// No KMIP listener.
    #[arg(long)]
    no_kmip: bool,
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
    /// After each operation's windows, run each server in open loop at half of its own
    /// measured throughput and report the latency at that rate.
    #[arg(long)]
    half_load: bool,
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
    let settings = args.load.settings()?;
    let endpoint = match args.load.protocol {
        Protocol::Rest => {
            let token = args.token.as_deref().ok_or_else(|| {
                BenchError::Usage("--token (or KEYHOLD_TOKEN) is required over REST".into())
            })?;
            Endpoint::Rest(Target::new(
                "target",
                &args.addr,
                &args.cacert,
                token,
                args.allow_remote,
            )?)
        }
        Protocol::Kmip => {
            let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
                return Err(BenchError::Usage(
                    "--cert and --key (the client certificate) are required over KMIP".into(),
                ));
            };
            Endpoint::Kmip(KmipTarget::new(
                "target",
                &args.addr,
                &args.cacert,
                cert,
                key,
                args.allow_remote,
            )?)
        }
    };
    let report = bench::run(&endpoint, &settings).await?;
    print!("{}", report.table());
    write_json(args.load.json.as_deref(), &report)?;
    Ok(outcome(report.errors()))
}

async fn serve_baseline(args: BaselineArgs) -> Result<ExitCode, BenchError> {
    let running = baseline::start(BaselineConfig {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        kmip_listen: (!args.no_kmip).then_some(args.kmip_listen),
    })
    .await?;
    if let Some(kmip) = running.kmip_addr() {
        let (cert, key) = running.kmip_client();
        println!("baseline KMIP listening on kmip://{kmip} (mutual TLS)");
        println!("  KMIP client:    {} {}", cert.display(), key.display());
    }
    println!(
        "baseline listening on https://{} (no authentication, policy, store or audit)",
        running.addr()
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
    let settings = args.load.settings()?;
    let protocol = args.load.protocol;
    let baseline = ServerProcess::baseline(&bench_exe).await?;
    let keyhold = match ServerProcess::keyhold(&keyhold_exe, args.keyhold_log.as_deref()).await {
        Ok(k) => k,
        Err(e) => {
            let _ = baseline.stop().await;
            return Err(e);
        }
    };
    let result = async {
        let (b, k) = (baseline.endpoint(protocol)?, keyhold.endpoint(protocol)?);
        if settings.progress {
            eprintln!("baseline at {}, keyhold at {}", b.url(), k.url());
        }
        bench::compare(&b, &k, &settings, args.rounds, args.half_load).await
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
