//! Criterion micro-benchmarks of the core's hot path (no network, no disk): `Kms::run` for
//! encrypt and decrypt of 64 bytes over the in-memory store, with the caches on and off, the
//! sealing of an audit event into the chain, and the unwrap of a key version.
//!
//! `cargo bench -p keyhold-core --bench hot_path` (add `-- --quick` for a short run). These
//! figures measure the core's CPU cost per request; end-to-end throughput is measured by
//! `keyhold-bench` (docs/PERFORMANCE.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::World;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keyhold_core::audit::{AuthMethod, EventDraft, Outcome, Protocol};
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{KeyId, KeyRef, PrincipalName, RequestId, TenantId};
use keyhold_core::ops::{Decrypt, Encrypt, SecretData};
use keyhold_core::{Algorithm, KmsConfig, Operation, SecretBytes};
use keyhold_crypto::Provider;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn encrypt_op(key: KeyId) -> Operation {
    Operation::Encrypt(Encrypt {
        key: KeyRef::from(key),
        plaintext: Some(SecretData(SecretBytes::new(vec![7; 64]))),
        context: Default::default(),
    })
}

fn kms_run(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("kms_run");
    group.throughput(Throughput::Elements(1));
    for (label, config) in [
        ("cached", KmsConfig::default()),
        (
            "uncached",
            KmsConfig {
                cache_capacity: 0,
                key_cache_capacity: 0,
                ..KmsConfig::default()
            },
        ),
    ] {
        let w = rt.block_on(World::with_config(config));
        let key = rt.block_on(w.key(Algorithm::Aes256, |_| {})).id;
        let ct = rt.block_on(w.encrypt(key, &[7; 64])).unwrap().ciphertext;
        group.bench_function(format!("encrypt_64/{label}"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(w.run(&w.user, encrypt_op(key)).await.unwrap()) })
        });
        group.bench_function(format!("decrypt_64/{label}"), |b| {
            b.to_async(&rt).iter(|| async {
                let op = Operation::Decrypt(Decrypt {
                    ciphertext: ct.clone(),
                    context: Default::default(),
                });
                black_box(w.run(&w.user, op).await.unwrap())
            })
        });
    }
    group.finish();
}

fn audit_seal(c: &mut Criterion) {
    let draft = EventDraft {
        time: Timestamp::from_millis(1_800_000_000_000),
        tenant: Some(TenantId::default_tenant()),
        target_tenant: None,
        principal: PrincipalName::try_from("app".to_owned()).unwrap(),
        auth_method: AuthMethod::Token,
        protocol: Protocol::Rest,
        action: "encrypt".into(),
        key: Some(KeyId::generate().to_string()),
        key_version: Some(1),
        outcome: Outcome::Ok,
        error_code: None,
        compromised_key_used: false,
        detail: None,
        request_id: RequestId::generate(),
        peer: Some("127.0.0.1:50000".into()),
    };
    let prev = "0".repeat(64);
    c.bench_function("audit/seal_event", |b| {
        b.iter(|| black_box(draft.clone().seal(41, &prev)))
    });
}

fn version_unwrap(c: &mut Criterion) {
    // The same work as the core's unwrap of a version: the AAD (with the SHA-256 of the key's
    // immutable attributes) and AES-256-GCM open of 32 bytes under the tenant KEK.
    let p = Provider::aws_lc();
    let kek = p.random(32).unwrap();
    let id = KeyId::generate();
    let immutable = format!(
        "keyhold-immutable-v1\n{id}\ndefault\naes-256\nencrypt-decrypt\nGenerated\n1800000000000"
    );
    let aad = |p: &Provider| {
        let mut aad = b"keyhold/key-version/v1".to_vec();
        aad.extend_from_slice(id.as_bytes());
        aad.extend_from_slice(&1u32.to_be_bytes());
        aad.extend_from_slice(b"aes-256");
        aad.extend_from_slice(&p.sha256(immutable.as_bytes()));
        aad
    };
    let material = p.random(32).unwrap();
    let (nonce, wrapped) = p
        .aes_gcm_seal(kek.as_bytes(), &aad(&p), material.as_bytes())
        .unwrap();
    c.bench_function("version/unwrap", |b| {
        b.iter(|| {
            black_box(
                p.aes_gcm_open(kek.as_bytes(), &nonce, &aad(&p), &wrapped)
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, kms_run, audit_seal, version_unwrap);
criterion_main!(benches);
