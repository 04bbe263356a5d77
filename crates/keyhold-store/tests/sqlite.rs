//! What the SQLite store promises beyond the conformance suite: file permissions, durability
//! across reopening, material really gone from the files, writers that queue instead of failing.

use std::path::Path;
use std::sync::Arc;

use keyhold_core::store::{KeyFilter, KeyStore, StoreError, Write};
use keyhold_store::SqlStore;
use keyhold_testkit::fixtures::{self, batch};

/// Opens `keyhold.db` in `dir`.
async fn open(dir: &Path) -> SqlStore {
    SqlStore::open_sqlite(&dir.join("keyhold.db"))
        .await
        .expect("open the database")
}

/// The bytes of the database file and its write-ahead log.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for name in ["keyhold.db", "keyhold.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            out.extend(bytes);
        }
    }
    out
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(unix)]
#[tokio::test]
async fn new_database_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open(dir.path()).await;
    let mode = std::fs::metadata(dir.path().join("keyhold.db"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(store.path(), dir.path().join("keyhold.db"));
    store.close().await;
}

#[tokio::test]
async fn committed_data_survives_reopening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let t = fixtures::tenant_id("acme");
    let key = fixtures::full_key(&t);
    let chain = fixtures::audit_chain(2);
    {
        let store = open(dir.path()).await;
        store
            .commit(batch([
                Write::InsertTenant(fixtures::tenant("acme")),
                Write::InsertKey(key.clone()),
                Write::InsertVersion(fixtures::version(&key.id, 1)),
                Write::Audit(fixtures::audit_draft(1, "action-1").prepare()),
                Write::Audit(fixtures::audit_draft(2, "action-2").prepare()),
            ]))
            .await
            .expect("commit");
        store.close().await;
    }
    let store = open(dir.path()).await;
    assert_eq!(
        store.key(&t, &key.id).await.expect("read"),
        Some(key.clone())
    );
    assert_eq!(
        store.versions(&key.id).await.expect("read"),
        vec![fixtures::version(&key.id, 1)]
    );
    assert_eq!(store.audit_events(1, 10).await.expect("read"), chain);
    let tagged = KeyFilter {
        tag: Some(("env".into(), "prod".into())),
        ..KeyFilter::default()
    };
    assert_eq!(
        store
            .list_keys(&t, &tagged, None, 10)
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn destroyed_material_is_gone_from_the_database_files() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open(dir.path()).await;
    let t = fixtures::tenant_id("acme");
    let key = fixtures::key(&t);
    let v1 = fixtures::version(&key.id, 1);
    let v2 = fixtures::version(&key.id, 2);
    store
        .commit(batch([
            Write::InsertKey(key.clone()),
            Write::InsertVersion(v1.clone()),
            Write::InsertVersion(v2.clone()),
        ]))
        .await
        .expect("commit");
    // The material is stored as base64 text inside the JSON document.
    let stored = |v: &keyhold_core::model::KeyVersion| {
        let json = serde_json::to_value(v).expect("serialize");
        json["wrapped"]
            .as_str()
            .expect("wrapped is a string")
            .as_bytes()
            .to_vec()
    };
    let (m1, m2) = (stored(&v1), stored(&v2));
    assert!(
        contains(&database_bytes(dir.path()), &m1),
        "test sanity: material is found before"
    );

    store
        .commit(batch([Write::DestroyVersionMaterial {
            key_id: key.id,
            version: 1,
        }]))
        .await
        .expect("destroy");
    let bytes = database_bytes(dir.path());
    assert!(
        !contains(&bytes, &m1),
        "destroyed material remains in the database files"
    );
    assert!(contains(&bytes, &m2), "other versions are kept");
    store.close().await;
}

#[tokio::test]
async fn concurrent_writers_queue_instead_of_failing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(open(dir.path()).await);
    let t = fixtures::tenant_id("acme");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&store);
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let key = fixtures::named_key(&t, &format!("key-{i}"));
            store
                .commit(batch([Write::InsertKey(key.clone())]))
                .await
                .expect("commit");
            // Reads run beside the writer.
            store
                .key(&t, &key.id)
                .await
                .expect("read")
                .expect("own write is visible");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let all = store
        .list_keys(&t, &KeyFilter::default(), None, 100)
        .await
        .expect("list");
    assert_eq!(all.len(), 16);
}

#[tokio::test]
async fn two_stores_on_one_file_extend_one_chain() {
    // Another connection (another process) may write between two transactions of the writer:
    // each transaction seals after the head as stored, not as it last saw it.
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = open(dir.path()).await;
    let b = open(dir.path()).await;
    for i in 0..6u64 {
        let store = if i % 3 == 0 { &b } else { &a };
        store
            .commit(batch([Write::Audit(
                fixtures::audit_draft(i, "x").prepare(),
            )]))
            .await
            .expect("commit");
    }
    let events = a.audit_events(1, 100).await.expect("read");
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(keyhold_core::audit::verify_chain(&events), Ok(6));
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn opening_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let result = SqlStore::open_sqlite(&dir.path().join("missing").join("keyhold.db")).await;
    assert!(matches!(result, Err(StoreError::Backend(_))));
}

#[tokio::test]
async fn the_log_is_checkpointed_and_stays_small_under_continuous_commits() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open(dir.path()).await;
    let size = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let before = size("keyhold.db");
    // Committing only appends to the write-ahead log; the database file grows when a checkpoint
    // copies the log into it, and the log starts over after each complete checkpoint. Without
    // checkpoints 3000 commits leave more than 3000 pages (12 MB) in the log.
    for draft in fixtures::audit_drafts(3000) {
        store
            .commit(batch([Write::Audit(draft.prepare())]))
            .await
            .expect("commit");
    }
    assert!(
        size("keyhold.db") > before,
        "no checkpoint after 3000 commits"
    );
    let wal = size("keyhold.db-wal");
    assert!(wal < 4 << 20, "the log grew to {wal} bytes");
    assert_eq!(
        store.audit_head().await.expect("head").map(|h| h.0),
        Some(3000)
    );
    store.close().await;
}

/// Migration 6 turns the tag `kmip:name`, where a KMIP client's name was kept before labels
/// existed, into the key's label, in the document and in the index; an empty one is dropped.
#[tokio::test]
async fn the_legacy_kmip_name_tag_becomes_a_label() {
    const MIGRATION: &str = include_str!("../migrations/sqlite/0006_key_labels.sql");
    let data_part = &MIGRATION[MIGRATION
        .find("-- Before labels")
        .expect("the migration's data part")..];
    let dir = tempfile::tempdir().expect("temporary directory");
    let t = fixtures::tenant_id("acme");
    let mut named = fixtures::key(&t);
    named.tags.insert("kmip:name".into(), "legacy name".into());
    named.tags.insert("env".into(), "prod".into());
    let mut empty = fixtures::key(&t);
    empty.tags.insert("kmip:name".into(), String::new());
    let plain = fixtures::key(&t);
    {
        let store = open(dir.path()).await;
        store
            .commit(batch([
                Write::InsertTenant(fixtures::tenant("acme")),
                Write::InsertKey(named.clone()),
                Write::InsertKey(empty.clone()),
                Write::InsertKey(plain.clone()),
            ]))
            .await
            .expect("commit");
        store.close().await;
    }
    // As a database written before migration 6 would hold them.
    let conn = rusqlite::Connection::open(dir.path().join("keyhold.db")).expect("open");
    conn.execute_batch(data_part).expect("migrate");
    drop(conn);
    let store = open(dir.path()).await;
    let read = |id| {
        let store = &store;
        let t = &t;
        async move { store.key(t, id).await.expect("read").expect("key") }
    };
    let upgraded = read(&named.id).await;
    assert_eq!(upgraded.labels, vec!["legacy name".to_owned()]);
    assert_eq!(
        upgraded.tags,
        [("env".to_owned(), "prod".to_owned())].into()
    );
    let cleared = read(&empty.id).await;
    assert!(cleared.labels.is_empty() && cleared.tags.is_empty());
    assert_eq!(read(&plain.id).await, plain);
    let by_label = KeyFilter {
        label: Some("legacy name".into()),
        ..KeyFilter::default()
    };
    let found = store
        .list_keys(&t, &by_label, None, 10)
        .await
        .expect("list");
    assert_eq!(
        found.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![named.id]
    );
    let by_tag = KeyFilter {
        tag: Some(("kmip:name".into(), "legacy name".into())),
        ..KeyFilter::default()
    };
    assert!(store
        .list_keys(&t, &by_tag, None, 10)
        .await
        .expect("list")
        .is_empty());
    store.close().await;
}
