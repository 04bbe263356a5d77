//! The store conformance suite against [`SqlStore`] on SQLite, a fresh database per test.

use keyhold_store::SqlStore;
use tempfile::TempDir;

/// A new, empty database in its own temporary directory (removed when the test ends).
async fn fresh_store() -> (SqlStore, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqlStore::open_sqlite(&dir.path().join("keyhold.db"))
        .await
        .expect("open the database");
    (store, dir)
}

keyhold_testkit::store_conformance_tests!(fresh_store());
