//! Labels, usage masks, activation dates and replacement keys on the core (what the KMIP
//! adapter maps Name, Cryptographic Usage Mask, Activation Date and Re-key onto).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_core::clock::{Clock, Timestamp};
use keyhold_core::lifecycle::KeyState;
use keyhold_core::model::{LinkKind, UsageMask};
use keyhold_core::ops::*;
use keyhold_core::{Algorithm, ErrorCode, KmsError, Operation, Response};

async fn list_by_label(w: &World, label: &str) -> Vec<keyhold_core::ids::KeyId> {
    let Response::Keys(k) = w
        .run(
            &w.manager,
            Operation::ListKeys(ListKeys {
                label: Some(label.into()),
                ..ListKeys::default()
            }),
        )
        .await
        .unwrap()
    else {
        panic!("list")
    };
    k.keys.into_iter().map(|k| k.id).collect()
}

async fn update(w: &World, f: impl FnOnce(&mut UpdateKey)) -> Result<KeyInfo, KmsError> {
    let mut u = UpdateKey::default();
    f(&mut u);
    w.run(&w.manager, Operation::UpdateKey(u))
        .await
        .map(key_info)
}

#[tokio::test]
async fn labels_are_ordered_distinct_not_unique_and_listed_by() {
    let w = World::new().await;
    let a = w
        .key(Algorithm::Aes256, |r| {
            r.spec.labels = vec!["payroll".into(), "shared".into()]
        })
        .await;
    assert_eq!(a.labels, vec!["payroll", "shared"]);
    // Two keys may share a label (a KMIP name need not be unique); a name may not be shared.
    let b = w
        .key(Algorithm::Aes256, |r| {
            r.spec.labels = vec!["shared".into()];
            r.spec.name = Some("b".parse().unwrap());
        })
        .await;
    let mut shared = list_by_label(&w, "shared").await;
    shared.sort();
    let mut both = vec![a.id, b.id];
    both.sort();
    assert_eq!(shared, both);
    assert_eq!(list_by_label(&w, "payroll").await, vec![a.id]);

    let dup = w
        .run(
            &w.manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec {
                    labels: vec!["x".into(), "x".into()],
                    ..KeySpec::default()
                },
                idempotency_token: None,
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(dup.code(), ErrorCode::InvalidRequest);
    let empty = update(&w, |u| {
        u.key = a.id.into();
        u.labels = Some(vec![String::new()]);
    })
    .await
    .unwrap_err();
    assert_eq!(empty.code(), ErrorCode::InvalidRequest);

    let a = update(&w, |u| {
        u.key = a.id.into();
        u.labels = Some(vec!["ledger".into()]);
    })
    .await
    .unwrap();
    assert_eq!(a.labels, vec!["ledger"]);
    assert!(list_by_label(&w, "payroll").await.is_empty());
    assert_eq!(list_by_label(&w, "shared").await, vec![b.id]);
    // A label does not address a key.
    let e = w
        .run(
            &w.manager,
            Operation::DescribeKey(DescribeKey {
                key: keyhold_core::ids::KeyRef("ledger".into()),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn a_usage_mask_is_kept_exactly_and_limits_the_key_within_its_usage() {
    let w = World::new().await;
    // Encrypt and Wrap Key, no Decrypt.
    let mask = UsageMask(UsageMask::ENCRYPT | UsageMask::WRAP_KEY | 0x0010_0000);
    let k = w
        .key(Algorithm::Aes256, |r| r.spec.usage_mask = Some(mask))
        .await;
    assert_eq!(k.usage_mask, Some(mask));
    assert_eq!(w.describe(k.id).await.usage_mask, Some(mask));
    let ct = w.encrypt(k.id, b"data").await.unwrap().ciphertext;
    let e = w.decrypt(&ct).await.unwrap_err();
    assert!(matches!(e, KmsError::WrongKeyUsage(_)), "{e:?}");
    assert!(e.to_string().contains("decrypt"), "{e}");

    // Without a grant the caller learns nothing about the mask: permission denied first.
    let other = w
        .key(Algorithm::Aes256, |r| {
            r.spec.usage_mask = Some(UsageMask(0))
        })
        .await;
    let e = w.encrypt(other.id, b"data").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongKeyUsage);
    let ungranted = key_info(
        w.run(
            &w.manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec {
                    usage_mask: Some(UsageMask(0)),
                    ..KeySpec::default()
                },
                idempotency_token: None,
            }),
        )
        .await
        .unwrap(),
    );
    let e = w.encrypt(ungranted.id, b"data").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);

    // A key without a mask does whatever its usage allows.
    let plain = w.key(Algorithm::Aes256, |_| {}).await;
    assert_eq!(plain.usage_mask, None);
    let ct = w.encrypt(plain.id, b"data").await.unwrap().ciphertext;
    w.decrypt(&ct).await.unwrap();
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn wrapping_on_export_needs_wrap_key_or_encrypt_in_the_wrapping_keys_mask() {
    let w = World::new().await;
    let target = w.key(Algorithm::Aes256, |_| {}).await;
    let export = |kek: KeyInfo| {
        let w = &w;
        async move {
            w.run(
                &w.user,
                Operation::ExportKey(ExportKey {
                    key: target.id.into(),
                    key_version: None,
                    wrap: Some(WrapSpec {
                        key: kek.id.into(),
                        mode: WrapMode::AesKeyWrap,
                    }),
                }),
            )
            .await
        }
    };
    let wrap_only = w
        .key(Algorithm::Aes256, |r| {
            r.spec.usage_mask = Some(UsageMask(UsageMask::WRAP_KEY))
        })
        .await;
    export(wrap_only).await.unwrap();
    let decrypt_only = w
        .key(Algorithm::Aes256, |r| {
            r.spec.usage_mask = Some(UsageMask(UsageMask::DECRYPT))
        })
        .await;
    let e = export(decrypt_only).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongKeyUsage);
}

#[tokio::test]
async fn the_activation_date_moves_while_pre_active_only() {
    let w = World::new().await;
    let now = w.clock.now();
    let k = w.key(Algorithm::Aes256, |r| r.spec.pre_active = true).await;
    assert_eq!(k.state, KeyState::PreActive);
    let later = now.plus_secs(3600);
    let k = w
        .change(k.id, StateChange::SetActivationDate { at: later })
        .await
        .unwrap();
    assert_eq!(k.state, KeyState::PreActive);
    assert_eq!(k.lifecycle.activation_date, Some(later));
    w.clock.advance_secs(3600);
    assert_eq!(w.describe(k.id).await.state, KeyState::Active);
    let e = w
        .change(
            k.id,
            StateChange::SetActivationDate {
                at: later.plus_secs(10),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidKeyState);

    // A date that is not in the future activates at once, at that date.
    let k2 = w.key(Algorithm::Aes256, |r| r.spec.pre_active = true).await;
    let past = Timestamp::from_millis(w.clock.now().millis() - 60_000);
    let k2 = w
        .change(k2.id, StateChange::SetActivationDate { at: past })
        .await
        .unwrap();
    assert_eq!(k2.state, KeyState::Active);
    assert_eq!(k2.lifecycle.activation_date, Some(past));
    // Created with a future activation date: pre-active until then.
    let k3 = w
        .key(Algorithm::Aes256, |r| {
            r.spec.activation_date = Some(w.clock.now().plus_secs(60))
        })
        .await;
    assert_eq!(k3.state, KeyState::PreActive);
    w.clock.advance_secs(60);
    assert_eq!(w.describe(k3.id).await.state, KeyState::Active);
}

#[tokio::test]
async fn a_replacement_takes_the_names_and_the_two_are_linked() {
    let w = World::new().await;
    let mask = UsageMask(UsageMask::ENCRYPT | UsageMask::DECRYPT);
    let old = w
        .key(Algorithm::Aes256, |r| {
            r.spec.name = Some("billing".parse().unwrap());
            r.spec.labels = vec!["billing key".into()];
            r.spec.usage_mask = Some(mask);
            r.spec.tags = [("env".to_owned(), "prod".to_owned())].into();
        })
        .await;
    let new = key_info(
        w.run(
            &w.manager,
            Operation::ReplaceKey(ReplaceKey {
                key: old.id.into(),
                ..ReplaceKey::default()
            }),
        )
        .await
        .unwrap(),
    );
    assert_ne!(new.id, old.id);
    assert_eq!(new.name.as_ref().map(|n| n.as_str()), Some("billing"));
    assert_eq!(new.labels, vec!["billing key"]);
    assert_eq!(new.usage_mask, Some(mask));
    assert_eq!(new.tags, old.tags);
    assert_eq!(new.state, KeyState::Active, "the old key was active");
    assert_eq!(new.lifecycle.activation_date, old.lifecycle.activation_date);
    assert!(new
        .links
        .iter()
        .any(|l| l.kind == LinkKind::ReplacedObject && l.target == old.id));
    let old_after = w.describe(old.id).await;
    assert_eq!(old_after.name, None);
    assert!(old_after.labels.is_empty());
    assert_eq!(
        old_after.state,
        KeyState::Active,
        "the old key keeps its state"
    );
    assert!(old_after
        .links
        .iter()
        .any(|l| l.kind == LinkKind::ReplacementObject && l.target == new.id));
    // The name now addresses the replacement.
    assert_eq!(
        key_info(
            w.run(
                &w.manager,
                Operation::DescribeKey(DescribeKey {
                    key: keyhold_core::ids::KeyRef("billing".into()),
                }),
            )
            .await
            .unwrap()
        )
        .id,
        new.id
    );
    assert_eq!(list_by_label(&w, "billing key").await, vec![new.id]);

    // An offset: active that long after now; the protection period keeps its length.
    let dated = w
        .key(Algorithm::Aes256, |r| {
            r.spec.deactivation_date = Some(w.clock.now().plus_secs(1000))
        })
        .await;
    let replacement = key_info(
        w.run(
            &w.manager,
            Operation::ReplaceKey(ReplaceKey {
                key: dated.id.into(),
                offset_secs: Some(100),
                ..ReplaceKey::default()
            }),
        )
        .await
        .unwrap(),
    );
    let now = w.clock.now();
    assert_eq!(replacement.state, KeyState::PreActive);
    assert_eq!(
        replacement.lifecycle.activation_date,
        Some(now.plus_secs(100))
    );
    assert_eq!(
        replacement.lifecycle.deactivation_date,
        Some(now.plus_secs(1100))
    );

    // Key users cannot replace keys.
    let e = w
        .run(
            &w.user,
            Operation::ReplaceKey(ReplaceKey {
                key: new.id.into(),
                ..ReplaceKey::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn a_key_pair_is_replaced_with_its_public_key() {
    let w = World::new().await;
    let Response::KeyPair(pair) = w
        .run(
            &w.manager,
            Operation::CreateKeyPair(CreateKeyPair {
                algorithm: Algorithm::EcP256,
                spec: KeySpec {
                    labels: vec!["signer".into()],
                    usage_mask: Some(UsageMask(UsageMask::SIGN)),
                    ..KeySpec::default()
                },
                public_tags: Default::default(),
                public_labels: vec!["signer public".into()],
                public_usage_mask: Some(UsageMask(UsageMask::VERIFY)),
            }),
        )
        .await
        .unwrap()
    else {
        panic!("pair")
    };
    assert_eq!(pair.public_key.labels, vec!["signer public"]);
    assert_eq!(
        pair.public_key.usage_mask,
        Some(UsageMask(UsageMask::VERIFY))
    );
    let Response::KeyPair(new) = w
        .run(
            &w.manager,
            Operation::ReplaceKey(ReplaceKey {
                key: pair.private_key.id.into(),
                ..ReplaceKey::default()
            }),
        )
        .await
        .unwrap()
    else {
        panic!("replacement pair")
    };
    let link = |k: &KeyInfo, kind| k.links.iter().find(|l| l.kind == kind).map(|l| l.target);
    assert_eq!(
        link(&new.private_key, LinkKind::PublicKey),
        Some(new.public_key.id)
    );
    assert_eq!(
        link(&new.public_key, LinkKind::PrivateKey),
        Some(new.private_key.id)
    );
    assert_eq!(
        link(&new.private_key, LinkKind::ReplacedObject),
        Some(pair.private_key.id)
    );
    assert_eq!(
        link(&new.public_key, LinkKind::ReplacedObject),
        Some(pair.public_key.id)
    );
    assert_eq!(new.private_key.labels, vec!["signer"]);
    assert_eq!(new.public_key.labels, vec!["signer public"]);
    assert_eq!(
        new.public_key.usage_mask,
        Some(UsageMask(UsageMask::VERIFY))
    );
    let old_private = w.describe(pair.private_key.id).await;
    let old_public = w.describe(pair.public_key.id).await;
    assert_eq!(
        link(&old_private, LinkKind::ReplacementObject),
        Some(new.private_key.id)
    );
    assert_eq!(
        link(&old_public, LinkKind::ReplacementObject),
        Some(new.public_key.id)
    );
    assert!(old_private.labels.is_empty() && old_public.labels.is_empty());
    // A public key is replaced with its private key, not alone.
    let e = w
        .run(
            &w.manager,
            Operation::ReplaceKey(ReplaceKey {
                key: new.public_key.id.into(),
                ..ReplaceKey::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
}
