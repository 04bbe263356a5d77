//! Harness for scenario tests: a core over the in-memory store with a manual clock, and one
//! principal of each role. No network.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use keyhold_core::audit::Protocol;
use keyhold_core::clock::{ManualClock, Timestamp};
use keyhold_core::ids::{KeyId, KeyRef, PrincipalName, RequestId};
use keyhold_core::model::{KeyOp, Role};
use keyhold_core::ops::*;
use keyhold_core::root::{RootOfTrust, SealedBlob};
use keyhold_core::{
    Algorithm, Credential, Kms, KmsConfig, KmsError, Operation, RequestMeta, Response, SecretBytes,
};
use keyhold_crypto::Provider;
use keyhold_testkit::MemoryStore;

/// A root of trust with a fixed in-memory key.
pub struct TestRoot(pub SecretBytes);

impl RootOfTrust for TestRoot {
    fn mechanism(&self) -> &'static str {
        "test"
    }
    fn shared(&self) -> std::sync::Arc<dyn RootOfTrust> {
        std::sync::Arc::new(TestRoot(self.0.clone()))
    }
    fn seal(&self, secret: &[u8], aad: &[u8]) -> Result<SealedBlob, KmsError> {
        let (nonce, mut ct) = Provider::aws_lc().aes_gcm_seal(self.0.as_bytes(), aad, secret)?;
        let mut data = nonce.to_vec();
        data.append(&mut ct);
        Ok(SealedBlob {
            v: 1,
            mechanism: "test".into(),
            key_id: "k".into(),
            data,
        })
    }
    fn unseal(&self, blob: &SealedBlob, aad: &[u8]) -> Result<SecretBytes, KmsError> {
        let (n, ct) = blob.data.split_at(12);
        Ok(Provider::aws_lc().aes_gcm_open(self.0.as_bytes(), n.try_into().unwrap(), aad, ct)?)
    }
}

/// Makes new test roots for the unseal rekey.
pub struct TestFactory;

impl keyhold_core::root::RootFactory for TestFactory {
    fn rekey(&self, shares: u8, _threshold: u8) -> Result<keyhold_core::root::NewRoot, KmsError> {
        Ok(keyhold_core::root::NewRoot {
            root: std::sync::Arc::new(TestRoot(Provider::aws_lc().random(32)?)),
            secrets: (0..shares)
                .map(|i| SecretBytes::from(format!("share-{i}").as_bytes()))
                .collect(),
            system: vec![("test-seal".into(), vec![shares])],
        })
    }
}

pub struct World {
    pub kms: Kms,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
    pub admin: Credential,
    pub manager: Credential,
    pub user: Credential,
    pub auditor: Credential,
    pub root: TestRoot,
}

pub const START: i64 = 1_800_000_000_000;

pub fn meta() -> RequestMeta {
    RequestMeta {
        request_id: RequestId::generate(),
        protocol: Protocol::Rest,
        peer: Some("127.0.0.1:1".into()),
    }
}

impl World {
    pub async fn new() -> Self {
        Self::with_config(KmsConfig::default()).await
    }

    pub async fn with_config(config: KmsConfig) -> Self {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START)));
        let kms = Kms::open(store.clone(), Provider::aws_lc(), clock.clone(), config)
            .await
            .unwrap();
        kms.set_root_factory(Arc::new(TestFactory));
        let root = TestRoot(Provider::aws_lc().random(32).unwrap());
        let admin_secret = kms
            .initialize(&root, "admin".parse().unwrap(), vec![])
            .await
            .unwrap();
        let admin = Credential::Bearer(admin_secret);
        let mut w = World {
            kms,
            clock,
            store,
            admin,
            manager: Credential::None,
            user: Credential::None,
            auditor: Credential::None,
            root,
        };
        w.manager = w.token("manager", Role::KeyManager).await;
        w.user = w.token("user", Role::KeyUser).await;
        w.auditor = w.token("auditor", Role::Auditor).await;
        w
    }

    /// A second, unsealed core over the same store and clock: another node.
    pub async fn other_node(&self) -> Kms {
        let kms = Kms::open(
            self.store.clone(),
            Provider::aws_lc(),
            self.clock.clone(),
            KmsConfig::default(),
        )
        .await
        .unwrap();
        kms.unseal(&self.root).await.unwrap();
        kms
    }

    pub async fn token(&self, name: &str, role: Role) -> Credential {
        let r = self
            .run(
                &self.admin,
                Operation::CreateToken(CreateToken {
                    principal: name.parse().unwrap(),
                    role,
                    ttl_secs: None,
                    description: String::new(),
                    tenant: None,
                }),
            )
            .await
            .unwrap();
        let Response::CreatedToken(t) = r else {
            panic!("token")
        };
        Credential::Bearer(t.token.0)
    }

    pub async fn run(&self, who: &Credential, op: Operation) -> Result<Response, KmsError> {
        self.kms.run(&meta(), who, op).await
    }

    /// Creates tenant `id` as the installation's administrator.
    pub async fn create_tenant(&self, id: &str) -> TenantInfo {
        let op = Operation::CreateTenant(CreateTenant {
            id: id.parse().unwrap(),
        });
        match self.run(&self.admin, op).await.unwrap() {
            Response::Tenant(t) => t,
            other => panic!("tenant: {other:?}"),
        }
    }

    /// Creates a key as the manager and grants the user every operation on it.
    pub async fn key(&self, alg: Algorithm, f: impl FnOnce(&mut CreateKey)) -> KeyInfo {
        let mut req = CreateKey {
            algorithm: alg,
            spec: KeySpec::default(),
            idempotency_token: None,
        };
        f(&mut req);
        let info = key_info(
            self.run(&self.manager, Operation::CreateKey(req))
                .await
                .unwrap(),
        );
        self.grant(info.id, &KeyOp::ALL).await;
        info
    }

    pub async fn grant(&self, key: KeyId, ops: &[KeyOp]) {
        self.run(
            &self.manager,
            Operation::CreateGrant(CreateGrant {
                key: key.into(),
                grantee: PrincipalName::try_from("user".to_owned()).unwrap().into(),
                operations: ops.iter().copied().collect::<BTreeSet<_>>(),
                conditions: Default::default(),
            }),
        )
        .await
        .unwrap();
    }

    pub async fn change(&self, key: KeyId, change: StateChange) -> Result<KeyInfo, KmsError> {
        self.run(
            &self.manager,
            Operation::ChangeState(ChangeState {
                key: key.into(),
                change,
            }),
        )
        .await
        .map(key_info)
    }

    pub async fn describe(&self, key: KeyId) -> KeyInfo {
        key_info(
            self.run(
                &self.manager,
                Operation::DescribeKey(DescribeKey { key: key.into() }),
            )
            .await
            .unwrap(),
        )
    }

    pub async fn encrypt(&self, key: KeyId, pt: &[u8]) -> Result<EncryptResponse, KmsError> {
        let r = self
            .run(
                &self.user,
                Operation::Encrypt(Encrypt {
                    key: KeyRef::from(key),
                    plaintext: Some(SecretData(SecretBytes::new(pt.to_vec()))),
                    context: Default::default(),
                }),
            )
            .await?;
        let Response::Encrypt(e) = r else {
            panic!("encrypt")
        };
        Ok(e)
    }

    pub async fn decrypt(&self, ct: &[u8]) -> Result<DecryptResponse, KmsError> {
        let r = self
            .run(
                &self.user,
                Operation::Decrypt(Decrypt {
                    ciphertext: ct.to_vec(),
                    context: Default::default(),
                }),
            )
            .await?;
        let Response::Decrypt(d) = r else {
            panic!("decrypt")
        };
        Ok(d)
    }

    pub async fn rotate(&self, key: KeyId) -> KeyInfo {
        key_info(
            self.run(
                &self.manager,
                Operation::RotateKey(RotateKey { key: key.into() }),
            )
            .await
            .unwrap(),
        )
    }

    /// The first page of the audit events `who` may read.
    pub async fn audit_export(&self, who: &Credential) -> AuditExportResponse {
        let Response::AuditExport(page) = self
            .run(who, Operation::AuditExport(AuditExport::default()))
            .await
            .unwrap()
        else {
            panic!("export")
        };
        page
    }

    pub async fn audit_ok(&self) -> AuditVerifyResponse {
        let Response::AuditVerify(v) = self
            .run(&self.auditor, Operation::AuditVerify(AuditVerify {}))
            .await
            .unwrap()
        else {
            panic!("verify")
        };
        v
    }
}

pub fn key_info(r: Response) -> KeyInfo {
    match r {
        Response::Key(k) => *k,
        other => panic!("expected a key, got {other:?}"),
    }
}
