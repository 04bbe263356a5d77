//! The baseline's durable write: one row per created key in SQLite (WAL, `synchronous=FULL`),
//! committed by a single writer thread with group commit.
//!
//! ```text
//!  handler ─ Pending{row, reply} ─► channel ─► writer thread: take the first, then all queued
//!                                              (≤ 1024); BEGIN; INSERT × n; COMMIT (one fsync)
//!  handler ◄──────────────── reply ◄────────── answer every waiter of the batch
//! ```
//!
//! A handler answers its client only after the commit that holds its row: this is the ceiling
//! for durable writes on the machine, against which Keyhold's `create-key` is compared. It is
//! built as Keyhold's own writer is (`keyhold-store`'s writer thread: one SQLite connection on a
//! plain thread, statements prepared once, a small checkpoint every 30 commits after answering),
//! so that the comparison measures what Keyhold adds to a write, not a slower way of writing.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio::sync::oneshot;

/// The most rows one transaction takes.
const MAX_BATCH: usize = 1024;

/// Commits between two checkpoints, as in Keyhold's writer.
const CHECKPOINT_EVERY: u64 = 30;

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
pub enum WriteError {
    /// The transaction failed.
    #[error("the key table could not be written: {0}")]
    Database(Arc<rusqlite::Error>),
    /// The writer thread is gone.
    #[error("the baseline's writer has stopped")]
    Closed,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused.
    #[error(transparent)]
    Database(#[from] rusqlite::Error),
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(#[from] std::io::Error),
}

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

fn connect(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;",
    )?;
    Ok(conn)
}

impl Durable {
    /// Opens (creating) the database at `path` and starts the writer thread, which ends when
    /// the last handle is dropped.
    pub async fn open(path: &Path) -> Result<Self, OpenError> {
        let conn = connect(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS keys (
                id BLOB PRIMARY KEY,
                algorithm TEXT NOT NULL,
                nonce BLOB NOT NULL,
                wrapped BLOB NOT NULL,
                public_key BLOB,
                created_at INTEGER NOT NULL
            )",
        )?;
        let (queue, rx) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("baseline-writer".into())
            .spawn(move || writer(conn, rx, s))?;
        Ok(Self { queue, stats })
    }

    /// Queues `row` and waits until the transaction holding it is committed.
    pub async fn insert(&self, row: KeyRow) -> Result<(), WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { row, reply })
            .map_err(|_| WriteError::Closed)?;
        answer.await.map_err(|_| WriteError::Closed)?
    }

    /// Commits and rows written so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

/// Takes everything queued, writes it in one transaction, answers every waiter; until every
/// handle is gone.
fn writer(conn: rusqlite::Connection, rx: mpsc::Receiver<Pending>, stats: Arc<WriterStats>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let result = write_batch(&conn, &batch).map_err(|e| WriteError::Database(Arc::new(e)));
        let mut commits = 0;
        if result.is_ok() {
            commits = stats.commits.fetch_add(1, Ordering::Relaxed) + 1;
            stats.rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        for pending in batch.drain(..) {
            // A waiter that went away (client disconnected) needs no answer.
            let _ = pending.reply.send(result.clone());
        }
        if commits > 0 && commits.is_multiple_of(CHECKPOINT_EVERY) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        }
    }
    let _ = conn.close();
}

fn write_batch(conn: &rusqlite::Connection, batch: &[Pending]) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let inserted = (|| {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO keys (id, algorithm, nonce, wrapped, public_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for p in batch {
            let r = &p.row;
            stmt.execute(rusqlite::params![
                r.id,
                r.algorithm,
                r.nonce,
                r.wrapped,
                r.public,
                r.created_at
            ])?;
        }
        Ok(())
    })();
    match inserted {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
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
