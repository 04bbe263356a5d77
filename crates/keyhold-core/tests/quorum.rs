//! Dual control on the core: approval thresholds, duplicates, self-approval, rejection, expiry,
//! release of secret results to the requester only, and exactly-once execution under
//! concurrent approvals on the real SQL store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use keyhold_core::audit::{AuditEvent, Outcome};
use keyhold_core::clock::{ManualClock, Timestamp};
use keyhold_core::ids::{ApprovalId, KeyId, KeyRef, PrincipalName};
use keyhold_core::lifecycle::KeyState;
use keyhold_core::model::{KeyOp, Role};
use keyhold_core::ops::*;
use keyhold_core::policy::{
    ApprovalAction, ApprovalPolicy, ApprovalRecord, ApprovalRule, ApprovalStatus, Approvers,
};
use keyhold_core::{Algorithm, Credential, Kms, KmsConfig, KmsError, Operation, Response};
use keyhold_crypto::Provider;

fn p(s: &str) -> PrincipalName {
    s.parse().unwrap()
}

fn rule(actions: &[ApprovalAction], m: u32, who: &[&str], ttl_secs: u64) -> ApprovalRule {
    ApprovalRule {
        actions: actions.iter().copied().collect(),
        approvals: m,
        approvers: Approvers {
            principals: who.iter().map(|s| p(s)).collect(),
            roles: BTreeSet::new(),
        },
        ttl_secs,
    }
}

async fn set_policy(kms: &Kms, admin: &Credential, rules: Vec<ApprovalRule>) {
    kms.run(
        &meta(),
        admin,
        Operation::SetApprovalPolicy(SetApprovalPolicy {
            policy: ApprovalPolicy { rules },
            expected_version: None,
        }),
    )
    .await
    .unwrap();
}

fn destroy(key: KeyId) -> Operation {
    Operation::ChangeState(ChangeState {
        key: key.into(),
        change: StateChange::Destroy,
    })
}

/// The approval a held request names.
fn held(r: Result<Response, KmsError>) -> (ApprovalId, bool) {
    match r {
        Err(KmsError::ApprovalRequired {
            approval, rerun, ..
        }) => (approval, rerun),
        other => panic!("expected approval_required, got {other:?}"),
    }
}

fn record(r: Result<Response, KmsError>) -> ApprovalRecord {
    match r {
        Ok(Response::Approval(a)) => *a,
        other => panic!("expected an approval, got {other:?}"),
    }
}

fn approve(id: ApprovalId) -> Operation {
    Operation::ApproveRequest(ApproveRequest {
        id,
        comment: String::new(),
    })
}

async fn events(kms: &Kms, auditor: &Credential) -> Vec<AuditEvent> {
    let Response::AuditExport(page) = kms
        .run(
            &meta(),
            auditor,
            Operation::AuditExport(AuditExport {
                from_seq: None,
                limit: Some(1000),
            }),
        )
        .await
        .unwrap()
    else {
        panic!("export")
    };
    page.events
}

/// A world where destroying a key takes 2 approvals of bob, carol and dave (key managers).
struct Quorum {
    w: World,
    bob: Credential,
    carol: Credential,
    dave: Credential,
    key: KeyInfo,
}

async fn quorum(ttl_secs: u64) -> Quorum {
    let w = World::new().await;
    let bob = w.token("bob", Role::KeyManager).await;
    let carol = w.token("carol", Role::KeyManager).await;
    let dave = w.token("dave", Role::KeyManager).await;
    set_policy(
        &w.kms,
        &w.admin,
        vec![rule(
            &[ApprovalAction::KeyDestroy],
            2,
            &["bob", "carol", "dave"],
            ttl_secs,
        )],
    )
    .await;
    let key = w.key(Algorithm::Aes256, |_| {}).await;
    w.change(key.id, StateChange::Deactivate).await.unwrap();
    Quorum {
        w,
        bob,
        carol,
        dave,
        key,
    }
}

#[tokio::test]
async fn below_the_threshold_nothing_happens_and_at_it_the_action_runs_once() {
    let q = quorum(86_400).await;
    let w = &q.w;
    let (id, rerun) = held(w.run(&w.manager, destroy(q.key.id)).await);
    assert!(!rerun, "a destruction runs when approved");
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Deactivated);

    let a = record(w.run(&q.bob, approve(id)).await);
    assert_eq!(a.status, ApprovalStatus::Pending);
    assert_eq!(a.approvals.len(), 1);
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Deactivated);

    let a = record(w.run(&q.carol, approve(id)).await);
    assert_eq!(a.status, ApprovalStatus::Executed);
    assert_eq!(a.approvals.len(), 2);
    let result = a.result.expect("the result is stored");
    assert_eq!(result["state"], "destroyed");
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Destroyed);

    // Closed: a third approval changes nothing.
    let late = w.run(&q.dave, approve(id)).await.unwrap_err();
    assert!(late.to_string().contains("executed"), "{late}");

    // Audited: the request, both approvals, and the destruction by its requester.
    let ev = events(&w.kms, &w.auditor).await;
    let of = |action: &str| ev.iter().filter(|e| e.action == action).collect::<Vec<_>>();
    assert_eq!(of("approval.request").len(), 1);
    assert_eq!(of("approval.request")[0].principal, p("manager"));
    let approvals: Vec<_> = of("approval.approve")
        .into_iter()
        .filter(|e| e.outcome == Outcome::Ok)
        .collect();
    assert_eq!(approvals.len(), 2);
    let destroyed: Vec<_> = of("key.destroy")
        .into_iter()
        .filter(|e| e.outcome == Outcome::Ok)
        .collect();
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0].principal, p("manager"));
    assert!(destroyed[0]
        .detail
        .as_deref()
        .unwrap()
        .contains(&id.to_string()));
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn duplicate_approvals_by_one_principal_count_once() {
    let q = quorum(86_400).await;
    let w = &q.w;
    let (id, _) = held(w.run(&w.manager, destroy(q.key.id)).await);
    for _ in 0..3 {
        let a = record(w.run(&q.bob, approve(id)).await);
        assert_eq!(a.status, ApprovalStatus::Pending);
        assert_eq!(a.approvals.len(), 1);
    }
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Deactivated);
    let a = record(w.run(&q.dave, approve(id)).await);
    assert_eq!(a.status, ApprovalStatus::Executed);
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_request() {
    let q = quorum(86_400).await;
    let w = &q.w;
    // Bob asks; bob is an eligible approver, but not of his own request.
    let (id, _) = held(w.run(&q.bob, destroy(q.key.id)).await);
    let e = w.run(&q.bob, approve(id)).await.unwrap_err();
    assert!(
        matches!(e, KmsError::PermissionDenied(m) if m.contains("own request")),
        "{e:?}"
    );
    // Someone not eligible cannot approve either (and does not even see the request).
    let e = w.run(&w.user, approve(id)).await.unwrap_err();
    assert!(matches!(e, KmsError::NotFound(_)), "{e:?}");
    let e = w.run(&w.manager, approve(id)).await.unwrap_err();
    assert!(matches!(e, KmsError::PermissionDenied(_)), "{e:?}");
    let a = record(
        w.run(&q.carol, Operation::ShowApproval(ShowApproval { id }))
            .await,
    );
    assert!(a.approvals.is_empty());
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Deactivated);
}

#[tokio::test]
async fn an_identical_request_while_pending_names_the_same_approval() {
    let q = quorum(86_400).await;
    let w = &q.w;
    let (first, _) = held(w.run(&w.manager, destroy(q.key.id)).await);
    let (again, _) = held(w.run(&w.manager, destroy(q.key.id)).await);
    assert_eq!(first, again);
    // Another requester's identical request is another approval.
    let (bobs, _) = held(w.run(&q.bob, destroy(q.key.id)).await);
    assert_ne!(first, bobs);
}

#[tokio::test]
async fn one_rejection_by_an_eligible_principal_rejects_it() {
    let q = quorum(86_400).await;
    let w = &q.w;
    let (id, _) = held(w.run(&w.manager, destroy(q.key.id)).await);
    record(w.run(&q.bob, approve(id)).await);
    let a = record(
        w.run(
            &q.dave,
            Operation::RejectRequest(RejectRequest {
                id,
                comment: "not this one".into(),
            }),
        )
        .await,
    );
    assert_eq!(a.status, ApprovalStatus::Rejected);
    assert_eq!(a.rejection.unwrap().principal, p("dave"));
    let e = w.run(&q.carol, approve(id)).await.unwrap_err();
    assert!(e.to_string().contains("rejected"), "{e}");
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Deactivated);
    assert!(events(&w.kms, &w.auditor)
        .await
        .iter()
        .any(|e| e.action == "approval.reject" && e.outcome == Outcome::Ok));
}

#[tokio::test]
async fn a_pending_approval_expires_and_its_expiry_is_audited() {
    let q = quorum(3600).await;
    let w = &q.w;
    let (id, _) = held(w.run(&w.manager, destroy(q.key.id)).await);
    record(w.run(&q.bob, approve(id)).await);
    w.clock.advance_secs(3600);
    // Past its instant it is expired, before the sweeper records it too.
    let e = w.run(&q.carol, approve(id)).await.unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    assert_eq!(w.describe(q.key.id).await.state, KeyState::Deactivated);
    assert!(w.kms.sweep().await.unwrap() >= 1);
    let listed = match w
        .run(
            &q.carol,
            Operation::ListApprovals(ListApprovals {
                status: Some(ApprovalStatus::Expired),
                limit: None,
            }),
        )
        .await
        .unwrap()
    {
        Response::Approvals(l) => l.approvals,
        other => panic!("{other:?}"),
    };
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    let ev = events(&w.kms, &w.auditor).await;
    let expiry = ev
        .iter()
        .find(|e| e.action == "approval.expire")
        .expect("expiry audited");
    assert!(expiry.detail.as_deref().unwrap().contains(&id.to_string()));
    // A new request is a new approval.
    let (again, _) = held(w.run(&w.manager, destroy(q.key.id)).await);
    assert_ne!(again, id);
}

#[tokio::test]
async fn an_export_is_released_to_its_requester_only_and_only_once() {
    let w = World::new().await;
    set_policy(
        &w.kms,
        &w.admin,
        vec![rule(&[ApprovalAction::KeyExport], 1, &["manager"], 86_400)],
    )
    .await;
    let key = w.key(Algorithm::Aes256, |_| {}).await;
    let other = w.token("other", Role::KeyUser).await;
    w.run(
        &w.manager,
        Operation::CreateGrant(CreateGrant {
            key: key.id.into(),
            grantee: p("other").into(),
            operations: BTreeSet::from([KeyOp::Export]),
            conditions: Default::default(),
        }),
    )
    .await
    .unwrap();
    let export = || {
        Operation::ExportKey(ExportKey {
            key: KeyRef::from(key.id),
            key_version: None,
            wrap: None,
        })
    };
    let (id, rerun) = held(w.run(&w.user, export()).await);
    assert!(rerun, "the material goes to the requester, who re-issues");
    let a = record(w.run(&w.manager, approve(id)).await);
    assert_eq!(a.status, ApprovalStatus::Approved);
    assert!(a.result.is_none(), "no material in the approval");
    // Someone else's identical request is not released by it.
    let (others, _) = held(w.run(&other, export()).await);
    assert_ne!(others, id);
    // The requester re-issues: the material, once.
    let Response::Exported(x) = w.run(&w.user, export()).await.unwrap() else {
        panic!("export")
    };
    assert_eq!(x.material.0.as_bytes().len(), 32);
    let a = record(
        w.run(&w.manager, Operation::ShowApproval(ShowApproval { id }))
            .await,
    );
    assert_eq!(a.status, ApprovalStatus::Executed);
    let stored = serde_json::to_string(&a).unwrap();
    let material = serde_json::to_string(&x.material).unwrap();
    assert!(!stored.contains(material.trim_matches('"')));
    let (next, _) = held(w.run(&w.user, export()).await);
    assert_ne!(next, id, "a second export needs a second approval");
    let ev = events(&w.kms, &w.auditor).await;
    assert!(ev.iter().any(|e| e.action == "key.export"
        && e.outcome == Outcome::Ok
        && e.detail.as_deref().unwrap_or("").contains(&id.to_string())));
}

#[tokio::test]
async fn approval_policy_changes_are_themselves_under_dual_control() {
    let w = World::new().await;
    let admin2 = w.token("admin2", Role::Admin).await;
    set_policy(
        &w.kms,
        &w.admin,
        vec![rule(
            &[
                ApprovalAction::ApprovalPolicyChange,
                ApprovalAction::DutiesChange,
            ],
            1,
            &["admin", "admin2"],
            86_400,
        )],
    )
    .await;
    let relax = Operation::SetApprovalPolicy(SetApprovalPolicy {
        policy: ApprovalPolicy::default(),
        expected_version: None,
    });
    let (id, _) = held(w.run(&w.admin, relax).await);
    let Response::ApprovalPolicy(p1) = w
        .run(
            &w.auditor,
            Operation::GetApprovalPolicy(GetApprovalPolicy {}),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(p1.version, 1, "unchanged while pending");
    let a = record(w.run(&admin2, approve(id)).await);
    assert_eq!(a.status, ApprovalStatus::Executed, "{a:?}");
    let Response::ApprovalPolicy(p2) = w
        .run(
            &w.auditor,
            Operation::GetApprovalPolicy(GetApprovalPolicy {}),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(p2.version, 2);
    assert!(p2.policy.rules.is_empty());
    assert_eq!(p2.changed_by, Some(p("admin")), "changed by the requester");
    let Response::PolicyHistory(h) = w
        .run(
            &w.auditor,
            Operation::PolicyHistory(PolicyHistory {
                target: PolicyTarget::Approvals,
            }),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(h.versions.len(), 2);
    assert_eq!(h.versions[1].approval, Some(id));
}

/// A core over a fresh SQLite database, initialized, with its clock.
async fn sql_world() -> (Kms, Credential, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = keyhold_store::SqlStore::open_sqlite(&dir.path().join("k.db"))
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
    let kms = Kms::open(
        Arc::new(store),
        Provider::aws_lc(),
        clock,
        KmsConfig::default(),
    )
    .await
    .unwrap();
    let root = TestRoot(Provider::aws_lc().random(32).unwrap());
    let admin = kms
        .initialize(&root, "admin".parse().unwrap(), vec![])
        .await
        .unwrap();
    (kms, Credential::Bearer(admin), dir)
}

async fn token(kms: &Kms, admin: &Credential, name: &str, role: Role) -> Credential {
    let Response::CreatedToken(t) = kms
        .run(
            &meta(),
            admin,
            Operation::CreateToken(CreateToken {
                principal: name.parse().unwrap(),
                role,
                ttl_secs: None,
                description: String::new(),
                tenant: None,
            }),
        )
        .await
        .unwrap()
    else {
        panic!("token")
    };
    Credential::Bearer(t.token.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_approvals_execute_the_action_exactly_once_on_the_sql_store() {
    let (kms, admin, _dir) = sql_world().await;
    let kms = Arc::new(kms);
    let names: Vec<String> = (0..12).map(|i| format!("approver-{i}")).collect();
    let mut approvers = Vec::new();
    for n in &names {
        approvers.push(token(&kms, &admin, n, Role::KeyManager).await);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    set_policy(
        &kms,
        &admin,
        vec![rule(&[ApprovalAction::KeyDestroy], 3, &refs, 86_400)],
    )
    .await;
    let manager = token(&kms, &admin, "manager", Role::KeyManager).await;
    let Response::Key(key) = kms
        .run(
            &meta(),
            &manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec::default(),
                idempotency_token: None,
            }),
        )
        .await
        .unwrap()
    else {
        panic!("key")
    };
    kms.run(
        &meta(),
        &manager,
        Operation::ChangeState(ChangeState {
            key: key.id.into(),
            change: StateChange::Deactivate,
        }),
    )
    .await
    .unwrap();
    let (id, _) = held(kms.run(&meta(), &manager, destroy(key.id)).await);

    let mut tasks = Vec::new();
    for cred in approvers {
        let kms = kms.clone();
        tasks.push(tokio::spawn(async move {
            kms.run(&meta(), &cred, approve(id)).await
        }));
    }
    let mut ok = Vec::new();
    for t in tasks {
        if let Ok(Response::Approval(a)) = t.await.unwrap() {
            ok.push(*a);
        }
    }
    assert_eq!(
        ok.len(),
        3,
        "exactly the threshold's approvals were counted"
    );
    assert_eq!(
        ok.iter()
            .filter(|a| a.status == ApprovalStatus::Executed)
            .count(),
        1,
        "exactly one approval ran the action"
    );
    let a = record(
        kms.run(
            &meta(),
            &manager,
            Operation::ShowApproval(ShowApproval { id }),
        )
        .await,
    );
    assert_eq!(a.status, ApprovalStatus::Executed);
    assert_eq!(a.approvals.len(), 3);
    let auditor = token(&kms, &admin, "auditor", Role::Auditor).await;
    let ev = events(&kms, &auditor).await;
    let destroyed = ev
        .iter()
        .filter(|e| e.action == "key.destroy" && e.outcome == Outcome::Ok)
        .count();
    assert_eq!(destroyed, 1, "the destruction ran once");
    let Response::AuditVerify(v) = kms
        .run(&meta(), &auditor, Operation::AuditVerify(AuditVerify {}))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(v.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limited_grant_allows_exactly_its_uses_under_concurrency_on_the_sql_store() {
    let (kms, admin, _dir) = sql_world().await;
    let kms = Arc::new(kms);
    let manager = token(&kms, &admin, "manager", Role::KeyManager).await;
    let user = token(&kms, &admin, "user", Role::KeyUser).await;
    let Response::Key(key) = kms
        .run(
            &meta(),
            &manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec::default(),
                idempotency_token: None,
            }),
        )
        .await
        .unwrap()
    else {
        panic!("key")
    };
    kms.run(
        &meta(),
        &manager,
        Operation::CreateGrant(CreateGrant {
            key: key.id.into(),
            grantee: p("user").into(),
            operations: BTreeSet::from([KeyOp::Encrypt]),
            conditions: keyhold_core::model::Conditions {
                max_uses: Some(5),
                ..Default::default()
            },
        }),
    )
    .await
    .unwrap();
    let key_id = key.id;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let kms = kms.clone();
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            kms.run(
                &meta(),
                &user,
                Operation::Encrypt(Encrypt {
                    key: KeyRef::from(key_id),
                    plaintext: Some(SecretData(keyhold_core::SecretBytes::new(vec![i; 8]))),
                    context: Default::default(),
                }),
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(KmsError::PermissionDenied(m)) => assert!(m.contains("exhausted"), "{m}"),
            Err(KmsError::Conflict) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 5, "exactly max_uses encryptions succeeded");
    let more = kms
        .run(
            &meta(),
            &user,
            Operation::Encrypt(Encrypt {
                key: KeyRef::from(key.id),
                plaintext: Some(SecretData(keyhold_core::SecretBytes::new(vec![1]))),
                context: Default::default(),
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(more, KmsError::PermissionDenied(_)), "{more:?}");
}

#[tokio::test]
async fn root_rotation_and_unseal_rekey_wait_for_their_approvals() {
    let w = World::new().await;
    let second = w.token("admin2", Role::Admin).await;
    set_policy(
        &w.kms,
        &w.admin,
        vec![rule(
            &[ApprovalAction::RootRotate, ApprovalAction::UnsealRekey],
            1,
            &["admin2"],
            86_400,
        )],
    )
    .await;
    let blob = || async {
        keyhold_core::store::KeyStore::system_value(w.store.as_ref(), "root-key")
            .await
            .unwrap()
            .unwrap()
    };
    let before = blob().await;
    let rotate = || Operation::RotateRootKey(RotateRootKey {});
    let (id, rerun) = held(w.run(&w.admin, rotate()).await);
    assert!(!rerun, "an approved rotation runs by itself");
    assert_eq!(blob().await, before, "nothing happens before the approval");
    assert!(
        w.run(&w.admin, approve(id)).await.is_err(),
        "no self-approval"
    );
    let done = record(w.run(&second, approve(id)).await);
    assert_eq!(done.status, ApprovalStatus::Executed, "{done:?}");
    assert_eq!(done.result.as_ref().unwrap()["tenants"], 1);
    assert_ne!(blob().await, before, "rotated exactly when approved");
    // The new root key is the one in memory: keys still work, and a second rotation (held
    // again) is a new request.
    let k = w.key(Algorithm::Aes256, |_| {}).await;
    let ct = w.encrypt(k.id, b"after").await.unwrap();
    assert_eq!(
        w.decrypt(&ct.ciphertext)
            .await
            .unwrap()
            .plaintext
            .0
            .as_bytes(),
        b"after"
    );
    let (again, _) = held(w.run(&w.admin, rotate()).await);
    assert_ne!(again, id);

    let rekey = || {
        Operation::RekeyUnseal(RekeyUnseal {
            shares: 3,
            threshold: 2,
        })
    };
    let (id, _) = held(w.run(&w.admin, rekey()).await);
    record(w.run(&second, approve(id)).await);
    let Response::UnsealRekey(k) = w.run(&w.admin, rekey()).await.unwrap() else {
        panic!("rekey")
    };
    assert_eq!(k.shares.len(), 3);
    let stored = serde_json::to_string(&record(
        w.run(&second, Operation::ShowApproval(ShowApproval { id }))
            .await,
    ))
    .unwrap();
    assert!(!stored.contains(std::str::from_utf8(k.shares[0].0.as_bytes()).unwrap()));
}
