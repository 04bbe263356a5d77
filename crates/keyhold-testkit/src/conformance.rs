//! The store conformance suite: every check a [`KeyStore`] must pass, whatever keeps the data.
//!
//! Each check is a function taking a fresh, empty store. A backend crate runs them all, one test
//! each, with [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```text
//! async fn fresh_store() -> (SqlStore, tempfile::TempDir) { /* a new database */ }
//! keyhold_testkit::store_conformance_tests!(fresh_store());
//! ```
//!
//! The expression is evaluated once per test and must yield a [`StoreFixture`] when awaited: a
//! store, or a `(store, guard)` pair whose guard (a temporary directory, a server) lives as long
//! as the test. The calling crate needs `tokio` (with `macros` and `rt`) as a dev-dependency.

use keyhold_core::archive::ArchivedVersion;
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{KeyId, TenantId};
use keyhold_core::lifecycle::KeyState;
use keyhold_core::model::KeyRecord;
use keyhold_core::store::{KeyFilter, KeyStore, StoreError, Write};
use keyhold_crypto::Algorithm;

use crate::fixtures::{self, batch, T0};
use crate::MemoryStore;

/// What a conformance test gets from its setup expression.
pub trait StoreFixture {
    /// The store under test.
    fn store(&self) -> &dyn KeyStore;
}

impl StoreFixture for MemoryStore {
    fn store(&self) -> &dyn KeyStore {
        self
    }
}

impl<S: KeyStore, G> StoreFixture for (S, G) {
    fn store(&self) -> &dyn KeyStore {
        &self.0
    }
}

/// Expands into one `#[tokio::test]` per conformance check, in a module `store_conformance`.
/// See the [`conformance`](crate::conformance) module docs.
#[macro_export]
macro_rules! store_conformance_tests {
    ($fixture:expr) => {
        $crate::store_conformance_tests!(@checks $fixture;
            empty_batch_commits,
            system_values_are_set_once,
            system_values_update_by_compare_and_swap,
            system_values_delete_by_compare_and_swap,
            tenants_round_trip,
            key_round_trips_every_field,
            duplicate_key_id_writes_nothing,
            duplicate_key_name_writes_nothing,
            duplicate_idempotency_token_writes_nothing,
            failed_batch_writes_nothing,
            later_writes_of_a_batch_see_earlier_ones,
            update_key_with_current_revision_succeeds,
            update_key_with_stale_revision_conflicts,
            update_key_to_a_taken_name_is_rejected,
            update_of_a_missing_key_is_not_found,
            list_keys_filters_by_state,
            list_keys_filters_by_algorithm,
            list_keys_filters_by_tag,
            list_keys_filters_by_name_prefix,
            list_keys_filters_by_label,
            a_name_moves_to_a_new_key_in_one_batch,
            list_keys_combines_filters,
            list_keys_paginates_in_id_order,
            keys_due_returns_due_keys_soonest_first,
            versions_round_trip_in_order,
            destroying_version_material_erases_it,
            aliases_insert_list_delete,
            alias_must_point_to_a_key_of_its_tenant,
            tokens_by_hash_update_and_list,
            grants_insert_filter_delete,
            audit_appends_in_order,
            a_failed_batch_appends_no_event,
            concurrent_batches_commit_alone_and_extend_one_chain,
            a_long_run_of_audit_events_commits_as_one,
            reads_are_isolated_by_tenant,
            update_tenant_is_compare_and_swap,
            archive_and_recover_move_version_material,
            snapshot_pages_a_fixed_view_while_writes_go_on,
            trust_anchors_insert_list_remove,
            live_trust_anchor_identity_is_unique_across_tenants,
            role_grants_never_match_a_principal_filter,
            grant_uses_count_up_to_their_limit,
            policy_versions_append_one_after_another,
            approvals_insert_update_list_and_fall_due,
            snapshot_pages_policies_uses_and_approvals,
            insert_if_absent_skips_stored_records_only,
            insert_if_absent_keeps_every_other_constraint,
        );
    };
    (@checks $fixture:expr; $($check:ident),+ $(,)?) => {
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let fixture = $fixture.await;
                    $crate::conformance::$check($crate::conformance::StoreFixture::store(&fixture)).await;
                }
            )+
        }
    };
}

/// Commits `writes`, panicking on failure.
async fn commit(store: &dyn KeyStore, writes: impl IntoIterator<Item = Write>) {
    store.commit(batch(writes)).await.expect("batch commits");
}

/// Asserts that `result` failed with `AlreadyExists(what)`.
fn assert_already_exists(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::AlreadyExists(w)) if w == what => {}
        other => panic!("expected AlreadyExists({what:?}), got {other:?}"),
    }
}

/// Asserts that `result` failed with `NotFound(what)`.
fn assert_not_found(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::NotFound(w)) if w == what => {}
        other => panic!("expected NotFound({what:?}), got {other:?}"),
    }
}

/// Asserts that `result` failed with `Conflict`.
fn assert_conflict(result: Result<(), StoreError>) {
    match result {
        Err(StoreError::Conflict) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// Creates tenant `id` and returns its id.
async fn setup_tenant(store: &dyn KeyStore, id: &str) -> TenantId {
    commit(store, [Write::InsertTenant(fixtures::tenant(id))]).await;
    fixtures::tenant_id(id)
}

/// Stores `key` and returns it.
async fn put_key(store: &dyn KeyStore, key: KeyRecord) -> KeyRecord {
    commit(store, [Write::InsertKey(key.clone())]).await;
    key
}

/// The ids of `keys`.
fn ids(keys: &[KeyRecord]) -> Vec<KeyId> {
    keys.iter().map(|k| k.id).collect()
}

/// The ids of `keys`, sorted (= the order of a listing).
fn sorted_ids<'a>(keys: impl IntoIterator<Item = &'a KeyRecord>) -> Vec<KeyId> {
    let mut out: Vec<KeyId> = keys.into_iter().map(|k| k.id).collect();
    out.sort();
    out
}

/// Lists every key of `tenant` matching `filter`.
async fn list(store: &dyn KeyStore, tenant: &TenantId, filter: KeyFilter) -> Vec<KeyId> {
    ids(&store
        .list_keys(tenant, &filter, None, 1000)
        .await
        .expect("list keys"))
}

/// An empty batch succeeds and writes nothing.
pub async fn empty_batch_commits(store: &dyn KeyStore) {
    store.commit(batch([])).await.expect("empty batch commits");
    assert!(store.tenants().await.expect("tenants").is_empty());
    assert_eq!(store.audit_head().await.expect("audit head"), None);
}

/// A system value changes only from the value the writer read; an unchanged value can be
/// asserted; a failed assertion undoes the whole batch.
pub async fn system_values_update_by_compare_and_swap(store: &dyn KeyStore) {
    let update = |value: &[u8], expected: &[u8]| Write::UpdateSystem {
        name: "root".into(),
        value: value.to_vec(),
        expected: expected.to_vec(),
    };
    assert_not_found(
        store.commit(batch([update(b"b", b"a")])).await,
        "system value",
    );
    commit(
        store,
        [Write::InsertSystem {
            name: "root".into(),
            value: b"a".to_vec(),
        }],
    )
    .await;
    commit(store, [update(b"b", b"a")]).await;
    assert_eq!(
        store.system_value("root").await.expect("read"),
        Some(b"b".to_vec())
    );
    assert_conflict(store.commit(batch([update(b"c", b"a")])).await);
    commit(store, [update(b"b", b"b")]).await;
    let with_stale_assertion = batch([
        Write::InsertSystem {
            name: "other".into(),
            value: b"x".to_vec(),
        },
        update(b"a", b"a"),
    ]);
    assert_conflict(store.commit(with_stale_assertion).await);
    assert_eq!(store.system_value("other").await.expect("read"), None);
    assert_eq!(
        store.system_value("root").await.expect("read"),
        Some(b"b".to_vec())
    );
}

/// A system value is deleted only while it holds the value the writer read; a failed batch
/// keeps it; once deleted it can be set again.
pub async fn system_values_delete_by_compare_and_swap(store: &dyn KeyStore) {
    let delete = |expected: &[u8]| Write::DeleteSystem {
        name: "marker".into(),
        expected: expected.to_vec(),
    };
    let set = |value: &[u8]| Write::InsertSystem {
        name: "marker".into(),
        value: value.to_vec(),
    };
    assert_not_found(store.commit(batch([delete(b"a")])).await, "system value");
    commit(store, [set(b"a")]).await;
    assert_conflict(store.commit(batch([delete(b"b")])).await);
    // Deleted with a write that fails after it: undone.
    assert_already_exists(
        store
            .commit(batch([delete(b"a"), set(b"a"), set(b"a")]))
            .await,
        "system value",
    );
    assert_eq!(
        store.system_value("marker").await.expect("read"),
        Some(b"a".to_vec())
    );
    commit(store, [delete(b"a")]).await;
    assert_eq!(store.system_value("marker").await.expect("read"), None);
    assert_not_found(store.commit(batch([delete(b"a")])).await, "system value");
    commit(store, [set(b"b")]).await;
    assert_eq!(
        store.system_value("marker").await.expect("read"),
        Some(b"b".to_vec())
    );
}

/// A system value is absent, then set, then cannot be set again.
pub async fn system_values_are_set_once(store: &dyn KeyStore) {
    assert_eq!(store.system_value("root").await.expect("read"), None);
    let set = |value: &[u8]| Write::InsertSystem {
        name: "root".into(),
        value: value.to_vec(),
    };
    commit(store, [set(b"sealed-root-1")]).await;
    assert_eq!(
        store.system_value("root").await.expect("read"),
        Some(b"sealed-root-1".to_vec())
    );
    assert_already_exists(
        store.commit(batch([set(b"sealed-root-2")])).await,
        "system value",
    );
    assert_eq!(
        store.system_value("root").await.expect("read"),
        Some(b"sealed-root-1".to_vec())
    );
    assert_eq!(store.system_value("other").await.expect("read"), None);
}

/// Tenants read back as written, listed by id; a duplicate is refused.
pub async fn tenants_round_trip(store: &dyn KeyStore) {
    let b = fixtures::tenant("beta");
    let a = fixtures::tenant("alpha");
    commit(
        store,
        [
            Write::InsertTenant(b.clone()),
            Write::InsertTenant(a.clone()),
        ],
    )
    .await;
    assert_eq!(store.tenant(&a.id).await.expect("read"), Some(a.clone()));
    assert_eq!(store.tenants().await.expect("list"), vec![a.clone(), b]);
    assert_eq!(
        store
            .tenant(&fixtures::tenant_id("gamma"))
            .await
            .expect("read"),
        None
    );
    let mut again = a.clone();
    again.disabled = true;
    assert_already_exists(
        store.commit(batch([Write::InsertTenant(again)])).await,
        "tenant",
    );
    assert_eq!(store.tenant(&a.id).await.expect("read"), Some(a));
}

/// A key with every field set reads back identical through each lookup.
pub async fn key_round_trips_every_field(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::full_key(&t)).await;
    let name = key.name.clone().expect("full key has a name");
    let token = key.idempotency.clone().expect("full key has a token").token;
    assert_eq!(
        store.key(&t, &key.id).await.expect("read"),
        Some(key.clone())
    );
    assert_eq!(
        store.key_any_tenant(&key.id).await.expect("read"),
        Some(key.clone())
    );
    assert_eq!(
        store.key_by_name(&t, &name).await.expect("read"),
        Some(key.clone())
    );
    assert_eq!(
        store.key_by_idempotency(&t, &token).await.expect("read"),
        Some(key.clone())
    );
    assert_eq!(store.key(&t, &KeyId::generate()).await.expect("read"), None);
    assert_eq!(
        store
            .key_by_name(&t, &fixtures::key_name("other"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.key_by_idempotency(&t, "other").await.expect("read"),
        None
    );
}

/// A key whose id is taken is refused, and nothing else of its batch is written.
pub async fn duplicate_key_id_writes_nothing(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let first = put_key(store, fixtures::named_key(&t, "first")).await;
    let mut copy = fixtures::named_key(&t, "second");
    copy.id = first.id;
    let alias = fixtures::alias(&t, "alias/first", &first.id);
    let result = store
        .commit(batch([
            Write::InsertAlias(alias.clone()),
            Write::InsertKey(copy),
        ]))
        .await;
    assert_already_exists(result, "key");
    assert_eq!(store.alias(&t, &alias.name).await.expect("read"), None);
    assert_eq!(store.key(&t, &first.id).await.expect("read"), Some(first));
    assert_eq!(
        store
            .key_by_name(&t, &fixtures::key_name("second"))
            .await
            .expect("read"),
        None
    );
}

/// A key whose name is taken in its tenant is refused, with nothing of its batch written; the
/// same name in another tenant is fine.
pub async fn duplicate_key_name_writes_nothing(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let first = put_key(store, fixtures::named_key(&t, "billing")).await;
    let clash = fixtures::named_key(&t, "billing");
    let alias = fixtures::alias(&t, "alias/billing", &first.id);
    let result = store
        .commit(batch([
            Write::InsertAlias(alias.clone()),
            Write::InsertKey(clash.clone()),
        ]))
        .await;
    assert_already_exists(result, "key name");
    assert_eq!(store.alias(&t, &alias.name).await.expect("read"), None);
    assert_eq!(store.key_any_tenant(&clash.id).await.expect("read"), None);

    let elsewhere = put_key(store, fixtures::named_key(&other, "billing")).await;
    let name = fixtures::key_name("billing");
    assert_eq!(
        store.key_by_name(&other, &name).await.expect("read"),
        Some(elsewhere)
    );
    assert_eq!(
        store.key_by_name(&t, &name).await.expect("read"),
        Some(first)
    );
}

/// A key whose idempotency token is taken in its tenant is refused, with nothing of its batch
/// written; unnamed keys without tokens never clash.
pub async fn duplicate_idempotency_token_writes_nothing(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let first = put_key(store, fixtures::full_key(&t)).await;
    let mut clash = fixtures::key(&t);
    clash.idempotency = first.idempotency.clone();
    let alias = fixtures::alias(&t, "alias/first", &first.id);
    let result = store
        .commit(batch([
            Write::InsertAlias(alias.clone()),
            Write::InsertKey(clash.clone()),
        ]))
        .await;
    assert_already_exists(result, "idempotency token");
    assert_eq!(store.alias(&t, &alias.name).await.expect("read"), None);
    assert_eq!(store.key_any_tenant(&clash.id).await.expect("read"), None);

    let (a, b) = (fixtures::key(&t), fixtures::key(&t));
    commit(
        store,
        [Write::InsertKey(a.clone()), Write::InsertKey(b.clone())],
    )
    .await;
    assert!(store.key(&t, &a.id).await.expect("read").is_some());
    assert!(store.key(&t, &b.id).await.expect("read").is_some());
}

/// A batch that fails on its last write leaves no trace of any write: key, version, alias,
/// grant, token or audit event.
pub async fn failed_batch_writes_nothing(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let existing = put_key(store, fixtures::named_key(&t, "existing")).await;
    let key = fixtures::named_key(&t, "new");
    let token = fixtures::token(&t, "bob", "secret-1");
    let grant = fixtures::grant(&t, &key.id, "bob");
    let event = fixtures::audit_draft(1, "key.create");
    let result = store
        .commit(batch([
            Write::InsertKey(key.clone()),
            Write::InsertVersion(fixtures::version(&key.id, 1)),
            Write::InsertAlias(fixtures::alias(&t, "alias/new", &key.id)),
            Write::InsertToken(token.clone()),
            Write::InsertGrant(grant),
            Write::Audit(event.prepare()),
            Write::InsertKey(fixtures::named_key(&t, "existing")),
        ]))
        .await;
    assert_already_exists(result, "key name");
    assert_eq!(store.key_any_tenant(&key.id).await.expect("read"), None);
    assert!(store.versions(&key.id).await.expect("read").is_empty());
    assert!(store.aliases(&t, None).await.expect("read").is_empty());
    assert_eq!(
        store.token_by_hash(&token.secret_hash).await.expect("read"),
        None
    );
    assert!(store.grants(&t, None, None).await.expect("read").is_empty());
    assert_eq!(store.audit_head().await.expect("read"), None);
    assert_eq!(
        ids(&store
            .list_keys(&t, &KeyFilter::default(), None, 10)
            .await
            .expect("list")),
        vec![existing.id]
    );

    // The store still works after the failure.
    commit(store, [Write::InsertKey(key.clone())]).await;
    assert_eq!(store.key(&t, &key.id).await.expect("read"), Some(key));
}

/// Writes of one batch apply in order: a key and its version, alias and grant in one batch; an
/// alias retargeted by deleting and re-inserting it; a key updated twice.
pub async fn later_writes_of_a_batch_see_earlier_ones(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let k1 = fixtures::key(&t);
    let alias = fixtures::alias(&t, "alias/app", &k1.id);
    commit(
        store,
        [
            Write::InsertKey(k1.clone()),
            Write::InsertVersion(fixtures::version(&k1.id, 1)),
            Write::InsertAlias(alias.clone()),
            Write::InsertGrant(fixtures::grant(&t, &k1.id, "bob")),
        ],
    )
    .await;
    let k2 = put_key(store, fixtures::key(&t)).await;
    let mut retargeted = alias.clone();
    retargeted.key_id = k2.id;
    commit(
        store,
        [
            Write::DeleteAlias {
                tenant: t.clone(),
                name: alias.name.clone(),
            },
            Write::InsertAlias(retargeted.clone()),
        ],
    )
    .await;
    assert_eq!(
        store.alias(&t, &alias.name).await.expect("read"),
        Some(retargeted)
    );

    let mut v2 = k1.clone();
    v2.description = "second".into();
    v2.revision = k1.revision + 1;
    let mut v3 = v2.clone();
    v3.description = "third".into();
    v3.revision = v2.revision + 1;
    commit(
        store,
        [
            Write::UpdateKey {
                record: v2.clone(),
                expected_revision: k1.revision,
            },
            Write::UpdateKey {
                record: v3.clone(),
                expected_revision: v2.revision,
            },
        ],
    )
    .await;
    assert_eq!(store.key(&t, &k1.id).await.expect("read"), Some(v3));
}

/// An update carrying the stored revision replaces the key, including what the listing filters
/// on (state, tags, name).
pub async fn update_key_with_current_revision_succeeds(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::full_key(&t)).await;
    let mut next = key.clone();
    next.name = Some(fixtures::key_name("renamed"));
    next.description = "updated".into();
    next.tags.remove("env");
    next.tags.insert("tier".into(), "gold".into());
    next.lifecycle.state = KeyState::Suspended;
    next.revision = key.revision + 1;
    commit(
        store,
        [Write::UpdateKey {
            record: next.clone(),
            expected_revision: key.revision,
        }],
    )
    .await;
    assert_eq!(
        store.key(&t, &key.id).await.expect("read"),
        Some(next.clone())
    );
    assert_eq!(
        store
            .key_by_name(&t, &fixtures::key_name("renamed"))
            .await
            .expect("read"),
        Some(next)
    );
    assert_eq!(
        store
            .key_by_name(&t, &fixtures::key_name("payments/signing-key"))
            .await
            .expect("read"),
        None
    );

    let by = |tag: &str, value: &str| KeyFilter {
        tag: Some((tag.into(), value.into())),
        ..KeyFilter::default()
    };
    assert!(list(store, &t, by("env", "prod")).await.is_empty());
    assert_eq!(list(store, &t, by("tier", "gold")).await, vec![key.id]);
    assert_eq!(list(store, &t, by("team", "payments")).await, vec![key.id]);
    let state = |s| KeyFilter {
        state: Some(s),
        ..KeyFilter::default()
    };
    assert!(list(store, &t, state(KeyState::Active)).await.is_empty());
    assert_eq!(
        list(store, &t, state(KeyState::Suspended)).await,
        vec![key.id]
    );
}

/// An update carrying an old revision fails with `Conflict` and changes nothing, so of two
/// writers that read the same revision only the first wins.
pub async fn update_key_with_stale_revision_conflicts(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::key(&t)).await;
    let mut winner = key.clone();
    winner.description = "winner".into();
    winner.revision = key.revision + 1;
    let mut loser = key.clone();
    loser.description = "loser".into();
    loser.revision = key.revision + 1;
    commit(
        store,
        [Write::UpdateKey {
            record: winner.clone(),
            expected_revision: key.revision,
        }],
    )
    .await;
    let alias = fixtures::alias(&t, "alias/loser", &key.id);
    let result = store
        .commit(batch([
            Write::InsertAlias(alias.clone()),
            Write::UpdateKey {
                record: loser,
                expected_revision: key.revision,
            },
        ]))
        .await;
    assert_conflict(result);
    assert_eq!(
        store.key(&t, &key.id).await.expect("read"),
        Some(winner.clone())
    );
    assert_eq!(store.alias(&t, &alias.name).await.expect("read"), None);

    let mut ahead = winner.clone();
    ahead.revision = winner.revision + 5;
    let result = store
        .commit(batch([Write::UpdateKey {
            record: ahead,
            expected_revision: winner.revision + 4,
        }]))
        .await;
    assert_conflict(result);
}

/// Renaming a key to a name another key of the tenant has fails with `AlreadyExists("key name")`.
pub async fn update_key_to_a_taken_name_is_rejected(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let a = put_key(store, fixtures::named_key(&t, "a")).await;
    let b = put_key(store, fixtures::named_key(&t, "b")).await;
    let mut renamed = b.clone();
    renamed.name = a.name.clone();
    renamed.revision = b.revision + 1;
    let result = store
        .commit(batch([Write::UpdateKey {
            record: renamed,
            expected_revision: b.revision,
        }]))
        .await;
    assert_already_exists(result, "key name");
    assert_eq!(store.key(&t, &b.id).await.expect("read"), Some(b.clone()));

    // Keeping its own name is not a clash.
    let mut same = b.clone();
    same.description = "same name".into();
    same.revision = b.revision + 1;
    commit(
        store,
        [Write::UpdateKey {
            record: same.clone(),
            expected_revision: b.revision,
        }],
    )
    .await;
    assert_eq!(store.key(&t, &b.id).await.expect("read"), Some(same));
}

/// Updating a key that does not exist (or not in the record's tenant) fails with
/// `NotFound("key")`.
pub async fn update_of_a_missing_key_is_not_found(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let ghost = fixtures::key(&t);
    let result = store
        .commit(batch([Write::UpdateKey {
            record: ghost.clone(),
            expected_revision: ghost.revision,
        }]))
        .await;
    assert_not_found(result, "key");

    let key = put_key(store, fixtures::key(&t)).await;
    let mut moved = key.clone();
    moved.tenant = other.clone();
    moved.revision = key.revision + 1;
    let result = store
        .commit(batch([Write::UpdateKey {
            record: moved,
            expected_revision: key.revision,
        }]))
        .await;
    assert_not_found(result, "key");
    assert_eq!(store.key(&t, &key.id).await.expect("read"), Some(key));
    assert!(list(store, &other, KeyFilter::default()).await.is_empty());
}

/// The state filter returns exactly the keys stored in that state.
pub async fn list_keys_filters_by_state(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let active = put_key(store, fixtures::key(&t)).await;
    let mut suspended = fixtures::key(&t);
    suspended.lifecycle.state = KeyState::Suspended;
    let suspended = put_key(store, suspended).await;
    let filter = |s| KeyFilter {
        state: Some(s),
        ..KeyFilter::default()
    };
    assert_eq!(
        list(store, &t, filter(KeyState::Active)).await,
        vec![active.id]
    );
    assert_eq!(
        list(store, &t, filter(KeyState::Suspended)).await,
        vec![suspended.id]
    );
    assert!(list(store, &t, filter(KeyState::Destroyed))
        .await
        .is_empty());
}

/// The algorithm filter returns exactly the keys of that algorithm.
pub async fn list_keys_filters_by_algorithm(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let aes = put_key(store, fixtures::key(&t)).await;
    let ec = put_key(store, fixtures::full_key(&t)).await;
    let filter = |a| KeyFilter {
        algorithm: Some(a),
        ..KeyFilter::default()
    };
    assert_eq!(
        list(store, &t, filter(Algorithm::Aes256)).await,
        vec![aes.id]
    );
    assert_eq!(list(store, &t, filter(ec.algorithm)).await, vec![ec.id]);
    assert!(list(store, &t, filter(Algorithm::Rsa2048)).await.is_empty());
}

/// The tag filter matches tag key and value exactly.
pub async fn list_keys_filters_by_tag(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let mut prod = fixtures::key(&t);
    prod.tags.insert("env".into(), "prod".into());
    prod.tags.insert("team".into(), "a".into());
    let prod = put_key(store, prod).await;
    let mut dev = fixtures::key(&t);
    dev.tags.insert("env".into(), "dev".into());
    let dev = put_key(store, dev).await;
    put_key(store, fixtures::key(&t)).await;
    let filter = |k: &str, v: &str| KeyFilter {
        tag: Some((k.into(), v.into())),
        ..KeyFilter::default()
    };
    assert_eq!(list(store, &t, filter("env", "prod")).await, vec![prod.id]);
    assert_eq!(list(store, &t, filter("env", "dev")).await, vec![dev.id]);
    assert_eq!(list(store, &t, filter("team", "a")).await, vec![prod.id]);
    assert!(list(store, &t, filter("env", "Prod")).await.is_empty());
    assert!(list(store, &t, filter("prod", "env")).await.is_empty());
    assert!(list(store, &t, filter("env", "pro")).await.is_empty());
}

/// The name prefix filter is an exact, case-sensitive prefix match; unnamed keys never match a
/// non-empty prefix, and an empty prefix filters nothing.
pub async fn list_keys_filters_by_name_prefix(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let app_a = put_key(store, fixtures::named_key(&t, "app/a")).await;
    let app_b = put_key(store, fixtures::named_key(&t, "app/b")).await;
    let apple = put_key(store, fixtures::named_key(&t, "apple")).await;
    let upper = put_key(store, fixtures::named_key(&t, "App/c")).await;
    let under = put_key(store, fixtures::named_key(&t, "app_d")).await;
    let unnamed = put_key(store, fixtures::key(&t)).await;
    let filter = |p: &str| KeyFilter {
        name_prefix: Some(p.into()),
        ..KeyFilter::default()
    };
    assert_eq!(
        list(store, &t, filter("app/")).await,
        sorted_ids([&app_a, &app_b])
    );
    assert_eq!(
        list(store, &t, filter("app")).await,
        sorted_ids([&app_a, &app_b, &apple, &under])
    );
    assert_eq!(list(store, &t, filter("App")).await, vec![upper.id]);
    assert_eq!(list(store, &t, filter("app/a")).await, vec![app_a.id]);
    assert_eq!(list(store, &t, filter("app_")).await, vec![under.id]);
    assert!(list(store, &t, filter("app%")).await.is_empty());
    assert!(list(store, &t, filter("zzz")).await.is_empty());
    assert_eq!(
        list(store, &t, filter("")).await,
        sorted_ids([&app_a, &app_b, &apple, &upper, &under, &unnamed])
    );
}

/// The label filter matches any one of a key's labels, exactly; labels are not unique, and an
/// update replaces them (the old ones no longer match).
pub async fn list_keys_filters_by_label(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let mut a = fixtures::key(&t);
    a.labels = vec!["payroll".into(), "shared".into()];
    let a = put_key(store, a).await;
    let mut b = fixtures::key(&t);
    b.labels = vec!["shared".into()];
    let b = put_key(store, b).await;
    put_key(store, fixtures::named_key(&t, "payroll")).await;
    let other = setup_tenant(store, "other").await;
    let mut foreign = fixtures::key(&other);
    foreign.labels = vec!["shared".into()];
    put_key(store, foreign).await;
    let filter = |l: &str| KeyFilter {
        label: Some(l.into()),
        ..KeyFilter::default()
    };
    assert_eq!(list(store, &t, filter("payroll")).await, vec![a.id]);
    assert_eq!(
        list(store, &t, filter("shared")).await,
        sorted_ids([&a, &b])
    );
    assert!(list(store, &t, filter("Payroll")).await.is_empty());
    assert!(list(store, &t, filter("pay")).await.is_empty());
    let mut renamed = a.clone();
    renamed.labels = vec!["ledger".into()];
    renamed.revision = a.revision + 1;
    commit(
        store,
        [Write::UpdateKey {
            record: renamed.clone(),
            expected_revision: a.revision,
        }],
    )
    .await;
    assert!(list(store, &t, filter("payroll")).await.is_empty());
    assert_eq!(list(store, &t, filter("shared")).await, vec![b.id]);
    assert_eq!(list(store, &t, filter("ledger")).await, vec![a.id]);
    assert_eq!(
        store.key(&t, &a.id).await.expect("read").map(|k| k.labels),
        Some(vec!["ledger".to_owned()])
    );
}

/// A batch that takes a name from one key and gives it to a new key commits (the update runs
/// before the insert), as a KMIP Re-key does.
pub async fn a_name_moves_to_a_new_key_in_one_batch(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let old = put_key(store, fixtures::named_key(&t, "billing")).await;
    let mut renamed = old.clone();
    renamed.name = None;
    renamed.revision = old.revision + 1;
    let new = fixtures::named_key(&t, "billing");
    commit(
        store,
        [
            Write::UpdateKey {
                record: renamed.clone(),
                expected_revision: old.revision,
            },
            Write::InsertKey(new.clone()),
        ],
    )
    .await;
    let name = fixtures::key_name("billing");
    assert_eq!(
        store
            .key_by_name(&t, &name)
            .await
            .expect("read")
            .map(|k| k.id),
        Some(new.id)
    );
    assert_eq!(store.key(&t, &old.id).await.expect("read"), Some(renamed));
}

/// All given filters must hold together.
pub async fn list_keys_combines_filters(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let mut wanted = fixtures::named_key(&t, "svc/one");
    wanted.tags.insert("env".into(), "prod".into());
    wanted.labels = vec!["svc".into()];
    let wanted = put_key(store, wanted).await;
    let mut wrong_label = fixtures::named_key(&t, "svc/five");
    wrong_label.tags.insert("env".into(), "prod".into());
    put_key(store, wrong_label).await;
    let mut wrong_state = fixtures::named_key(&t, "svc/two");
    wrong_state.tags.insert("env".into(), "prod".into());
    wrong_state.lifecycle.state = KeyState::Deactivated;
    put_key(store, wrong_state).await;
    let mut wrong_tag = fixtures::named_key(&t, "svc/three");
    wrong_tag.tags.insert("env".into(), "dev".into());
    put_key(store, wrong_tag).await;
    let mut wrong_name = fixtures::named_key(&t, "other/four");
    wrong_name.tags.insert("env".into(), "prod".into());
    put_key(store, wrong_name).await;
    let filter = KeyFilter {
        state: Some(KeyState::Active),
        algorithm: Some(Algorithm::Aes256),
        tag: Some(("env".into(), "prod".into())),
        name_prefix: Some("svc/".into()),
        label: Some("svc".into()),
    };
    assert_eq!(list(store, &t, filter).await, vec![wanted.id]);
}

/// Keys list in id order (= creation order), page by page through the `after` cursor.
pub async fn list_keys_paginates_in_id_order(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(put_key(store, fixtures::key(&t)).await);
        put_key(store, fixtures::key(&other)).await;
    }
    let expected = sorted_ids(&keys);
    let all = KeyFilter::default();
    let mut seen = Vec::new();
    let mut after: Option<KeyId> = None;
    loop {
        let page = store
            .list_keys(&t, &all, after.as_ref(), 2)
            .await
            .expect("list keys");
        assert!(page.len() <= 2, "a page holds at most `limit` keys");
        if page.is_empty() {
            break;
        }
        seen.extend(ids(&page));
        after = page.last().map(|k| k.id);
    }
    assert_eq!(seen, expected);
    assert!(store
        .list_keys(&t, &all, None, 0)
        .await
        .expect("list")
        .is_empty());
    let tail = store
        .list_keys(&t, &all, Some(&expected[3]), 10)
        .await
        .expect("list");
    assert_eq!(ids(&tail), expected[4..].to_vec());
}

/// `keys_due` returns the keys of every tenant whose next date-driven event is due, soonest
/// first, up to the limit.
pub async fn keys_due_returns_due_keys_soonest_first(store: &dyn KeyStore) {
    let a = setup_tenant(store, "acme").await;
    let b = setup_tenant(store, "other").await;
    let day = |n: u64| T0.plus_secs(n * fixtures::DAY_SECS);
    let in10 = put_key(store, fixtures::key_due_at(&a, day(10))).await;
    let in5 = put_key(store, fixtures::key_due_at(&b, day(5))).await;
    let in20 = put_key(store, fixtures::key_due_at(&a, day(20))).await;
    put_key(store, fixtures::key(&a)).await;
    assert_eq!(in10.next_due(), Some(day(10)), "fixture sanity");

    let due = |now: Timestamp, limit: u32| async move {
        ids(&store.keys_due(now, limit).await.expect("keys due"))
    };
    assert!(due(T0, 10).await.is_empty());
    assert_eq!(due(day(5), 10).await, vec![in5.id]);
    assert_eq!(due(day(10), 10).await, vec![in5.id, in10.id]);
    assert_eq!(due(day(10), 1).await, vec![in5.id]);
    assert_eq!(due(day(30), 10).await, vec![in5.id, in10.id, in20.id]);

    // Updating the key moves it in the index.
    let mut later = in5.clone();
    later.lifecycle.deactivation_date = Some(day(25));
    later.revision = in5.revision + 1;
    commit(
        store,
        [Write::UpdateKey {
            record: later,
            expected_revision: in5.revision,
        }],
    )
    .await;
    assert_eq!(due(day(10), 10).await, vec![in10.id]);
    assert_eq!(due(day(30), 10).await, vec![in10.id, in20.id, in5.id]);
}

/// Versions read back as written, oldest first; a duplicate or a version of a missing key is
/// refused.
pub async fn versions_round_trip_in_order(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::key(&t)).await;
    let other = put_key(store, fixtures::key(&t)).await;
    let (v1, v2, v10) = (
        fixtures::version(&key.id, 1),
        fixtures::version(&key.id, 2),
        fixtures::version(&key.id, 10),
    );
    let ov1 = fixtures::version(&other.id, 1);
    commit(
        store,
        [
            Write::InsertVersion(v10.clone()),
            Write::InsertVersion(v2.clone()),
        ],
    )
    .await;
    commit(
        store,
        [
            Write::InsertVersion(v1.clone()),
            Write::InsertVersion(ov1.clone()),
        ],
    )
    .await;
    assert_eq!(
        store.versions(&key.id).await.expect("read"),
        vec![v1.clone(), v2.clone(), v10]
    );
    assert_eq!(store.versions(&other.id).await.expect("read"), vec![ov1]);
    assert_eq!(store.version(&key.id, 2).await.expect("read"), Some(v2));
    assert_eq!(store.version(&key.id, 3).await.expect("read"), None);
    assert!(store
        .versions(&KeyId::generate())
        .await
        .expect("read")
        .is_empty());

    let mut dup = v1.clone();
    dup.wrapped = b"other material".to_vec();
    assert_already_exists(
        store.commit(batch([Write::InsertVersion(dup)])).await,
        "key version",
    );
    assert_eq!(store.version(&key.id, 1).await.expect("read"), Some(v1));
    let orphan = fixtures::version(&KeyId::generate(), 1);
    assert_not_found(
        store.commit(batch([Write::InsertVersion(orphan)])).await,
        "key",
    );
}

/// Destroying a version's material empties `wrapped`, `nonce` and `public_key`, marks it
/// destroyed, keeps the rest, and leaves other versions alone.
pub async fn destroying_version_material_erases_it(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::key(&t)).await;
    let (v1, v2) = (fixtures::version(&key.id, 1), fixtures::version(&key.id, 2));
    commit(
        store,
        [
            Write::InsertVersion(v1.clone()),
            Write::InsertVersion(v2.clone()),
        ],
    )
    .await;
    let destroy = |version| Write::DestroyVersionMaterial {
        key_id: key.id,
        version,
    };
    commit(store, [destroy(1)]).await;
    let gone = store
        .version(&key.id, 1)
        .await
        .expect("read")
        .expect("the row is kept");
    assert!(gone.wrapped.is_empty(), "wrapped material is erased");
    assert!(gone.nonce.is_empty(), "nonce is erased");
    assert_eq!(gone.public_key, None, "public key is erased");
    assert!(gone.destroyed);
    assert_eq!(
        (gone.key_id, gone.version, gone.created_at, gone.v),
        (v1.key_id, 1, v1.created_at, v1.v)
    );
    assert_eq!(store.version(&key.id, 2).await.expect("read"), Some(v2));

    // Destroying again is harmless; destroying a version that does not exist is not.
    commit(store, [destroy(1)]).await;
    assert_eq!(store.version(&key.id, 1).await.expect("read"), Some(gone));
    assert_not_found(store.commit(batch([destroy(3)])).await, "key version");
}

/// Aliases: insert, read, list by name (all or one key's), refuse duplicates, delete.
pub async fn aliases_insert_list_delete(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let k1 = put_key(store, fixtures::key(&t)).await;
    let k2 = put_key(store, fixtures::key(&t)).await;
    let b = fixtures::alias(&t, "alias/b", &k1.id);
    let a = fixtures::alias(&t, "alias/a", &k1.id);
    let c = fixtures::alias(&t, "alias/c", &k2.id);
    commit(
        store,
        [Write::InsertAlias(b.clone()), Write::InsertAlias(c.clone())],
    )
    .await;
    commit(store, [Write::InsertAlias(a.clone())]).await;
    assert_eq!(
        store.alias(&t, &a.name).await.expect("read"),
        Some(a.clone())
    );
    assert_eq!(
        store.aliases(&t, None).await.expect("read"),
        vec![a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(
        store.aliases(&t, Some(&k1.id)).await.expect("read"),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        store.aliases(&t, Some(&k2.id)).await.expect("read"),
        vec![c.clone()]
    );

    let dup = fixtures::alias(&t, "alias/a", &k2.id);
    assert_already_exists(
        store.commit(batch([Write::InsertAlias(dup)])).await,
        "alias",
    );
    assert_eq!(
        store.alias(&t, &a.name).await.expect("read"),
        Some(a.clone())
    );

    let delete = |name: &str| Write::DeleteAlias {
        tenant: t.clone(),
        name: fixtures::alias_name(name),
    };
    commit(store, [delete("alias/a")]).await;
    assert_eq!(store.alias(&t, &a.name).await.expect("read"), None);
    assert_eq!(store.aliases(&t, None).await.expect("read"), vec![b, c]);
    assert_not_found(store.commit(batch([delete("alias/a")])).await, "alias");
}

/// An alias must point to an existing key of its own tenant.
pub async fn alias_must_point_to_a_key_of_its_tenant(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let foreign = put_key(store, fixtures::key(&other)).await;
    let cross = fixtures::alias(&t, "alias/x", &foreign.id);
    assert_not_found(
        store.commit(batch([Write::InsertAlias(cross)])).await,
        "key",
    );
    let dangling = fixtures::alias(&t, "alias/y", &KeyId::generate());
    assert_not_found(
        store.commit(batch([Write::InsertAlias(dangling)])).await,
        "key",
    );
    assert!(store.aliases(&t, None).await.expect("read").is_empty());
}

/// Tokens: found by secret hash and by id within their tenant, listed by id, updated under
/// compare-and-swap; a duplicate id or hash is refused.
pub async fn tokens_by_hash_update_and_list(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let bob = fixtures::token(&t, "bob", "secret-bob");
    let carol = fixtures::token(&t, "carol", "secret-carol");
    let dave = fixtures::token(&other, "dave", "secret-dave");
    commit(
        store,
        [
            Write::InsertToken(carol.clone()),
            Write::InsertToken(bob.clone()),
            Write::InsertToken(dave.clone()),
        ],
    )
    .await;
    let hash = fixtures::token_hash("secret-bob");
    assert_eq!(
        store.token_by_hash(&hash).await.expect("read"),
        Some(bob.clone())
    );
    assert_eq!(
        store
            .token_by_hash(&fixtures::token_hash("nope"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.token(&t, &bob.id).await.expect("read"),
        Some(bob.clone())
    );
    assert_eq!(store.token(&other, &bob.id).await.expect("read"), None);
    let mut listed = vec![bob.clone(), carol.clone()];
    listed.sort_by_key(|tok| tok.id);
    assert_eq!(store.tokens(&t).await.expect("read"), listed);
    assert_eq!(store.tokens(&other).await.expect("read"), vec![dave]);

    let mut revoked = bob.clone();
    revoked.revoked_at = Some(T0.plus_secs(60));
    revoked.revision = bob.revision + 1;
    let update = |record, expected_revision| Write::UpdateToken {
        record,
        expected_revision,
    };
    commit(store, [update(revoked.clone(), bob.revision)]).await;
    assert_eq!(
        store.token_by_hash(&hash).await.expect("read"),
        Some(revoked.clone())
    );
    let mut stale = bob.clone();
    stale.description = "stale".into();
    stale.revision = bob.revision + 1;
    assert_conflict(store.commit(batch([update(stale, bob.revision)])).await);
    assert_eq!(
        store.token(&t, &bob.id).await.expect("read"),
        Some(revoked.clone())
    );
    let ghost = fixtures::token(&t, "ghost", "secret-ghost");
    assert_not_found(
        store
            .commit(batch([update(ghost.clone(), ghost.revision)]))
            .await,
        "token",
    );

    let mut same_hash = fixtures::token(&t, "eve", "secret-bob");
    assert_already_exists(
        store
            .commit(batch([Write::InsertToken(same_hash.clone())]))
            .await,
        "token",
    );
    same_hash.secret_hash = fixtures::token_hash("secret-eve");
    same_hash.id = carol.id;
    assert_already_exists(
        store.commit(batch([Write::InsertToken(same_hash)])).await,
        "token",
    );
    let mut steal = carol.clone();
    steal.secret_hash = revoked.secret_hash.clone();
    steal.revision = carol.revision + 1;
    assert_already_exists(
        store.commit(batch([update(steal, carol.revision)])).await,
        "token",
    );
    assert_eq!(store.token(&t, &carol.id).await.expect("read"), Some(carol));
}

/// Grants: listed by id, filtered by key and grantee, deleted within their tenant only, and only
/// on a key of their tenant.
pub async fn grants_insert_filter_delete(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let k1 = put_key(store, fixtures::key(&t)).await;
    let k2 = put_key(store, fixtures::key(&t)).await;
    let g1 = fixtures::grant(&t, &k1.id, "bob");
    let g2 = fixtures::grant(&t, &k1.id, "carol");
    let g3 = fixtures::grant(&t, &k2.id, "bob");
    commit(
        store,
        [
            Write::InsertGrant(g3.clone()),
            Write::InsertGrant(g1.clone()),
            Write::InsertGrant(g2.clone()),
        ],
    )
    .await;
    let sorted = |mut v: Vec<keyhold_core::model::Grant>| {
        v.sort_by_key(|g| g.id);
        v
    };
    let bob = fixtures::principal("bob");
    assert_eq!(
        store.grants(&t, None, None).await.expect("read"),
        sorted(vec![g1.clone(), g2.clone(), g3.clone()])
    );
    assert_eq!(
        store.grants(&t, Some(&k1.id), None).await.expect("read"),
        sorted(vec![g1.clone(), g2.clone()])
    );
    assert_eq!(
        store.grants(&t, None, Some(&bob)).await.expect("read"),
        sorted(vec![g1.clone(), g3.clone()])
    );
    assert_eq!(
        store
            .grants(&t, Some(&k2.id), Some(&bob))
            .await
            .expect("read"),
        vec![g3.clone()]
    );
    assert!(store
        .grants(&other, None, None)
        .await
        .expect("read")
        .is_empty());

    let mut dup = g2.clone();
    dup.grantee = fixtures::principal("mallory").into();
    assert_already_exists(
        store.commit(batch([Write::InsertGrant(dup)])).await,
        "grant",
    );

    let delete = |tenant: &TenantId, id| Write::DeleteGrant {
        tenant: tenant.clone(),
        id,
    };
    assert_not_found(store.commit(batch([delete(&other, g1.id)])).await, "grant");
    commit(store, [delete(&t, g1.id)]).await;
    assert_eq!(
        store.grants(&t, Some(&k1.id), None).await.expect("read"),
        vec![g2]
    );
    assert_not_found(store.commit(batch([delete(&t, g1.id)])).await, "grant");

    let cross = fixtures::grant(&other, &k1.id, "dave");
    assert_not_found(
        store.commit(batch([Write::InsertGrant(cross)])).await,
        "key",
    );
}

/// Audit drafts are sealed in commit order after the stored head and read back in order from
/// any point; the head is the last event.
pub async fn audit_appends_in_order(store: &dyn KeyStore) {
    assert_eq!(store.audit_head().await.expect("read"), None);
    assert!(store.audit_events(1, 10).await.expect("read").is_empty());
    let drafts = fixtures::audit_drafts(5);
    let chain = fixtures::audit_chain(5);
    commit(store, drafts[..3].iter().map(|d| Write::Audit(d.prepare()))).await;
    commit(store, [Write::Audit(drafts[3].prepare())]).await;
    commit(store, [Write::Audit(drafts[4].prepare())]).await;
    assert_eq!(
        store.audit_head().await.expect("read"),
        Some((5, chain[4].hash.clone()))
    );
    assert_eq!(store.audit_events(1, 100).await.expect("read"), chain);
    assert_eq!(store.audit_events(0, 100).await.expect("read"), chain);
    assert_eq!(
        store.audit_events(3, 2).await.expect("read"),
        chain[2..4].to_vec()
    );
    assert!(store.audit_events(6, 10).await.expect("read").is_empty());
    assert!(store.audit_events(1, 0).await.expect("read").is_empty());
    assert_eq!(keyhold_core::audit::verify_chain(&chain), Ok(5));
}

/// A batch that fails appends none of its events, and the next batch links to the same head:
/// the chain has no gap and no event of a write that did not happen.
pub async fn a_failed_batch_appends_no_event(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let drafts = fixtures::audit_drafts(3);
    let chain = fixtures::audit_chain(3);
    commit(store, [Write::Audit(drafts[0].prepare())]).await;
    let taken = put_key(store, fixtures::named_key(&t, "taken")).await;
    let failing = batch([
        Write::Audit(fixtures::audit_draft(9, "lost").prepare()),
        Write::InsertKey(fixtures::named_key(&t, "taken")),
    ]);
    assert_already_exists(store.commit(failing).await, "key name");
    let stale = batch([
        Write::UpdateKey {
            expected_revision: taken.revision + 1,
            record: taken.clone(),
        },
        Write::Audit(fixtures::audit_draft(9, "lost").prepare()),
    ]);
    assert_conflict(store.commit(stale).await);
    assert_eq!(
        store.audit_head().await.expect("read"),
        Some((1, chain[0].hash.clone()))
    );
    commit(store, drafts[1..].iter().map(|d| Write::Audit(d.prepare()))).await;
    assert_eq!(store.audit_events(1, 10).await.expect("read"), chain);
}

/// Batches committed concurrently (which a store may group into one transaction) each succeed
/// or fail alone, with their own error; the events of those that succeeded, and only those,
/// extend one chain that verifies.
pub async fn concurrent_batches_commit_alone_and_extend_one_chain(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let taken = put_key(store, fixtures::named_key(&t, "taken")).await;
    let head = store.audit_head().await.expect("read").map_or(0, |h| h.0);
    let keys: Vec<KeyRecord> = (0..60)
        .map(|i| fixtures::named_key(&t, &format!("k{i}")))
        .collect();
    // Every third batch fails: alternately a taken name and a stale revision.
    let outcome = |i: usize| match i % 6 {
        2 => Some("name"),
        5 => Some("conflict"),
        _ => None,
    };
    let commits = keys.iter().enumerate().map(|(i, key)| {
        let mut writes = vec![Write::InsertKey(key.clone())];
        match outcome(i) {
            Some("name") => writes.push(Write::InsertKey(fixtures::named_key(&t, "taken"))),
            Some(_) => writes.push(Write::UpdateKey {
                expected_revision: taken.revision + 1,
                record: taken.clone(),
            }),
            None => {}
        }
        writes.push(Write::Audit(
            fixtures::audit_draft(i as u64, &format!("batch-{i}")).prepare(),
        ));
        store.commit(batch(writes))
    });
    let results = futures_util::future::join_all(commits).await;
    for (i, (result, key)) in results.into_iter().zip(&keys).enumerate() {
        let stored = store.key(&t, &key.id).await.expect("read");
        match outcome(i) {
            Some("name") => assert_already_exists(result, "key name"),
            Some(_) => assert_conflict(result),
            None => result.expect("the batch commits"),
        }
        assert_eq!(stored.is_some(), outcome(i).is_none(), "key of batch {i}");
    }
    let events = store.audit_events(head + 1, 1000).await.expect("read");
    let mut actions: Vec<String> = events.iter().map(|e| e.action.clone()).collect();
    actions.sort();
    let mut expected: Vec<String> = (0..60)
        .filter(|i| outcome(*i).is_none())
        .map(|i| format!("batch-{i}"))
        .collect();
    expected.sort();
    assert_eq!(actions, expected);
    let all = store.audit_events(1, 1000).await.expect("read");
    assert_eq!(
        keyhold_core::audit::verify_chain(&all),
        Ok(head + 40),
        "one chain"
    );
}

/// A batch with a long run of events (more than one multi-row statement's worth) commits whole
/// and in order, with its other writes; a failing write anywhere in a batch leaves none of its
/// events.
pub async fn a_long_run_of_audit_events_commits_as_one(store: &dyn KeyStore) {
    let tenant = setup_tenant(store, "acme").await;
    let drafts = fixtures::audit_drafts(300);
    let chain = fixtures::audit_chain(300);
    commit(store, [Write::Audit(drafts[0].prepare())]).await;
    let existing = put_key(store, fixtures::named_key(&tenant, "existing")).await;
    let key = fixtures::key(&tenant);
    let mut failing = vec![Write::InsertKey(key.clone())];
    failing.extend(drafts[1..200].iter().map(|d| Write::Audit(d.prepare())));
    failing.push(Write::InsertKey(existing.clone()));
    assert!(store.commit(batch(failing)).await.is_err());
    assert_eq!(store.key(&tenant, &key.id).await.expect("read"), None);
    assert_eq!(
        store.audit_head().await.expect("read"),
        Some((1, chain[0].hash.clone()))
    );
    let mut group = vec![Write::InsertKey(key.clone())];
    group.extend(drafts[1..].iter().map(|d| Write::Audit(d.prepare())));
    commit(store, group).await;
    assert!(store.key(&tenant, &key.id).await.expect("read").is_some());
    assert_eq!(store.audit_events(1, 1000).await.expect("read"), chain);
    assert_eq!(
        store.audit_head().await.expect("read"),
        Some((300, chain[299].hash.clone()))
    );
}

/// Reads scoped to a tenant never return another tenant's records, even when asked by id.
pub async fn reads_are_isolated_by_tenant(store: &dyn KeyStore) {
    let a = setup_tenant(store, "acme").await;
    let b = setup_tenant(store, "other").await;
    let key = put_key(store, fixtures::full_key(&a)).await;
    let name = key.name.clone().expect("full key has a name");
    let token = key.idempotency.clone().expect("full key has a token").token;
    let tok = fixtures::token(&a, "bob", "secret-bob");
    commit(
        store,
        [
            Write::InsertAlias(fixtures::alias(&a, "alias/k", &key.id)),
            Write::InsertGrant(fixtures::grant(&a, &key.id, "bob")),
            Write::InsertToken(tok.clone()),
        ],
    )
    .await;
    assert_eq!(store.key(&b, &key.id).await.expect("read"), None);
    assert_eq!(store.key_by_name(&b, &name).await.expect("read"), None);
    assert_eq!(
        store.key_by_idempotency(&b, &token).await.expect("read"),
        None
    );
    assert!(list(store, &b, KeyFilter::default()).await.is_empty());
    let by_name = KeyFilter {
        name_prefix: Some(name.as_str().into()),
        ..KeyFilter::default()
    };
    assert!(list(store, &b, by_name).await.is_empty());
    assert_eq!(
        store
            .alias(&b, &fixtures::alias_name("alias/k"))
            .await
            .expect("read"),
        None
    );
    assert!(store
        .aliases(&b, Some(&key.id))
        .await
        .expect("read")
        .is_empty());
    assert!(store
        .grants(&b, Some(&key.id), None)
        .await
        .expect("read")
        .is_empty());
    assert_eq!(store.token(&b, &tok.id).await.expect("read"), None);
    assert!(store.tokens(&b).await.expect("read").is_empty());
    assert_eq!(store.key(&a, &key.id).await.expect("read"), Some(key));
}

/// A tenant update is compare-and-swap on its revision.
pub async fn update_tenant_is_compare_and_swap(store: &dyn KeyStore) {
    let t = fixtures::tenant("acme");
    commit(store, [Write::InsertTenant(t.clone())]).await;
    let mut next = t.clone();
    next.wrapped_kek = b"another wrapped kek".to_vec();
    next.revision = t.revision + 1;
    assert_conflict(
        store
            .commit(batch([Write::UpdateTenant {
                record: next.clone(),
                expected_revision: t.revision + 5,
            }]))
            .await,
    );
    assert_eq!(store.tenant(&t.id).await.expect("read"), Some(t.clone()));
    commit(
        store,
        [Write::UpdateTenant {
            record: next.clone(),
            expected_revision: t.revision,
        }],
    )
    .await;
    assert_eq!(store.tenant(&t.id).await.expect("read"), Some(next));
    let mut missing = fixtures::tenant("nobody");
    missing.revision = 2;
    assert_not_found(
        store
            .commit(batch([Write::UpdateTenant {
                record: missing,
                expected_revision: 1,
            }]))
            .await,
        "tenant",
    );
}

/// Archiving empties a version's `wrapped` and `nonce` (keeping the public key) and stores the
/// archived copy; recovering puts a version back and deletes the copy. Both are atomic.
pub async fn archive_and_recover_move_version_material(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::key(&t)).await;
    let v1 = fixtures::version(&key.id, 1);
    commit(store, [Write::InsertVersion(v1.clone())]).await;
    let archived = ArchivedVersion {
        v: 1,
        key_id: key.id,
        version: 1,
        archived_at: T0,
        wrapped: b"under the archive key".to_vec(),
        nonce: vec![7; 12],
    };
    commit(store, [Write::ArchiveVersion(archived.clone())]).await;
    let emptied = store.version(&key.id, 1).await.expect("read").expect("row");
    assert!(emptied.wrapped.is_empty() && emptied.nonce.is_empty());
    assert_eq!(emptied.public_key, v1.public_key);
    assert!(!emptied.destroyed);
    assert_eq!(
        store.archived_version(&key.id, 1).await.expect("read"),
        Some(archived.clone())
    );
    assert_already_exists(
        store
            .commit(batch([Write::ArchiveVersion(archived.clone())]))
            .await,
        "archived version",
    );
    let mut orphan = archived.clone();
    orphan.version = 9;
    assert_not_found(
        store.commit(batch([Write::ArchiveVersion(orphan)])).await,
        "key version",
    );
    // A failed batch leaves the archive as it was.
    let mut back = v1.clone();
    back.wrapped = b"rewrapped".to_vec();
    let failing = store
        .commit(batch([
            Write::RecoverVersion(back.clone()),
            Write::InsertVersion(v1.clone()),
        ]))
        .await;
    assert!(failing.is_err());
    assert_eq!(
        store.archived_version(&key.id, 1).await.expect("read"),
        Some(archived)
    );
    commit(store, [Write::RecoverVersion(back.clone())]).await;
    assert_eq!(
        store.version(&key.id, 1).await.expect("read"),
        Some(back.clone())
    );
    assert_eq!(
        store.archived_version(&key.id, 1).await.expect("read"),
        None
    );
    assert_not_found(
        store.commit(batch([Write::RecoverVersion(back)])).await,
        "archived version",
    );
}

/// A snapshot pages every record in its order and does not see writes made after it opened.
pub async fn snapshot_pages_a_fixed_view_while_writes_go_on(store: &dyn KeyStore) {
    let t = setup_tenant(store, "acme").await;
    let mut keys = Vec::new();
    for i in 0..5 {
        let key = put_key(store, fixtures::named_key(&t, &format!("k{i}"))).await;
        commit(
            store,
            [
                Write::InsertVersion(fixtures::version(&key.id, 1)),
                Write::InsertVersion(fixtures::version(&key.id, 2)),
                Write::InsertAlias(fixtures::alias(&t, &format!("alias/a{i}"), &key.id)),
                Write::InsertGrant(fixtures::grant(&t, &key.id, "app")),
                Write::InsertToken(fixtures::token(&t, &format!("p{i}"), &format!("s{i}"))),
            ],
        )
        .await;
        keys.push(key);
    }
    commit(
        store,
        [
            Write::Audit(fixtures::audit_draft(1, "first").prepare()),
            Write::InsertSystem {
                name: "archive-key/acme".into(),
                value: b"sealed".to_vec(),
            },
        ],
    )
    .await;
    let head = store.audit_head().await.expect("head");
    let mut snap = store.snapshot().await.expect("snapshot");

    // Writes after the snapshot opened.
    let late = put_key(store, fixtures::named_key(&t, "late")).await;
    commit(
        store,
        [
            Write::InsertVersion(fixtures::version(&late.id, 1)),
            Write::DestroyVersionMaterial {
                key_id: keys[0].id,
                version: 1,
            },
        ],
    )
    .await;

    assert_eq!(snap.tenants().await.expect("tenants").len(), 1);
    assert_eq!(snap.audit_head().await.expect("head"), head);
    assert_eq!(
        snap.system_values("archive-key/").await.expect("system"),
        vec![("archive-key/acme".to_owned(), b"sealed".to_vec())]
    );
    let mut seen = Vec::new();
    let mut after: Option<KeyId> = None;
    loop {
        let page = snap.keys(after.as_ref(), 2).await.expect("keys");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page);
    }
    assert_eq!(ids(&seen), sorted_ids(&keys), "the late key is not seen");
    let mut versions = Vec::new();
    let mut after: Option<(KeyId, u32)> = None;
    loop {
        let page = snap
            .versions(after.as_ref().map(|(k, v)| (k, *v)), 3)
            .await
            .expect("versions");
        let Some(last) = page.last() else { break };
        after = Some((last.key_id, last.version));
        versions.extend(page);
    }
    assert_eq!(versions.len(), 10);
    assert!(
        versions.iter().all(|v| !v.destroyed),
        "destruction after the snapshot is not seen"
    );
    let mut sorted = versions.clone();
    sorted.sort_by_key(|v| (v.key_id, v.version));
    assert_eq!(versions, sorted);
    let aliases = snap.aliases(None, 3).await.expect("aliases");
    assert_eq!(aliases.len(), 3);
    let last = aliases.last().expect("alias");
    let rest = snap
        .aliases(Some((&last.tenant, &last.name)), 10)
        .await
        .expect("aliases");
    assert_eq!(rest.len(), 2);
    let grants = snap.grants(None, 10).await.expect("grants");
    assert_eq!(grants.len(), 5);
    assert!(snap
        .grants(Some(&grants[4].id), 10)
        .await
        .expect("grants")
        .is_empty());
    assert_eq!(snap.tokens(None, 10).await.expect("tokens").len(), 5);
    assert!(snap
        .archived_versions(None, 10)
        .await
        .expect("archive")
        .is_empty());
    drop(snap);
    assert!(store.key(&t, &late.id).await.expect("read").is_some());
}

/// Trust anchors are stored whole, listed per tenant or for all, found by id whatever their
/// tenant, updated by compare-and-swap, and paged by snapshots.
pub async fn trust_anchors_insert_list_remove(store: &dyn KeyStore) {
    let a = setup_tenant(store, "alpha").await;
    let b = setup_tenant(store, "beta").await;
    let one = fixtures::trust_anchor(&a, "ca-one");
    let two = fixtures::trust_anchor(&b, "ca-two");
    commit(
        store,
        [
            Write::InsertTrustAnchor(one.clone()),
            Write::InsertTrustAnchor(two.clone()),
        ],
    )
    .await;
    assert_eq!(
        store.trust_anchor(&one.id).await.expect("read"),
        Some(one.clone())
    );
    assert_eq!(
        store.trust_anchors(Some(&a)).await.expect("read"),
        vec![one.clone()]
    );
    assert_eq!(store.trust_anchors(None).await.expect("read").len(), 2);
    assert_not_found(
        store
            .commit(batch([Write::InsertTrustAnchor(fixtures::trust_anchor(
                &fixtures::tenant_id("nobody"),
                "ca-three",
            ))]))
            .await,
        "tenant",
    );
    assert_already_exists(
        store
            .commit(batch([Write::InsertTrustAnchor(one.clone())]))
            .await,
        "trust anchor",
    );
    let mut removed = one.clone();
    removed.removed_at = Some(T0.plus_secs(60));
    removed.revision = 2;
    assert_conflict(
        store
            .commit(batch([Write::UpdateTrustAnchor {
                record: removed.clone(),
                expected_revision: 7,
            }]))
            .await,
    );
    let mut moved = removed.clone();
    moved.tenant = b.clone();
    assert_not_found(
        store
            .commit(batch([Write::UpdateTrustAnchor {
                record: moved,
                expected_revision: 1,
            }]))
            .await,
        "trust anchor",
    );
    commit(
        store,
        [Write::UpdateTrustAnchor {
            record: removed.clone(),
            expected_revision: 1,
        }],
    )
    .await;
    assert_eq!(
        store.trust_anchor(&one.id).await.expect("read"),
        Some(removed)
    );
    let mut snap = store.snapshot().await.expect("snapshot");
    let first = snap.trust_anchors(None, 1).await.expect("page");
    assert_eq!(first.len(), 1);
    let rest = snap
        .trust_anchors(Some(&first[0].id), 10)
        .await
        .expect("page");
    assert_eq!(rest.len(), 1);
    assert_ne!(first[0].id, rest[0].id);
}

/// At most one anchor that is not removed has a given identity, in all tenants; a removed one
/// frees it, and bringing the removed one back while another holds it is refused.
pub async fn live_trust_anchor_identity_is_unique_across_tenants(store: &dyn KeyStore) {
    let a = setup_tenant(store, "alpha").await;
    let b = setup_tenant(store, "beta").await;
    let first = fixtures::trust_anchor(&a, "same-ca");
    commit(store, [Write::InsertTrustAnchor(first.clone())]).await;
    assert_already_exists(
        store
            .commit(batch([Write::InsertTrustAnchor(fixtures::trust_anchor(
                &b, "same-ca",
            ))]))
            .await,
        "trust anchor",
    );
    let mut removed = first.clone();
    removed.removed_at = Some(T0.plus_secs(1));
    removed.revision = 2;
    commit(
        store,
        [Write::UpdateTrustAnchor {
            record: removed.clone(),
            expected_revision: 1,
        }],
    )
    .await;
    let second = fixtures::trust_anchor(&b, "same-ca");
    commit(store, [Write::InsertTrustAnchor(second.clone())]).await;
    let mut revived = removed.clone();
    revived.removed_at = None;
    revived.revision = 3;
    assert_already_exists(
        store
            .commit(batch([Write::UpdateTrustAnchor {
                record: revived,
                expected_revision: 2,
            }]))
            .await,
        "trust anchor",
    );
    assert_eq!(store.trust_anchors(None).await.expect("read").len(), 2);
}

/// A grant to a role reads back as one and never matches a filter on a principal's name.
pub async fn role_grants_never_match_a_principal_filter(store: &dyn KeyStore) {
    use keyhold_core::model::{Grantee, Role};
    let t = setup_tenant(store, "acme").await;
    let k = put_key(store, fixtures::key(&t)).await;
    let mut g = fixtures::grant(&t, &k.id, "bob");
    g.grantee = Grantee::Role {
        role: Role::KeyUser,
    };
    g.conditions.max_uses = Some(3);
    g.conditions.context.insert("app".into(), "billing".into());
    commit(store, [Write::InsertGrant(g.clone())]).await;
    assert_eq!(
        store.grants(&t, Some(&k.id), None).await.expect("read"),
        vec![g]
    );
    for name in ["key-user", "#role:key-user", "role:key-user"] {
        let p = fixtures::principal(name.trim_start_matches('#'));
        assert!(store
            .grants(&t, None, Some(&p))
            .await
            .expect("read")
            .is_empty());
    }
}

/// A use of a limited grant counts only while below its limit and while the grant exists in
/// its tenant; a refused count fails its batch as a conflict and writes nothing.
pub async fn grant_uses_count_up_to_their_limit(store: &dyn KeyStore) {
    use keyhold_core::policy::GrantUses;
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let k = put_key(store, fixtures::key(&t)).await;
    let g = fixtures::grant(&t, &k.id, "bob");
    commit(store, [Write::InsertGrant(g.clone())]).await;
    let count = |tenant: &TenantId| Write::CountGrantUse {
        tenant: tenant.clone(),
        grant: g.id,
        limit: 2,
    };
    assert_eq!(store.grant_uses(&t, &g.id).await.expect("read"), 0);
    commit(store, [count(&t)]).await;
    assert_eq!(store.grant_uses(&t, &g.id).await.expect("read"), 1);
    // Two in one batch: the second sees the first and refuses; neither stays.
    assert_conflict(store.commit(batch([count(&t), count(&t)])).await);
    assert_eq!(store.grant_uses(&t, &g.id).await.expect("read"), 1);
    commit(store, [count(&t)]).await;
    assert_eq!(store.grant_uses(&t, &g.id).await.expect("read"), 2);
    assert_conflict(store.commit(batch([count(&t)])).await);
    assert_conflict(store.commit(batch([count(&other)])).await);
    assert_eq!(store.grant_uses(&other, &g.id).await.expect("read"), 0);
    // A revoked grant counts no more uses, and keeps its count.
    commit(
        store,
        [Write::DeleteGrant {
            tenant: t.clone(),
            id: g.id,
        }],
    )
    .await;
    let big = Write::CountGrantUse {
        tenant: t.clone(),
        grant: g.id,
        limit: 100,
    };
    assert_conflict(store.commit(batch([big])).await);
    assert_eq!(store.grant_uses(&t, &g.id).await.expect("read"), 2);
    // A restore sets a counter.
    commit(
        store,
        [Write::PutGrantUses(GrantUses {
            v: keyhold_core::model::RECORD_VERSION,
            tenant: t.clone(),
            grant: g.id,
            uses: 7,
        })],
    )
    .await;
    assert_eq!(store.grant_uses(&t, &g.id).await.expect("read"), 7);
}

/// Policy versions append as 1, 2, … per tenant and subject; any other number conflicts.
pub async fn policy_versions_append_one_after_another(store: &dyn KeyStore) {
    use keyhold_core::policy::PolicySubject;
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let v = |tenant: &TenantId, subject, n| {
        Write::InsertPolicyVersion(fixtures::policy_version(tenant, subject, n))
    };
    let duties = PolicySubject::Duties;
    assert_eq!(store.latest_policy(&t, &duties).await.expect("read"), None);
    assert_conflict(store.commit(batch([v(&t, duties, 2)])).await);
    commit(store, [v(&t, duties, 1)]).await;
    assert_conflict(store.commit(batch([v(&t, duties, 1)])).await);
    // Two of the same number in one batch: the second conflicts, and the first is undone.
    assert_conflict(
        store
            .commit(batch([v(&t, duties, 2), v(&t, duties, 2)]))
            .await,
    );
    commit(store, [v(&t, duties, 2), v(&t, duties, 3)]).await;
    // Other subjects and tenants count on their own.
    let key = PolicySubject::Key(KeyId::generate());
    commit(
        store,
        [
            v(&t, PolicySubject::Approvals, 1),
            v(&t, key, 1),
            v(&other, duties, 1),
        ],
    )
    .await;
    let history = store.policy_versions(&t, &duties).await.expect("read");
    assert_eq!(
        history.iter().map(|p| p.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(history[1], fixtures::policy_version(&t, duties, 2));
    assert_eq!(
        store
            .latest_policy(&t, &duties)
            .await
            .expect("read")
            .map(|p| p.version),
        Some(3)
    );
    assert_eq!(
        store.policy_versions(&t, &key).await.expect("read").len(),
        1
    );
    assert_eq!(
        store
            .latest_policy(&other, &duties)
            .await
            .expect("read")
            .map(|p| p.version),
        Some(1)
    );
}

/// Approvals insert once, update by compare-and-swap, list newest first by status, are found
/// by digest while open, and fall due at their expiry.
pub async fn approvals_insert_update_list_and_fall_due(store: &dyn KeyStore) {
    use keyhold_core::policy::ApprovalStatus;
    let t = setup_tenant(store, "acme").await;
    let other = setup_tenant(store, "other").await;
    let a1 = fixtures::approval(&t, "alice", "d1", 60);
    let a2 = fixtures::approval(&t, "alice", "d2", 120);
    let a3 = fixtures::approval(&other, "zoe", "d1", 30);
    commit(
        store,
        [
            Write::InsertApproval(a1.clone()),
            Write::InsertApproval(a2.clone()),
            Write::InsertApproval(a3.clone()),
        ],
    )
    .await;
    assert_already_exists(
        store
            .commit(batch([Write::InsertApproval(a1.clone())]))
            .await,
        "approval",
    );
    assert_eq!(
        store.approval(&t, &a1.id).await.expect("read"),
        Some(a1.clone())
    );
    assert_eq!(store.approval(&other, &a1.id).await.expect("read"), None);

    let mut approved = a1.clone();
    approved.status = ApprovalStatus::Approved;
    approved.revision = 2;
    let update = |record: &keyhold_core::policy::ApprovalRecord, expected| Write::UpdateApproval {
        record: record.clone(),
        expected_revision: expected,
    };
    assert_conflict(store.commit(batch([update(&approved, 2)])).await);
    commit(store, [update(&approved, 1)]).await;
    assert_conflict(store.commit(batch([update(&approved, 1)])).await);
    let mut foreign = approved.clone();
    foreign.tenant = other.clone();
    assert_not_found(store.commit(batch([update(&foreign, 2)])).await, "approval");

    let all = store.approvals(&t, None, None, 10).await.expect("read");
    assert_eq!(
        all.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![a2.id, a1.id],
        "newest first"
    );
    let page = store
        .approvals(&t, None, Some(&a2.id), 10)
        .await
        .expect("read");
    assert_eq!(page, vec![approved.clone()]);
    let pending = store
        .approvals(&t, Some(ApprovalStatus::Pending), None, 10)
        .await
        .expect("read");
    assert_eq!(pending, vec![a2.clone()]);

    assert_eq!(
        store.open_approvals(&t, "d1").await.expect("read"),
        vec![approved.clone()]
    );
    let mut executed = approved.clone();
    executed.status = ApprovalStatus::Executed;
    executed.revision = 3;
    commit(store, [update(&executed, 2)]).await;
    assert!(store
        .open_approvals(&t, "d1")
        .await
        .expect("read")
        .is_empty());

    let due = store
        .approvals_due(fixtures::T0.plus_secs(120), 10)
        .await
        .expect("read");
    assert_eq!(
        due.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![a3.id, a2.id],
        "open approvals of every tenant, soonest first; executed ones never"
    );
    assert!(store
        .approvals_due(fixtures::T0.plus_secs(29), 10)
        .await
        .expect("read")
        .is_empty());
}

/// A snapshot pages policy versions, grant use counters and approvals in their order.
pub async fn snapshot_pages_policies_uses_and_approvals(store: &dyn KeyStore) {
    use keyhold_core::policy::PolicySubject;
    let t = setup_tenant(store, "acme").await;
    let k = put_key(store, fixtures::key(&t)).await;
    let g = fixtures::grant(&t, &k.id, "bob");
    commit(
        store,
        [
            Write::InsertGrant(g.clone()),
            Write::CountGrantUse {
                tenant: t.clone(),
                grant: g.id,
                limit: 5,
            },
            Write::InsertPolicyVersion(fixtures::policy_version(&t, PolicySubject::Duties, 1)),
            Write::InsertPolicyVersion(fixtures::policy_version(&t, PolicySubject::Duties, 2)),
            Write::InsertPolicyVersion(fixtures::policy_version(&t, PolicySubject::Approvals, 1)),
            Write::InsertApproval(fixtures::approval(&t, "alice", "d", 60)),
        ],
    )
    .await;
    let mut snap = store.snapshot().await.expect("snapshot");
    commit(
        store,
        [Write::InsertPolicyVersion(fixtures::policy_version(
            &t,
            PolicySubject::Duties,
            3,
        ))],
    )
    .await;
    let first = snap.policy_versions(None, 2).await.expect("policies");
    assert_eq!(
        first
            .iter()
            .map(|p| (p.subject.as_text(), p.version))
            .collect::<Vec<_>>(),
        vec![("approvals".to_owned(), 1), ("duties".to_owned(), 1)]
    );
    let last = &first[1];
    let subject = last.subject.as_text();
    let rest = snap
        .policy_versions(Some((&last.tenant, subject.as_str(), last.version)), 10)
        .await
        .expect("policies");
    assert_eq!(rest.len(), 1, "version 3 came after the snapshot");
    let uses = snap.grant_uses(None, 10).await.expect("uses");
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].uses, 1);
    assert!(snap
        .grant_uses(Some(&g.id), 10)
        .await
        .expect("uses")
        .is_empty());
    let approvals = snap.approvals(None, 10).await.expect("approvals");
    assert_eq!(approvals.len(), 1);
    assert!(snap
        .approvals(Some(&approvals[0].id), 10)
        .await
        .expect("approvals")
        .is_empty());
}

/// The records a restore writes, in its order: a key, its versions (the first archived), an
/// alias, a grant, two versions of the key's policy and an approval.
fn restore_records(t: &TenantId, key: &KeyRecord) -> Vec<keyhold_core::store::Insert> {
    use keyhold_core::policy::PolicySubject;
    use keyhold_core::store::Insert;
    let subject = PolicySubject::Key(key.id);
    vec![
        Insert::Key(Box::new(key.clone())),
        Insert::Version(fixtures::version(&key.id, 1)),
        Insert::Version(fixtures::version(&key.id, 2)),
        Insert::Archived(ArchivedVersion {
            v: 1,
            key_id: key.id,
            version: 1,
            archived_at: T0,
            wrapped: b"under the archive key".to_vec(),
            nonce: vec![7; 12],
        }),
        Insert::Alias(fixtures::alias(t, "alias/resumed", &key.id)),
        Insert::Grant(fixtures::grant(t, &key.id, "app")),
        Insert::PolicyVersion(fixtures::policy_version(t, subject, 1)),
        Insert::PolicyVersion(fixtures::policy_version(t, subject, 2)),
        Insert::Approval(Box::new(fixtures::approval(t, "alice", "d1", 60))),
    ]
}

/// Inserts-if-absent skip the records stored already (by identity, whatever the stored copy
/// holds now) and write the others, so a batch of them can be committed again and again: as a
/// restore resumed after an interruption does.
pub async fn insert_if_absent_skips_stored_records_only(store: &dyn KeyStore) {
    use keyhold_core::policy::PolicySubject;
    let t = setup_tenant(store, "acme").await;
    let key = fixtures::named_key(&t, "resumed");
    let records = restore_records(&t, &key);
    let if_absent = |records: &[keyhold_core::store::Insert]| {
        records
            .iter()
            .cloned()
            .map(Write::InsertIfAbsent)
            .collect::<Vec<_>>()
    };
    // The interrupted run committed the first records (plain inserts), and the key changed
    // since (e.g. the sweeper moved it on).
    commit(store, records[..3].iter().cloned().map(|r| r.into_write())).await;
    let mut changed = key.clone();
    changed.description = "changed since".into();
    changed.revision = 2;
    commit(
        store,
        [Write::UpdateKey {
            record: changed.clone(),
            expected_revision: 1,
        }],
    )
    .await;
    // The whole run again: what is stored is skipped, the rest written.
    commit(store, if_absent(&records)).await;
    let stored = store.key(&t, &key.id).await.expect("read").expect("key");
    assert_eq!(stored, changed, "a stored record is not written over");
    let versions = store.versions(&key.id).await.expect("read");
    assert_eq!(versions.len(), 2);
    assert!(
        versions[0].wrapped.is_empty(),
        "version 1 moved to archive storage"
    );
    assert_eq!(versions[1], fixtures::version(&key.id, 2));
    assert!(store
        .archived_version(&key.id, 1)
        .await
        .expect("read")
        .is_some());
    assert_eq!(
        store.aliases(&t, Some(&key.id)).await.expect("read").len(),
        1
    );
    assert_eq!(
        store
            .grants(&t, Some(&key.id), None)
            .await
            .expect("read")
            .len(),
        1
    );
    let subject = PolicySubject::Key(key.id);
    assert_eq!(
        store
            .policy_versions(&t, &subject)
            .await
            .expect("read")
            .len(),
        2
    );
    assert_eq!(
        store
            .approvals(&t, None, None, 10)
            .await
            .expect("read")
            .len(),
        1
    );
    // Once more: nothing left to write, and no error.
    commit(store, if_absent(&records)).await;
    assert_eq!(store.versions(&key.id).await.expect("read").len(), 2);
    assert_eq!(
        store
            .grants(&t, Some(&key.id), None)
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(
        store
            .policy_versions(&t, &subject)
            .await
            .expect("read")
            .len(),
        2
    );
    assert_eq!(
        store
            .approvals(&t, None, None, 10)
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(
        store.archived_version(&key.id, 1).await.expect("read"),
        records.iter().find_map(|r| match r {
            keyhold_core::store::Insert::Archived(a) => Some(a.clone()),
            _ => None,
        })
    );
}

/// An insert-if-absent of a record that is not stored keeps every constraint of the plain
/// insert, and a failed batch undoes its skipped and written inserts alike.
pub async fn insert_if_absent_keeps_every_other_constraint(store: &dyn KeyStore) {
    use keyhold_core::policy::PolicySubject;
    use keyhold_core::store::Insert;
    let t = setup_tenant(store, "acme").await;
    let key = put_key(store, fixtures::named_key(&t, "taken")).await;
    commit(
        store,
        [
            Write::InsertVersion(fixtures::version(&key.id, 1)),
            Write::InsertAlias(fixtures::alias(&t, "alias/taken", &key.id)),
        ],
    )
    .await;
    let if_absent = |i: Insert| store.commit(batch([Write::InsertIfAbsent(i)]));
    // Another key with a taken name.
    assert_already_exists(
        if_absent(Insert::Key(Box::new(fixtures::named_key(&t, "taken")))).await,
        "key name",
    );
    // The alias's name bound to another key.
    let other = put_key(store, fixtures::key(&t)).await;
    assert_already_exists(
        if_absent(Insert::Alias(fixtures::alias(&t, "alias/taken", &other.id))).await,
        "alias",
    );
    // A version or a grant of a key that does not exist.
    let missing = KeyId::generate();
    assert_not_found(
        if_absent(Insert::Version(fixtures::version(&missing, 1))).await,
        "key",
    );
    assert_not_found(
        if_absent(Insert::Grant(fixtures::grant(&t, &missing, "app"))).await,
        "key",
    );
    // A policy version out of sequence.
    assert_conflict(
        if_absent(Insert::PolicyVersion(fixtures::policy_version(
            &t,
            PolicySubject::Key(key.id),
            2,
        )))
        .await,
    );
    // A batch that fails leaves nothing of it.
    let failing = store
        .commit(batch([
            Write::InsertIfAbsent(Insert::Version(fixtures::version(&key.id, 1))),
            Write::InsertIfAbsent(Insert::Version(fixtures::version(&key.id, 2))),
            Write::InsertIfAbsent(Insert::Version(fixtures::version(&missing, 1))),
        ]))
        .await;
    assert_not_found(failing, "key");
    assert_eq!(store.versions(&key.id).await.expect("read").len(), 1);
    assert_eq!(store.versions(&other.id).await.expect("read").len(), 0);
}
