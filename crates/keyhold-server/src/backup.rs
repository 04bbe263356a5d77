//! Backups on the server: the streaming REST endpoints and the scheduled backups.
//!
//! ```text
//!  POST /v1/backups           authorize ─► core writes the key backup into a pipe ─► 'K' frames
//!                             ─► 'E' KEK backup ─► 'S' summary (or 'X' error)      (see core wire)
//!  POST /v1/backups/restore   authorize ─► 'P' params, 'E' KEK backup, 'K'… spooled to a private
//!                             temporary file in the data directory (ciphertext only) ─► core
//!                             restore (verify all, then write) ─► JSON report
//!  scheduler                  every interval: core backup for the configured recipient ─► temp
//!                             files in the destination, fsync, rename, fsync dir ─► retention;
//!                             a failure is in /v1/health, /metrics and the audit trail
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;
use keyhold_core::backup::create::{self, ProtectionRequest};
use keyhold_core::backup::restore::{self, Recovered};
use keyhold_core::backup::wire::{self, CreateBackupRequest, FrameParser, Summary, UploadParams};
use keyhold_core::backup::{BackupKey, Report};
use keyhold_core::{Kms, KmsError};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::App;
use crate::rest::error::{ApiError, ApiJson};
use crate::rest::{AppState, Ctx};

/// The file names of a backup pair.
pub fn artifact_names(backup_id: &str) -> (String, String) {
    (
        format!("keyhold-backup-{backup_id}.keys"),
        format!("keyhold-backup-{backup_id}.keks"),
    )
}

/// Creates a backup; the answer is a stream of frames (see `keyhold_core::backup::wire`).
#[utoipa::path(post, path = "/v1/backups", tag = "backup", request_body = CreateBackupRequest,
    responses((status = 200, description = "frames: key backup, KEK backup, summary", content_type = "application/octet-stream")))]
pub async fn create_backup(
    State(app): AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<CreateBackupRequest>,
) -> Result<Response, ApiError> {
    let err = |e: KmsError| ApiError::from_kms(e, &ctx.meta.request_id);
    let bad = |e: KmsError| ApiError::unaudited(e, &ctx.meta.request_id);
    let protection = match (req.shares, req.recipient_public_key_pem) {
        (Some(s), None) => ProtectionRequest::Shares {
            threshold: s.threshold,
            shares: s.shares,
        },
        (None, Some(pem)) => ProtectionRequest::Recipient {
            spki_der: keyhold_crypto::Provider::aws_lc()
                .public_key_from_pem(&pem)
                .map_err(|_| {
                    bad(KmsError::invalid(
                        "recipient_public_key_pem is not a PEM public key",
                    ))
                })?,
        },
        _ => {
            return Err(bad(KmsError::invalid(
                "give exactly one of `shares` or `recipient_public_key_pem`",
            )))
        }
    };
    let caller = create::authorize(&app.kms, &ctx.meta, &ctx.credential, "backup.create")
        .await
        .map_err(err)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let kms = app.kms.clone();
    let meta = ctx.meta.clone();
    tokio::spawn(async move {
        let (writer, mut reader) = tokio::io::duplex(256 * 1024);
        let forward_tx = tx.clone();
        let forward = async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let frame = wire::frame(wire::KEY_BACKUP, &buf[..n]);
                        if forward_tx.send(Bytes::from(frame)).await.is_err() {
                            break; // the client went away; the writer fails next
                        }
                    }
                }
            }
        };
        let produce = create::create_as(&kms, &meta, &caller, protection, writer);
        let (result, ()) = tokio::join!(produce, forward);
        let tail = match result {
            Ok(created) => {
                metrics::counter!("keyhold_backups_total", "kind" => "on-demand", "outcome" => "ok").increment(1);
                let summary = Summary {
                    backup_id: created.backup_id.to_string(),
                    created_at: created.created_at,
                    counts: created.counts.clone(),
                    audit_head: created.audit_head.clone(),
                    key_backup_sha256: created.key_backup_sha256.clone(),
                    key_backup_bytes: created.key_backup_bytes,
                    shares: created.shares.iter().map(|s| s.to_string()).collect(),
                };
                let mut tail = wire::frame(wire::KEK_BACKUP, &created.kek_backup);
                tail.extend(wire::frame(
                    wire::SUMMARY,
                    &serde_json::to_vec(&summary).unwrap_or_default(),
                ));
                tail
            }
            Err(e) => {
                metrics::counter!("keyhold_backups_total", "kind" => "on-demand", "outcome" => "error").increment(1);
                tracing::warn!(request_id = %meta.request_id, error = %e, "backup failed");
                let body = serde_json::json!({"code": e.code(), "message": e.public_message()});
                wire::frame(wire::ERROR, body.to_string().as_bytes())
            }
        };
        let _ = tx.send(Bytes::from(tail)).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// An upload spooled to disk: parameters, KEK backup, and the key backup in a private
/// temporary file (deleted on drop).
struct Upload {
    params: UploadParams,
    kek_backup: Vec<u8>,
    key_backup: tempfile::NamedTempFile,
}

/// Reads an upload's frames from `body`.
async fn receive(body: Body, dir: &Path) -> Result<Upload, KmsError> {
    let bad = |m: &str| KmsError::invalid(format!("malformed backup upload: {m}"));
    let mut body = body;
    let mut parser = FrameParser::default();
    let mut params = None;
    let mut kek_backup = None;
    let tmp = tempfile::Builder::new()
        .prefix(".keyhold-restore-")
        .tempfile_in(dir)
        .map_err(|e| KmsError::invalid(format!("cannot spool the upload: {e}")))?;
    let mut file = tokio::fs::File::from_std(
        tmp.as_file()
            .try_clone()
            .map_err(|e| KmsError::invalid(format!("cannot spool the upload: {e}")))?,
    );
    let mut ended = false;
    loop {
        while let Some((tag, payload)) = parser.next_frame()? {
            match tag {
                wire::PARAMS if params.is_none() => {
                    params = Some(
                        serde_json::from_slice::<UploadParams>(&payload)
                            .map_err(|_| bad("parameters do not decode"))?,
                    );
                }
                wire::KEK_BACKUP if kek_backup.is_none() => kek_backup = Some(payload),
                wire::KEY_BACKUP => file
                    .write_all(&payload)
                    .await
                    .map_err(|e| KmsError::invalid(format!("cannot spool the upload: {e}")))?,
                wire::END => ended = true,
                _ => return Err(bad("unexpected frame")),
            }
        }
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    parser.push(&data);
                }
            }
            Some(Err(_)) => return Err(bad("the upload was interrupted")),
        }
    }
    if !ended || parser.has_partial() {
        return Err(bad("the upload ended early"));
    }
    file.flush()
        .await
        .map_err(|e| KmsError::invalid(format!("cannot spool the upload: {e}")))?;
    Ok(Upload {
        params: params.ok_or_else(|| bad("no parameters"))?,
        kek_backup: kek_backup.ok_or_else(|| bad("no KEK backup"))?,
        key_backup: tmp,
    })
}

/// Restores a backup into this server, which must hold no key.
#[utoipa::path(post, path = "/v1/backups/restore", tag = "backup",
    responses((status = 200, description = "what was restored"), (status = 400, body = crate::rest::error::ErrorBody)))]
pub async fn restore_backup(
    State(app): AppState,
    ctx: Ctx,
    body: Body,
) -> Result<Json<Report>, ApiError> {
    let err = |e: KmsError| ApiError::from_kms(e, &ctx.meta.request_id);
    let caller = create::authorize(&app.kms, &ctx.meta, &ctx.credential, "backup.restore")
        .await
        .map_err(err)?;
    let bad = |e: KmsError| ApiError::unaudited(e, &ctx.meta.request_id);
    let upload = receive(body, &app.config.data_dir).await.map_err(bad)?;
    let key =
        BackupKey::from_bytes(upload.params.backup_key.0.clone()).map_err(|e| bad(e.into()))?;
    restore::restore_as(
        &app.kms,
        &ctx.meta,
        &caller,
        key,
        &upload.kek_backup,
        upload.key_backup.path(),
        &|_| {},
    )
    .await
    .map(Json)
    .map_err(err)
}

/// Recovers one key from a backup into this server.
#[utoipa::path(post, path = "/v1/backups/recover-key", tag = "backup",
    responses((status = 200, description = "what was recovered"), (status = 409, body = crate::rest::error::ErrorBody)))]
pub async fn recover_key(
    State(app): AppState,
    ctx: Ctx,
    body: Body,
) -> Result<Json<Recovered>, ApiError> {
    let err = |e: KmsError| ApiError::from_kms(e, &ctx.meta.request_id);
    let caller = create::authorize(&app.kms, &ctx.meta, &ctx.credential, "backup.recover-key")
        .await
        .map_err(err)?;
    let bad = |e: KmsError| ApiError::unaudited(e, &ctx.meta.request_id);
    let upload = receive(body, &app.config.data_dir).await.map_err(bad)?;
    let key_id = upload
        .params
        .key_id
        .ok_or_else(|| bad(KmsError::invalid("recover-key needs the key id")))?;
    let key =
        BackupKey::from_bytes(upload.params.backup_key.0.clone()).map_err(|e| bad(e.into()))?;
    restore::recover_key_as(
        &app.kms,
        &ctx.meta,
        &caller,
        key,
        &upload.kek_backup,
        upload.key_backup.path(),
        key_id,
    )
    .await
    .map(Json)
    .map_err(err)
}

/// Scheduled backups, from `[backup]` in the configuration.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Time between backups.
    pub interval: Duration,
    /// Where the artifacts go.
    pub dir: PathBuf,
    /// How many backups to keep.
    pub retain: usize,
    /// The recipient public key (SubjectPublicKeyInfo DER) that protects each backup key.
    pub recipient_spki: Vec<u8>,
}

/// What `/v1/health` says about scheduled backups.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct BackupHealth {
    /// `ok`, `failing`, or `pending` before the first one.
    pub status: &'static str,
    /// The last successful backup.
    pub last_success: Option<String>,
    /// When it was taken (RFC 3339).
    pub last_success_at: Option<String>,
    /// When the last failure happened (RFC 3339), if the last attempt failed.
    pub last_failure_at: Option<String>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// Failures since start.
    pub failures: u64,
}

/// The scheduler's state, shared with health.
pub type BackupState = Arc<Mutex<BackupHealth>>;

/// Runs scheduled backups forever.
pub async fn schedule_forever(app: Arc<App>, schedule: Schedule, state: BackupState) {
    let mut tick = crate::app::ticker(schedule.interval);
    tick.tick().await; // the first tick is immediate: wait one interval first
    loop {
        tick.tick().await;
        let result = scheduled_once(&app.kms, &schedule).await;
        let now = keyhold_core::clock::Clock::now(&keyhold_core::clock::SystemClock).to_rfc3339();
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(id) => {
                metrics::counter!("keyhold_backups_total", "kind" => "scheduled", "outcome" => "ok").increment(1);
                metrics::gauge!("keyhold_backup_last_success_timestamp_seconds").set(unix_now());
                metrics::gauge!("keyhold_backup_failing").set(0.0);
                tracing::info!(backup_id = %id, "scheduled backup written");
                s.status = "ok";
                s.last_success = Some(id);
                s.last_success_at = Some(now);
                s.last_failure_at = None;
                s.last_error = None;
            }
            Err(e) => {
                metrics::counter!("keyhold_backups_total", "kind" => "scheduled", "outcome" => "error").increment(1);
                metrics::gauge!("keyhold_backup_failing").set(1.0);
                tracing::error!(error = %e, "scheduled backup failed");
                s.status = "failing";
                s.failures += 1;
                s.last_failure_at = Some(now);
                s.last_error = Some(e);
            }
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One scheduled backup: write both artifacts durably, then apply retention. Returns the id.
/// Every failure is audited (`backup.scheduled`, outcome error).
pub async fn scheduled_once(kms: &Kms, schedule: &Schedule) -> Result<String, String> {
    let result = write_scheduled(kms, schedule).await;
    if let Err((message, audited)) = &result {
        if !audited {
            if let Err(e) = create::record_scheduled_failure(kms, message).await {
                tracing::error!(error = %e, "could not audit a failed scheduled backup");
            }
        }
    }
    result.map_err(|(m, _)| m)
}

/// Writes one scheduled backup; an error says whether the core already audited it.
async fn write_scheduled(kms: &Kms, schedule: &Schedule) -> Result<String, (String, bool)> {
    let fail = |what: &str, e: &dyn std::fmt::Display| (format!("{what}: {e}"), false);
    let dir = &schedule.dir;
    let tmp_keys = tempfile::Builder::new()
        .prefix(".keyhold-backup-")
        .tempfile_in(dir)
        .map_err(|e| fail(&format!("cannot write in {}", dir.display()), &e))?;
    let file = tokio::fs::File::from_std(
        tmp_keys
            .as_file()
            .try_clone()
            .map_err(|e| fail("temporary file", &e))?,
    );
    let created = match create::create_scheduled(kms, schedule.recipient_spki.clone(), file).await {
        Ok(c) => c,
        Err(e) => return Err((e.to_string(), true)),
    };
    let tmp_keks = tempfile::Builder::new()
        .prefix(".keyhold-backup-")
        .tempfile_in(dir)
        .map_err(|e| fail("temporary file", &e))?;
    std::fs::write(tmp_keks.path(), &created.kek_backup).map_err(|e| fail("KEK backup", &e))?;
    let (keys_name, keks_name) = artifact_names(&created.backup_id.to_string());
    persist(tmp_keys, &dir.join(keys_name)).map_err(|e| fail("key backup", &e))?;
    persist(tmp_keks, &dir.join(keks_name)).map_err(|e| fail("KEK backup", &e))?;
    sync_dir(dir).map_err(|e| fail("directory", &e))?;
    retain(dir, schedule.retain).map_err(|e| fail("retention", &e))?;
    Ok(created.backup_id.to_string())
}

/// fsync, then rename into place.
fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Keeps the newest `keep` backup pairs (ids are time-ordered) and deletes older ones.
fn retain(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("keyhold-backup-")
                .and_then(|r| r.strip_suffix(".keks"))
                .map(str::to_owned)
        })
        .collect();
    ids.sort();
    let excess = ids.len().saturating_sub(keep);
    for id in &ids[..excess] {
        let (keys, keks) = artifact_names(id);
        // The KEK backup goes first: a key backup without it is inert.
        let _ = std::fs::remove_file(dir.join(keks));
        let _ = std::fs::remove_file(dir.join(keys));
    }
    if excess > 0 {
        sync_dir(dir)?;
    }
    Ok(())
}
