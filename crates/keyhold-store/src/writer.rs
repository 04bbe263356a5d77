//! The writer thread: the one connection that writes, on a thread of its own.
//!
//! ```text
//!  commit(batch) ─► channel ─► writer thread: takes every batch waiting (group commit)
//!       ▲                        BEGIN IMMEDIATE
//!       │                        per batch: SAVEPOINT; its writes; RELEASE (ROLLBACK TO on failure)
//!       │                        the audit events of the batches that applied, sealed in order
//!       │                        COMMIT (one fsync for the group)
//!       └───── oneshot answer per batch ◄──┘
//! ```
//!
//! A batch is one message to the thread and one answer back, whatever its number of
//! statements. Batches sent while a transaction is being written wait in the channel and form
//! the next group, so under load the thread goes from one group to the next without waiting
//! and one fsync serves many requests; alone, a batch commits at once. The thread runs SQLite's
//! blocking calls (the fsync among them) away from the async runtime's workers. When every
//! [`Writer`] handle is gone or [`Writer::close`] is called, the thread closes the connection
//! and ends.
//!
//! Checkpoints (copying the write-ahead log into the database file, with its own fsync) run on
//! this thread every [`CHECKPOINT_EVERY`] commits, after the commit's waiters are answered,
//! instead of SQLite's automatic one inside a commit. They are small, so the commits queued
//! meanwhile wait little, and they run while nothing else writes, so each one completes and the
//! next transaction starts the log over: the log stays small under continuous writes. (A
//! checkpoint on another thread, concurrent with the writes, never caught up with the end of the
//! log, which therefore never restarted: it grew to 5 GB while 1,000,000 keys were created.)

use std::path::Path;
use std::sync::mpsc;

use keyhold_core::store::{StoreError, WriteBatch};
use rusqlite::OpenFlags;

use crate::db::Conn;
use crate::error::{backend, Fault};
use crate::open::{BUSY_TIMEOUT_MS, WRITER_PRAGMAS};
use crate::write;

/// Commits between two checkpoints. Small checkpoints keep the tail latency down: a checkpoint
/// of thousands of pages (SQLite's automatic one runs every 1000 pages) fsyncs the database file
/// for tens of milliseconds while commits wait.
const CHECKPOINT_EVERY: u64 = 30;

/// Most batches committed in one transaction.
const MAX_GROUP: usize = 1024;

/// Prepared statements kept by the writer (the batch code has a few dozen distinct ones).
const STATEMENT_CACHE: usize = 128;

enum Job {
    Commit {
        batch: WriteBatch,
        answer: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    },
    Close {
        answer: tokio::sync::oneshot::Sender<()>,
    },
    /// Blocks the thread until `release` receives, so that tests can queue several batches.
    #[cfg(test)]
    Hold { release: mpsc::Receiver<()> },
    /// The value of a pragma, as text, for tests of the connection's settings.
    #[cfg(test)]
    Pragma {
        pragma: &'static str,
        answer: tokio::sync::oneshot::Sender<rusqlite::Result<String>>,
    },
}

/// A handle on the writer thread.
pub(crate) struct Writer {
    /// Jobs for the thread. Once it has closed, sends fail (its receiver is gone), and jobs
    /// queued behind the close are dropped unanswered, which their senders see as closed.
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the database at `path` (which must exist, migrated) and starts the thread.
    pub(crate) fn start(path: &Path) -> Result<Writer, StoreError> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_EXRESCODE,
        )
        .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
            .map_err(backend)?;
        for pragma in WRITER_PRAGMAS {
            conn.execute_batch(pragma).map_err(backend)?;
        }
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let conn = Conn::new(conn);
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("keyhold-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|e| backend(Fault::Thread(e)))?;
        Ok(Writer { jobs })
    }

    /// Applies `batch` in one transaction; returns once it is durable or rolled back.
    pub(crate) async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.0.is_empty() {
            return Ok(());
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.send(Job::Commit { batch, answer })?;
        answered.await.map_err(|_| closed())?
    }

    /// Closes the connection once the batches already queued are done. Later commits fail.
    pub(crate) async fn close(&self) {
        let (answer, answered) = tokio::sync::oneshot::channel();
        if self.send(Job::Close { answer }).is_ok() {
            let _ = answered.await;
        }
    }

    /// The value of `pragma` on the writer connection, as text.
    #[cfg(test)]
    pub(crate) async fn pragma(&self, pragma: &'static str) -> String {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.send(Job::Pragma { pragma, answer })
            .expect("writer running");
        answered.await.expect("an answer").expect("pragma")
    }

    /// Holds the thread until the returned sender sends (or is dropped).
    #[cfg(test)]
    pub(crate) fn hold(&self) -> mpsc::Sender<()> {
        let (release, held) = mpsc::channel();
        self.send(Job::Hold { release: held })
            .expect("writer running");
        release
    }

    /// Queues `job`, with no lock held while the send wakes the thread.
    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| closed())
    }
}

fn closed() -> StoreError {
    backend(Fault::Closed)
}

/// The thread's loop: jobs in the order they were sent; the commits waiting when one starts
/// (up to [`MAX_GROUP`]) go together, in one transaction and one fsync.
fn run(conn: Conn, queue: mpsc::Receiver<Job>) {
    let mut commits = 0u64;
    let mut head = None;
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        match job {
            Job::Commit { batch, answer } => {
                let mut batches = vec![batch];
                let mut answers = vec![answer];
                while batches.len() < MAX_GROUP {
                    match queue.try_recv() {
                        Ok(Job::Commit { batch, answer }) => {
                            batches.push(batch);
                            answers.push(answer);
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let results = write::commit_group(&conn, &mut head, batches);
                let committed = results.iter().any(Result::is_ok);
                for (answer, result) in answers.into_iter().zip(results) {
                    let _ = answer.send(result);
                }
                if committed {
                    commits += 1;
                    if commits.is_multiple_of(CHECKPOINT_EVERY) {
                        checkpoint(&conn);
                    }
                }
            }
            Job::Close { answer } => {
                close(conn);
                let _ = answer.send(());
                return;
            }
            #[cfg(test)]
            Job::Hold { release } => {
                let _ = release.recv();
            }
            #[cfg(test)]
            Job::Pragma { pragma, answer } => {
                let value = conn.raw().query_row(pragma, [], |row| {
                    Ok(match row.get_ref(0)? {
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        other => other.as_str().unwrap_or_default().to_owned(),
                    })
                });
                let _ = answer.send(value);
            }
        }
    }
    close(conn);
}

/// Copies the log into the database. PASSIVE never waits for readers: what an open read
/// snapshot still needs is copied by a later checkpoint.
fn checkpoint(conn: &Conn) {
    if let Err(e) = conn
        .raw()
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
    {
        tracing::warn!(error = %e, "checkpoint of the write-ahead log failed");
    }
}

fn close(conn: Conn) {
    if let Err(e) = conn.close() {
        tracing::warn!(error = %e, "closing the writer connection failed");
    }
}
