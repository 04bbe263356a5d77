//! Constructors of valid records for tests. They panic on invalid literal input (they are test
//! helpers), and fill every field with a deterministic value derived from their arguments.

use std::collections::{BTreeMap, BTreeSet};

use keyhold_core::audit::{AuditEvent, AuthMethod, EventDraft, Outcome, Protocol, GENESIS_HASH};
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{
    AliasName, ApprovalId, GrantId, KeyId, KeyName, PrincipalName, RequestId, TenantId, TokenId,
    TrustAnchorId,
};
use keyhold_core::lifecycle::{Lifecycle, RevocationReason};
use keyhold_core::model::{
    Alias, Grant, Grantee, Idempotency, KeyOp, KeyRecord, KeyUsage, KeyVersion, Link, LinkKind,
    ObjectKind, Origin, Role, Roles, TenantRecord, TokenRecord, TrustAnchorRecord, UsageMask,
    RECORD_VERSION,
};
use keyhold_core::policy::{
    ApprovalAction, ApprovalPolicy, ApprovalRecord, ApprovalStatus, Approvers, DutiesPolicy,
    PolicyDocument, PolicySubject, PolicyVersion, Requester,
};
use keyhold_core::store::{Write, WriteBatch};
use keyhold_crypto::{Algorithm, Provider};

/// The instant fixtures are created at: 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// One day, in seconds.
pub const DAY_SECS: u64 = 86_400;

/// Parses a tenant id.
pub fn tenant_id(s: &str) -> TenantId {
    s.parse().expect("fixture tenant id is valid")
}

/// Parses a principal name.
pub fn principal(s: &str) -> PrincipalName {
    s.parse().expect("fixture principal name is valid")
}

/// Parses a key name.
pub fn key_name(s: &str) -> KeyName {
    s.parse().expect("fixture key name is valid")
}

/// Parses an alias (`alias/...`).
pub fn alias_name(s: &str) -> AliasName {
    s.parse().expect("fixture alias is valid")
}

/// A batch of `writes`.
pub fn batch(writes: impl IntoIterator<Item = Write>) -> WriteBatch {
    WriteBatch(writes.into_iter().collect())
}

/// An enabled tenant with a (fake) wrapped key-encryption key.
pub fn tenant(id: &str) -> TenantRecord {
    TenantRecord {
        v: RECORD_VERSION,
        id: tenant_id(id),
        created_at: T0,
        wrapped_kek: format!("wrapped-kek-of-{id}").into_bytes(),
        kek_nonce: vec![7; 12],
        disabled: false,
        revision: 1,
    }
}

/// An active, unnamed AES-256 key of `tenant`, created at [`T0`], with no dates pending.
pub fn key(tenant: &TenantId) -> KeyRecord {
    KeyRecord {
        v: RECORD_VERSION,
        id: KeyId::generate(),
        tenant: tenant.clone(),
        name: None,
        description: String::new(),
        tags: BTreeMap::new(),
        algorithm: Algorithm::Aes256,
        usage: KeyUsage::EncryptDecrypt,
        origin: Origin::Generated,
        kind: Default::default(),
        links: Vec::new(),
        labels: Vec::new(),
        usage_mask: None,
        created_at: T0,
        created_by: principal("alice"),
        lifecycle: Lifecycle::new(T0, Some(T0), None, None),
        rotation_period_secs: None,
        current_version: 1,
        min_decrypt_version: 1,
        rotated_at: T0,
        idempotency: None,
        revision: 1,
    }
}

/// [`key`] with a name.
pub fn named_key(tenant: &TenantId, name: &str) -> KeyRecord {
    KeyRecord {
        name: Some(key_name(name)),
        ..key(tenant)
    }
}

/// [`key`] whose next date-driven event (its deactivation) is at `due`, which must be after
/// [`T0`].
pub fn key_due_at(tenant: &TenantId, due: Timestamp) -> KeyRecord {
    KeyRecord {
        lifecycle: Lifecycle::new(T0, Some(T0), Some(due), None),
        ..key(tenant)
    }
}

/// A key with every optional field set and every field different from [`key`]'s, for round
/// trips.
pub fn full_key(tenant: &TenantId) -> KeyRecord {
    let mut lifecycle = Lifecycle::new(
        T0,
        Some(T0),
        Some(T0.plus_secs(365 * DAY_SECS)),
        Some(365 * DAY_SECS),
    );
    lifecycle.compromise_date = Some(T0.plus_secs(3));
    lifecycle.revocation_reason = Some(RevocationReason::Superseded);
    KeyRecord {
        v: RECORD_VERSION,
        id: KeyId::generate(),
        tenant: tenant.clone(),
        name: Some(key_name("payments/signing-key")),
        description: "signs payment batches — ünïcödé".into(),
        tags: BTreeMap::from([
            ("env".to_owned(), "prod".to_owned()),
            ("team".to_owned(), "payments".to_owned()),
        ]),
        algorithm: Algorithm::EcP384,
        usage: KeyUsage::SignVerify,
        origin: Origin::Imported,
        kind: ObjectKind::PublicKey,
        links: vec![Link {
            kind: LinkKind::PrivateKey,
            target: KeyId::generate(),
        }],
        labels: vec!["payments signing key".into(), "ünïcödé label".into()],
        usage_mask: Some(UsageMask(UsageMask::VERIFY | UsageMask::EXPORT)),
        created_at: T0.plus_secs(1),
        created_by: principal("key-admin@example"),
        lifecycle,
        rotation_period_secs: Some(90 * DAY_SECS),
        current_version: 3,
        min_decrypt_version: 2,
        rotated_at: T0.plus_secs(2),
        idempotency: Some(Idempotency {
            token: "create-payments-key-1".into(),
            request_digest: "ab".repeat(32),
        }),
        revision: 7,
    }
}

/// Version `version` of `key_id`, with recognizable (fake) wrapped material and a public key.
pub fn version(key_id: &KeyId, version: u32) -> KeyVersion {
    // 48 bytes that differ per key and version, so a test can look for them.
    let mut wrapped = key_id.as_bytes().to_vec();
    wrapped.extend_from_slice(&version.to_be_bytes());
    wrapped.extend_from_slice(b"-wrapped-material-marker-");
    wrapped.extend_from_slice(&key_id.as_bytes()[..3]);
    KeyVersion {
        v: RECORD_VERSION,
        key_id: *key_id,
        version,
        created_at: T0.plus_secs(u64::from(version)),
        wrapped,
        nonce: vec![u8::try_from(version % 256).unwrap_or(0); 12],
        public_key: Some(format!("public-key-{key_id}-{version}").into_bytes()),
        destroyed: false,
    }
}

/// An alias of `key_id` in `tenant`; `name` must start with `alias/`.
pub fn alias(tenant: &TenantId, name: &str, key_id: &KeyId) -> Alias {
    Alias {
        v: RECORD_VERSION,
        tenant: tenant.clone(),
        name: alias_name(name),
        key_id: *key_id,
        updated_at: T0,
    }
}

/// The hex SHA-256 of a token secret, as stored.
pub fn token_hash(secret: &str) -> String {
    Provider::aws_lc()
        .sha256(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A key-user token of `principal` in `tenant` whose secret is `secret`.
pub fn token(tenant: &TenantId, principal_name: &str, secret: &str) -> TokenRecord {
    TokenRecord {
        v: RECORD_VERSION,
        id: TokenId::generate(),
        tenant: tenant.clone(),
        principal: principal(principal_name),
        role: Role::KeyUser,
        secret_hash: token_hash(secret),
        description: format!("token of {principal_name}"),
        created_at: T0,
        created_by: principal("admin"),
        expires_at: Some(T0.plus_secs(30 * DAY_SECS)),
        revoked_at: None,
        revision: 1,
    }
}

/// A trust anchor of `tenant` for key users whose identity (subject and key) is `identity`. The
/// certificate bytes are a placeholder: stores do not parse them.
pub fn trust_anchor(tenant: &TenantId, identity: &str) -> TrustAnchorRecord {
    TrustAnchorRecord {
        v: RECORD_VERSION,
        id: TrustAnchorId::generate(),
        tenant: tenant.clone(),
        roles: Roles::one(Role::KeyUser),
        certificate: identity.as_bytes().to_vec(),
        fingerprint: token_hash(identity),
        identity: identity.to_owned(),
        subject: format!("CN={identity}"),
        not_after: T0.plus_secs(365 * DAY_SECS),
        description: String::new(),
        created_at: T0,
        created_by: principal("admin"),
        removed_at: None,
        revision: 1,
    }
}

/// A grant of encrypt and decrypt on `key_id` to `grantee`.
pub fn grant(tenant: &TenantId, key_id: &KeyId, grantee: &str) -> Grant {
    Grant {
        v: RECORD_VERSION,
        id: GrantId::generate(),
        tenant: tenant.clone(),
        key_id: *key_id,
        grantee: Grantee::Principal(principal(grantee)),
        operations: BTreeSet::from([KeyOp::Encrypt, KeyOp::Decrypt]),
        conditions: Default::default(),
        created_at: T0,
        created_by: principal("key-manager"),
    }
}

/// Version `version` of a tenant policy (`approvals` or `duties`) or of a key's (`key:<id>`).
pub fn policy_version(tenant: &TenantId, subject: PolicySubject, version: u32) -> PolicyVersion {
    let document = match subject {
        PolicySubject::Key(_) => PolicyDocument::Grants { grants: Vec::new() },
        PolicySubject::Approvals => PolicyDocument::Approvals(ApprovalPolicy::default()),
        PolicySubject::Duties => PolicyDocument::Duties(DutiesPolicy {
            allow_combined_duties: version % 2 == 1,
        }),
    };
    PolicyVersion {
        v: RECORD_VERSION,
        tenant: tenant.clone(),
        subject,
        version,
        document,
        changed_at: T0.plus_secs(u64::from(version)),
        changed_by: principal("admin"),
        change: format!("change {version}"),
        reverted_to: None,
        approval: None,
    }
}

/// A pending approval of a destruction asked by `requester`, for the request digest `digest`,
/// expiring `ttl_secs` after [`T0`].
pub fn approval(tenant: &TenantId, requester: &str, digest: &str, ttl_secs: u64) -> ApprovalRecord {
    ApprovalRecord {
        v: RECORD_VERSION,
        id: ApprovalId::generate(),
        tenant: tenant.clone(),
        action: ApprovalAction::KeyDestroy,
        key: None,
        summary: "destroy a key".into(),
        requester: Requester {
            principal: principal(requester),
            roles: Roles::one(Role::KeyManager),
            auth: AuthMethod::Token,
            token: None,
        },
        operation: None,
        request_digest: digest.to_owned(),
        required: 2,
        approvers: Approvers {
            principals: BTreeSet::from([principal("bob"), principal("carol")]),
            roles: BTreeSet::new(),
        },
        created_at: T0,
        expires_at: T0.plus_secs(ttl_secs),
        approvals: Vec::new(),
        rejection: None,
        status: ApprovalStatus::Pending,
        completed_at: None,
        result: None,
        error: None,
        revision: 1,
    }
}

/// The draft of the `n`th event (from 1) of [`audit_chain`], for `action`.
pub fn audit_draft(n: u64, action: &str) -> EventDraft {
    EventDraft {
        time: T0.plus_secs(n),
        tenant: Some(tenant_id("default")),
        target_tenant: None,
        principal: principal("alice"),
        auth_method: AuthMethod::Token,
        protocol: Protocol::Rest,
        action: action.to_owned(),
        key: None,
        key_version: None,
        outcome: Outcome::Ok,
        error_code: None,
        compromised_key_used: false,
        detail: None,
        request_id: RequestId(format!("req-{n}")),
        peer: Some("127.0.0.1:50000".into()),
    }
}

/// `audit_draft(n, "action-{n}")` for `n` in `1..=count`: the drafts of [`audit_chain`].
pub fn audit_drafts(count: u64) -> Vec<EventDraft> {
    (1..=count)
        .map(|n| audit_draft(n, &format!("action-{n}")))
        .collect()
}

/// The chain a store holds after committing [`audit_drafts`]`(n)` in order to an empty trail.
pub fn audit_chain(n: u64) -> Vec<AuditEvent> {
    let mut out: Vec<AuditEvent> = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for draft in audit_drafts(n) {
        let event = match out.last() {
            Some(prev) => draft.seal(prev.seq, &prev.hash),
            None => draft.seal(0, GENESIS_HASH),
        };
        out.push(event);
    }
    out
}
