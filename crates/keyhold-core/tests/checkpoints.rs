//! Signed checkpoints of the audit chain: made on request and by the server, verified, and
//! still verifiable after a root-key rotation and an unseal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_core::checkpoint::{Checkpoint, CHECKPOINT_ACTION};
use keyhold_core::ops::*;
use keyhold_core::store::KeyStore;
use keyhold_core::{Algorithm, ErrorCode, Operation, Response};

async fn checkpoint(w: &World, who: &keyhold_core::Credential) -> AuditCheckpointResponse {
    match w
        .run(who, Operation::AuditCheckpoint(AuditCheckpoint {}))
        .await
        .unwrap()
    {
        Response::AuditCheckpoint(r) => r,
        other => panic!("{other:?}"),
    }
}

async fn head(w: &World) -> (u64, String) {
    w.store.audit_head().await.unwrap().unwrap()
}

#[tokio::test]
async fn an_auditor_checkpoints_the_head_and_verification_counts_it() {
    let w = World::new().await;
    w.key(Algorithm::Aes256, |_| {}).await;
    let before = head(&w).await;
    let made = checkpoint(&w, &w.auditor).await;
    assert_eq!((made.seq, made.hash.clone()), before);

    // The checkpoint is the request's own event, right after the head it attests.
    let event = w
        .store
        .audit_events(before.0 + 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(event.action, CHECKPOINT_ACTION);
    let attested = Checkpoint::parse(event.detail.as_deref().unwrap()).unwrap();
    assert_eq!((attested.seq, attested.hash), before);

    let v = w.audit_ok().await;
    assert!(v.ok, "{v:?}");
    assert_eq!(v.checkpoints, 1);
    assert_eq!(v.last_checkpoint, Some(before.0));
    assert_eq!(v.unanchored, 0, "nothing after the checkpoint event yet");

    // Administrators may too; key users and key managers may not.
    checkpoint(&w, &w.admin).await;
    for who in [&w.user, &w.manager] {
        let e = w
            .run(who, Operation::AuditCheckpoint(AuditCheckpoint {}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied);
    }
    let v = w.audit_ok().await;
    assert!(
        v.ok,
        "a refused request for a checkpoint attests nothing: {v:?}"
    );
    assert_eq!(v.checkpoints, 2);
    assert_eq!(
        v.unanchored, 2,
        "the two refusals after the second checkpoint"
    );
}

#[tokio::test]
async fn the_server_checkpoints_only_when_the_chain_moved() {
    let w = World::new().await;
    let first = w
        .kms
        .audit_checkpoint()
        .await
        .unwrap()
        .expect("a first checkpoint");
    assert_eq!(w.kms.last_checkpoint(), Some(first));
    assert_eq!(w.kms.audit_checkpoint().await.unwrap(), None, "nothing new");
    w.key(Algorithm::Aes256, |_| {}).await;
    let second = w.kms.audit_checkpoint().await.unwrap().expect("moved");
    assert!(second > first);
    let event = w.store.audit_events(second + 1, 1).await.unwrap().remove(0);
    assert_eq!(event.action, CHECKPOINT_ACTION);
    assert_eq!(event.principal.as_str(), "system");

    w.kms.seal().await.unwrap();
    assert_eq!(w.kms.audit_checkpoint().await.unwrap(), None, "sealed");
}

#[tokio::test]
async fn checkpoints_verify_across_a_root_rotation_and_an_unseal() {
    let w = World::new().await;
    w.kms.audit_checkpoint().await.unwrap().unwrap();
    let key_before = w.store.system_value("audit-checkpoint-key").await.unwrap();
    assert!(
        key_before.is_some(),
        "the key is made with the first checkpoint"
    );
    w.run(&w.admin, Operation::RotateRootKey(RotateRootKey {}))
        .await
        .unwrap();
    let key_after = w.store.system_value("audit-checkpoint-key").await.unwrap();
    assert_ne!(key_before, key_after, "rewrapped under the new root key");
    checkpoint(&w, &w.auditor).await;

    w.kms.seal().await.unwrap();
    w.kms.unseal(&w.root).await.unwrap();
    let v = w.audit_ok().await;
    assert!(v.ok, "{v:?}");
    assert_eq!(v.checkpoints, 2);
}

async fn checkpoint_key(w: &World) -> AuditCheckpointKeyResponse {
    match w
        .run(
            &w.auditor,
            Operation::AuditCheckpointKey(AuditCheckpointKey {}),
        )
        .await
        .unwrap()
    {
        Response::AuditCheckpointKey(k) => k,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_public_key_is_published_and_a_replaced_stored_copy_is_refused() {
    let w = World::new().await;
    assert!(
        checkpoint_key(&w).await.public_key_pem.is_none(),
        "no checkpoint yet"
    );
    checkpoint(&w, &w.auditor).await;
    let pem = checkpoint_key(&w).await.public_key_pem.expect("a key");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let event = w.store.audit_events(1, 1000).await.unwrap();
    let made = event
        .iter()
        .rfind(|e| e.action == CHECKPOINT_ACTION)
        .unwrap();
    let cp = Checkpoint::parse(made.detail.as_deref().unwrap()).unwrap();
    let spki = keyhold_crypto::Provider::aws_lc()
        .public_key_from_pem(&pem)
        .unwrap();
    assert!(
        cp.verify(&spki),
        "the published key verifies the checkpoint"
    );

    // Whoever writes the database swaps the stored public key for one of their own.
    let raw = w
        .store
        .system_value("audit-checkpoint-key")
        .await
        .unwrap()
        .unwrap();
    let mut record: keyhold_core::checkpoint::SealedCheckpointKey =
        serde_json::from_slice(&raw).unwrap();
    let other = keyhold_crypto::Provider::aws_lc()
        .generate(Algorithm::Ed25519)
        .unwrap();
    record.public = other.public.unwrap();
    w.store
        .commit(keyhold_core::store::WriteBatch(vec![
            keyhold_core::store::Write::UpdateSystem {
                name: "audit-checkpoint-key".into(),
                value: serde_json::to_vec(&record).unwrap(),
                expected: raw,
            },
        ]))
        .await
        .unwrap();
    let e = w
        .run(&w.auditor, Operation::AuditVerify(AuditVerify {}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Internal, "{e}");
}
