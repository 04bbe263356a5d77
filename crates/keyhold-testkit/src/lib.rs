//! `keyhold-testkit`: dev-only helpers for testing Keyhold.
//!
//! - [`MemoryStore`]: a [`KeyStore`](keyhold_core::store::KeyStore) held in memory, with the
//!   same semantics as the SQL store (atomic batches, compare-and-swap, unique constraints,
//!   audit ordering).
//! - [`conformance`]: the store conformance suite; [`store_conformance_tests!`] turns it into one
//!   test per check for a backend.
//! - [`fixtures`]: small constructors of valid records.

pub mod conformance;
pub mod fixtures;
mod memory;
pub mod pki;

pub use memory::MemoryStore;
