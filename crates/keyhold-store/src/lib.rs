//! `keyhold-store`: the [`KeyStore`](keyhold_core::store::KeyStore) of Keyhold over SQL.
//!
//! ```text
//!  SqlStore ── reads ──► read pool (several connections, query_only)
//!     │
//!     └─ commit(batch) ─► writer thread (one connection) ─► BEGIN IMMEDIATE
//!                            each Write: probe constraints ─► INSERT / UPDATE … WHERE revision
//!                            any failure ─► ROLLBACK, typed StoreError; else COMMIT (fsync)
//! ```
//!
//! Every record is stored whole as a JSON document (see
//! [`encode_record`](keyhold_core::store::encode_record)); the other columns are derived from the
//! record on write, for constraints and queries only. The SQL is written once (reads in `read`
//! against sqlx's `Any` driver, the batch in `write` through the writer thread's statement
//! builder in `db`, with the same `$n` placeholders); what differs between databases
//! (transaction start, pragmas, migrations, scrubbing) is confined to branches on the internal
//! `Dialect`, so PostgreSQL is one more dialect, not another copy of the queries. SQLite is the
//! implemented dialect.

mod db;
mod dialect;
mod error;
mod open;
mod read;
mod snapshot;
mod sql;
mod write;
mod writer;

pub use sql::SqlStore;
