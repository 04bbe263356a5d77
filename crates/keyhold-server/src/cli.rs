//! `keyhold serve` and `keyhold init`: start-up paths shared by the binary and the tests.
//!
//! ```text
//!  serve --dev:  data dir (default ./keyhold-dev) ─ first start? init 1-of-1, keep the share
//!                in the dir ─ unseal with it ─ TLS files ─ print address, token, CA ─ listen
//!  init:         data dir ─ root key sealed by M-of-N shares ─ TLS files ─ print shares + token once
//!  serve:        data dir ─ start sealed ─ listen (unseal with `keyhold unseal`, M times)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyhold_crypto::shamir::Share;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tokio::net::TcpListener;

pub use crate::app::StartError;
use crate::app::{write_private_file, App};
use crate::config::{Config, LogFormat, RawConfig, RawLimits, RawTls};
use crate::tls::{self, TlsPaths};

/// Options shared by `serve` and `init`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file (default: DATA_DIR/keyhold.toml if present).
    #[arg(long, env = "KEYHOLD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: database, certificates.
    #[arg(long, env = "KEYHOLD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8443.
    #[arg(long, env = "KEYHOLD_LISTEN")]
    pub listen: Option<String>,
    /// TLS certificate chain (PEM); generated when absent.
    #[arg(long, env = "KEYHOLD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "KEYHOLD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Log filter (info, debug, …).
    #[arg(long, env = "KEYHOLD_LOG")]
    pub log: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "KEYHOLD_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// `keyhold serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Development mode: initialize and unseal automatically (never for production data).
    #[arg(long)]
    pub dev: bool,
    /// KMIP (mutual TLS) listen address, e.g. 127.0.0.1:5696, or `off`.
    #[arg(long, env = "KEYHOLD_KMIP_LISTEN")]
    pub kmip_listen: Option<String>,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `keyhold init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Unseal shares to hand out (N).
    #[arg(long, default_value_t = 5)]
    pub shares: u8,
    /// Shares needed to unseal (M).
    #[arg(long, default_value_t = 3)]
    pub threshold: u8,
    /// Print the shares and token as JSON.
    #[arg(long)]
    pub json: bool,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

const DEV_SHARE: &str = "dev-unseal.share";
const ADMIN_TOKEN: &str = "admin.token";
const KMIP_CLIENT_CERT: &str = "kmip-client.pem";
const KMIP_CLIENT_KEY: &str = "kmip-client.key";

/// Layers flags/env over the configuration file and validates.
pub fn load_config(common: &CommonArgs, default_data_dir: &Path) -> Result<Config, StartError> {
    let flags = RawConfig {
        listen: common.listen.clone(),
        data_dir: common.data_dir.clone(),
        tls: RawTls {
            cert: common.tls_cert.clone(),
            key: common.tls_key.clone(),
        },
        limits: RawLimits::default(),
        log: common.log.clone(),
        log_format: common.log_format.clone(),
        ..RawConfig::default()
    };
    let file = match &common.config {
        Some(path) => RawConfig::from_file(path)?,
        None => {
            let dir = common
                .data_dir
                .clone()
                .unwrap_or_else(|| default_data_dir.to_owned());
            let implicit = dir.join("keyhold.toml");
            if implicit.is_file() {
                RawConfig::from_file(&implicit)?
            } else {
                RawConfig::default()
            }
        }
    };
    Ok(flags.or(file).validate(default_data_dir)?)
}

fn init_logging(config: &Config) {
    // `Config::validate` refused a filter that does not parse.
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn metrics_recorder() -> PrometheusHandle {
    let recorder = crate::metrics::recorder();
    let handle = recorder.handle();
    // A second server in the same process (tests) keeps the first recorder.
    let _ = metrics::set_global_recorder(recorder);
    handle
}

fn ensure_tls(config: &Config) -> Result<(PathBuf, PathBuf, Option<PathBuf>), StartError> {
    match &config.tls_files {
        Some((cert, key)) => Ok((cert.clone(), key.clone(), None)),
        None => {
            let paths = TlsPaths::in_dir(&config.data_dir);
            tls::ensure_generated(&paths, &tls::default_hosts(&config.listen))?;
            Ok((paths.server_cert, paths.server_key, Some(paths.ca_cert)))
        }
    }
}

/// What `init` hands out once.
#[derive(Debug, Serialize)]
struct InitOutput {
    data_dir: PathBuf,
    threshold: u8,
    shares: Vec<String>,
    admin_token: String,
    ca_cert: Option<PathBuf>,
}

/// `keyhold init`: creates the root key and prints the unseal shares and first admin token.
pub async fn init(args: InitArgs) -> Result<(), StartError> {
    let config = load_config(&args.common, Path::new("./keyhold-data"))?;
    init_logging(&config);
    crate::hardening::disable_core_dumps();
    let app = App::open(config.clone(), metrics_recorder()).await?;
    if app.kms.seal_status().await?.initialized {
        return Err(StartError::Other(format!(
            "{} is already initialized; start it with `keyhold serve --data-dir {}`",
            config.data_dir.display(),
            config.data_dir.display()
        )));
    }
    let (_, _, ca) = ensure_tls(&config)?;
    let (shares, token) = app.initialize(args.shares, args.threshold).await?;
    let out = InitOutput {
        data_dir: config.data_dir.clone(),
        threshold: args.threshold,
        shares: shares.iter().map(Share::to_text).collect(),
        admin_token: String::from_utf8_lossy(token.as_bytes()).into_owned(),
        ca_cert: ca,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| StartError::Other(e.to_string()))?
        );
    } else {
        println!("Keyhold initialized in {}.", out.data_dir.display());
        println!();
        println!(
            "Unseal shares: {} of {} are needed to unseal. Give each to a different person.",
            out.threshold,
            out.shares.len()
        );
        println!("They are shown only now and stored nowhere:");
        for (i, s) in out.shares.iter().enumerate() {
            println!("  share {}: {s}", i + 1);
        }
        println!();
        println!("Initial admin token (shown only now):");
        println!("  {}", out.admin_token);
        if let Some(ca) = &out.ca_cert {
            println!();
            println!("CA certificate for clients: {}", ca.display());
        }
        println!();
        println!(
            "Start with `keyhold serve --data-dir {}` and unseal with `keyhold unseal`.",
            out.data_dir.display()
        );
    }
    Ok(())
}

/// `keyhold serve [--dev]`.
pub async fn serve(args: ServeArgs) -> Result<(), StartError> {
    let config = load_config(
        &args.common,
        Path::new(if args.dev {
            "./keyhold-dev"
        } else {
            "./keyhold-data"
        }),
    )?;
    init_logging(&config);
    if !crate::hardening::disable_core_dumps() {
        tracing::warn!("could not disable core dumps");
    }
    let mut config = config;
    if let Some(k) = &args.kmip_listen {
        config.kmip_listen = crate::config::kmip_address(k)?;
    }
    let app = Arc::new(App::open(config.clone(), metrics_recorder()).await?);
    let (cert, key, ca) = ensure_tls(&config)?;
    let tls_config = tls::rest_server_config(&cert, &key, app.kms.clone())?;
    if args.dev {
        dev_bootstrap(&app, &config).await?;
        if config.tls_files.is_none() && config.kmip_listen.is_some() {
            dev_kmip_client(&app, &config).await?;
        }
    } else if !app.kms.seal_status().await?.initialized {
        return Err(StartError::Other(format!(
            "{} is not initialized: run `keyhold init --data-dir {}` first (or `keyhold serve --dev` to try Keyhold)",
            config.data_dir.display(),
            config.data_dir.display()
        )));
    }
    metrics::gauge!("keyhold_sealed").set(if app.kms.is_unsealed() { 0.0 } else { 1.0 });
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(StartError::io(format!(
            "cannot listen on {}",
            config.listen
        )))?;
    let address = format!(
        "https://{}",
        listener.local_addr().map_err(StartError::io("listener"))?
    );
    if args.dev {
        println!("Keyhold (development mode) listening on {address}");
        println!("  warning: development mode keeps its unseal share in the data directory; use `keyhold init` for real keys");
        println!(
            "  admin token:    {}",
            config.data_dir.join(ADMIN_TOKEN).display()
        );
        if let Ok(t) = std::fs::read_to_string(config.data_dir.join(ADMIN_TOKEN)) {
            println!("                  {}", t.trim());
        }
        if let Some(ca) = &ca {
            println!("  CA certificate: {}", ca.display());
        }
        println!(
            "  export KEYHOLD_ADDR={address} KEYHOLD_CACERT={} KEYHOLD_TOKEN=$(cat {})",
            ca.as_deref().unwrap_or(Path::new("ca.pem")).display(),
            config.data_dir.join(ADMIN_TOKEN).display()
        );
    } else {
        println!(
            "Keyhold listening on {address} ({})",
            if app.kms.is_unsealed() {
                "unsealed"
            } else {
                "sealed: run `keyhold unseal`"
            }
        );
    }
    tracing::info!(%address, data_dir = %config.data_dir.display(), "listening");
    let kmip_listener = match config.kmip_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(StartError::io(format!("cannot listen on {addr} (KMIP)")))?;
            let bound = l.local_addr().map_err(StartError::io("KMIP listener"))?;
            println!("KMIP listening on kmip://{bound} (mutual TLS)");
            if args.dev {
                println!(
                    "  KMIP client:    {} {}",
                    config.data_dir.join(KMIP_CLIENT_CERT).display(),
                    config.data_dir.join(KMIP_CLIENT_KEY).display()
                );
            }
            Some(l)
        }
        None => None,
    };
    let sweeper = tokio::spawn(app.clone().sweep_forever());
    let checkpointer = tokio::spawn(app.clone().checkpoint_forever());
    let upkeep = tokio::spawn(app.clone().metrics_upkeep_forever());
    let scheduler = config.backup.clone().map(|schedule| {
        tracing::info!(dir = %schedule.dir.display(), every = ?schedule.interval, "scheduled backups");
        tokio::spawn(crate::backup::schedule_forever(app.clone(), schedule, app.backup.clone()))
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    if let Some(listener) = kmip_listener {
        let kmip_tls = tls::mtls_server_config(&cert, &key, app.kms.clone())?;
        let limits = crate::kmip::KmipLimits {
            handshake_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            ttlv: keyhold_kmip::Limits::DEFAULT,
        };
        tokio::spawn(crate::kmip::serve(
            listener,
            kmip_tls,
            app.clone(),
            limits,
            stop_rx.clone(),
        ));
    }
    let limits = crate::http::Limits {
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
    };
    crate::http::serve(
        listener,
        tls_config,
        crate::rest::router(app.clone()),
        limits,
        stop_rx,
    )
    .await
    .map_err(StartError::io("server"))?;
    sweeper.abort();
    checkpointer.abort();
    upkeep.abort();
    if let Some(s) = scheduler {
        s.abort();
    }
    // The last events are anchored before the root key leaves memory.
    if let Err(e) = app.kms.audit_checkpoint().await {
        tracing::warn!(error = %e, "final audit checkpoint failed");
    }
    app.kms.seal().await.ok();
    Ok(())
}

/// First dev start: initialize with a single share kept in the data directory; later starts:
/// unseal with it. Writes `admin.token`.
async fn dev_bootstrap(app: &App, config: &Config) -> Result<(), StartError> {
    let share_path = config.data_dir.join(DEV_SHARE);
    if !app.kms.seal_status().await?.initialized {
        let (shares, token) = app.initialize(1, 1).await?;
        let share = shares.first().map(Share::to_text).unwrap_or_default();
        write_private_file(&share_path, share.as_bytes())
            .map_err(StartError::io("writing the dev unseal share"))?;
        write_private_file(&config.data_dir.join(ADMIN_TOKEN), token.as_bytes())
            .map_err(StartError::io("writing admin.token"))?;
        return Ok(());
    }
    let share = std::fs::read_to_string(&share_path).map_err(StartError::io(format!(
        "{} was not made by `serve --dev` (no {DEV_SHARE}); use `keyhold serve` and `keyhold unseal`",
        config.data_dir.display()
    )))?;
    app.submit_share(&keyhold_core::RequestMeta::internal(), share.trim())
        .await?;
    Ok(())
}

/// Dev mode: a client certificate for KMIP clients, issued by the dev CA and registered for a
/// principal that both manages and uses keys (`kmip-client`, which the development tenant's
/// duties setting allows), written next to `ca.pem`.
async fn dev_kmip_client(app: &App, config: &Config) -> Result<(), StartError> {
    let cert_path = config.data_dir.join(KMIP_CLIENT_CERT);
    let key_path = config.data_dir.join(KMIP_CLIENT_KEY);
    if cert_path.exists() && key_path.exists() {
        return Ok(());
    }
    let paths = TlsPaths::in_dir(&config.data_dir);
    let (cert_pem, key_pem, der) = tls::issue_client_cert(&paths, "kmip-client")?;
    let token = std::fs::read_to_string(config.data_dir.join(ADMIN_TOKEN))
        .map_err(StartError::io("reading admin.token"))?;
    let parsed = crate::certs::parse_der(&der)?;
    let admin = keyhold_core::Credential::Bearer(keyhold_core::SecretBytes::new(
        token.trim().as_bytes().to_vec(),
    ));
    // The development tenant lets one principal manage and use keys (KMIP clients work so);
    // a production tenant separates duties unless an administrator changes the setting.
    app.kms
        .run(
            &keyhold_core::RequestMeta::internal(),
            &admin,
            keyhold_core::Operation::SetDuties(keyhold_core::ops::SetDuties {
                allow_combined_duties: true,
                expected_version: None,
            }),
        )
        .await?;
    let op = keyhold_core::Operation::RegisterClientCert(keyhold_core::ops::RegisterClientCert {
        certificate: der,
        subject: parsed.subject,
        not_after: parsed.not_after,
        principal: "kmip-client".parse()?,
        roles: keyhold_core::model::Roles::of(&[
            keyhold_core::model::Role::KeyManager,
            keyhold_core::model::Role::KeyUser,
        ]),
        allow_combined_duties: true,
        description: "development KMIP client (serve --dev)".into(),
    });
    app.kms
        .run(&keyhold_core::RequestMeta::internal(), &admin, op)
        .await?;
    write_private_file(&key_path, key_pem.as_bytes())
        .map_err(StartError::io("writing kmip-client.key"))?;
    std::fs::write(&cert_path, cert_pem).map_err(StartError::io("writing kmip-client.pem"))?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
}
