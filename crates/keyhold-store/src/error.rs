//! Mapping database failures onto [`StoreError`]. Constraint violations are classified by the
//! driver's error kind, never by message text.

use std::path::PathBuf;

use keyhold_core::store::StoreError;
use sqlx::error::ErrorKind;

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
}

/// Wraps any failure as [`StoreError::Backend`].
pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// The kind of constraint a database error violated, if it is one.
pub(crate) fn violation(e: &sqlx::Error) -> Option<ErrorKind> {
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::Other => None,
            kind => Some(kind),
        },
        _ => None,
    }
}

/// Maps the failure of a write statement: a unique violation means `what` already exists, a
/// foreign-key violation that the key it refers to does not exist.
pub(crate) fn write_error(e: sqlx::Error, what: &'static str) -> StoreError {
    match violation(&e) {
        Some(ErrorKind::UniqueViolation) => StoreError::AlreadyExists(what),
        Some(ErrorKind::ForeignKeyViolation) => StoreError::NotFound("key"),
        _ => backend(e),
    }
}

/// Converts an unsigned number to the database's integer type.
pub(crate) fn to_i64(n: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| backend(Fault::OutOfRange(what)))
}
