//! The running server's state: the core, unseal progress, metrics; start-up and sealing.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use keyhold_core::clock::SystemClock;
use keyhold_core::ids::PrincipalName;
use keyhold_core::{Credential, Kms, KmsError, Operation, RequestMeta, Response, SecretBytes};
use keyhold_crypto::shamir::Share;
use keyhold_root::software::Submitted;
use keyhold_root::{SealConfig, ShamirRoot, UnsealProgress};
use keyhold_store::SqlStore;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;

use crate::config::Config;
use crate::metrics::RequestMetrics;

pub use keyhold_root::SEAL_CONFIG;
/// The database file inside the data directory.
pub const DB_FILE: &str = "keyhold.db";

/// Start-up failures, each with a message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration refused.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The core refused.
    #[error("{0}")]
    Kms(#[from] KmsError),
    /// A file or socket failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Anything else the operator must fix.
    #[error("{0}")]
    Other(String),
}

impl StartError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
        let what = what.into();
        move |source| StartError::Io { what, source }
    }
}

/// Health as reported on `/v1/health`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the process answers; `degraded` while scheduled backups fail or a restore is
    /// interrupted (it still serves).
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// A root key exists.
    pub initialized: bool,
    /// The root key is not in memory.
    pub sealed: bool,
    /// Unseal progress while sealed.
    pub unseal: Option<UnsealState>,
    /// Scheduled backups, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::backup::BackupHealth>,
    /// A restore begun and not finished: the keys it wrote so far cannot be used until it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreHealth>,
}

/// A restore begun and not finished.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RestoreHealth {
    /// The backup being restored.
    pub backup_id: String,
    /// When its first run started (RFC 3339).
    pub started_at: String,
    /// Runs so far (one more per resume).
    pub runs: u32,
    /// `running` while this server writes it; `interrupted` otherwise: run the same restore
    /// again (same key backup and KEK backup) to finish it.
    pub state: &'static str,
}

/// Unseal progress.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct UnsealState {
    /// Whether the server is still sealed.
    pub sealed: bool,
    /// Distinct shares submitted.
    pub submitted: u8,
    /// Shares needed.
    pub threshold: u8,
}

/// The server's shared state.
pub struct App {
    /// The core.
    pub kms: Arc<Kms>,
    /// The validated configuration.
    pub config: Config,
    /// The request metrics and the Prometheus rendering.
    pub metrics: RequestMetrics,
    /// Scheduled backups' state (for health).
    pub backup: crate::backup::BackupState,
    unseal: Mutex<Option<UnsealProgress>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens the data directory's database and the core (sealed).
    pub async fn open(config: Config, metrics: PrometheusHandle) -> Result<Self, StartError> {
        create_private_dir(&config.data_dir)?;
        let store = SqlStore::open_sqlite(&config.data_dir.join(DB_FILE))
            .await
            .map_err(|e| {
                StartError::Other(format!(
                    "cannot open the database in {}: {e}",
                    config.data_dir.display()
                ))
            })?;
        let kms = Kms::open(
            Arc::new(store),
            keyhold_crypto::Provider::aws_lc(),
            Arc::new(SystemClock),
            config.kms.clone(),
        )
        .await?;
        kms.set_root_factory(Arc::new(keyhold_root::ShamirFactory));
        Ok(Self {
            kms: Arc::new(kms),
            config,
            metrics: RequestMetrics::new(metrics),
            backup: Default::default(),
            unseal: Mutex::new(None),
        })
    }

    /// Initializes a new installation: root key sealed under a fresh M-of-N unseal key.
    /// Returns the shares and the first admin token; neither is stored.
    pub async fn initialize(
        &self,
        shares: u8,
        threshold: u8,
    ) -> Result<(Vec<Share>, SecretBytes), StartError> {
        let (root, parts, seal) = ShamirRoot::generate(shares, threshold)?;
        let seal_json = serde_json::to_vec(&seal).map_err(|e| StartError::Other(e.to_string()))?;
        let token = self
            .kms
            .initialize(
                &root,
                PrincipalName::try_from("admin".to_owned())?,
                vec![(SEAL_CONFIG.to_owned(), seal_json)],
            )
            .await?;
        Ok((parts, token))
    }

    /// The seal configuration written at initialization.
    pub async fn seal_config(&self) -> Result<Option<SealConfig>, KmsError> {
        let Some(raw) = self.kms.system_value(SEAL_CONFIG).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| KmsError::Integrity("seal configuration does not decode"))
    }

    /// Submits one unseal share. At the threshold the shares are combined and tried; a wrong
    /// combination resets the progress. Refused shares are audited.
    pub async fn submit_share(
        &self,
        meta: &RequestMeta,
        text: &str,
    ) -> Result<UnsealState, KmsError> {
        let result = self.try_share(text).await;
        if let Err(e) = &result {
            self.kms.record_failure(meta, "system.unseal", e).await?;
        }
        result
    }

    async fn try_share(&self, text: &str) -> Result<UnsealState, KmsError> {
        let config = self.seal_config().await?.ok_or(KmsError::invalid(
            "the server is not initialized; run `keyhold init`",
        ))?;
        if self.kms.is_unsealed() {
            return Ok(UnsealState {
                sealed: false,
                submitted: 0,
                threshold: config.threshold,
            });
        }
        let submitted = {
            let mut guard = self.unseal.lock().unwrap_or_else(|e| e.into_inner());
            let progress = guard.get_or_insert_with(|| UnsealProgress::new(config.threshold));
            progress.submit(text)?
        };
        match submitted {
            Submitted::Need {
                submitted,
                threshold,
            } => Ok(UnsealState {
                sealed: true,
                submitted,
                threshold,
            }),
            Submitted::Ready(root) => {
                self.kms.unseal(&root).await?;
                tracing::info!("unsealed");
                metrics::gauge!("keyhold_sealed").set(0.0);
                Ok(UnsealState {
                    sealed: false,
                    submitted: config.threshold,
                    threshold: config.threshold,
                })
            }
        }
    }

    /// Health and seal status.
    pub async fn health(&self) -> Result<Health, KmsError> {
        let status = self.kms.seal_status().await?;
        let unseal = match (status.sealed, self.seal_config().await?) {
            (true, Some(cfg)) => {
                let guard = self.unseal.lock().unwrap_or_else(|e| e.into_inner());
                Some(UnsealState {
                    sealed: true,
                    submitted: guard.as_ref().map_or(0, |p| p.submitted()),
                    threshold: cfg.threshold,
                })
            }
            _ => None,
        };
        let backup = self.config.backup.as_ref().map(|_| {
            let mut h = self
                .backup
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if h.status.is_empty() {
                h.status = "pending";
            }
            h
        });
        let failing = backup.as_ref().is_some_and(|b| b.status == "failing");
        // The store is readable sealed or not; a marker that does not decode is logged, not
        // allowed to take health down.
        let restore = match keyhold_core::backup::restore::in_progress(&self.kms).await {
            Ok(r) => r.map(|r| RestoreHealth {
                backup_id: r.backup_id.to_string(),
                started_at: r.started_at.to_rfc3339(),
                runs: r.runs,
                state: if r.running_here {
                    "running"
                } else {
                    "interrupted"
                },
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the state of restores");
                None
            }
        };
        let interrupted = restore.as_ref().is_some_and(|r| r.state == "interrupted");
        Ok(Health {
            status: if failing || interrupted {
                "degraded"
            } else {
                "ok"
            },
            version: env!("CARGO_PKG_VERSION"),
            initialized: status.initialized,
            sealed: status.sealed,
            unseal,
            backup,
            restore,
        })
    }

    /// Runs an operation through the core, recording its metrics (REST and KMIP alike).
    pub async fn run(
        &self,
        meta: &RequestMeta,
        credential: &Credential,
        op: Operation,
    ) -> Result<Response, KmsError> {
        let action = op.action();
        let start = Instant::now();
        let result = self.kms.run(meta, credential, op).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        };
        self.metrics.record(action, outcome, start.elapsed());
        result
    }

    /// Runs the sweeper forever at the configured interval.
    pub async fn sweep_forever(self: Arc<Self>) {
        let mut tick = ticker(self.config.sweep_interval);
        loop {
            tick.tick().await;
            match self.kms.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "sweeper applied due transitions"),
                Err(e) => tracing::warn!(error = %e, "sweeper failed; will retry"),
            }
        }
    }

    /// Drains the metrics recorder's pending samples forever (see [`RequestMetrics::upkeep`]),
    /// on the blocking pool: not on an async worker, where the requests queued behind it
    /// would wait.
    pub async fn metrics_upkeep_forever(self: Arc<Self>) {
        let mut tick = ticker(crate::metrics::UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            let app = self.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || app.metrics.upkeep()).await {
                tracing::warn!(error = %e, "metrics upkeep failed");
            }
        }
    }

    /// Checkpoints the audit chain forever at the configured interval, starting now (see
    /// `keyhold_core::checkpoint`); a checkpoint is written only when the chain moved.
    pub async fn checkpoint_forever(self: Arc<Self>) {
        let mut tick = ticker(self.config.audit_checkpoint_interval);
        loop {
            tick.tick().await;
            if let Err(e) = self.kms.audit_checkpoint().await {
                tracing::warn!(error = %e, "audit checkpoint failed; will retry");
            }
        }
    }
}

/// An interval for a background task: it ticks at once, then every `period`; a tick missed
/// while the task was busy is delayed, not made up in a burst.
pub(crate) fn ticker(period: std::time::Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Creates a directory readable only by its owner (if missing).
pub fn create_private_dir(dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(StartError::io(format!(
            "cannot create data directory {}",
            dir.display()
        )))
}

/// Writes a file readable only by its owner, replacing any previous content.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
