//! What differs between the SQL databases Keyhold runs on. Everything else is shared SQL in
//! [`crate::read`] and [`crate::write`] (written with `$n` placeholders, which both SQLite and
//! PostgreSQL accept).

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

use crate::db::Conn;

/// The database behind a [`crate::SqlStore`].
///
/// Adding PostgreSQL takes: a `Postgres` variant; `migrations/postgres/` (`BYTEA` for the
/// documents, `BIGINT` for integers, `COLLATE "C"` on `keys.name` so the name-prefix range of
/// [`crate::read`] compares bytes as SQLite does); `BEGIN` (read committed is enough: every
/// compare-and-swap is re-checked by the `UPDATE … WHERE revision` and a racing audit append
/// hits the primary key); a `scrub_after_destroy` branch (PostgreSQL keeps dead row versions
/// until `VACUUM`); and an `open_postgres(url)` building the same two pools. The queries stay as
/// they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// An embedded SQLite file (WAL journal, one writer connection).
    Sqlite,
}

/// Migrations of one dialect, in order: `(version, description, sql)`. Applied versions are
/// recorded with a checksum by sqlx's migrator, so an edited migration is detected.
type MigrationList = &'static [(i64, &'static str, &'static str)];

const SQLITE_MIGRATIONS: MigrationList = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "client certificates",
        include_str!("../migrations/sqlite/0002_client_certs.sql"),
    ),
    (
        3,
        "archive",
        include_str!("../migrations/sqlite/0003_archive.sql"),
    ),
    (
        4,
        "trust anchors",
        include_str!("../migrations/sqlite/0004_trust_anchors.sql"),
    ),
    (
        5,
        "policies and approvals",
        include_str!("../migrations/sqlite/0005_policies_approvals.sql"),
    ),
    (
        6,
        "key labels",
        include_str!("../migrations/sqlite/0006_key_labels.sql"),
    ),
];

impl Dialect {
    /// The name used in diagnostics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write lock up front
    /// (`IMMEDIATE`), so a transaction never fails half-way because another writer holds it.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
        }
    }

    /// The embedded migrations of this dialect.
    pub(crate) fn migrator(self) -> Migrator {
        let list = match self {
            Self::Sqlite => SQLITE_MIGRATIONS,
        };
        Migrator::with_migrations(
            list.iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        )
    }

    /// Makes the space freed by destroyed key material unrecoverable from the database files.
    ///
    /// SQLite runs with `secure_delete`, so a rewritten row's old bytes are zeroed in its page;
    /// the old page images can still sit in the write-ahead log, so the log is checkpointed into
    /// the database and truncated. A checkpoint that cannot complete (a long-running reader) is
    /// logged: the next full checkpoint finishes the job.
    pub(crate) fn scrub_after_destroy(self, conn: &Conn) -> Result<(), rusqlite::Error> {
        match self {
            Self::Sqlite => {
                // A full checkpoint waits for readers of older snapshots (a running backup
                // holds one for minutes): try once without waiting, so the writer never stalls.
                conn.batch("PRAGMA busy_timeout = 0")?;
                let busy = conn
                    .raw()
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                        row.get::<_, i64>(0)
                    });
                conn.batch(&format!(
                    "PRAGMA busy_timeout = {}",
                    crate::open::BUSY_TIMEOUT_MS
                ))?;
                if busy? != 0 {
                    tracing::warn!(
                        "write-ahead log not fully checkpointed after destroying key material; \
                         old pages remain in the log until the next checkpoint"
                    );
                }
                Ok(())
            }
        }
    }
}
