//! Opening an SQLite database: the file (private to its owner), the two connection pools and the
//! per-connection settings.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};

use crate::error::{backend, Fault};
use keyhold_core::store::StoreError;

/// Connections of the read pool.
const READERS: u32 = 4;

/// How long a connection waits for a lock held by another process before failing.
pub(crate) const BUSY_TIMEOUT_MS: u32 = 5_000;

/// How long a caller waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of the writing connections (the migrations' and the writer thread's). `secure_delete` zeroes the space of deleted and rewritten
/// rows, so destroyed key material does not linger in free pages.
pub(crate) const WRITER_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
];

/// Settings of the reader connections: they cannot write, even by mistake.
const READER_PRAGMAS: &[&str] = &["PRAGMA foreign_keys = ON", "PRAGMA query_only = ON"];

/// The two pools of an SQLite store: the readers, and one connection that runs the migrations
/// and is closed before the writer thread (`crate::writer`) opens its own.
pub(crate) struct SqlitePools {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
}

/// Creates (if missing, mode 0600) and opens the database at `path`, without migrating it.
pub(crate) async fn open_sqlite_pools(path: &Path) -> Result<SqlitePools, StoreError> {
    sqlx::any::install_default_drivers();
    create_private_file(path)?;
    let options = AnyConnectOptions::from_str(&sqlite_url(path)?).map_err(backend)?;

    let write = AnyPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| Box::pin(configure(conn, WRITER_PRAGMAS)))
        .connect_with(options.clone())
        .await
        .map_err(backend)?;
    let read = AnyPoolOptions::new()
        .max_connections(READERS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| Box::pin(configure(conn, READER_PRAGMAS)))
        .connect_with(options)
        .await
        .map_err(backend)?;
    Ok(SqlitePools { read, write })
}

/// Applies the busy timeout and `pragmas` to a new connection.
async fn configure(
    conn: &mut AnyConnection,
    pragmas: &'static [&'static str],
) -> Result<(), sqlx::Error> {
    conn.execute(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"
    )))
    .await?;
    for pragma in pragmas {
        conn.execute(*pragma).await?;
    }
    Ok(())
}

/// Creates an empty database file readable and writable by its owner only, if there is none.
/// SQLite gives its `-wal` and `-shm` files the permissions of the database file.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            warn_if_shared(path);
            Ok(())
        }
        Err(e) => Err(backend(Fault::CreateFile {
            path: path.to_owned(),
            source: e,
        })),
    }
}

/// Warns when an existing database file can be read or written by other users.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{:o}", mode & 0o777),
                    "the database file is accessible to other users; consider chmod 600"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The sqlx URL of the database file at `path` (which must exist): the path made absolute and
/// percent-encoded, so that `?`, `#` or `%` in a directory name cannot change its meaning.
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let absolute = std::path::absolute(path).map_err(|source| {
        backend(Fault::CreateFile {
            path: path.to_owned(),
            source,
        })
    })?;
    let text = absolute
        .to_str()
        .ok_or_else(|| backend(Fault::NonUtf8Path(absolute.clone())))?;
    let mut url = String::with_capacity(text.len() + 24);
    url.push_str("sqlite://");
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rw");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_special_characters() {
        let url = sqlite_url(Path::new("/tmp/a b?c#d%e/k.db")).expect("valid path");
        assert_eq!(url, "sqlite:///tmp/a%20b%3Fc%23d%25e/k.db?mode=rw");
    }
}
