//! The role matrix of DESIGN.md §6, operation by operation: admin (tenants, identities, trust;
//! never key material), key-manager (create, rotate, life cycle, metadata, grants; no
//! cryptographic use), key-user (cryptography on granted keys, reads of those keys), auditor
//! (the audit trail only). Every cell runs in a fresh world; an allowed cell must succeed, a
//! forbidden one must be refused with `permission_denied`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use keyhold_core::ids::{AliasName, GrantId, KeyRef, TokenId, TrustAnchorId};
use keyhold_core::lifecycle::RevocationReason;
use keyhold_core::model::{KeyOp, ObjectKind, Role, Roles};
use keyhold_core::ops::*;
use keyhold_core::{Algorithm, Credential, ErrorCode, Operation, Response, SecretBytes};
use keyhold_testkit::pki::Ca;

/// What the operations of the matrix act on.
struct Fixture {
    aes: KeyInfo,
    ec: KeyInfo,
    hmac: KeyInfo,
    ciphertext: Vec<u8>,
    signature: Vec<u8>,
    mac: Vec<u8>,
    alias: AliasName,
    grant: GrantId,
    token: TokenId,
    fingerprint: String,
    anchor: TrustAnchorId,
}

fn secret(b: &[u8]) -> SecretData {
    SecretData(SecretBytes::new(b.to_vec()))
}

async fn fixture(w: &World) -> Fixture {
    let aes = w.key(Algorithm::Aes256, |_| {}).await;
    let ec = w.key(Algorithm::EcP256, |_| {}).await;
    let hmac = w.key(Algorithm::HmacSha256, |_| {}).await;
    let ciphertext = w.encrypt(aes.id, b"data").await.unwrap().ciphertext;
    let Response::Sign(s) = w
        .run(
            &w.user,
            Operation::Sign(Sign {
                key: ec.id.into(),
                message: b"m".to_vec(),
                message_type: None,
                algorithm: None,
            }),
        )
        .await
        .unwrap()
    else {
        panic!("sign")
    };
    let Response::Mac(m) = w
        .run(
            &w.user,
            Operation::GenerateMac(GenerateMac {
                key: hmac.id.into(),
                message: b"m".to_vec(),
            }),
        )
        .await
        .unwrap()
    else {
        panic!("mac")
    };
    let alias: AliasName = "alias/fixture".parse().unwrap();
    w.run(
        &w.manager,
        Operation::CreateAlias(CreateAlias {
            alias: alias.clone(),
            key: aes.id.into(),
        }),
    )
    .await
    .unwrap();
    let Response::Grant(g) = w
        .run(
            &w.manager,
            Operation::CreateGrant(CreateGrant {
                key: aes.id.into(),
                grantee: keyhold_core::ids::PrincipalName::try_from("other".to_owned())
                    .unwrap()
                    .into(),
                operations: BTreeSet::from([KeyOp::Encrypt]),
                conditions: Default::default(),
            }),
        )
        .await
        .unwrap()
    else {
        panic!("grant")
    };
    let Response::CreatedToken(t) = w
        .run(
            &w.admin,
            Operation::CreateToken(CreateToken {
                principal: "victim".parse().unwrap(),
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
    let Response::ClientCert(c) = w
        .run(&w.admin, register_cert(b"pinned certificate"))
        .await
        .unwrap()
    else {
        panic!("cert")
    };
    let ca = Ca::root("Fixture CA", START / 1000);
    let Response::TrustAnchor(a) = w.run(&w.admin, add_anchor(&ca)).await.unwrap() else {
        panic!("anchor")
    };
    w.run(
        &w.admin,
        Operation::CreateTenant(CreateTenant {
            id: "beta".parse().unwrap(),
        }),
    )
    .await
    .unwrap();
    Fixture {
        aes,
        ec,
        hmac,
        ciphertext,
        signature: s.signature,
        mac: m.mac,
        alias,
        grant: g.id,
        token: t.info.id,
        fingerprint: c.fingerprint,
        anchor: a.id,
    }
}

fn register_cert(der: &[u8]) -> Operation {
    Operation::RegisterClientCert(RegisterClientCert {
        certificate: der.to_vec(),
        subject: "CN=x".into(),
        not_after: None,
        principal: "device".parse().unwrap(),
        roles: Roles::one(Role::KeyUser),
        allow_combined_duties: false,
        description: String::new(),
    })
}

fn add_anchor(ca: &Ca) -> Operation {
    Operation::AddTrustAnchor(AddTrustAnchor {
        certificate: ca.cert.der.clone(),
        tenant: None,
        roles: Roles::one(Role::KeyUser),
        allow_combined_duties: false,
        description: String::new(),
    })
}

use Role::{Admin as A, Auditor as AU, KeyManager as M, KeyUser as U};

/// Every operation, with the roles allowed to run it.
fn matrix(f: &Fixture) -> Vec<(&'static str, Operation, &'static [Role])> {
    let aes: KeyRef = f.aes.id.into();
    let ec: KeyRef = f.ec.id.into();
    let hmac: KeyRef = f.hmac.id.into();
    let new_key = |alg| {
        Operation::CreateKey(CreateKey {
            algorithm: alg,
            spec: KeySpec::default(),
            idempotency_token: None,
        })
    };
    vec![
        ("create key", new_key(Algorithm::Aes128), &[M]),
        (
            "create key pair",
            Operation::CreateKeyPair(CreateKeyPair {
                algorithm: Algorithm::EcP256,
                spec: KeySpec::default(),
                public_tags: Default::default(),
                public_labels: Vec::new(),
                public_usage_mask: None,
            }),
            &[M],
        ),
        (
            "register key",
            Operation::RegisterKey(RegisterKey {
                algorithm: None,
                material: secret(b"a password"),
                kind: ObjectKind::SecretData,
                spec: KeySpec::default(),
            }),
            &[M],
        ),
        (
            "import parameters",
            Operation::GetImportParameters(GetImportParameters {}),
            &[M],
        ),
        (
            "describe key",
            Operation::DescribeKey(DescribeKey { key: aes.clone() }),
            &[M, U],
        ),
        (
            "list keys",
            Operation::ListKeys(ListKeys::default()),
            &[M, U],
        ),
        (
            "update key",
            Operation::UpdateKey(UpdateKey {
                key: aes.clone(),
                name: None,
                description: Some("new".into()),
                tags: None,
                labels: None,
                rotation_period_secs: None,
                min_decrypt_version: None,
                deactivation_date: None,
            }),
            &[M],
        ),
        (
            "rotate key",
            Operation::RotateKey(RotateKey { key: aes.clone() }),
            &[M],
        ),
        (
            "revoke key",
            Operation::ChangeState(ChangeState {
                key: ec.clone(),
                change: StateChange::Revoke {
                    reason: RevocationReason::CessationOfOperation,
                },
            }),
            &[M],
        ),
        (
            "suspend key",
            Operation::ChangeState(ChangeState {
                key: aes.clone(),
                change: StateChange::Suspend,
            }),
            &[M],
        ),
        (
            "create alias",
            Operation::CreateAlias(CreateAlias {
                alias: "alias/second".parse().unwrap(),
                key: aes.clone(),
            }),
            &[M],
        ),
        (
            "delete alias",
            Operation::DeleteAlias(DeleteAlias {
                alias: f.alias.clone(),
            }),
            &[M],
        ),
        (
            "list aliases",
            Operation::ListAliases(ListAliases { key: None }),
            &[M, U],
        ),
        (
            "create grant",
            Operation::CreateGrant(CreateGrant {
                key: aes.clone(),
                grantee: keyhold_core::ids::PrincipalName::try_from("third".to_owned())
                    .unwrap()
                    .into(),
                operations: BTreeSet::from([KeyOp::Decrypt]),
                conditions: Default::default(),
            }),
            &[M],
        ),
        (
            "list grants",
            Operation::ListGrants(ListGrants {
                key: None,
                grantee: None,
            }),
            &[M],
        ),
        (
            "revoke grant",
            Operation::RevokeGrant(RevokeGrant { id: f.grant }),
            &[M],
        ),
        (
            "encrypt",
            Operation::Encrypt(Encrypt {
                key: aes.clone(),
                plaintext: Some(secret(b"p")),
                context: Default::default(),
            }),
            &[U],
        ),
        (
            "decrypt",
            Operation::Decrypt(Decrypt {
                ciphertext: f.ciphertext.clone(),
                context: Default::default(),
            }),
            &[U],
        ),
        (
            "re-encrypt",
            Operation::ReEncrypt(ReEncrypt {
                ciphertext: f.ciphertext.clone(),
                source_context: Default::default(),
                destination_key: None,
                destination_context: None,
            }),
            &[U],
        ),
        (
            "data key",
            Operation::GenerateDataKey(GenerateDataKey {
                key: aes.clone(),
                number_of_bytes: None,
                context: Default::default(),
                include_plaintext: None,
            }),
            &[U],
        ),
        (
            "cipher encrypt",
            Operation::CipherEncrypt(CipherEncrypt {
                key: aes.clone(),
                mode: Some(CipherMode::Gcm),
                pkcs7_padding: false,
                iv: None,
                aad: None,
                plaintext: secret(b"p"),
            }),
            &[U],
        ),
        (
            "sign",
            Operation::Sign(Sign {
                key: ec.clone(),
                message: b"m".to_vec(),
                message_type: None,
                algorithm: None,
            }),
            &[U],
        ),
        (
            "verify",
            Operation::Verify(Verify {
                key: ec.clone(),
                message: b"m".to_vec(),
                signature: f.signature.clone(),
                message_type: None,
                algorithm: None,
                key_version: None,
            }),
            &[U],
        ),
        (
            "mac",
            Operation::GenerateMac(GenerateMac {
                key: hmac.clone(),
                message: b"m".to_vec(),
            }),
            &[U],
        ),
        (
            "mac verify",
            Operation::VerifyMac(VerifyMac {
                key: hmac.clone(),
                message: b"m".to_vec(),
                mac: f.mac.clone(),
                key_version: None,
            }),
            &[U],
        ),
        (
            "public key",
            Operation::GetPublicKey(GetPublicKey {
                key: ec.clone(),
                key_version: None,
            }),
            &[M, U],
        ),
        (
            "export key",
            Operation::ExportKey(ExportKey {
                key: aes.clone(),
                key_version: None,
                wrap: None,
            }),
            &[U],
        ),
        (
            // Deriving uses one key and creates another: no single duty may.
            "derive key",
            Operation::DeriveKey(DeriveKey {
                base: aes.clone(),
                derivation: Derivation::Hkdf {
                    hash: keyhold_crypto::KdfHash::Sha256,
                    salt: Vec::new(),
                    info: b"x".to_vec(),
                },
                algorithm: Algorithm::Aes128,
                kind: Default::default(),
                length: None,
                spec: KeySpec::default(),
            }),
            &[],
        ),
        ("random", Operation::Random(Random { length: 16 }), &[M, U]),
        (
            "create token",
            Operation::CreateToken(CreateToken {
                principal: "newcomer".parse().unwrap(),
                role: Role::Auditor,
                ttl_secs: None,
                description: String::new(),
                tenant: None,
            }),
            &[A],
        ),
        ("list tokens", Operation::ListTokens(ListTokens {}), &[A]),
        (
            "revoke token",
            Operation::RevokeToken(RevokeToken { id: f.token }),
            &[A],
        ),
        (
            "register client cert",
            register_cert(b"another certificate"),
            &[A],
        ),
        (
            "list client certs",
            Operation::ListClientCerts(ListClientCerts {}),
            &[A],
        ),
        (
            "revoke client cert",
            Operation::RevokeClientCert(RevokeClientCert {
                fingerprint: f.fingerprint.clone(),
            }),
            &[A],
        ),
        (
            "add trust anchor",
            add_anchor(&Ca::root("Second CA", START / 1000)),
            &[A],
        ),
        (
            "list trust anchors",
            Operation::ListTrustAnchors(ListTrustAnchors::default()),
            &[A],
        ),
        (
            "remove trust anchor",
            Operation::RemoveTrustAnchor(RemoveTrustAnchor { id: f.anchor }),
            &[A],
        ),
        (
            "create tenant",
            Operation::CreateTenant(CreateTenant {
                id: "gamma".parse().unwrap(),
            }),
            &[A],
        ),
        ("list tenants", Operation::ListTenants(ListTenants {}), &[A]),
        (
            "rotate root key",
            Operation::RotateRootKey(RotateRootKey {}),
            &[A],
        ),
        (
            "rekey unseal",
            Operation::RekeyUnseal(RekeyUnseal {
                shares: 3,
                threshold: 2,
            }),
            &[A],
        ),
        (
            "disable tenant",
            Operation::UpdateTenant(UpdateTenant {
                id: "beta".parse().unwrap(),
                disabled: true,
            }),
            &[A],
        ),
        (
            "verify audit",
            Operation::AuditVerify(AuditVerify {}),
            &[AU],
        ),
        (
            "export audit",
            Operation::AuditExport(AuditExport::default()),
            &[AU],
        ),
        (
            "checkpoint audit",
            Operation::AuditCheckpoint(AuditCheckpoint {}),
            &[A, AU],
        ),
        (
            "audit checkpoint key",
            Operation::AuditCheckpointKey(AuditCheckpointKey {}),
            &[A, AU],
        ),
        (
            "show approval policy",
            Operation::GetApprovalPolicy(GetApprovalPolicy {}),
            &[A, M, U, AU],
        ),
        (
            "set approval policy",
            Operation::SetApprovalPolicy(SetApprovalPolicy {
                policy: Default::default(),
                expected_version: None,
            }),
            &[A],
        ),
        (
            "show duties",
            Operation::GetDuties(GetDuties {}),
            &[A, M, U, AU],
        ),
        (
            "set duties",
            Operation::SetDuties(SetDuties {
                allow_combined_duties: false,
                expected_version: None,
            }),
            &[A],
        ),
        (
            "key policy history",
            Operation::PolicyHistory(PolicyHistory {
                target: PolicyTarget::Key { key: aes.clone() },
            }),
            &[M, AU],
        ),
        (
            "tenant policy history",
            Operation::PolicyHistory(PolicyHistory {
                target: PolicyTarget::Duties,
            }),
            &[A, M, AU],
        ),
        (
            "list approvals",
            Operation::ListApprovals(ListApprovals {
                status: None,
                limit: None,
            }),
            &[A, M, U, AU],
        ),
        (
            "report",
            Operation::Report(Report {
                kind: ReportKind::Keys,
                from: None,
                to: None,
            }),
            &[AU],
        ),
        ("whoami", Operation::WhoAmI(WhoAmI {}), &[A, M, U, AU]),
    ]
}

fn credential(w: &World, role: Role) -> &Credential {
    match role {
        Role::Admin => &w.admin,
        Role::KeyManager => &w.manager,
        Role::KeyUser => &w.user,
        Role::Auditor => &w.auditor,
    }
}

#[tokio::test]
async fn every_operation_is_allowed_to_exactly_its_roles() {
    // The number of operations, to fail when one is added without a row here.
    let rows = {
        let w = World::new().await;
        let f = fixture(&w).await;
        matrix(&f).len()
    };
    let mut failures = Vec::new();
    for row in 0..rows {
        for role in Role::ALL {
            let w = World::new().await;
            let f = fixture(&w).await;
            let (name, op, allowed) = matrix(&f).swap_remove(row);
            let result = w.run(credential(&w, role), op).await;
            let ok = allowed.contains(&role);
            match (&result, ok) {
                (Ok(_), true) => {}
                (Err(e), false) if e.code() == ErrorCode::PermissionDenied => {}
                _ => failures.push(format!(
                    "{name} as {role}: expected {}, got {:?}",
                    if ok { "success" } else { "permission_denied" },
                    result.map(|_| "ok").map_err(|e| e.to_string())
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(rows >= 54, "every operation has a row");
}
