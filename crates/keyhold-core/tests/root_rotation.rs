//! Root-key rotation: online under load, nothing fails because of it, and every key, archive
//! key and ciphertext still works after the server is sealed and unsealed again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use keyhold_core::lifecycle::KeyState;
use keyhold_core::ops::*;
use keyhold_core::store::KeyStore;
use keyhold_core::{Algorithm, ErrorCode, Operation, Response};

async fn rotate(w: &World) -> RootKeyRotation {
    match w
        .run(&w.admin, Operation::RotateRootKey(RotateRootKey {}))
        .await
        .unwrap()
    {
        Response::RootKeyRotation(r) => r,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_under_load_fails_no_request_and_every_key_still_works() {
    let w = Arc::new(World::new().await);
    let blob_before = w.store.system_value("root-key").await.unwrap().unwrap();
    let aes = w.key(Algorithm::Aes256, |_| {}).await;
    let to_archive = w.key(Algorithm::Aes256, |_| {}).await;
    let archived_ct = w
        .encrypt(to_archive.id, b"archived")
        .await
        .unwrap()
        .ciphertext;
    w.change(to_archive.id, StateChange::Deactivate)
        .await
        .unwrap();

    // Load: encrypt and decrypt until the rotations are done.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for i in 0..4 {
        let (w, stop) = (w.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            let mut cts = Vec::new();
            while !stop.load(Ordering::Relaxed) || n < 20 {
                let pt = format!("task {i} request {n}");
                let ct = w.encrypt(aes.id, pt.as_bytes()).await.expect("encrypt");
                let back = w.decrypt(&ct.ciphertext).await.expect("decrypt");
                assert_eq!(back.plaintext.0.as_bytes(), pt.as_bytes());
                cts.push((pt, ct.ciphertext));
                n += 1;
            }
            cts
        }));
    }
    // A tenant's KEK and the tenant's first archive key are sealed under the root key while
    // rotations run.
    let creating = {
        let w = w.clone();
        tokio::spawn(async move {
            w.run(
                &w.admin,
                Operation::CreateTenant(CreateTenant {
                    id: "beta".parse().unwrap(),
                }),
            )
            .await
        })
    };
    let archiving = {
        let w = w.clone();
        tokio::spawn(async move { w.change(to_archive.id, StateChange::Archive).await })
    };
    let mut rewrapped = 0;
    for _ in 0..3 {
        let r = rotate(&w).await;
        assert!((1..=2).contains(&r.tenants), "{r:?}");
        rewrapped += r.archive_keys;
    }
    archiving.await.unwrap().expect("archive during rotations");
    creating
        .await
        .unwrap()
        .expect("tenant created during rotations");
    stop.store(true, Ordering::Relaxed);
    let mut made = Vec::new();
    for t in load {
        made.extend(t.await.expect("no request failed during the rotations"));
    }
    assert!(rewrapped <= 3);

    let blob_after = w.store.system_value("root-key").await.unwrap().unwrap();
    assert_ne!(blob_before, blob_after, "the root key was rotated");

    // Sealed and unsealed again, the same root of trust opens the rotated root key, and every
    // tenant KEK and archive key opens under it.
    w.kms.seal().await.unwrap();
    w.kms.unseal(&w.root).await.unwrap();
    for (pt, ct) in made.iter().step_by(7) {
        let back = w.decrypt(ct).await.unwrap();
        assert_eq!(back.plaintext.0.as_bytes(), pt.as_bytes());
    }
    w.change(to_archive.id, StateChange::Recover).await.unwrap();
    w.change(to_archive.id, StateChange::Activate)
        .await
        .unwrap_err();
    assert_eq!(w.describe(to_archive.id).await.state, KeyState::Deactivated);
    assert_eq!(
        w.decrypt(&archived_ct)
            .await
            .unwrap()
            .plaintext
            .0
            .as_bytes(),
        b"archived"
    );
    // The new tenant's KEK opens under the rotated root key.
    let beta_admin = match w
        .run(
            &w.admin,
            Operation::CreateToken(CreateToken {
                principal: "beta-admin".parse().unwrap(),
                role: keyhold_core::model::Role::Admin,
                ttl_secs: None,
                description: String::new(),
                tenant: Some("beta".parse().unwrap()),
            }),
        )
        .await
        .unwrap()
    {
        Response::CreatedToken(t) => keyhold_core::Credential::Bearer(t.token.0),
        other => panic!("{other:?}"),
    };
    let beta_manager = match w
        .run(
            &beta_admin,
            Operation::CreateToken(CreateToken {
                principal: "beta-manager".parse().unwrap(),
                role: keyhold_core::model::Role::KeyManager,
                ttl_secs: None,
                description: String::new(),
                tenant: None,
            }),
        )
        .await
        .unwrap()
    {
        Response::CreatedToken(t) => keyhold_core::Credential::Bearer(t.token.0),
        other => panic!("{other:?}"),
    };
    w.run(
        &beta_manager,
        Operation::CreateKey(CreateKey {
            algorithm: Algorithm::Aes256,
            spec: KeySpec::default(),
            idempotency_token: None,
        }),
    )
    .await
    .expect("a key wrapped under the new tenant's KEK");
    // Another node sharing the store unseals with the same root of trust.
    let other = w.other_node().await;
    assert!(other.is_unsealed());
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn only_installation_administrators_rotate_the_root_key() {
    let w = World::new().await;
    for who in [&w.manager, &w.user, &w.auditor] {
        let err = w
            .run(who, Operation::RotateRootKey(RotateRootKey {}))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::PermissionDenied);
    }
    let r = rotate(&w).await;
    assert_eq!((r.tenants, r.archive_keys), (1, 0));
    assert_eq!(r.sealed_by, "k");
}
