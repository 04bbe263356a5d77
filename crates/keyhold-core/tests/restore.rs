//! Restores that are exclusive and resumable: a restore interrupted part way is finished by
//! running it again, another backup is refused meanwhile, two restores started at once (in one
//! process, or in two over one SQLite file) never both run, and a resume under dual control
//! asks for a new approval. No network; the stores are real.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use keyhold_core::audit::AuditEvent;
use keyhold_core::backup::create::{self, ProtectionRequest};
use keyhold_core::backup::restore::{self, RestoreInProgress};
use keyhold_core::backup::{format, BackupKey, BackupSecret, Report};
use keyhold_core::clock::{ManualClock, Timestamp};
use keyhold_core::ids::{KeyRef, TenantId};
use keyhold_core::model::Role;
use keyhold_core::ops::*;
use keyhold_core::policy::{
    ApprovalAction, ApprovalPolicy, ApprovalRule, Approvers, PolicySubject,
};
use keyhold_core::store::{KeyFilter, KeyStore};
use keyhold_core::{Algorithm, Credential, Kms, KmsConfig, KmsError, Operation, Response};
use keyhold_crypto::Provider;

/// A backup pair on disk and the key that opens it.
struct Backup {
    _dir: tempfile::TempDir,
    keys: PathBuf,
    kek: Vec<u8>,
    key: BackupKey,
    id: uuid::Uuid,
}

/// A source server with `n` keys (each granted to its user, so with a version, a grant and a
/// policy version), a second tenant, a duties setting, and data encrypted under some keys.
struct Source {
    w: World,
    /// (ciphertext, plaintext) made before the backup.
    ciphertexts: Vec<(Vec<u8>, Vec<u8>)>,
}

async fn source(n: usize) -> Source {
    let w = World::new().await;
    w.create_tenant("beta").await;
    w.run(
        &w.admin,
        Operation::SetDuties(SetDuties {
            allow_combined_duties: false,
            expected_version: None,
        }),
    )
    .await
    .unwrap();
    let mut ciphertexts = Vec::new();
    for i in 0..n {
        let key = w.key(Algorithm::Aes256, |_| {}).await;
        if i % 50 == 0 {
            if i % 100 == 0 {
                w.rotate(key.id).await;
            }
            let text = format!("data {i} encrypted before the backup").into_bytes();
            let ct = w.encrypt(key.id, &text).await.unwrap().ciphertext;
            ciphertexts.push((ct, text));
        }
    }
    Source { w, ciphertexts }
}

/// Backs `w` up into a temporary directory, protected by 2-of-3 shares, and opens its key.
async fn backup(w: &World) -> Backup {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("backup.keys");
    let m = meta();
    let caller = create::authorize(&w.kms, &m, &w.admin, "backup.create")
        .await
        .unwrap();
    let out = tokio::fs::File::create(&keys).await.unwrap();
    let created = create::create_as(
        &w.kms,
        &m,
        &caller,
        ProtectionRequest::Shares {
            threshold: 2,
            shares: 3,
        },
        out,
    )
    .await
    .unwrap();
    let (header, _) = format::read_header(&mut created.kek_backup.as_slice())
        .await
        .unwrap();
    let shares = created.shares[..2]
        .iter()
        .map(|s| keyhold_crypto::shamir::Share::parse(s).unwrap())
        .collect();
    let key = BackupKey::open(&header, &BackupSecret::Shares(shares)).unwrap();
    Backup {
        _dir: dir,
        keys,
        kek: created.kek_backup,
        key,
        id: created.backup_id,
    }
}

/// Restores `b` into `kms` as `admin`.
async fn restore_into(kms: &Kms, admin: &Credential, b: &Backup) -> Result<Report, KmsError> {
    restore_with(kms, admin, b, &|_| {}).await
}

async fn restore_with(
    kms: &Kms,
    admin: &Credential,
    b: &Backup,
    progress: keyhold_core::backup::Progress<'_>,
) -> Result<Report, KmsError> {
    let m = meta();
    let caller = create::authorize(kms, &m, admin, "backup.restore").await?;
    restore::restore_as(kms, &m, &caller, b.key.clone(), &b.kek, &b.keys, progress).await
}

/// A progress callback that notifies once the restore has committed its first batch of
/// records. Progress counts the key backup's bytes read: up to its size while verifying, then
/// again from the start while writing, after each committed batch.
fn first_part_written() -> (Arc<tokio::sync::Notify>, impl Fn(u64) + Send + Sync) {
    let written = Arc::new(tokio::sync::Notify::new());
    let last = AtomicU64::new(0);
    let signal = written.clone();
    let progress = move |n: u64| {
        if n < last.swap(n, Ordering::SeqCst) {
            signal.notify_one();
        }
    };
    (written, progress)
}

/// Runs a restore of `b` into `kms` and drops it once its first batch of records is committed,
/// as a server crash or a lost connection stops it: what was committed stays, nothing else
/// runs (batches already handed to the store may still land).
async fn interrupted_restore(kms: &Kms, admin: &Credential, b: &Backup) {
    let (written, progress) = first_part_written();
    tokio::select! {
        biased;
        () = written.notified() => {}
        r = restore_with(kms, admin, b, &progress) => {
            panic!("the restore ended before it could be interrupted: {r:?}")
        }
    }
}

/// Every key of every tenant of `store`, by id.
async fn all_keys(store: &dyn KeyStore) -> Vec<keyhold_core::model::KeyRecord> {
    let mut keys = Vec::new();
    for t in store.tenants().await.unwrap() {
        keys.extend(
            store
                .list_keys(&t.id, &KeyFilter::default(), None, 100_000)
                .await
                .unwrap(),
        );
    }
    keys
}

/// Asserts that `target` holds exactly the keys, versions, grants and key policies of
/// `source`, its tenants, and the source's duties setting.
async fn assert_same_records(source: &dyn KeyStore, target: &dyn KeyStore) {
    let keys = all_keys(source).await;
    let restored = all_keys(target).await;
    assert_eq!(restored.len(), keys.len(), "the number of keys");
    for (k, r) in keys.iter().zip(&restored) {
        assert_eq!(r, k, "key {}", k.id);
    }
    for k in &keys {
        assert_eq!(
            target.versions(&k.id).await.unwrap(),
            source.versions(&k.id).await.unwrap(),
            "the versions of {}",
            k.id
        );
        assert_eq!(
            target.grants(&k.tenant, Some(&k.id), None).await.unwrap(),
            source.grants(&k.tenant, Some(&k.id), None).await.unwrap()
        );
        let subject = PolicySubject::Key(k.id);
        assert_eq!(
            target.policy_versions(&k.tenant, &subject).await.unwrap(),
            source.policy_versions(&k.tenant, &subject).await.unwrap()
        );
    }
    let ids = |ts: Vec<keyhold_core::model::TenantRecord>| {
        ts.into_iter().map(|t| t.id).collect::<BTreeSet<_>>()
    };
    assert_eq!(
        ids(target.tenants().await.unwrap()),
        ids(source.tenants().await.unwrap())
    );
    let default = TenantId::default_tenant();
    assert_eq!(
        target
            .policy_versions(&default, &PolicySubject::Duties)
            .await
            .unwrap(),
        source
            .policy_versions(&default, &PolicySubject::Duties)
            .await
            .unwrap()
    );
}

/// Decrypts every ciphertext of `s` on `kms` with the source's user token (restored).
async fn assert_old_data_decrypts(kms: &Kms, s: &Source) {
    for (ct, text) in &s.ciphertexts {
        let r = kms
            .run(
                &meta(),
                &s.w.user,
                Operation::Decrypt(Decrypt {
                    ciphertext: ct.clone(),
                    context: Default::default(),
                }),
            )
            .await
            .unwrap();
        let Response::Decrypt(d) = r else {
            panic!("decrypt")
        };
        assert_eq!(d.plaintext.0.as_bytes(), text.as_slice());
    }
}

/// Every audit event of `kms`'s store.
async fn events(store: &dyn KeyStore) -> Vec<AuditEvent> {
    store.audit_events(1, 100_000).await.unwrap()
}

fn restore_details(events: &[AuditEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.action == "backup.restore")
        .map(|e| e.detail.clone().unwrap_or_default())
        .collect()
}

fn refused(r: Result<Report, KmsError>) -> String {
    match r {
        Err(e @ KmsError::InvalidRequest(_)) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_interrupted_restore_is_resumed_by_running_it_again() {
    let s = source(450).await;
    let a = backup(&s.w).await;
    let target = World::new().await;

    interrupted_restore(&target.kms, &target.admin, &a).await;

    // Half restored: some keys are in, not all; the tenants and their policies are not.
    let written = all_keys(target.store.as_ref()).await.len();
    let total = all_keys(s.w.store.as_ref()).await.len();
    assert!(written > 0 && written < total, "{written} of {total} keys");
    assert!(target
        .store
        .tenant(&"beta".parse().unwrap())
        .await
        .unwrap()
        .is_none());
    assert!(target
        .store
        .latest_policy(&TenantId::default_tenant(), &PolicySubject::Duties)
        .await
        .unwrap()
        .is_none());
    let state = restore::in_progress(&target.kms).await.unwrap().unwrap();
    assert_eq!(
        state,
        RestoreInProgress {
            backup_id: a.id,
            started_at: Timestamp::from_millis(START),
            runs: 1,
            running_here: false,
        }
    );

    // A restart: another core over the same store.
    let node = target.other_node().await;

    // Another backup is refused while A is not finished, and names A.
    let other = source(1).await;
    let b = backup(&other.w).await;
    let msg = refused(restore_into(&node, &target.admin, &b).await);
    assert!(msg.contains(&a.id.to_string()), "{msg}");
    assert!(msg.contains("run the same restore again"), "{msg}");
    // So is recovering a key into the half-restored server.
    let m = meta();
    let caller = create::authorize(&node, &m, &target.admin, "backup.recover-key")
        .await
        .unwrap();
    let one = all_keys(other.w.store.as_ref()).await[0].id;
    let e = restore::recover_key_as(&node, &m, &caller, b.key.clone(), &b.kek, &b.keys, one)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not finished"), "{e}");
    // And so is any new key material, in the process that was interrupted and after the
    // restart: it would be wrapped under a KEK the restore's last batch replaces.
    let create = || {
        Operation::CreateKey(CreateKey {
            algorithm: keyhold_core::Algorithm::Aes256,
            spec: KeySpec::default(),
            idempotency_token: None,
        })
    };
    for kms in [&target.kms, &node] {
        let e = kms
            .run(&meta(), &target.manager, create())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("restore is not finished"), "{e}");
    }

    // The same restore again resumes it: the server is not empty, and that is fine.
    let report = restore_into(&node, &target.admin, &a).await.unwrap();
    assert_eq!(report.counts.unwrap().keys, total as u64);
    assert_same_records(s.w.store.as_ref(), target.store.as_ref()).await;
    assert_old_data_decrypts(&node, &s).await;
    // A key restored by the interrupted run and one restored by the resume both work.
    let keys = all_keys(target.store.as_ref()).await;
    for k in [keys.first().unwrap(), keys.last().unwrap()] {
        let r = node
            .run(
                &meta(),
                &s.w.user,
                Operation::Encrypt(Encrypt {
                    key: KeyRef::from(k.id),
                    plaintext: Some(SecretData(keyhold_core::SecretBytes::from(&b"after"[..]))),
                    context: Default::default(),
                }),
            )
            .await;
        assert!(r.is_ok(), "{r:?}");
    }

    // Finished: no marker, and the server is no longer empty.
    assert_eq!(restore::in_progress(&node).await.unwrap(), None);
    node.run(&meta(), &target.manager, create()).await.unwrap();
    let msg = refused(restore_into(&node, &target.admin, &a).await);
    assert!(msg.contains("already holds keys"), "{msg}");
    let msg = refused(restore_into(&node, &target.admin, &b).await);
    assert!(msg.contains("already holds keys"), "{msg}");

    // The trail tells the story and verifies.
    let details = restore_details(&events(target.store.as_ref()).await);
    assert!(details[0].ends_with(": started"), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.contains(": resumed (run 2; started")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with(&format!("restored backup {} (resumed):", a.id))),
        "{details:?}"
    );
    let Response::AuditVerify(v) = node
        .run(
            &meta(),
            &target.auditor,
            Operation::AuditVerify(AuditVerify {}),
        )
        .await
        .unwrap()
    else {
        panic!("verify")
    };
    assert!(v.ok, "{v:?}");
}

#[tokio::test]
async fn a_completed_restore_leaves_no_marker() {
    let s = source(30).await;
    let a = backup(&s.w).await;
    let target = World::new().await;
    restore_into(&target.kms, &target.admin, &a).await.unwrap();
    assert_eq!(restore::in_progress(&target.kms).await.unwrap(), None);
    assert_eq!(
        target
            .store
            .system_value(restore::RESTORE_MARKER)
            .await
            .unwrap(),
        None
    );
    assert_same_records(s.w.store.as_ref(), target.store.as_ref()).await;
    assert_old_data_decrypts(&target.kms, &s).await;
    let details = restore_details(&events(target.store.as_ref()).await);
    assert!(
        details.iter().all(|d| !d.contains("resumed")),
        "{details:?}"
    );
}

#[tokio::test]
async fn two_restores_at_once_on_one_server_one_runs_and_the_other_is_refused() {
    let s = source(120).await;
    let a = backup(&s.w).await;
    let target = World::new().await;
    let (one, two) = tokio::join!(
        restore_into(&target.kms, &target.admin, &a),
        restore_into(&target.kms, &target.admin, &a)
    );
    let (ok, err) = match (one, two) {
        (Ok(r), Err(e)) | (Err(e), Ok(r)) => (r, e),
        other => panic!("expected exactly one success: {other:?}"),
    };
    assert!(ok.contents_verified);
    assert!(matches!(err, KmsError::InvalidRequest(_)), "{err:?}");
    assert!(
        err.to_string().contains("is running on this server"),
        "{err}"
    );
    assert_same_records(s.w.store.as_ref(), target.store.as_ref()).await;
    assert_old_data_decrypts(&target.kms, &s).await;
    assert_eq!(restore::in_progress(&target.kms).await.unwrap(), None);
}

/// A core over its own connection to the SQLite database at `db`: another server process.
async fn sql_node(db: &Path, clock: Arc<ManualClock>) -> Kms {
    let store = keyhold_store::SqlStore::open_sqlite(db).await.unwrap();
    Kms::open(
        Arc::new(store),
        Provider::aws_lc(),
        clock,
        KmsConfig::default(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharing_a_store_restore_at_once_and_exactly_one_wins() {
    let s = source(200).await;
    let a = backup(&s.w).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyhold.db");
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let first = sql_node(&db, clock.clone()).await;
    let root = TestRoot(Provider::aws_lc().random(32).unwrap());
    let admin = Credential::Bearer(
        first
            .initialize(&root, "admin".parse().unwrap(), vec![])
            .await
            .unwrap(),
    );
    let second = sql_node(&db, clock).await;
    second.unseal(&root).await.unwrap();

    let (one, two) = tokio::join!(
        restore_into(&first, &admin, &a),
        restore_into(&second, &admin, &a)
    );
    let (winner, err) = match (one, two) {
        (Ok(_), Err(e)) => (&first, e),
        (Err(e), Ok(_)) => (&second, e),
        other => panic!("expected exactly one success: {other:?}"),
    };
    assert!(matches!(err, KmsError::InvalidRequest(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&a.id.to_string()) || msg.contains("at the same time"),
        "{msg}"
    );
    assert_same_records(s.w.store.as_ref(), winner.store().as_ref()).await;
    assert_old_data_decrypts(winner, &s).await;
    assert_eq!(restore::in_progress(winner).await.unwrap(), None);
    // Every record once: the losing run wrote nothing.
    let details = restore_details(&events(winner.store().as_ref()).await);
    assert_eq!(
        details.iter().filter(|d| d.ends_with(": started")).count(),
        1,
        "{details:?}"
    );
}

#[tokio::test]
async fn a_run_still_alive_on_another_server_stops_when_a_rerun_takes_the_restore_over() {
    let s = source(450).await;
    let a = backup(&s.w).await;
    let target = World::new().await;
    let other = target.other_node().await;
    // A run on the first server writes its first batch, then waits (a slow server).
    let (written, progress) = first_part_written();
    let mut slow = std::pin::pin!(restore_with(&target.kms, &target.admin, &a, &progress));
    tokio::select! {
        biased;
        () = written.notified() => {}
        r = &mut slow => panic!("the restore ended before it could be held: {r:?}"),
    }
    let held = restore::in_progress(&target.kms).await.unwrap().unwrap();
    assert!(held.running_here);
    assert!(
        !restore::in_progress(&other)
            .await
            .unwrap()
            .unwrap()
            .running_here
    );
    // The same restore run on the second server takes it over and finishes it.
    restore_into(&other, &target.admin, &a).await.unwrap();
    // The first run writes nothing more.
    let e = slow.await.unwrap_err();
    assert!(matches!(e, KmsError::InvalidRequest(_)), "{e:?}");
    assert!(e.to_string().contains("another run finished it"), "{e}");
    assert_eq!(restore::in_progress(&other).await.unwrap(), None);
    assert_same_records(s.w.store.as_ref(), target.store.as_ref()).await;
    assert_old_data_decrypts(&other, &s).await;
    let details = restore_details(&events(target.store.as_ref()).await);
    assert_eq!(
        details
            .iter()
            .filter(|d| d.starts_with("restored backup"))
            .count(),
        1,
        "{details:?}"
    );
}

#[tokio::test]
async fn a_resume_under_dual_control_asks_for_a_new_approval() {
    let s = source(450).await;
    let a = backup(&s.w).await;
    let target = World::new().await;
    let bob = target.token("bob", Role::Admin).await;
    target
        .run(
            &target.admin,
            Operation::SetApprovalPolicy(SetApprovalPolicy {
                policy: ApprovalPolicy {
                    rules: vec![ApprovalRule {
                        actions: [ApprovalAction::BackupRestore].into_iter().collect(),
                        approvals: 1,
                        approvers: Approvers {
                            principals: ["bob".parse().unwrap()].into_iter().collect(),
                            roles: BTreeSet::new(),
                        },
                        ttl_secs: 3600,
                    }],
                },
                expected_version: None,
            }),
        )
        .await
        .unwrap();
    let approve = |id| {
        target.run(
            &bob,
            Operation::ApproveRequest(ApproveRequest {
                id,
                comment: String::new(),
            }),
        )
    };
    let held = |r: Result<Report, KmsError>| match r {
        Err(KmsError::ApprovalRequired { approval, .. }) => approval,
        other => panic!("expected approval_required, got {other:?}"),
    };

    // Held for approval: nothing written, no marker.
    let first = held(restore_into(&target.kms, &target.admin, &a).await);
    assert_eq!(restore::in_progress(&target.kms).await.unwrap(), None);
    approve(first).await.unwrap();
    // Approved, re-issued, interrupted: the approval is spent.
    interrupted_restore(&target.kms, &target.admin, &a).await;
    assert!(restore::in_progress(&target.kms).await.unwrap().is_some());

    // The resume is a new request: a new approval, then it runs.
    let second = held(restore_into(&target.kms, &target.admin, &a).await);
    assert_ne!(first, second);
    assert!(restore::in_progress(&target.kms).await.unwrap().is_some());
    approve(second).await.unwrap();
    restore_into(&target.kms, &target.admin, &a).await.unwrap();
    assert_eq!(restore::in_progress(&target.kms).await.unwrap(), None);
    assert_same_records(s.w.store.as_ref(), target.store.as_ref()).await;
    assert_old_data_decrypts(&target.kms, &s).await;
}

#[tokio::test]
async fn the_marker_names_the_backup_and_its_runs() {
    let s = source(450).await;
    let a = backup(&s.w).await;
    let target = World::new().await;
    interrupted_restore(&target.kms, &target.admin, &a).await;
    target.clock.advance_secs(60);
    interrupted_restore(&target.kms, &target.admin, &a).await;
    let raw = target
        .store
        .system_value(restore::RESTORE_MARKER)
        .await
        .unwrap()
        .unwrap();
    let marker: restore::RestoreMarker = serde_json::from_slice(&raw).unwrap();
    assert_eq!(marker.backup_id, a.id);
    assert_eq!(marker.run, 2);
    assert_eq!(marker.started_at, Timestamp::from_millis(START));
    assert_eq!(marker.run_at, Timestamp::from_millis(START).plus_secs(60));
    assert_eq!(marker.started_by.as_str(), "admin");
    restore_into(&target.kms, &target.admin, &a).await.unwrap();
    assert_same_records(s.w.store.as_ref(), target.store.as_ref()).await;
}
