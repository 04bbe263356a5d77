//! The store conformance suite against [`MemoryStore`].

use keyhold_testkit::MemoryStore;

keyhold_testkit::store_conformance_tests!(async { MemoryStore::new() });
