//! The baseline's durable write: one row per created key in SQLite (WAL, `synchronous=FULL`),
//! committed by a single writer task with group commit.
//!
//! ```text
//!  handler ─ Pending{row, reply} ─► channel ─► writer: take the first, then all queued (≤ 1024)
//!                                                BEGIN; INSERT × n; COMMIT (one fsync)
//!  handler ◄──────────────── reply ◄──────────── answer every waiter of the batch
//! ```
//!
//! A handler answers its client only after the commit that holds its row: this is the ceiling
//! for durable writes on the machine, against which Keyhold's `create-key` is compared.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, oneshot};

/// The most rows one transaction takes.
const MAX_BATCH: usize = 1024;

/// Rows waiting for the writer; a full queue makes handlers wait (back-pressure).
const QUEUE: usize = 4096;

/// One created key, as stored: the material only wrapped.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// The key id (16 bytes).
    pub id: Vec<u8>,
    /// Algorithm name, e.g. `aes-256`.
    pub algorithm: &'static str,
    /// AES-GCM nonce of the wrapped material.
    pub nonce: Vec<u8>,
    /// The material under the in-memory KEK (AES-256-GCM, AAD = key id).
    pub wrapped: Vec<u8>,
    /// SubjectPublicKeyInfo of key pairs.
    pub public: Option<Vec<u8>>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

/// A failed commit, shared by every row of its batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the key table could not be written: {0}")]
pub struct WriteError(Arc<sqlx::Error>);

struct Pending {
    row: KeyRow,
    reply: oneshot::Sender<Result<(), WriteError>>,
}

/// Counters of the writer, for the operator.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Committed transactions.
    pub commits: AtomicU64,
    /// Committed rows.
    pub rows: AtomicU64,
}

/// The handle through which handlers queue rows.
#[derive(Clone)]
pub struct Durable {
    queue: mpsc::Sender<Pending>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable").finish_non_exhaustive()
    }
}

impl Durable {
    /// Opens (creating) the database at `path` and starts the writer task, which ends when
    /// the last handle is dropped.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .connect()
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS keys (
                id BLOB PRIMARY KEY,
                algorithm TEXT NOT NULL,
                nonce BLOB NOT NULL,
                wrapped BLOB NOT NULL,
                public_key BLOB,
                created_at INTEGER NOT NULL
            )",
        )
        .execute(&mut conn)
        .await?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(writer(conn, rx, stats.clone()));
        Ok(Self { queue, stats })
    }

    /// Queues `row` and waits until the transaction holding it is committed.
    pub async fn insert(&self, row: KeyRow) -> Result<(), WriteError> {
        let (reply, answer) = oneshot::channel();
        let closed = || WriteError(Arc::new(sqlx::Error::PoolClosed));
        self.queue
            .send(Pending { row, reply })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Commits and rows written so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

/// Takes everything queued, writes it in one transaction, answers every waiter; until the
/// queue is closed.
async fn writer(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Pending>,
    stats: Arc<WriterStats>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write_batch(&mut conn, &batch)
            .await
            .map_err(|e| WriteError(Arc::new(e)));
        if result.is_ok() {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        for pending in batch.drain(..) {
            // A waiter that went away (client disconnected) needs no answer.
            let _ = pending.reply.send(result.clone());
        }
    }
    let _ = conn.close().await;
}

async fn write_batch(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    for p in batch {
        let r = &p.row;
        sqlx::query(
            "INSERT INTO keys (id, algorithm, nonce, wrapped, public_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.id)
        .bind(r.algorithm)
        .bind(&r.nonce)
        .bind(&r.wrapped)
        .bind(&r.public)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u8) -> KeyRow {
        KeyRow {
            id: vec![i; 16],
            algorithm: "aes-256",
            nonce: vec![0; 12],
            wrapped: vec![1; 48],
            public: None,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn concurrent_inserts_are_committed_in_fewer_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Durable::open(&dir.path().join("b.db")).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..64u8 {
            let d = durable.clone();
            tasks.push(tokio::spawn(async move { d.insert(row(i)).await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(durable.stats().rows.load(Ordering::Relaxed), 64);
        assert!(durable.stats().commits.load(Ordering::Relaxed) <= 64);
        // A duplicate id fails its whole batch, and the caller hears of it.
        assert!(durable.insert(row(0)).await.is_err());
    }
}
