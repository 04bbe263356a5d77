//! Backups through the server: create (the server streams both artifacts), restore and Recover
//! Key (the client uploads them with the backup key it opened). Frames are
//! `keyhold_core::backup::wire`'s.

use std::time::Duration;

use keyhold_core::backup::restore::Recovered;
use keyhold_core::backup::wire::{self, CreateBackupRequest, FrameParser, Summary, UploadParams};
use keyhold_core::backup::{BackupError, BackupKey, Report};
use keyhold_core::ids::KeyId;
use keyhold_core::ops::SecretData;
use keyhold_crypto::SecretBytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Client, ClientError};

/// A backup or restore can take long: this bounds it instead of the client's usual timeout.
const LONG: Duration = Duration::from_secs(24 * 3600);

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupClientError {
    /// The server refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server reported a failure in the middle of the backup.
    #[error("the backup failed on the server: {0}")]
    Failed(String),
    /// The answer or an artifact is malformed.
    #[error(transparent)]
    Format(#[from] BackupError),
    /// Writing an artifact failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The stream ended before the backup was complete.
    #[error("the connection ended before the backup was complete; nothing was kept")]
    Incomplete,
}

/// Creates a backup: writes the key backup to `key_out` as it arrives and returns the KEK
/// backup and the summary. On any error the output must be discarded. `progress` gets the key
/// backup bytes received so far.
pub async fn create<W: AsyncWrite + Unpin>(
    client: &Client,
    req: &CreateBackupRequest,
    mut key_out: W,
    progress: &mut dyn FnMut(u64),
) -> Result<(Vec<u8>, Summary), BackupClientError> {
    let body = serde_json::to_vec(req).map_err(ClientError::Encode)?;
    let resp = client
        .raw(reqwest::Method::POST, &["v1", "backups"], LONG)?
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(ClientError::Transport)?;
    let mut resp = Client::checked(resp).await?;
    let mut parser = FrameParser::default();
    let mut kek = None;
    let mut received = 0u64;
    loop {
        while let Some((tag, payload)) = parser.next_frame()? {
            match tag {
                wire::KEY_BACKUP if kek.is_none() => {
                    key_out.write_all(&payload).await?;
                    received += payload.len() as u64;
                    progress(received);
                }
                wire::KEK_BACKUP if kek.is_none() => kek = Some(payload),
                wire::SUMMARY => {
                    let summary: Summary = serde_json::from_slice(&payload)
                        .map_err(|e| BackupError::BadHeader(format!("summary: {e}")))?;
                    key_out.flush().await?;
                    return Ok((kek.ok_or(BackupClientError::Incomplete)?, summary));
                }
                wire::ERROR => {
                    let v: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
                    return Err(BackupClientError::Failed(format!(
                        "{}: {}",
                        v["code"].as_str().unwrap_or("error"),
                        v["message"].as_str().unwrap_or("unknown")
                    )));
                }
                _ => {
                    return Err(
                        BackupError::BadHeader("unexpected frame from the server".into()).into(),
                    )
                }
            }
        }
        match resp.chunk().await.map_err(ClientError::Transport)? {
            Some(chunk) => parser.push(&chunk),
            None => return Err(BackupClientError::Incomplete),
        }
    }
}

/// Uploads a pair with the backup key: a full restore (`key_id` `None`) or Recover Key.
async fn upload<R: AsyncRead + Unpin + Send + 'static>(
    client: &Client,
    path: &str,
    key: &BackupKey,
    key_id: Option<KeyId>,
    kek_backup: &[u8],
    mut key_backup: R,
    progress: Box<dyn FnMut(u64) + Send>,
) -> Result<reqwest::Response, BackupClientError> {
    let params = UploadParams {
        backup_key: SecretData(SecretBytes::new(key.as_bytes().to_vec())),
        key_id,
    };
    let params = zeroize::Zeroizing::new(serde_json::to_vec(&params).map_err(ClientError::Encode)?);
    let mut head = wire::frame(wire::PARAMS, &params);
    head.extend(wire::frame(wire::KEK_BACKUP, kek_backup));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let mut progress = progress;
    tokio::spawn(async move {
        if tx.send(Ok(head)).await.is_err() {
            return;
        }
        let mut buf = vec![0u8; 256 * 1024];
        let mut sent = 0u64;
        loop {
            match key_backup.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    progress(sent);
                    if tx
                        .send(Ok(wire::frame(wire::KEY_BACKUP, &buf[..n])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
        let _ = tx.send(Ok(wire::frame(wire::END, &[]))).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let resp = client
        .raw(reqwest::Method::POST, &["v1", "backups", path], LONG)?
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(ClientError::Transport)?;
    Ok(Client::checked(resp).await?)
}

/// Restores a pair into an empty server.
pub async fn restore<R: AsyncRead + Unpin + Send + 'static>(
    client: &Client,
    key: &BackupKey,
    kek_backup: &[u8],
    key_backup: R,
    progress: Box<dyn FnMut(u64) + Send>,
) -> Result<Report, BackupClientError> {
    let resp = upload(
        client, "restore", key, None, kek_backup, key_backup, progress,
    )
    .await?;
    let body = resp.bytes().await.map_err(ClientError::Transport)?;
    serde_json::from_slice(&body).map_err(|source| {
        ClientError::Decode {
            source,
            request_id: None,
        }
        .into()
    })
}

/// Recovers one key from a pair into a running server.
pub async fn recover_key<R: AsyncRead + Unpin + Send + 'static>(
    client: &Client,
    key: &BackupKey,
    key_id: KeyId,
    kek_backup: &[u8],
    key_backup: R,
    progress: Box<dyn FnMut(u64) + Send>,
) -> Result<Recovered, BackupClientError> {
    let resp = upload(
        client,
        "recover-key",
        key,
        Some(key_id),
        kek_backup,
        key_backup,
        progress,
    )
    .await?;
    let body = resp.bytes().await.map_err(ClientError::Transport)?;
    serde_json::from_slice(&body).map_err(|source| {
        ClientError::Decode {
            source,
            request_id: None,
        }
        .into()
    })
}
