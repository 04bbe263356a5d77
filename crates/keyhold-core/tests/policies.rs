//! Key policies on the core: conditions (encryption context, validity window, use count),
//! grants to roles, separation of duties, and versioned history with reverts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use keyhold_core::audit::Outcome;
use keyhold_core::ids::{GrantId, KeyId, KeyRef, PrincipalName};
use keyhold_core::model::{Conditions, Grant, Grantee, KeyOp, Role};
use keyhold_core::ops::*;
use keyhold_core::{Algorithm, Credential, KmsError, Operation, Response, SecretBytes};

fn p(s: &str) -> PrincipalName {
    s.parse().unwrap()
}

/// A key with no grant (the World's helper grants the user everything).
async fn bare_key(w: &World) -> KeyInfo {
    key_info(
        w.run(
            &w.manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec::default(),
                idempotency_token: None,
            }),
        )
        .await
        .unwrap(),
    )
}

async fn grant(
    w: &World,
    key: KeyId,
    grantee: Grantee,
    ops: &[KeyOp],
    conditions: Conditions,
) -> Result<Grant, KmsError> {
    match w
        .run(
            &w.manager,
            Operation::CreateGrant(CreateGrant {
                key: key.into(),
                grantee,
                operations: ops.iter().copied().collect::<BTreeSet<_>>(),
                conditions,
            }),
        )
        .await?
    {
        Response::Grant(g) => Ok(g),
        other => panic!("{other:?}"),
    }
}

async fn encrypt_as(
    w: &World,
    who: &Credential,
    key: KeyId,
    context: &[(&str, &str)],
) -> Result<EncryptResponse, KmsError> {
    let context: BTreeMap<String, String> = context
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match w
        .run(
            who,
            Operation::Encrypt(Encrypt {
                key: KeyRef::from(key),
                plaintext: Some(SecretData(SecretBytes::new(b"hello".to_vec()))),
                context,
            }),
        )
        .await?
    {
        Response::Encrypt(e) => Ok(e),
        other => panic!("{other:?}"),
    }
}

fn denied(r: Result<EncryptResponse, KmsError>, why: &str) {
    match r {
        Err(KmsError::PermissionDenied(m)) => assert!(m.contains(why), "{m}"),
        other => panic!("expected a refusal ({why}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_use_without_a_grant_is_refused() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "no grant");
}

#[tokio::test]
async fn a_request_without_the_required_encryption_context_is_refused() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    let conditions = Conditions {
        context: BTreeMap::from([("app".to_owned(), "billing".to_owned())]),
        ..Default::default()
    };
    grant(
        &w,
        k.id,
        p("user").into(),
        &[KeyOp::Encrypt, KeyOp::Decrypt],
        conditions,
    )
    .await
    .unwrap();
    denied(
        encrypt_as(&w, &w.user, k.id, &[]).await,
        "encryption-context",
    );
    denied(
        encrypt_as(&w, &w.user, k.id, &[("app", "payroll")]).await,
        "encryption-context",
    );
    let ct = encrypt_as(&w, &w.user, k.id, &[("app", "billing"), ("order", "42")])
        .await
        .unwrap()
        .ciphertext;
    let context = BTreeMap::from([
        ("app".to_owned(), "billing".to_owned()),
        ("order".to_owned(), "42".to_owned()),
    ]);
    let r = w
        .run(
            &w.user,
            Operation::Decrypt(Decrypt {
                ciphertext: ct,
                context,
            }),
        )
        .await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn a_grant_stops_allowing_once_its_uses_are_exhausted() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    let limited = Conditions {
        max_uses: Some(3),
        ..Default::default()
    };
    grant(&w, k.id, p("user").into(), &[KeyOp::Encrypt], limited)
        .await
        .unwrap();
    for _ in 0..3 {
        encrypt_as(&w, &w.user, k.id, &[]).await.unwrap();
    }
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "exhausted");
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "exhausted");
    // An unlimited grant for another operation is not affected.
    grant(
        &w,
        k.id,
        p("user").into(),
        &[KeyOp::GenerateDataKey],
        Conditions::default(),
    )
    .await
    .unwrap();
    let r = w
        .run(
            &w.user,
            Operation::GenerateDataKey(GenerateDataKey {
                key: k.id.into(),
                number_of_bytes: None,
                context: Default::default(),
                include_plaintext: None,
            }),
        )
        .await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn a_grant_allows_nothing_outside_its_validity_window() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    let now = w.kms.now();
    let window = Conditions {
        not_before: Some(now.plus_secs(3600)),
        not_after: Some(now.plus_secs(7200)),
        ..Default::default()
    };
    grant(&w, k.id, p("user").into(), &[KeyOp::Encrypt], window)
        .await
        .unwrap();
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "validity window");
    w.clock.advance_secs(3600);
    encrypt_as(&w, &w.user, k.id, &[]).await.unwrap();
    w.clock.advance_secs(3600);
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "validity window");
}

#[tokio::test]
async fn a_grant_to_a_role_covers_every_holder_of_the_role() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    let app = w.token("app", Role::KeyUser).await;
    grant(
        &w,
        k.id,
        Grantee::Role {
            role: Role::KeyUser,
        },
        &[KeyOp::Encrypt],
        Conditions::default(),
    )
    .await
    .unwrap();
    encrypt_as(&w, &w.user, k.id, &[]).await.unwrap();
    encrypt_as(&w, &app, k.id, &[]).await.unwrap();
    // A role grant gives no other operation.
    let r = w
        .run(
            &app,
            Operation::Sign(Sign {
                key: k.id.into(),
                message: b"m".to_vec(),
                message_type: None,
                algorithm: None,
            }),
        )
        .await;
    assert!(matches!(r, Err(KmsError::PermissionDenied(_))), "{r:?}");
}

#[tokio::test]
async fn separation_of_duties_is_the_default_and_the_tenant_setting_governs_it() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    let set = |allow| {
        Operation::SetDuties(SetDuties {
            allow_combined_duties: allow,
            expected_version: None,
        })
    };
    // A principal that manages keys gets no key-user token while duties are separated…
    let refused = w
        .run(
            &w.admin,
            Operation::CreateToken(CreateToken {
                principal: p("manager"),
                role: Role::KeyUser,
                ttl_secs: None,
                description: String::new(),
                tenant: None,
            }),
        )
        .await;
    assert!(
        matches!(refused, Err(KmsError::PermissionDenied(_))),
        "{refused:?}"
    );
    // …and once it holds one anyway (issued while allowed), it cannot use keys it created.
    w.run(&w.admin, set(true)).await.unwrap();
    let manager_as_user = w.token("manager", Role::KeyUser).await;
    w.run(&w.admin, set(false)).await.unwrap();
    grant(
        &w,
        k.id,
        Grantee::Role {
            role: Role::KeyUser,
        },
        &[KeyOp::Encrypt],
        Conditions::default(),
    )
    .await
    .unwrap();
    denied(
        encrypt_as(&w, &manager_as_user, k.id, &[]).await,
        "separation of duties",
    );
    let self_grant = grant(
        &w,
        k.id,
        p("manager").into(),
        &[KeyOp::Encrypt],
        Conditions::default(),
    )
    .await;
    assert!(
        matches!(self_grant, Err(KmsError::PermissionDenied(m)) if m.contains("itself")),
        "{self_grant:?}"
    );
    // Only administrators change it.
    assert!(w.run(&w.manager, set(true)).await.is_err());
    w.run(&w.admin, set(true)).await.unwrap();
    encrypt_as(&w, &manager_as_user, k.id, &[]).await.unwrap();
    w.run(&w.admin, set(false)).await.unwrap();
    denied(
        encrypt_as(&w, &manager_as_user, k.id, &[]).await,
        "separation of duties",
    );
    let Response::PolicyHistory(h) = w
        .run(
            &w.auditor,
            Operation::PolicyHistory(PolicyHistory {
                target: PolicyTarget::Duties,
            }),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(h.versions.len(), 4);
}

#[tokio::test]
async fn a_policy_revert_restores_the_earlier_behaviour_and_both_changes_are_audited() {
    let w = World::new().await;
    let k = bare_key(&w).await;
    let g = grant(
        &w,
        k.id,
        p("user").into(),
        &[KeyOp::Encrypt],
        Conditions::default(),
    )
    .await
    .unwrap();
    encrypt_as(&w, &w.user, k.id, &[]).await.unwrap();
    // Version 2: the grant is revoked.
    w.run(&w.manager, Operation::RevokeGrant(RevokeGrant { id: g.id }))
        .await
        .unwrap();
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "no grant");
    // Version 3: back to version 1.
    let Response::Grants(after) = w
        .run(
            &w.manager,
            Operation::RevertPolicy(RevertPolicy {
                target: PolicyTarget::Key { key: k.id.into() },
                to: 1,
            }),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        after.grants.iter().map(|g| g.id).collect::<Vec<GrantId>>(),
        vec![g.id]
    );
    encrypt_as(&w, &w.user, k.id, &[]).await.unwrap();

    let Response::PolicyHistory(h) = w
        .run(
            &w.auditor,
            Operation::PolicyHistory(PolicyHistory {
                target: PolicyTarget::Key { key: k.id.into() },
            }),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let versions: Vec<u32> = h.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert!(h.versions.iter().all(|v| v.changed_by == p("manager")));
    assert!(h.versions[1].change.contains("revoked"));
    assert_eq!(h.versions[2].reverted_to, Some(1));
    assert_eq!(h.versions[2].document, h.versions[0].document);
    // Reverting to the version in force is refused; to a missing one, not found.
    let again = w
        .run(
            &w.manager,
            Operation::RevertPolicy(RevertPolicy {
                target: PolicyTarget::Key { key: k.id.into() },
                to: 3,
            }),
        )
        .await;
    assert!(
        matches!(again, Err(KmsError::InvalidRequest(_))),
        "{again:?}"
    );

    let Response::AuditExport(page) = w
        .run(
            &w.auditor,
            Operation::AuditExport(AuditExport {
                from_seq: None,
                limit: Some(1000),
            }),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let ok = |action: &str| {
        page.events
            .iter()
            .filter(|e| e.action == action && e.outcome == Outcome::Ok)
            .count()
    };
    assert_eq!(ok("grant.revoke"), 1);
    assert_eq!(ok("policy.revert"), 1);
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn a_policy_revert_is_under_dual_control_when_the_approval_policy_says_so() {
    use keyhold_core::policy::{ApprovalAction, ApprovalPolicy, ApprovalRule, Approvers};
    let w = World::new().await;
    let k = bare_key(&w).await;
    let g = grant(
        &w,
        k.id,
        p("user").into(),
        &[KeyOp::Encrypt],
        Conditions::default(),
    )
    .await
    .unwrap();
    w.run(&w.manager, Operation::RevokeGrant(RevokeGrant { id: g.id }))
        .await
        .unwrap();
    let bob = w.token("bob", Role::KeyManager).await;
    w.run(
        &w.admin,
        Operation::SetApprovalPolicy(SetApprovalPolicy {
            policy: ApprovalPolicy {
                rules: vec![ApprovalRule {
                    actions: BTreeSet::from([ApprovalAction::PolicyChange]),
                    approvals: 1,
                    approvers: Approvers {
                        principals: BTreeSet::from([p("bob")]),
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
    let revert = Operation::RevertPolicy(RevertPolicy {
        target: PolicyTarget::Key {
            key: KeyRef::from(k.id),
        },
        to: 1,
    });
    let Err(KmsError::ApprovalRequired { approval, .. }) = w.run(&w.manager, revert).await else {
        panic!("held")
    };
    denied(encrypt_as(&w, &w.user, k.id, &[]).await, "no grant");
    w.run(
        &bob,
        Operation::ApproveRequest(ApproveRequest {
            id: approval,
            comment: "ok".into(),
        }),
    )
    .await
    .unwrap();
    encrypt_as(&w, &w.user, k.id, &[]).await.unwrap();
}
