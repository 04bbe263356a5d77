//! Operations: one typed request per verb, executed by [`execute`].
//!
//! Each operation authorizes itself (its required role and, for key use, a grant), checks the
//! key's life cycle through [`crate::lifecycle::check_use`], does its work, and returns the
//! writes to commit with its audit event. Nothing here talks to a protocol.

mod aliases;
pub(crate) mod approvals;
pub(crate) mod archive;
mod audit_ops;
mod change_state;
mod cipher;
mod client_certs;
mod create_key;
mod crypt;
mod derive;
mod describe;
mod grants;
mod import_key;
mod mac;
mod misc;
mod objects;
mod policies;
mod replace;
mod report;
mod root;
mod rotate;
mod sign;
mod tenants;
mod tokens;
mod trust_anchors;
mod update_key;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use keyhold_crypto::SecretBytes;

pub use aliases::{AliasList, CreateAlias, DeleteAlias, ListAliases};
pub use approvals::{
    ApprovalList, ApproveRequest, ListApprovals, RejectRequest, ShowApproval, StoredOperation,
};
pub use audit_ops::{
    AuditCheckpoint, AuditCheckpointKey, AuditCheckpointKeyResponse, AuditCheckpointResponse,
    AuditExport, AuditExportResponse, AuditVerify, AuditVerifyResponse,
};
pub use change_state::{ChangeState, StateChange};
pub use cipher::{
    CipherDecrypt, CipherDecryptResponse, CipherEncrypt, CipherEncryptResponse, CipherMode,
};
pub use client_certs::{ClientCertList, ListClientCerts, RegisterClientCert, RevokeClientCert};
pub use create_key::{CreateKey, KeySpec};
pub use crypt::{
    Decrypt, DecryptResponse, Encrypt, EncryptResponse, GenerateDataKey, GenerateDataKeyResponse,
    ReEncrypt, ReEncryptResponse,
};
pub use derive::{Derivation, DeriveKey};
pub use describe::{DescribeKey, KeyInfo, KeyList, ListKeys, VersionInfo};
pub use grants::{CreateGrant, GrantList, ListGrants, RevokeGrant};
pub use import_key::{GetImportParameters, ImportKey, ImportParameters};
pub use mac::{GenerateMac, MacResponse, VerifyMac, VerifyResponse};
pub use misc::{
    GetPublicKey, InfoAsked, PublicKeyResponse, Random, RandomResponse, ServerInfo, WhoAmI,
    WhoAmIResponse,
};
pub use objects::{
    CreateKeyPair, ExportKey, ExportedKey, KeyPairInfo, RegisterKey, WrapMode, WrapSpec, WrappedBy,
};
pub use policies::{
    ApprovalPolicyInfo, DutiesInfo, GetApprovalPolicy, GetDuties, PolicyHistory, PolicyHistoryList,
    PolicyTarget, RevertPolicy, SetApprovalPolicy, SetDuties,
};
pub use replace::ReplaceKey;
pub use report::{
    AccessLine, AccessReport, ApprovalsReport, GrantStatus, KeyAccess, KeyNote, KeysReport, Report,
    ReportKind, ReportOut, UsageReport,
};
pub use root::{RekeyUnseal, RootKeyRotation, RotateRootKey, UnsealRekey};
pub use rotate::RotateKey;
pub use sign::{Sign, SignResponse, Verify};
pub use tenants::{CreateTenant, ListTenants, TenantInfo, TenantList, UpdateTenant};
pub use tokens::{CreateToken, CreatedToken, ListTokens, RevokeToken, TokenInfo, TokenList};
pub use trust_anchors::{AddTrustAnchor, ListTrustAnchors, RemoveTrustAnchor, TrustAnchorList};
pub use update_key::UpdateKey;

pub(crate) use rotate::sweep_key;

use crate::audit::{AuthMethod, Outcome};
use crate::cache::{RefName, TenantPolicies};
use crate::clock::Timestamp;
use crate::error::{ErrorCode, KmsError};
use crate::ids::{KeyId, KeyLocator, KeyRef, PrincipalName, TenantId, TokenId};
use crate::kms::Kms;
use crate::lifecycle::{check_use, Permit, Use};
use crate::model::{
    Grant, Grantee, KeyOp, KeyRecord, KeyVersion, ObjectKind, Role, Roles, UsageMask,
};
use crate::policy::{ApprovalAction, ApprovalRecord, PolicyDocument, PolicySubject, PolicyVersion};
use crate::store::{Write, WriteBatch};

/// Secret bytes in a request or response body: base64 in JSON, `[redacted]` in Debug.
#[derive(Clone, Debug)]
pub struct SecretData(pub SecretBytes);

impl Serialize for SecretData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::b64::serialize(self.0.as_bytes(), s)
    }
}

impl<'de> Deserialize<'de> for SecretData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::b64::deserialize(d).map(|v| SecretData(SecretBytes::new(v)))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for SecretData {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for SecretData {}

/// Encryption context: non-secret key/value pairs bound to a ciphertext as AAD.
pub type Context = BTreeMap<String, String>;

/// Every operation the core performs for a caller.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Operation {
    /// See [`CreateKey`].
    CreateKey(CreateKey),
    /// See [`GetImportParameters`].
    GetImportParameters(GetImportParameters),
    /// See [`ImportKey`].
    ImportKey(ImportKey),
    /// See [`DescribeKey`].
    DescribeKey(DescribeKey),
    /// See [`ListKeys`].
    ListKeys(ListKeys),
    /// See [`UpdateKey`].
    UpdateKey(UpdateKey),
    /// See [`RotateKey`].
    RotateKey(RotateKey),
    /// See [`ChangeState`].
    ChangeState(ChangeState),
    /// See [`CreateAlias`].
    CreateAlias(CreateAlias),
    /// See [`DeleteAlias`].
    DeleteAlias(DeleteAlias),
    /// See [`ListAliases`].
    ListAliases(ListAliases),
    /// See [`Encrypt`].
    Encrypt(Encrypt),
    /// See [`Decrypt`].
    Decrypt(Decrypt),
    /// See [`ReEncrypt`].
    ReEncrypt(ReEncrypt),
    /// See [`GenerateDataKey`].
    GenerateDataKey(GenerateDataKey),
    /// See [`Sign`].
    Sign(Sign),
    /// See [`Verify`].
    Verify(Verify),
    /// See [`GenerateMac`].
    GenerateMac(GenerateMac),
    /// See [`VerifyMac`].
    VerifyMac(VerifyMac),
    /// See [`GetPublicKey`].
    GetPublicKey(GetPublicKey),
    /// See [`Random`].
    Random(Random),
    /// See [`CreateToken`].
    CreateToken(CreateToken),
    /// See [`ListTokens`].
    ListTokens(ListTokens),
    /// See [`RevokeToken`].
    RevokeToken(RevokeToken),
    /// See [`CreateGrant`].
    CreateGrant(CreateGrant),
    /// See [`ListGrants`].
    ListGrants(ListGrants),
    /// See [`RevokeGrant`].
    RevokeGrant(RevokeGrant),
    /// See [`AuditVerify`].
    AuditVerify(AuditVerify),
    /// See [`AuditExport`].
    AuditExport(AuditExport),
    /// See [`AuditCheckpoint`].
    AuditCheckpoint(AuditCheckpoint),
    /// See [`AuditCheckpointKey`].
    AuditCheckpointKey(AuditCheckpointKey),
    /// See [`WhoAmI`].
    WhoAmI(WhoAmI),
    /// See [`ServerInfo`].
    ServerInfo(ServerInfo),
    /// See [`CreateKeyPair`].
    CreateKeyPair(CreateKeyPair),
    /// See [`RegisterKey`].
    RegisterKey(RegisterKey),
    /// See [`ExportKey`].
    ExportKey(ExportKey),
    /// See [`RegisterClientCert`].
    RegisterClientCert(RegisterClientCert),
    /// See [`ListClientCerts`].
    ListClientCerts(ListClientCerts),
    /// See [`RevokeClientCert`].
    RevokeClientCert(RevokeClientCert),
    /// See [`CipherEncrypt`].
    CipherEncrypt(CipherEncrypt),
    /// See [`CipherDecrypt`].
    CipherDecrypt(CipherDecrypt),
    /// See [`DeriveKey`].
    DeriveKey(DeriveKey),
    /// See [`RotateRootKey`].
    RotateRootKey(RotateRootKey),
    /// See [`RekeyUnseal`].
    RekeyUnseal(RekeyUnseal),
    /// See [`Report`].
    Report(Report),
    /// See [`CreateTenant`].
    CreateTenant(CreateTenant),
    /// See [`ListTenants`].
    ListTenants(ListTenants),
    /// See [`UpdateTenant`].
    UpdateTenant(UpdateTenant),
    /// See [`AddTrustAnchor`].
    AddTrustAnchor(AddTrustAnchor),
    /// See [`ListTrustAnchors`].
    ListTrustAnchors(ListTrustAnchors),
    /// See [`RemoveTrustAnchor`].
    RemoveTrustAnchor(RemoveTrustAnchor),
    /// See [`ListApprovals`].
    ListApprovals(ListApprovals),
    /// See [`ShowApproval`].
    ShowApproval(ShowApproval),
    /// See [`ApproveRequest`].
    ApproveRequest(ApproveRequest),
    /// See [`RejectRequest`].
    RejectRequest(RejectRequest),
    /// See [`GetApprovalPolicy`].
    GetApprovalPolicy(GetApprovalPolicy),
    /// See [`SetApprovalPolicy`].
    SetApprovalPolicy(SetApprovalPolicy),
    /// See [`GetDuties`].
    GetDuties(GetDuties),
    /// See [`SetDuties`].
    SetDuties(SetDuties),
    /// See [`PolicyHistory`].
    PolicyHistory(PolicyHistory),
    /// See [`RevertPolicy`].
    RevertPolicy(RevertPolicy),
    /// See [`ReplaceKey`].
    ReplaceKey(ReplaceKey),
}

/// The result of an [`Operation`], one variant per response shape.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Response {
    /// A key's description.
    Key(Box<KeyInfo>),
    /// A page of keys.
    Keys(KeyList),
    /// Import parameters.
    ImportParameters(ImportParameters),
    /// Aliases.
    Aliases(AliasList),
    /// Encrypt.
    Encrypt(EncryptResponse),
    /// Decrypt.
    Decrypt(DecryptResponse),
    /// Re-encrypt.
    ReEncrypt(ReEncryptResponse),
    /// Data key.
    DataKey(GenerateDataKeyResponse),
    /// Signature.
    Sign(SignResponse),
    /// Verification result (signatures and MACs).
    Verify(VerifyResponse),
    /// MAC.
    Mac(MacResponse),
    /// Public key.
    PublicKey(PublicKeyResponse),
    /// Random bytes.
    Random(RandomResponse),
    /// A new token (with its secret, once).
    CreatedToken(CreatedToken),
    /// One token.
    Token(TokenInfo),
    /// Tokens.
    Tokens(TokenList),
    /// One grant.
    Grant(crate::model::Grant),
    /// Grants.
    Grants(GrantList),
    /// Audit verification.
    AuditVerify(AuditVerifyResponse),
    /// Audit events.
    AuditExport(AuditExportResponse),
    /// The head a new checkpoint attests.
    AuditCheckpoint(AuditCheckpointResponse),
    /// The checkpoint key's public half.
    AuditCheckpointKey(AuditCheckpointKeyResponse),
    /// The caller.
    WhoAmI(WhoAmIResponse),
    /// Both halves of a new key pair.
    KeyPair(KeyPairInfo),
    /// An object's material.
    Exported(ExportedKey),
    /// One client certificate.
    ClientCert(crate::model::ClientCertRecord),
    /// Client certificates.
    ClientCerts(ClientCertList),
    /// A bare ciphertext.
    CipherEncrypt(CipherEncryptResponse),
    /// A bare plaintext.
    CipherDecrypt(CipherDecryptResponse),
    /// A root-key rotation.
    RootKeyRotation(RootKeyRotation),
    /// New unseal shares.
    UnsealRekey(UnsealRekey),
    /// A compliance report.
    Report(Box<ReportOut>),
    /// One tenant.
    Tenant(TenantInfo),
    /// Tenants.
    Tenants(TenantList),
    /// One trust anchor.
    TrustAnchor(Box<crate::model::TrustAnchorRecord>),
    /// Trust anchors.
    TrustAnchors(TrustAnchorList),
    /// One approval.
    Approval(Box<ApprovalRecord>),
    /// Approvals.
    Approvals(ApprovalList),
    /// The approval policy and its version.
    ApprovalPolicy(ApprovalPolicyInfo),
    /// The separation-of-duties setting and its version.
    Duties(DutiesInfo),
    /// Versions of a policy.
    PolicyHistory(PolicyHistoryList),
    /// Nothing to say beyond success.
    Empty {},
}

impl Operation {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            Self::CreateKey(_) => "key.create",
            Self::GetImportParameters(_) => "key.import-parameters",
            Self::ImportKey(_) => "key.import",
            Self::DescribeKey(_) => "key.describe",
            Self::ListKeys(_) => "key.list",
            Self::UpdateKey(_) => "key.update",
            Self::RotateKey(_) => "key.rotate",
            Self::ChangeState(c) => c.action(),
            Self::CreateAlias(_) => "alias.create",
            Self::DeleteAlias(_) => "alias.delete",
            Self::ListAliases(_) => "alias.list",
            Self::Encrypt(_) => "encrypt",
            Self::Decrypt(_) => "decrypt",
            Self::ReEncrypt(_) => "re-encrypt",
            Self::GenerateDataKey(_) => "generate-data-key",
            Self::Sign(_) => "sign",
            Self::Verify(_) => "verify",
            Self::GenerateMac(_) => "mac",
            Self::VerifyMac(_) => "mac-verify",
            Self::GetPublicKey(_) => "get-public-key",
            Self::Random(_) => "random",
            Self::CreateToken(_) => "token.create",
            Self::ListTokens(_) => "token.list",
            Self::RevokeToken(_) => "token.revoke",
            Self::CreateGrant(_) => "grant.create",
            Self::ListGrants(_) => "grant.list",
            Self::RevokeGrant(_) => "grant.revoke",
            Self::AuditVerify(_) => "audit.verify",
            Self::AuditExport(_) => "audit.export",
            Self::AuditCheckpoint(_) => crate::checkpoint::CHECKPOINT_ACTION,
            Self::AuditCheckpointKey(_) => "audit.checkpoint-key",
            Self::WhoAmI(_) => "whoami",
            Self::ServerInfo(_) => "server.info",
            Self::CreateKeyPair(_) => "key.create-pair",
            Self::RegisterKey(_) => "key.register",
            Self::ExportKey(_) => "key.export",
            Self::RegisterClientCert(_) => "client-cert.register",
            Self::ListClientCerts(_) => "client-cert.list",
            Self::RevokeClientCert(_) => "client-cert.revoke",
            Self::CipherEncrypt(_) => "encrypt",
            Self::CipherDecrypt(_) => "decrypt",
            Self::DeriveKey(_) => "key.derive",
            Self::RotateRootKey(_) => "root.rotate",
            Self::RekeyUnseal(_) => "unseal.rekey",
            Self::Report(_) => "report",
            Self::CreateTenant(_) => "tenant.create",
            Self::ListTenants(_) => "tenant.list",
            Self::UpdateTenant(u) if u.disabled => "tenant.disable",
            Self::UpdateTenant(_) => "tenant.enable",
            Self::AddTrustAnchor(_) => "trust-anchor.add",
            Self::ListTrustAnchors(_) => "trust-anchor.list",
            Self::RemoveTrustAnchor(_) => "trust-anchor.remove",
            Self::ListApprovals(_) => "approval.list",
            Self::ShowApproval(_) => "approval.show",
            Self::ApproveRequest(_) => "approval.approve",
            Self::RejectRequest(_) => "approval.reject",
            Self::GetApprovalPolicy(_) => "approval-policy.show",
            Self::SetApprovalPolicy(_) => "approval-policy.set",
            Self::GetDuties(_) => "duties.show",
            Self::SetDuties(_) => "duties.set",
            Self::PolicyHistory(_) => "policy.history",
            Self::RevertPolicy(o) => o.action(),
            Self::ReplaceKey(_) => "key.rekey",
        }
    }

    /// The key the request names, as the client wrote it (for audit events of refusals).
    pub fn key_hint(&self) -> Option<String> {
        let r = match self {
            Self::DescribeKey(o) => &o.key,
            Self::UpdateKey(o) => &o.key,
            Self::RotateKey(o) => &o.key,
            Self::ChangeState(o) => &o.key,
            Self::CreateAlias(o) => &o.key,
            Self::Encrypt(o) => &o.key,
            Self::GenerateDataKey(o) => &o.key,
            Self::Sign(o) => &o.key,
            Self::Verify(o) => &o.key,
            Self::GenerateMac(o) => &o.key,
            Self::VerifyMac(o) => &o.key,
            Self::GetPublicKey(o) => &o.key,
            Self::CreateGrant(o) => &o.key,
            Self::ExportKey(o) => &o.key,
            Self::CipherEncrypt(o) => &o.key,
            Self::CipherDecrypt(o) => &o.key,
            Self::DeriveKey(o) => &o.base,
            Self::ReplaceKey(o) => &o.key,
            Self::PolicyHistory(PolicyHistory {
                target: PolicyTarget::Key { key },
            }) => key,
            Self::RevertPolicy(RevertPolicy {
                target: PolicyTarget::Key { key },
                ..
            }) => key,
            Self::ApproveRequest(o) => return Some(format!("approval {}", o.id)),
            Self::RejectRequest(o) => return Some(format!("approval {}", o.id)),
            _ => return None,
        };
        Some(r.0.clone())
    }

    /// The canonical bytes of a request that can be put under dual control (its digest binds
    /// an approval to exactly this request). `None` for requests no approval policy governs.
    pub(crate) fn gated_bytes(&self) -> Option<Vec<u8>> {
        let json = match self {
            Self::ChangeState(o) => serde_json::to_vec(o),
            Self::ImportKey(o) => serde_json::to_vec(o),
            Self::RegisterKey(o) => serde_json::to_vec(o),
            Self::ExportKey(o) => serde_json::to_vec(o),
            Self::CreateGrant(o) => serde_json::to_vec(o),
            Self::RevokeGrant(o) => serde_json::to_vec(o),
            Self::SetApprovalPolicy(o) => serde_json::to_vec(o),
            Self::SetDuties(o) => serde_json::to_vec(o),
            Self::RevertPolicy(o) => serde_json::to_vec(o),
            Self::RotateRootKey(o) => serde_json::to_vec(o),
            Self::RekeyUnseal(o) => serde_json::to_vec(o),
            _ => return None,
        };
        let mut out = self.action().as_bytes().to_vec();
        out.push(0);
        out.extend(json.ok()?);
        Some(out)
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its tenant: every lookup is confined to it.
    pub tenant: TenantId,
    /// Who.
    pub principal: PrincipalName,
    /// Its roles.
    pub roles: Roles,
    /// How it authenticated.
    pub auth: AuthMethod,
    /// The token it used, if any.
    pub token: Option<TokenId>,
}

/// What an operation hands back to [`Kms::run`] to commit with its audit event.
#[derive(Debug)]
pub(crate) struct Done {
    pub response: Response,
    pub writes: WriteBatch,
    pub key: Option<KeyId>,
    pub version: Option<u32>,
    pub compromised: bool,
    pub detail: Option<String>,
    /// Set by a root-key rotation or unseal rekey: takes effect once the writes are durable.
    pub root_change: Option<crate::kms::RootChange>,
    /// Further audit events committed in the same transaction, after the request's own (the
    /// execution of an approved request, by its requester).
    pub also: Vec<AlsoEvent>,
}

/// An audit event an operation adds to its own (see [`Done::also`]).
#[derive(Debug, Clone)]
pub(crate) struct AlsoEvent {
    pub principal: PrincipalName,
    pub auth: AuthMethod,
    pub action: String,
    pub key: Option<KeyId>,
    pub version: Option<u32>,
    pub outcome: Outcome,
    pub error_code: Option<ErrorCode>,
    pub compromised: bool,
    pub detail: Option<String>,
}

impl Done {
    pub(crate) fn new(response: Response) -> Self {
        Self {
            response,
            writes: WriteBatch::default(),
            key: None,
            version: None,
            compromised: false,
            detail: None,
            root_change: None,
            also: Vec::new(),
        }
    }
    pub(crate) fn key(mut self, id: KeyId, version: Option<u32>) -> Self {
        self.key = Some(id);
        self.version = version;
        self
    }
    pub(crate) fn writes(mut self, w: WriteBatch) -> Self {
        self.writes = w;
        self
    }
    pub(crate) fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// The context of one execution: the core, the caller and the instant.
pub(crate) struct Cx<'a> {
    pub kms: &'a Kms,
    pub caller: &'a Caller,
    pub now: Timestamp,
    /// The caches' epoch when the execution began: what it reads from the store may fill the
    /// caches only if nothing was invalidated since (see [`crate::cache`]).
    pub epoch: u64,
    /// The request as the client sent it (its digest binds approvals); `None` for internal
    /// executions.
    pub op: Option<&'a Operation>,
    /// The approval whose threshold was met, when this execution runs a stored request for its
    /// requester (the gate of its action lets it through).
    pub approved: Option<&'a ApprovalRecord>,
    /// Writes the authorization adds to the operation's own (use counters, the approval a
    /// re-issued request consumes), committed in the same transaction.
    extra: std::sync::Mutex<Vec<Write>>,
    /// What the gate found missing: the approval to create (see [`Kms::run`]).
    need: std::sync::Mutex<Option<approvals::ApprovalNeed>>,
    /// The approved request this execution consumes (a re-issue in release mode).
    released: std::sync::Mutex<Option<crate::ids::ApprovalId>>,
    /// The first key the execution resolved: a refused or failed request is audited under the
    /// key's id rather than the reference the client wrote (a name or an alias), so reports
    /// count one key as one.
    resolved: std::sync::OnceLock<KeyId>,
    /// The other tenant an installation administrator acts on (see
    /// [`crate::audit::AuditEvent::target_tenant`]).
    target: std::sync::OnceLock<TenantId>,
}

impl<'a> Cx<'a> {
    /// A context for `caller` at `now`.
    pub(crate) fn new(kms: &'a Kms, caller: &'a Caller, now: Timestamp, epoch: u64) -> Self {
        Self {
            kms,
            caller,
            now,
            epoch,
            op: None,
            approved: None,
            extra: std::sync::Mutex::new(Vec::new()),
            need: std::sync::Mutex::new(None),
            released: std::sync::Mutex::new(None),
            resolved: std::sync::OnceLock::new(),
            target: std::sync::OnceLock::new(),
        }
    }

    /// Notes that this execution acts on `tenant`: if it is not the caller's, the audit event
    /// names it, so that the event is in that tenant's audit view too.
    pub(crate) fn act_on_tenant(&self, tenant: &TenantId) {
        if *tenant != self.caller.tenant {
            let _ = self.target.set(tenant.clone());
        }
    }

    /// The other tenant this execution acted on, if any.
    pub(crate) fn target_tenant_acted(&self) -> Option<TenantId> {
        self.target.get().cloned()
    }

    /// The first key this execution resolved, if any.
    pub(crate) fn resolved_key(&self) -> Option<&KeyId> {
        self.resolved.get()
    }

    /// The approval a re-issued request consumed.
    pub(crate) fn released(&self) -> Option<crate::ids::ApprovalId> {
        *crate::kms::lock(&self.released)
    }

    /// Adds a write to the operation's.
    pub(crate) fn push_extra(&self, w: Write) {
        crate::kms::lock(&self.extra).push(w);
    }

    /// The writes authorization added.
    pub(crate) fn take_extra(&self) -> Vec<Write> {
        std::mem::take(&mut *crate::kms::lock(&self.extra))
    }

    /// The approval the gate asked for.
    pub(crate) fn take_need(&self) -> Option<approvals::ApprovalNeed> {
        crate::kms::lock(&self.need).take()
    }
}

/// Runs an operation.
pub(crate) async fn execute(cx: &Cx<'_>, op: Operation) -> Result<Done, KmsError> {
    match op {
        Operation::CreateKey(o) => o.execute(cx).await,
        Operation::GetImportParameters(o) => o.execute(cx).await,
        Operation::ImportKey(o) => o.execute(cx).await,
        Operation::DescribeKey(o) => o.execute(cx).await,
        Operation::ListKeys(o) => o.execute(cx).await,
        Operation::UpdateKey(o) => o.execute(cx).await,
        Operation::RotateKey(o) => o.execute(cx).await,
        Operation::ChangeState(o) => o.execute(cx).await,
        Operation::CreateAlias(o) => o.execute(cx).await,
        Operation::DeleteAlias(o) => o.execute(cx).await,
        Operation::ListAliases(o) => o.execute(cx).await,
        Operation::Encrypt(o) => o.execute(cx).await,
        Operation::Decrypt(o) => o.execute(cx).await,
        Operation::ReEncrypt(o) => o.execute(cx).await,
        Operation::GenerateDataKey(o) => o.execute(cx).await,
        Operation::Sign(o) => o.execute(cx).await,
        Operation::Verify(o) => o.execute(cx).await,
        Operation::GenerateMac(o) => o.execute(cx).await,
        Operation::VerifyMac(o) => o.execute(cx).await,
        Operation::GetPublicKey(o) => o.execute(cx).await,
        Operation::Random(o) => o.execute(cx).await,
        Operation::CreateToken(o) => o.execute(cx).await,
        Operation::ListTokens(o) => o.execute(cx).await,
        Operation::RevokeToken(o) => o.execute(cx).await,
        Operation::CreateGrant(o) => o.execute(cx).await,
        Operation::ListGrants(o) => o.execute(cx).await,
        Operation::RevokeGrant(o) => o.execute(cx).await,
        Operation::AuditVerify(o) => o.execute(cx).await,
        Operation::AuditExport(o) => o.execute(cx).await,
        Operation::AuditCheckpoint(o) => o.execute(cx).await,
        Operation::AuditCheckpointKey(o) => o.execute(cx).await,
        Operation::WhoAmI(o) => o.execute(cx).await,
        Operation::ServerInfo(o) => o.execute(cx).await,
        Operation::CreateKeyPair(o) => o.execute(cx).await,
        Operation::RegisterKey(o) => o.execute(cx).await,
        Operation::ExportKey(o) => o.execute(cx).await,
        Operation::RegisterClientCert(o) => o.execute(cx).await,
        Operation::ListClientCerts(o) => o.execute(cx).await,
        Operation::RevokeClientCert(o) => o.execute(cx).await,
        Operation::CipherEncrypt(o) => o.execute(cx).await,
        Operation::CipherDecrypt(o) => o.execute(cx).await,
        Operation::DeriveKey(o) => o.execute(cx).await,
        Operation::RotateRootKey(o) => o.execute(cx).await,
        Operation::RekeyUnseal(o) => o.execute(cx).await,
        Operation::Report(o) => o.execute(cx).await,
        Operation::CreateTenant(o) => o.execute(cx).await,
        Operation::ListTenants(o) => o.execute(cx).await,
        Operation::UpdateTenant(o) => o.execute(cx).await,
        Operation::AddTrustAnchor(o) => o.execute(cx).await,
        Operation::ListTrustAnchors(o) => o.execute(cx).await,
        Operation::RemoveTrustAnchor(o) => o.execute(cx).await,
        Operation::ListApprovals(o) => o.execute(cx).await,
        Operation::ShowApproval(o) => o.execute(cx).await,
        Operation::ApproveRequest(o) => o.execute(cx).await,
        Operation::RejectRequest(o) => o.execute(cx).await,
        Operation::GetApprovalPolicy(o) => o.execute(cx).await,
        Operation::SetApprovalPolicy(o) => o.execute(cx).await,
        Operation::GetDuties(o) => o.execute(cx).await,
        Operation::SetDuties(o) => o.execute(cx).await,
        Operation::PolicyHistory(o) => o.execute(cx).await,
        Operation::RevertPolicy(o) => o.execute(cx).await,
        Operation::ReplaceKey(o) => o.execute(cx).await,
    }
}

impl Cx<'_> {
    /// Refuses unless the caller has one of `roles`.
    pub(crate) fn require(&self, roles: &[Role], what: &'static str) -> Result<(), KmsError> {
        if self.caller.roles.any_of(roles) {
            Ok(())
        } else {
            Err(KmsError::PermissionDenied(what))
        }
    }

    /// Whether the caller administers the installation: an administrator of the default tenant.
    pub(crate) fn is_global_admin(&self) -> bool {
        self.caller.roles.contains(Role::Admin) && self.caller.tenant.is_default()
    }

    /// Refuses unless the caller administers the installation.
    pub(crate) fn require_global_admin(&self, what: &'static str) -> Result<(), KmsError> {
        if self.is_global_admin() {
            Ok(())
        } else {
            Err(KmsError::PermissionDenied(what))
        }
    }

    /// The tenant an administrative request acts on: the caller's own when `named` is absent or
    /// names it; another one only for an administrator of the default tenant (the refusal does
    /// not depend on whether that tenant exists), and it must exist.
    pub(crate) async fn target_tenant(
        &self,
        named: Option<TenantId>,
    ) -> Result<TenantId, KmsError> {
        let tenant = match named {
            None => return Ok(self.caller.tenant.clone()),
            Some(t) if t == self.caller.tenant => return Ok(t),
            Some(t) => t,
        };
        self.require_global_admin(
            "only administrators of the default tenant act on other tenants",
        )?;
        if self.kms.store.tenant(&tenant).await?.is_none() {
            return Err(KmsError::NotFound("tenant"));
        }
        self.act_on_tenant(&tenant);
        Ok(tenant)
    }

    /// Resolves a key reference inside the caller's tenant. A key of another tenant is
    /// indistinguishable from a missing one.
    ///
    /// Names and aliases are remembered per tenant; a remembered name is trusted only while the
    /// key still bears it (renames are not tracked), an alias until an alias write invalidates it.
    pub(crate) async fn resolve(&self, r: &KeyRef) -> Result<KeyRecord, KmsError> {
        let tenant = &self.caller.tenant;
        let store = &self.kms.store;
        let caches = &self.kms.caches;
        let name = match r.locate()? {
            KeyLocator::Id(id) => return self.key_by_id(&id).await,
            KeyLocator::Name(n) => RefName::Name(n),
            KeyLocator::Alias(a) => RefName::Alias(a),
        };
        if let Some(id) = caches.key_ref(tenant, &name, self.now) {
            let still = match (&name, self.key_by_id(&id).await) {
                (RefName::Name(n), Ok(key)) if key.name.as_ref() == Some(n) => Some(key),
                (RefName::Alias(_), Ok(key)) => Some(key),
                _ => None,
            };
            if let Some(key) = still {
                return Ok(key);
            }
        }
        let found = match &name {
            RefName::Name(n) => store.key_by_name(tenant, n).await?,
            RefName::Alias(a) => match store.alias(tenant, a).await? {
                Some(alias) => store.key(tenant, &alias.key_id).await?,
                None => None,
            },
        };
        let key = found.ok_or(KmsError::NotFound("key"))?;
        caches.put_key(self.epoch, &key, self.now);
        caches.put_ref(self.epoch, tenant, name, key.id, self.now);
        let _ = self.resolved.set(key.id);
        Ok(key)
    }

    /// A key by id inside the caller's tenant (for ciphertext headers).
    pub(crate) async fn key_by_id(&self, id: &KeyId) -> Result<KeyRecord, KmsError> {
        let tenant = &self.caller.tenant;
        let caches = &self.kms.caches;
        if let Some(key) = caches.key(id, self.now) {
            // Key ids are unique across tenants; a foreign key is a missing one.
            return if &key.tenant == tenant {
                let _ = self.resolved.set(key.id);
                Ok(key)
            } else {
                Err(KmsError::NotFound("key"))
            };
        }
        let key = self
            .kms
            .store
            .key(tenant, id)
            .await?
            .ok_or(KmsError::NotFound("key"))?;
        caches.put_key(self.epoch, &key, self.now);
        let _ = self.resolved.set(key.id);
        Ok(key)
    }

    /// Key use, evaluated for every protocol: separation of duties, then the key's policy
    /// (deny by default). The caller must be a key-user; a principal that also manages keys (or
    /// created this key) only if its tenant allows combined duties. Some grant to the caller or
    /// one of its roles must allow `op` with all its conditions holding: the request's
    /// encryption context (`context`, absent for requests without one) carries the required
    /// entries, `now` is inside the validity window, and a use is left. An unlimited grant
    /// wins without a write; otherwise the use is counted in the store in the same transaction
    /// as the request's audit event, and a counter that reached its limit meanwhile fails the
    /// commit, so the request is retried and refused.
    ///
    /// A public-key object can only verify, encrypt (RSA) and show its public key.
    pub(crate) async fn authorize_use(
        &self,
        key: &KeyRecord,
        op: KeyOp,
        context: Option<&Context>,
    ) -> Result<(), KmsError> {
        self.authorize_use_masked(key, op, context, |m| m.allows(op))
            .await
    }

    /// [`Cx::authorize_use`], with the key's usage mask (when it has one) checked by
    /// `mask_ok` rather than against `op` (wrapping another key's material is an `encrypt`
    /// grant, but the Wrap Key bit of the mask).
    pub(crate) async fn authorize_use_masked(
        &self,
        key: &KeyRecord,
        op: KeyOp,
        context: Option<&Context>,
        mask_ok: impl Fn(UsageMask) -> bool,
    ) -> Result<(), KmsError> {
        let roles = self.caller.roles;
        if !roles.contains(Role::KeyUser) {
            return Err(KmsError::PermissionDenied(
                if roles.contains(Role::KeyManager) {
                    "key managers cannot use keys; separation of duties"
                } else if roles.contains(Role::Admin) {
                    "administrators cannot use keys"
                } else {
                    "auditors cannot use keys"
                },
            ));
        }
        let creator = key.created_by == self.caller.principal;
        if (roles.combines_duties() || creator)
            && !self.tenant_policies().await?.duties.allow_combined_duties
        {
            return Err(KmsError::PermissionDenied(if creator {
                "the principal that created a key cannot use it (separation of duties; the tenant does not allow combined duties)"
            } else {
                "this principal both manages and uses keys, which its tenant does not allow (separation of duties)"
            }));
        }
        if key.kind == ObjectKind::PublicKey
            && !matches!(
                op,
                KeyOp::Verify | KeyOp::Encrypt | KeyOp::GetPublicKey | KeyOp::Export
            )
        {
            return Err(KmsError::WrongKeyUsage(
                "a public key can only verify, encrypt and be read",
            ));
        }
        let grants = self.key_grants(key).await?;
        let mut refusal = "no grant allows this operation on this key";
        let mut limited = Vec::new();
        let mut unlimited = false;
        for g in grants.iter().filter(|g| {
            g.grantee.covers(&self.caller.principal, roles) && g.operations.contains(&op)
        }) {
            if let Some(why) = g.conditions.refusal(self.now, context) {
                refusal = why;
                continue;
            }
            match g.conditions.max_uses {
                None => {
                    unlimited = true;
                    break;
                }
                Some(limit) => limited.push((g.id, limit)),
            }
        }
        // The key's usage mask is checked once a grant allows the use, so that a caller
        // without one learns nothing about the key.
        let mask = || match key.usage_mask {
            Some(m) if !mask_ok(m) => Err(KmsError::WrongKeyUsage(mask_refusal(op))),
            _ => Ok(()),
        };
        if unlimited {
            return mask();
        }
        for (grant, limit) in limited {
            let used = self
                .kms
                .store
                .grant_uses(&self.caller.tenant, &grant)
                .await?;
            if used < limit {
                mask()?;
                self.push_extra(Write::CountGrantUse {
                    tenant: self.caller.tenant.clone(),
                    grant,
                    limit,
                });
                return Ok(());
            }
            refusal = "the grant's uses are exhausted (max_uses reached)";
        }
        Err(KmsError::PermissionDenied(refusal))
    }

    /// Adds to `batch` the writes that store a new object: its record, its first version
    /// wrapped under the tenant's KEK, and [`Cx::owner_grant`].
    pub(crate) async fn insert_new(
        &self,
        batch: &mut WriteBatch,
        record: &KeyRecord,
        material: &keyhold_crypto::KeyMaterial,
    ) -> Result<(), KmsError> {
        batch.push(Write::InsertKey(record.clone()));
        batch.push(Write::InsertVersion(wrap_material(
            self.kms, record, 1, material, self.now,
        )?));
        batch.0.extend(self.owner_grant(record).await?);
        Ok(())
    }

    /// The grant a principal that both manages and uses keys gets on each object it creates,
    /// so that it can use what it made (KMIP clients work this way), with the key's first
    /// policy version. Nothing for everyone else, and nothing unless the tenant allows combined
    /// duties: separation of duties stays the default.
    pub(crate) async fn owner_grant(&self, key: &KeyRecord) -> Result<Vec<Write>, KmsError> {
        if !self.caller.roles.combines_duties()
            || !self.tenant_policies().await?.duties.allow_combined_duties
        {
            return Ok(Vec::new());
        }
        let grant = Grant {
            v: crate::model::RECORD_VERSION,
            id: crate::ids::GrantId::generate(),
            tenant: key.tenant.clone(),
            key_id: key.id,
            grantee: Grantee::Principal(self.caller.principal.clone()),
            operations: KeyOp::ALL.into_iter().collect(),
            conditions: Default::default(),
            created_at: self.now,
            created_by: self.caller.principal.clone(),
        };
        let version = PolicyVersion {
            v: crate::model::RECORD_VERSION,
            tenant: key.tenant.clone(),
            subject: PolicySubject::Key(key.id),
            version: 1,
            document: PolicyDocument::Grants {
                grants: vec![grant.clone()],
            },
            changed_at: self.now,
            changed_by: self.caller.principal.clone(),
            change: format!("owner grant {} to its creator", grant.id),
            reverted_to: None,
            approval: None,
        };
        Ok(vec![
            Write::InsertGrant(grant),
            Write::InsertPolicyVersion(version),
        ])
    }

    /// Every grant of `key` (an empty list is remembered too, until a grant write).
    pub(crate) async fn key_grants(&self, key: &KeyRecord) -> Result<Arc<Vec<Grant>>, KmsError> {
        let caches = &self.kms.caches;
        let k = (self.caller.tenant.clone(), key.id);
        if let Some(grants) = caches.grants(&k, self.now) {
            return Ok(grants);
        }
        let grants = Arc::new(
            self.kms
                .store
                .grants(&self.caller.tenant, Some(&key.id), None)
                .await?,
        );
        caches.put_grants(self.epoch, k, grants.clone(), self.now);
        Ok(grants)
    }

    /// The caller's tenant's approval policy and duties setting (cached).
    pub(crate) async fn tenant_policies(&self) -> Result<Arc<TenantPolicies>, KmsError> {
        let tenant = &self.caller.tenant;
        let caches = &self.kms.caches;
        if let Some(p) = caches.policies(tenant, self.now) {
            return Ok(p);
        }
        let store = &self.kms.store;
        let mut policies = TenantPolicies::default();
        if let Some(v) = store
            .latest_policy(tenant, &PolicySubject::Approvals)
            .await?
        {
            if let PolicyDocument::Approvals(a) = v.document {
                policies.approvals = a;
            }
        }
        if let Some(v) = store.latest_policy(tenant, &PolicySubject::Duties).await? {
            if let PolicyDocument::Duties(d) = v.document {
                policies.duties = d;
            }
        }
        let policies = Arc::new(policies);
        caches.put_policies(self.epoch, tenant.clone(), policies.clone(), self.now);
        Ok(policies)
    }

    /// Dual control: lets the request through unless the tenant's approval policy governs
    /// `action`, in which case it needs an approval (see [`crate::policy`]).
    pub(crate) async fn dual_control(
        &self,
        action: ApprovalAction,
        key: Option<KeyId>,
        summary: impl FnOnce() -> String,
    ) -> Result<(), KmsError> {
        let request = self.op.and_then(Operation::gated_bytes);
        approvals::gate(self, action, key, summary, request).await
    }

    /// Metadata reads: key managers always; key users with any grant on the key.
    pub(crate) async fn authorize_read(&self, key: &KeyRecord) -> Result<(), KmsError> {
        let roles = self.caller.roles;
        if roles.contains(Role::KeyManager) {
            Ok(())
        } else if roles.contains(Role::KeyUser) {
            let grants = self.key_grants(key).await?;
            let (principal, roles) = (&self.caller.principal, self.caller.roles);
            if !grants.iter().any(|g| g.grantee.covers(principal, roles)) {
                Err(KmsError::PermissionDenied("no grant on this key"))
            } else {
                Ok(())
            }
        } else {
            Err(KmsError::PermissionDenied(
                "only key managers and key users read keys",
            ))
        }
    }

    /// The effective life cycle of `key` now, checked against `use_`.
    pub(crate) fn check(
        &self,
        key: &KeyRecord,
        use_: Use,
        action: &'static str,
    ) -> Result<Permit, KmsError> {
        check_use(&key.lifecycle.effective(self.now), use_, action)
    }

    /// The plaintext material of one version. Fails for destroyed material, and if the wrapped
    /// material does not authenticate under the key's identity (swapped or altered rows).
    pub(crate) async fn material(
        &self,
        key: &KeyRecord,
        version: u32,
    ) -> Result<(SecretBytes, KeyVersion), KmsError> {
        let caches = &self.kms.caches;
        if let Some(hit) = caches.version(key, version, self.now) {
            return Ok(hit);
        }
        let v = self
            .kms
            .store
            .version(&key.id, version)
            .await?
            .ok_or(KmsError::NotFound("key version"))?;
        if v.destroyed {
            return Err(KmsError::KeyVersionDisabled(version));
        }
        let material = unwrap_material(self.kms, key, &v)?;
        caches.put_version(self.epoch, key, &v, &material, self.now);
        Ok((material, v))
    }
}

/// Wraps fresh material as version `version` of `key`.
pub(crate) fn wrap_material(
    kms: &Kms,
    key: &KeyRecord,
    version: u32,
    material: &keyhold_crypto::KeyMaterial,
    now: Timestamp,
) -> Result<KeyVersion, KmsError> {
    let kek = kms.wrapping_kek(&key.tenant)?;
    let (nonce, wrapped) = kms.crypto.aes_gcm_seal(
        kek.as_bytes(),
        &key.version_aad(version),
        material.private.as_bytes(),
    )?;
    Ok(KeyVersion {
        v: crate::model::RECORD_VERSION,
        key_id: key.id,
        version,
        created_at: now,
        wrapped,
        nonce: nonce.to_vec(),
        public_key: material.public.clone(),
        destroyed: false,
    })
}

pub(crate) fn unwrap_material(
    kms: &Kms,
    key: &KeyRecord,
    v: &KeyVersion,
) -> Result<SecretBytes, KmsError> {
    let kek = kms.kek(&key.tenant)?;
    let nonce: [u8; 12] = v
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| KmsError::Integrity("wrapped key nonce"))?;
    kms.crypto
        .aes_gcm_open(
            kek.as_bytes(),
            &nonce,
            &key.version_aad(v.version),
            &v.wrapped,
        )
        .map_err(|_| KmsError::Integrity("wrapped key material does not authenticate"))
}

/// The writes that replace `old` by `new`: the CAS update, plus the destruction of every
/// version's material when `new` is destroyed and `old` was not. The one place that turns a
/// life-cycle change into storage changes.
pub(crate) fn update_writes(old: &KeyRecord, mut new: KeyRecord) -> WriteBatch {
    let mut batch = WriteBatch::default();
    let destroy = new.lifecycle.state.is_destroyed() && !old.lifecycle.state.is_destroyed();
    new.revision = old.revision + 1;
    let versions = new.current_version;
    let id = new.id;
    batch.push(Write::UpdateKey {
        record: new,
        expected_revision: old.revision,
    });
    if destroy {
        for version in 1..=versions {
            batch.push(Write::DestroyVersionMaterial {
                key_id: id,
                version,
            });
        }
    }
    batch
}

/// The page size a listing asks for: `default` when absent, at most `max` (a larger request is
/// served `max` at a time, with a page token). Zero is refused: it is never what a caller meant,
/// and serving one item instead would hide the mistake.
pub(crate) fn page_limit(requested: Option<u32>, default: u32, max: u32) -> Result<u32, KmsError> {
    match requested {
        Some(0) => Err(KmsError::invalid(format!(
            "limit must be between 1 and {max}"
        ))),
        Some(n) => Ok(n.min(max)),
        None => Ok(default.min(max)),
    }
}

/// The version a verification names, defaulting to the current one; it must exist.
pub(crate) fn requested_version(key: &KeyRecord, requested: Option<u32>) -> Result<u32, KmsError> {
    let version = requested.unwrap_or(key.current_version);
    if version == 0 || version > key.current_version {
        return Err(KmsError::NotFound("key version"));
    }
    Ok(version)
}

/// Why a key's usage mask refuses `op`.
fn mask_refusal(op: KeyOp) -> &'static str {
    match op {
        KeyOp::Encrypt | KeyOp::GenerateDataKey => {
            "the key's usage mask (Cryptographic Usage Mask) does not allow encrypt"
        }
        KeyOp::Decrypt => "the key's usage mask (Cryptographic Usage Mask) does not allow decrypt",
        KeyOp::ReEncrypt => {
            "the key's usage mask (Cryptographic Usage Mask) does not allow encrypt and decrypt"
        }
        KeyOp::Sign => "the key's usage mask (Cryptographic Usage Mask) does not allow sign",
        KeyOp::Verify => "the key's usage mask (Cryptographic Usage Mask) does not allow verify",
        KeyOp::Mac => "the key's usage mask (Cryptographic Usage Mask) does not allow MAC generate",
        KeyOp::MacVerify => {
            "the key's usage mask (Cryptographic Usage Mask) does not allow MAC verify"
        }
        KeyOp::Derive => {
            "the key's usage mask (Cryptographic Usage Mask) does not allow derive key"
        }
        KeyOp::GetPublicKey | KeyOp::Export => {
            "the key's usage mask (Cryptographic Usage Mask) does not allow this use"
        }
    }
}

/// Checks that `lc`'s state permits `use_`; returns whether the key is compromised.
pub(crate) fn compromised(p: Permit) -> bool {
    p == Permit::AllowedCompromised
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limit_refuses_zero_and_caps_at_the_maximum() {
        assert!(matches!(
            page_limit(Some(0), 100, 1000),
            Err(KmsError::InvalidRequest(_))
        ));
        assert_eq!(page_limit(None, 100, 1000).unwrap(), 100);
        assert_eq!(page_limit(Some(1), 100, 1000).unwrap(), 1);
        assert_eq!(page_limit(Some(5000), 100, 1000).unwrap(), 1000);
        assert_eq!(page_limit(None, 2000, 1000).unwrap(), 1000);
    }
}
