//! The hot path's caches seen from outside: every change acknowledged by this node applies to
//! the very next request; another node's changes within the cache lifetime; seal drops them; the
//! capacity bounds the unwrapped versions. Time is the manual clock, never a sleep.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_core::lifecycle::KeyState;
use keyhold_core::model::{KeyOp, Role};
use keyhold_core::ops::*;
use keyhold_core::store::KeyStore;
use keyhold_core::{Algorithm, Credential, KmsConfig, KmsError, Operation, Response};

fn whoami() -> Operation {
    Operation::WhoAmI(WhoAmI {})
}

#[tokio::test]
async fn a_revoked_token_fails_on_the_next_request() {
    let w = World::new().await;
    let Response::CreatedToken(t) = w
        .run(
            &w.admin,
            Operation::CreateToken(CreateToken {
                principal: "app".parse().unwrap(),
                role: Role::KeyUser,
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
    let app = Credential::Bearer(t.token.0.clone());
    // Twice: the second is served from the cache.
    w.run(&app, whoami()).await.unwrap();
    w.run(&app, whoami()).await.unwrap();
    assert!(w.kms.cache_sizes().tokens >= 1);
    w.run(
        &w.admin,
        Operation::RevokeToken(RevokeToken { id: t.info.id }),
    )
    .await
    .unwrap();
    let e = w.run(&app, whoami()).await.unwrap_err();
    assert!(matches!(e, KmsError::Unauthenticated), "{e:?}");
}

#[tokio::test]
async fn an_expiring_token_expires_although_cached() {
    let w = World::new().await;
    let Response::CreatedToken(t) = w
        .run(
            &w.admin,
            Operation::CreateToken(CreateToken {
                principal: "app".parse().unwrap(),
                role: Role::KeyUser,
                ttl_secs: Some(2),
                description: String::new(),
                tenant: None,
            }),
        )
        .await
        .unwrap()
    else {
        panic!("token")
    };
    let app = Credential::Bearer(t.token.0);
    w.run(&app, whoami()).await.unwrap();
    w.clock.advance_secs(1);
    w.run(&app, whoami()).await.unwrap();
    w.clock.advance_secs(1);
    assert!(matches!(
        w.run(&app, whoami()).await.unwrap_err(),
        KmsError::Unauthenticated
    ));
}

#[tokio::test]
async fn every_state_change_applies_to_the_next_request() {
    let w = World::new().await;
    let k = w.key(Algorithm::Aes256, |_| {}).await;
    let ct = w.encrypt(k.id, b"x").await.unwrap();
    w.encrypt(k.id, b"x").await.unwrap();
    assert!(w.kms.cache_sizes().keys >= 1 && w.kms.cache_sizes().versions >= 1);

    w.change(k.id, StateChange::Suspend).await.unwrap();
    assert!(w.encrypt(k.id, b"x").await.is_err(), "suspended");
    w.change(k.id, StateChange::Resume).await.unwrap();
    w.encrypt(k.id, b"x").await.unwrap();

    // Rotation: the next encryption uses the new version, old ciphertexts still decrypt.
    w.rotate(k.id).await;
    assert_eq!(w.encrypt(k.id, b"x").await.unwrap().key_version, 2);
    assert_eq!(w.decrypt(&ct.ciphertext).await.unwrap().key_version, 1);

    // A revoked grant refuses at once; a new one allows at once.
    let Response::Grants(grants) = w
        .run(
            &w.manager,
            Operation::ListGrants(ListGrants {
                key: Some(k.id.into()),
                grantee: None,
            }),
        )
        .await
        .unwrap()
    else {
        panic!("grants")
    };
    for g in grants.grants {
        w.run(&w.manager, Operation::RevokeGrant(RevokeGrant { id: g.id }))
            .await
            .unwrap();
    }
    assert!(matches!(
        w.encrypt(k.id, b"x").await.unwrap_err(),
        KmsError::PermissionDenied(_)
    ));
    w.grant(k.id, &[KeyOp::Encrypt, KeyOp::Decrypt]).await;
    w.encrypt(k.id, b"x").await.unwrap();

    // Revocation (deactivation): protect refused, process still allowed.
    w.change(
        k.id,
        StateChange::Revoke {
            reason: keyhold_core::lifecycle::RevocationReason::Superseded,
        },
    )
    .await
    .unwrap();
    assert!(w.encrypt(k.id, b"x").await.is_err(), "deactivated");
    w.decrypt(&ct.ciphertext).await.unwrap();

    // Destruction: the material is gone from the store and from the cache.
    w.change(k.id, StateChange::Destroy).await.unwrap();
    assert!(w.decrypt(&ct.ciphertext).await.is_err(), "destroyed");
    assert_eq!(w.kms.cache_sizes().versions, 0);
    assert_eq!(w.describe(k.id).await.state, KeyState::Destroyed);
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn a_due_date_applies_although_the_record_is_cached() {
    let w = World::new().await;
    let k = w
        .key(Algorithm::Aes256, |c| {
            c.spec.deactivation_date =
                Some(keyhold_core::clock::Timestamp::from_millis(START).plus_secs(60))
        })
        .await;
    w.encrypt(k.id, b"x").await.unwrap();
    w.clock.advance_secs(59);
    w.encrypt(k.id, b"x").await.unwrap();
    w.clock.advance_secs(1);
    assert!(w.encrypt(k.id, b"x").await.is_err(), "deactivated by date");
}

#[tokio::test]
async fn another_nodes_change_is_seen_within_the_cache_lifetime() {
    let w = World::new().await;
    let k = w.key(Algorithm::Aes256, |_| {}).await;
    let b = w.other_node().await;
    let m = meta();
    let encrypt_on_b = || {
        b.run(
            &m,
            &w.user,
            Operation::Encrypt(Encrypt {
                key: k.id.into(),
                plaintext: Some(SecretData(keyhold_core::SecretBytes::new(b"x".to_vec()))),
                context: Default::default(),
            }),
        )
    };
    encrypt_on_b().await.unwrap();
    // Node A suspends the key. B's caches do not know yet (no cross-node invalidation): B may
    // keep using what it cached for at most the configured lifetime.
    w.change(k.id, StateChange::Suspend).await.unwrap();
    let ttl_secs = KmsConfig::default().cache_ttl_millis / 1000;
    w.clock.advance_secs(ttl_secs);
    let e = encrypt_on_b().await.unwrap_err();
    assert!(matches!(e, KmsError::InvalidState { .. }), "{e:?}");
    // B's own change invalidates B's caches at once, and its commit, after A's, verifies.
    b.run(
        &meta(),
        &w.manager,
        Operation::ChangeState(ChangeState {
            key: k.id.into(),
            change: StateChange::Resume,
        }),
    )
    .await
    .unwrap();
    encrypt_on_b().await.unwrap();
    assert!(w.audit_ok().await.ok);
}

#[tokio::test]
async fn a_token_revoked_on_another_node_stops_within_the_cache_lifetime() {
    let w = World::new().await;
    let b = w.other_node().await;
    let app = w.token("app", Role::KeyUser).await;
    b.run(&meta(), &app, whoami()).await.unwrap();
    let Response::WhoAmI(_) = w.run(&app, whoami()).await.unwrap() else {
        panic!()
    };
    let token = w
        .store
        .tokens(&keyhold_core::ids::TenantId::default_tenant())
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.principal.to_string() == "app")
        .unwrap();
    w.run(
        &w.admin,
        Operation::RevokeToken(RevokeToken { id: token.id }),
    )
    .await
    .unwrap();
    assert!(w.run(&app, whoami()).await.is_err(), "node A: at once");
    w.clock
        .advance_secs(KmsConfig::default().cache_ttl_millis / 1000);
    assert!(matches!(
        b.run(&meta(), &app, whoami()).await.unwrap_err(),
        KmsError::Unauthenticated
    ));
}

#[tokio::test]
async fn seal_drops_every_cache() {
    let w = World::new().await;
    let k = w.key(Algorithm::Aes256, |_| {}).await;
    w.encrypt(k.id, b"x").await.unwrap();
    let before = w.kms.cache_sizes();
    assert!(before.tokens > 0 && before.keys > 0 && before.grants > 0 && before.versions > 0);
    w.kms.seal().await.unwrap();
    assert_eq!(w.kms.cache_sizes(), keyhold_core::CacheSizes::default());
    assert!(matches!(
        w.encrypt(k.id, b"x").await.unwrap_err(),
        KmsError::Sealed
    ));
    w.kms.unseal(&w.root).await.unwrap();
    w.encrypt(k.id, b"x").await.unwrap();
}

#[tokio::test]
async fn the_capacity_bounds_the_unwrapped_versions() {
    let w = World::with_config(KmsConfig {
        key_cache_capacity: 2,
        cache_capacity: 3,
        ..KmsConfig::default()
    })
    .await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(w.key(Algorithm::Aes256, |_| {}).await.id);
    }
    for round in 0..3 {
        for k in &keys {
            let ct = w.encrypt(*k, b"bounded").await.unwrap();
            assert_eq!(
                w.decrypt(&ct.ciphertext)
                    .await
                    .unwrap()
                    .plaintext
                    .0
                    .as_bytes(),
                b"bounded"
            );
            let s = w.kms.cache_sizes();
            assert!(
                s.versions <= 2 && s.keys <= 3 && s.grants <= 3,
                "round {round}: {s:?}"
            );
        }
    }
    // Disabled caches still answer correctly.
    let off = World::with_config(KmsConfig {
        key_cache_capacity: 0,
        cache_capacity: 0,
        ..KmsConfig::default()
    })
    .await;
    let k = off.key(Algorithm::Aes256, |_| {}).await;
    let ct = off.encrypt(k.id, b"x").await.unwrap();
    off.decrypt(&ct.ciphertext).await.unwrap();
    assert_eq!(off.kms.cache_sizes(), keyhold_core::CacheSizes::default());
}

#[tokio::test]
async fn a_name_reused_after_a_rename_resolves_to_the_new_key() {
    let w = World::new().await;
    let a = w
        .key(Algorithm::Aes256, |c| {
            c.spec.name = Some("app".parse().unwrap())
        })
        .await;
    let by_name = |name: &str| {
        Operation::Encrypt(Encrypt {
            key: keyhold_core::ids::KeyRef(name.to_owned()),
            plaintext: Some(SecretData(keyhold_core::SecretBytes::new(b"x".to_vec()))),
            context: Default::default(),
        })
    };
    let Response::Encrypt(e) = w.run(&w.user, by_name("app")).await.unwrap() else {
        panic!()
    };
    assert_eq!(e.key_id, a.id);
    w.run(
        &w.manager,
        Operation::UpdateKey(UpdateKey {
            key: a.id.into(),
            name: Some("old-app".parse().unwrap()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let b = w
        .key(Algorithm::Aes256, |c| {
            c.spec.name = Some("app".parse().unwrap())
        })
        .await;
    let Response::Encrypt(e) = w.run(&w.user, by_name("app")).await.unwrap() else {
        panic!()
    };
    assert_eq!(e.key_id, b.id, "the name now belongs to the new key");
}

#[tokio::test]
async fn a_keys_description_follows_its_aliases_and_versions() {
    let w = World::new().await;
    let versions = |info: &KeyInfo| -> Vec<(u32, bool)> {
        info.versions
            .iter()
            .map(|v| (v.version, v.destroyed))
            .collect()
    };
    // The answer to the creation already lists the version it creates.
    let k = w.key(Algorithm::Aes256, |_| {}).await;
    assert_eq!(versions(&k), [(1, false)]);
    assert!(k.aliases.is_empty());
    // Described twice: the second comes from the cache, and says the same.
    assert_eq!(versions(&w.describe(k.id).await), [(1, false)]);
    assert_eq!(versions(&w.describe(k.id).await), [(1, false)]);
    assert!(w.kms.cache_sizes().listings >= 1);

    // Rotation: its answer and the next description list both versions.
    assert_eq!(versions(&w.rotate(k.id).await), [(1, false), (2, false)]);
    assert_eq!(versions(&w.describe(k.id).await), [(1, false), (2, false)]);

    // An alias appears at once, and disappears at once.
    let alias: keyhold_core::ids::AliasName = "alias/billing".parse().unwrap();
    w.run(
        &w.manager,
        Operation::CreateAlias(CreateAlias {
            alias: alias.clone(),
            key: k.id.into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(w.describe(k.id).await.aliases, std::slice::from_ref(&alias));
    w.run(
        &w.manager,
        Operation::DeleteAlias(DeleteAlias {
            alias: alias.clone(),
        }),
    )
    .await
    .unwrap();
    assert!(w.describe(k.id).await.aliases.is_empty());

    // Destruction marks every version destroyed in the next description.
    w.change(
        k.id,
        StateChange::Revoke {
            reason: keyhold_core::lifecycle::RevocationReason::Superseded,
        },
    )
    .await
    .unwrap();
    w.change(k.id, StateChange::Destroy).await.unwrap();
    assert_eq!(versions(&w.describe(k.id).await), [(1, true), (2, true)]);
}
