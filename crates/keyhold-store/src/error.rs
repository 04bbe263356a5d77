//! Mapping database failures onto [`StoreError`]. Constraint violations are classified by the
//! driver's error kind, never by message text.

use std::path::PathBuf;

use keyhold_core::store::StoreError;

/// Failures of the store itself (not of the database), reported as [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fault {
    /// The database file could not be created or located.
    #[error("cannot create the database file {path}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// sqlx addresses SQLite files by URL, which needs a UTF-8 path.
    #[error("the database path {0} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// A number does not fit the database's signed 64-bit integers.
    #[error("{0} is out of range for the database")]
    OutOfRange(&'static str),
    /// The writer thread could not be started.
    #[error("cannot start the database writer thread")]
    Thread(#[source] std::io::Error),
    /// The store was closed.
    #[error("the database is closed")]
    Closed,
    /// The transaction this batch shared with others failed (another batch's error says why).
    #[error("the transaction of this batch failed")]
    GroupFailed,
}

/// Wraps any failure as [`StoreError::Backend`].
pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Converts an unsigned number to the database's integer type.
pub(crate) fn to_i64(n: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| backend(Fault::OutOfRange(what)))
}
