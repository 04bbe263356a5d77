//! Compliance reports: the inventory names keys past their crypto-period and overdue for
//! rotation, access lists every grant, usage counts operations per key and principal from the
//! audit trail over the period asked, and only auditors make them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_core::lifecycle::KeyState;
use keyhold_core::ops::*;
use keyhold_core::{Algorithm, ErrorCode, Operation, Response};

async fn report(w: &World, kind: ReportKind) -> ReportOut {
    match w
        .run(
            &w.auditor,
            Operation::Report(Report {
                kind,
                from: None,
                to: None,
            }),
        )
        .await
        .unwrap()
    {
        Response::Report(r) => *r,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reports_show_inventory_access_usage_and_approvals() {
    let w = World::new().await;
    let short = w
        .key(Algorithm::Aes256, |c| {
            c.spec.crypto_period_secs = Some(3600)
        })
        .await;
    let rotating = w
        .key(Algorithm::HmacSha256, |c| {
            c.spec.rotation_period_secs = Some(86_400)
        })
        .await;
    for _ in 0..3 {
        w.encrypt(short.id, b"x").await.unwrap();
    }
    w.clock.advance_secs(2 * 86_400);
    // Past its crypto-period the key only decrypts: the refusal is counted as an error.
    assert!(w.encrypt(short.id, b"x").await.is_err());

    let ReportOut::Keys(k) = report(&w, ReportKind::Keys).await else {
        panic!("keys")
    };
    assert_eq!(k.total, 2);
    assert_eq!(k.by_algorithm["aes-256"], 1);
    assert_eq!(k.by_age["under-30d"], 2);
    assert_eq!(k.by_state[&KeyState::Deactivated.to_string()], 1);
    assert_eq!(
        k.past_crypto_period
            .iter()
            .map(|n| n.id)
            .collect::<Vec<_>>(),
        vec![short.id]
    );
    assert_eq!(
        k.rotation_overdue.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![rotating.id],
        "the sweeper has not run, so the rotation is overdue"
    );

    let ReportOut::Access(a) = report(&w, ReportKind::Access).await else {
        panic!("access")
    };
    let line = &a.keys.iter().find(|k| k.id == short.id).unwrap().grants[0];
    assert_eq!(line.grantee, "user");
    assert!(line
        .operations
        .contains(&keyhold_core::model::KeyOp::Encrypt));

    let ReportOut::Usage(u) = report(&w, ReportKind::Usage).await else {
        panic!("usage")
    };
    assert_eq!(u.by_key[&short.id.to_string()]["encrypt"], 4);
    assert_eq!(u.by_principal["user"]["encrypt"], 4);
    assert_eq!(u.errors, 1);
    assert!(!u.truncated);
    // A period before anything happened is empty.
    let Response::Report(empty) = w
        .run(
            &w.auditor,
            Operation::Report(Report {
                kind: ReportKind::Usage,
                from: Some(keyhold_core::clock::Timestamp::from_millis(0)),
                to: Some(keyhold_core::clock::Timestamp::from_millis(1)),
            }),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let ReportOut::Usage(empty) = *empty else {
        panic!()
    };
    assert_eq!(empty.events, 0);

    let ReportOut::Approvals(p) = report(&w, ReportKind::Approvals).await else {
        panic!("approvals")
    };
    assert!(p.pending.is_empty() && p.executed.is_empty());

    for who in [&w.admin, &w.manager, &w.user] {
        let err = w
            .run(
                who,
                Operation::Report(Report {
                    kind: ReportKind::Keys,
                    from: None,
                    to: None,
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::PermissionDenied);
    }
}

/// A limited grant used up lists as exhausted with its count; a refused use through a key's
/// name counts under the key's id, as its successful uses do.
#[tokio::test]
async fn access_shows_grant_status_and_usage_counts_refusals_by_key_id() {
    use keyhold_core::ids::{KeyRef, PrincipalName};
    use keyhold_core::model::{Conditions, KeyOp};

    let w = World::new().await;
    let created = w
        .run(
            &w.manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec {
                    name: Some("payroll".parse().unwrap()),
                    ..KeySpec::default()
                },
                idempotency_token: None,
            }),
        )
        .await
        .unwrap();
    let key = key_info(created);
    w.run(
        &w.manager,
        Operation::CreateGrant(CreateGrant {
            key: key.id.into(),
            grantee: PrincipalName::try_from("user".to_owned()).unwrap().into(),
            operations: [KeyOp::Encrypt].into_iter().collect(),
            conditions: Conditions {
                max_uses: Some(1),
                ..Conditions::default()
            },
        }),
    )
    .await
    .unwrap();
    let encrypt_by_name = || {
        w.run(
            &w.user,
            Operation::Encrypt(Encrypt {
                key: KeyRef("payroll".into()),
                plaintext: Some(SecretData(keyhold_core::SecretBytes::new(b"x".to_vec()))),
                context: Default::default(),
            }),
        )
    };
    encrypt_by_name().await.unwrap();
    let err = encrypt_by_name().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::PermissionDenied);

    let ReportOut::Access(a) = report(&w, ReportKind::Access).await else {
        panic!("access")
    };
    let line = &a.keys.iter().find(|k| k.id == key.id).unwrap().grants[0];
    assert_eq!(line.status, GrantStatus::Exhausted);
    assert_eq!(line.uses, Some(1));

    let ReportOut::Usage(u) = report(&w, ReportKind::Usage).await else {
        panic!("usage")
    };
    assert_eq!(
        u.by_key[&key.id.to_string()]["encrypt"],
        2,
        "{:?}",
        u.by_key
    );
    assert!(!u.by_key.contains_key("payroll"), "{:?}", u.by_key);
    assert_eq!(u.denied, 1);
}

#[test]
fn grant_status_follows_the_window_and_the_uses() {
    use keyhold_core::clock::Timestamp;
    use keyhold_core::model::Conditions;
    let now = Timestamp::from_millis(10_000);
    let window = |nb: Option<i64>, na: Option<i64>| Conditions {
        not_before: nb.map(Timestamp::from_millis),
        not_after: na.map(Timestamp::from_millis),
        max_uses: Some(3),
        ..Conditions::default()
    };
    assert_eq!(
        GrantStatus::of(&window(None, None), Some(2), now),
        GrantStatus::Effective
    );
    assert_eq!(
        GrantStatus::of(&window(None, None), Some(3), now),
        GrantStatus::Exhausted
    );
    assert_eq!(
        GrantStatus::of(&window(Some(20_000), None), Some(0), now),
        GrantStatus::NotYetValid
    );
    assert_eq!(
        GrantStatus::of(&window(None, Some(10_000)), Some(0), now),
        GrantStatus::Expired
    );
}

/// A usage report reads its period only: the events before it are skipped by bisection over
/// the chain, so a recent period is reported in full however long the chain is.
#[tokio::test]
async fn usage_counts_only_the_period_asked() {
    use keyhold_core::clock::{Clock, Timestamp};
    let w = World::new().await;
    let key = w.key(Algorithm::Aes256, |_| {}).await;
    let start = w.clock.now();
    for _ in 0..5 {
        w.encrypt(key.id, b"old").await.unwrap();
    }
    w.clock.advance_secs(10 * 86_400);
    let recent = w.clock.now();
    for _ in 0..3 {
        w.encrypt(key.id, b"new").await.unwrap();
    }
    let w = &w;
    let usage = |from: Timestamp, to: Timestamp| async move {
        let Response::Report(r) = w
            .run(
                &w.auditor,
                Operation::Report(Report {
                    kind: ReportKind::Usage,
                    from: Some(from),
                    to: Some(to),
                }),
            )
            .await
            .unwrap()
        else {
            panic!()
        };
        let ReportOut::Usage(u) = *r else { panic!() };
        u
    };
    let later = w.clock.now().plus_secs(60);
    let u = usage(recent, later).await;
    assert_eq!(
        u.by_key[&key.id.to_string()]["encrypt"],
        3,
        "{:?}",
        u.by_key
    );
    let u = usage(start, start.plus_secs(86_400)).await;
    assert_eq!(
        u.by_key[&key.id.to_string()]["encrypt"],
        5,
        "{:?}",
        u.by_key
    );
    let u = usage(start, later).await;
    assert_eq!(
        u.by_key[&key.id.to_string()]["encrypt"],
        8,
        "{:?}",
        u.by_key
    );
    assert!(!u.truncated);
}
