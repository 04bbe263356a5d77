//! Every REST endpoint, described once as an [`ApiRequest<T>`] (method, path, query, body) whose
//! type parameter is the response body's type.
//!
//! A key named in the path (id, name or `alias/x`) is one percent-encoded path segment, so
//! `alias/billing` travels as `alias%2Fbilling`. Request structs of `keyhold-core` that carry a
//! `key` field have it moved into the path and removed from the body.

use std::fmt;
use std::marker::PhantomData;

use keyhold_core::ids::{ApprovalId, GrantId, TokenId};
use keyhold_core::model::Grant;
use keyhold_core::ops::{
    AliasList, AuditCheckpointKeyResponse, AuditCheckpointResponse, AuditExportResponse,
    AuditVerifyResponse, CreateAlias, CreateGrant, CreateKey, CreateToken, Decrypt,
    DecryptResponse, DeriveKey, Encrypt, EncryptResponse, ExportKey, ExportedKey, GenerateDataKey,
    GenerateDataKeyResponse, GenerateMac, GrantList, ImportKey, ImportParameters, KeyInfo, KeyList,
    ListGrants, ListKeys, MacResponse, PublicKeyResponse, RandomResponse, ReEncrypt,
    ReEncryptResponse, RekeyUnseal, Report, ReportOut, RootKeyRotation, Sign, SignResponse,
    TokenInfo, TokenList, UnsealRekey, UpdateKey, Verify, VerifyMac, VerifyResponse,
    WhoAmIResponse,
};
use keyhold_core::ops::{
    ApprovalList, ApprovalPolicyInfo, DutiesInfo, PolicyHistoryList, PolicyTarget,
    SetApprovalPolicy, SetDuties,
};
use keyhold_core::policy::{ApprovalRecord, ApprovalStatus};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

/// One request to the API, answered by a body of type `T`.
#[must_use = "a request does nothing until sent with Client::send"]
pub struct ApiRequest<T> {
    pub(crate) method: Method,
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Result<Option<Vec<u8>>, serde_json::Error>,
    pub(crate) auth: bool,
    _response: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ApiRequest<T> {
    // The body may hold plaintext: only the method and path are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ApiRequest({} /{})",
            self.method,
            self.segments.join("/")
        )
    }
}

impl<T> ApiRequest<T> {
    fn new(method: Method, path: &[&str]) -> Self {
        Self {
            method,
            segments: path.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: Ok(None),
            auth: true,
            _response: PhantomData,
        }
    }

    fn get(path: &[&str]) -> Self {
        Self::new(Method::GET, path)
    }

    fn post(path: &[&str]) -> Self {
        Self::new(Method::POST, path)
    }

    fn delete(path: &[&str]) -> Self {
        Self::new(Method::DELETE, path)
    }

    fn put(path: &[&str]) -> Self {
        Self::new(Method::PUT, path)
    }

    fn json(mut self, body: &impl Serialize) -> Self {
        self.body = serde_json::to_vec(body).map(Some);
        self
    }

    /// The body is the request struct without its `key` field (the key is in the path).
    fn json_without_key(self, body: &impl Serialize) -> Self {
        self.json_without(body, "key")
    }

    /// The body without `field`, which the path carries.
    fn json_without(mut self, body: &impl Serialize, field: &str) -> Self {
        self.body = serde_json::to_value(body)
            .and_then(|mut v| {
                if let serde_json::Value::Object(m) = &mut v {
                    m.remove(field);
                }
                serde_json::to_vec(&v)
            })
            .map(Some);
        self
    }

    fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((name, v.to_string()));
        }
        self
    }

    fn anonymous(mut self) -> Self {
        self.auth = false;
        self
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, e.g. `/v1/keys/alias%2Fx` (segments percent-encoded when sent).
    pub fn path(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }
}

/// `GET /v1/health`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// `ok` when the server runs; `degraded` while its scheduled backups fail or a restore is
    /// interrupted.
    pub status: String,
    /// The server's version.
    #[serde(default)]
    pub version: String,
    /// A root key exists.
    pub initialized: bool,
    /// The root key is not in memory: only health and unseal work.
    pub sealed: bool,
    /// Progress of an unseal in progress.
    #[serde(default)]
    pub unseal: Option<UnsealProgress>,
    /// Scheduled backups, when configured.
    #[serde(default)]
    pub backup: Option<BackupHealth>,
    /// A restore begun and not finished.
    #[serde(default)]
    pub restore: Option<RestoreHealth>,
}

/// A restore begun and not finished, in [`Health`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreHealth {
    /// The backup being restored.
    pub backup_id: String,
    /// When its first run started (RFC 3339).
    pub started_at: String,
    /// Runs so far.
    #[serde(default)]
    pub runs: u32,
    /// `running`, or `interrupted`: run the same restore again to finish it.
    pub state: String,
}

/// The state of scheduled backups in [`Health`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupHealth {
    /// `ok`, `failing`, or `pending` before the first one.
    pub status: String,
    /// When the last successful backup was taken (RFC 3339).
    #[serde(default)]
    pub last_success_at: Option<String>,
    /// Why the last attempt failed, if it did.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Failures since the server started.
    #[serde(default)]
    pub failures: u64,
}

/// How many unseal shares were submitted of how many needed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct UnsealProgress {
    /// Shares submitted so far.
    pub submitted: u32,
    /// Shares needed.
    pub threshold: u32,
}

/// `POST /v1/sys/unseal`'s answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct UnsealResponse {
    /// Still sealed after this share.
    pub sealed: bool,
    /// Shares submitted so far (0 once unsealed).
    #[serde(default)]
    pub submitted: u32,
    /// Shares needed.
    #[serde(default)]
    pub threshold: u32,
}

/// An answer with nothing in it (`{}`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Empty {}

/// A bearer token's secret: wiped on drop, `[redacted]` in Debug.
#[derive(Clone)]
pub struct TokenSecret(Zeroizing<String>);

impl TokenSecret {
    /// The secret, to hand to [`crate::ClientBuilder::token`] or print once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for TokenSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(Zeroizing::new(s)))
    }
}

/// `POST /v1/tokens`'s answer: the secret (shown this once) and the token's description.
#[derive(Debug, Clone, Deserialize)]
pub struct NewToken {
    /// The bearer token (`kh_…`).
    pub token: TokenSecret,
    /// Its public description.
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// A life-cycle change, the body of `POST /v1/keys/{key}/lifecycle`.
pub use keyhold_core::ops::StateChange;

/// `GET /v1/health` (no authentication).
pub fn health() -> ApiRequest<Health> {
    ApiRequest::get(&["v1", "health"]).anonymous()
}

/// `POST /v1/sys/unseal` with one share (no authentication).
pub fn unseal(share: &str) -> ApiRequest<UnsealResponse> {
    #[derive(Serialize)]
    struct Body<'a> {
        share: &'a str,
    }
    ApiRequest::post(&["v1", "sys", "unseal"])
        .anonymous()
        .json(&Body { share })
}

/// `GET /v1/whoami`.
pub fn whoami() -> ApiRequest<WhoAmIResponse> {
    ApiRequest::get(&["v1", "whoami"])
}

/// `POST /v1/sys/rotate-root`.
pub fn rotate_root() -> ApiRequest<RootKeyRotation> {
    ApiRequest::post(&["v1", "sys", "rotate-root"]).json(&serde_json::json!({}))
}

/// `GET /v1/reports`.
pub fn report(req: &Report) -> ApiRequest<ReportOut> {
    ApiRequest::get(&["v1", "reports"])
        .query("kind", Some(serde_plain(&req.kind)))
        .query("from", req.from.map(|t| t.to_rfc3339()))
        .query("to", req.to.map(|t| t.to_rfc3339()))
}

/// A unit enum's wire name.
fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `POST /v1/sys/rekey`.
pub fn rekey_unseal(req: &RekeyUnseal) -> ApiRequest<UnsealRekey> {
    ApiRequest::post(&["v1", "sys", "rekey"]).json(req)
}

/// `POST /v1/keys`.
pub fn create_key(req: &CreateKey) -> ApiRequest<KeyInfo> {
    ApiRequest::post(&["v1", "keys"]).json(req)
}

/// `GET /v1/keys` with filters and paging.
pub fn list_keys(req: &ListKeys) -> ApiRequest<KeyList> {
    ApiRequest::get(&["v1", "keys"])
        .query("state", req.state.map(|s| s.as_str()))
        .query("algorithm", req.algorithm.map(|a| a.as_str()))
        .query("tag", req.tag.as_ref())
        .query("name_prefix", req.name_prefix.as_ref())
        .query("label", req.label.as_ref())
        .query("limit", req.limit)
        .query("page_token", req.page_token.as_ref())
}

/// `GET /v1/keys/{key}`.
pub fn describe_key(key: &str) -> ApiRequest<KeyInfo> {
    ApiRequest::get(&["v1", "keys", key])
}

/// `PATCH /v1/keys/{key}` (the key is `req.key`).
pub fn update_key(req: &UpdateKey) -> ApiRequest<KeyInfo> {
    ApiRequest::new(Method::PATCH, &["v1", "keys", &req.key.0]).json_without_key(req)
}

/// `POST /v1/keys/{key}/rotate`.
pub fn rotate_key(key: &str) -> ApiRequest<KeyInfo> {
    ApiRequest::post(&["v1", "keys", key, "rotate"]).json(&Empty {})
}

/// `POST /v1/keys/{key}/lifecycle`.
pub fn change_state(key: &str, change: &StateChange) -> ApiRequest<KeyInfo> {
    ApiRequest::post(&["v1", "keys", key, "lifecycle"]).json(change)
}

/// `POST /v1/keys/import-parameters`.
pub fn import_parameters() -> ApiRequest<ImportParameters> {
    ApiRequest::post(&["v1", "keys", "import-parameters"]).json(&Empty {})
}

/// `POST /v1/keys/import`.
pub fn import_key(req: &ImportKey) -> ApiRequest<KeyInfo> {
    ApiRequest::post(&["v1", "keys", "import"]).json(req)
}

/// `GET /v1/keys/{key}/public-key`.
pub fn public_key(key: &str, version: Option<u32>) -> ApiRequest<PublicKeyResponse> {
    ApiRequest::get(&["v1", "keys", key, "public-key"]).query("key_version", version)
}

/// `POST /v1/keys/{key}/encrypt` (the key is `req.key`).
pub fn encrypt(req: &Encrypt) -> ApiRequest<EncryptResponse> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "encrypt"]).json_without_key(req)
}

/// `POST /v1/keys/{base}/derive`.
pub fn derive_key(req: &DeriveKey) -> ApiRequest<KeyInfo> {
    ApiRequest::post(&["v1", "keys", &req.base.0, "derive"]).json_without(req, "base")
}

/// `POST /v1/keys/{key}/export`.
pub fn export_key(req: &ExportKey) -> ApiRequest<ExportedKey> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "export"]).json_without_key(req)
}

/// `POST /v1/decrypt`.
pub fn decrypt(req: &Decrypt) -> ApiRequest<DecryptResponse> {
    ApiRequest::post(&["v1", "decrypt"]).json(req)
}

/// `POST /v1/reencrypt`.
pub fn reencrypt(req: &ReEncrypt) -> ApiRequest<ReEncryptResponse> {
    ApiRequest::post(&["v1", "reencrypt"]).json(req)
}

/// `POST /v1/keys/{key}/datakey` (the key is `req.key`).
pub fn generate_data_key(req: &GenerateDataKey) -> ApiRequest<GenerateDataKeyResponse> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "datakey"]).json_without_key(req)
}

/// `POST /v1/keys/{key}/sign` (the key is `req.key`).
pub fn sign(req: &Sign) -> ApiRequest<SignResponse> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "sign"]).json_without_key(req)
}

/// `POST /v1/keys/{key}/verify` (the key is `req.key`).
pub fn verify(req: &Verify) -> ApiRequest<VerifyResponse> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "verify"]).json_without_key(req)
}

/// `POST /v1/keys/{key}/mac` (the key is `req.key`).
pub fn mac(req: &GenerateMac) -> ApiRequest<MacResponse> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "mac"]).json_without_key(req)
}

/// `POST /v1/keys/{key}/mac-verify` (the key is `req.key`).
pub fn mac_verify(req: &VerifyMac) -> ApiRequest<VerifyResponse> {
    ApiRequest::post(&["v1", "keys", &req.key.0, "mac-verify"]).json_without_key(req)
}

/// `POST /v1/random`.
pub fn random(length: u32) -> ApiRequest<RandomResponse> {
    #[derive(Serialize)]
    struct Body {
        length: u32,
    }
    ApiRequest::post(&["v1", "random"]).json(&Body { length })
}

/// `GET /v1/aliases`, optionally only those of one key.
pub fn list_aliases(key: Option<&str>) -> ApiRequest<AliasList> {
    ApiRequest::get(&["v1", "aliases"]).query("key", key)
}

/// `POST /v1/aliases`.
pub fn create_alias(req: &CreateAlias) -> ApiRequest<AliasList> {
    ApiRequest::post(&["v1", "aliases"]).json(req)
}

/// `DELETE /v1/aliases/{alias}`.
pub fn delete_alias(alias: &str) -> ApiRequest<Empty> {
    ApiRequest::delete(&["v1", "aliases", alias])
}

/// `POST /v1/tokens`.
pub fn create_token(req: &CreateToken) -> ApiRequest<NewToken> {
    ApiRequest::post(&["v1", "tokens"]).json(req)
}

/// `GET /v1/tokens`.
pub fn list_tokens() -> ApiRequest<TokenList> {
    ApiRequest::get(&["v1", "tokens"])
}

/// `DELETE /v1/tokens/{id}`.
pub fn revoke_token(id: &TokenId) -> ApiRequest<TokenInfo> {
    ApiRequest::delete(&["v1", "tokens", &id.to_string()])
}

/// `POST /v1/grants`.
pub fn create_grant(req: &CreateGrant) -> ApiRequest<Grant> {
    ApiRequest::post(&["v1", "grants"]).json(req)
}

/// `GET /v1/grants`.
pub fn list_grants(req: &ListGrants) -> ApiRequest<GrantList> {
    ApiRequest::get(&["v1", "grants"])
        .query("key", req.key.as_ref())
        .query("grantee", req.grantee.as_ref())
}

/// `DELETE /v1/grants/{id}`.
pub fn revoke_grant(id: &GrantId) -> ApiRequest<Empty> {
    ApiRequest::delete(&["v1", "grants", &id.to_string()])
}

/// `GET /v1/approvals`: newest first, optionally of one status.
pub fn list_approvals(
    status: Option<ApprovalStatus>,
    limit: Option<u32>,
) -> ApiRequest<ApprovalList> {
    ApiRequest::get(&["v1", "approvals"])
        .query("status", status.map(|s| s.as_str()))
        .query("limit", limit)
}

/// `GET /v1/approvals/{id}`.
pub fn show_approval(id: &ApprovalId) -> ApiRequest<ApprovalRecord> {
    ApiRequest::get(&["v1", "approvals", &id.to_string()])
}

/// `POST /v1/approvals/{id}/approve`.
pub fn approve(id: &ApprovalId, comment: &str) -> ApiRequest<ApprovalRecord> {
    ApiRequest::post(&["v1", "approvals", &id.to_string(), "approve"])
        .json(&serde_json::json!({ "comment": comment }))
}

/// `POST /v1/approvals/{id}/reject`.
pub fn reject(id: &ApprovalId, comment: &str) -> ApiRequest<ApprovalRecord> {
    ApiRequest::post(&["v1", "approvals", &id.to_string(), "reject"])
        .json(&serde_json::json!({ "comment": comment }))
}

/// `GET /v1/policies/approvals`.
pub fn approval_policy() -> ApiRequest<ApprovalPolicyInfo> {
    ApiRequest::get(&["v1", "policies", "approvals"])
}

/// `PUT /v1/policies/approvals`.
pub fn set_approval_policy(req: &SetApprovalPolicy) -> ApiRequest<ApprovalPolicyInfo> {
    ApiRequest::put(&["v1", "policies", "approvals"]).json(req)
}

/// `GET /v1/policies/duties`.
pub fn duties() -> ApiRequest<DutiesInfo> {
    ApiRequest::get(&["v1", "policies", "duties"])
}

/// `PUT /v1/policies/duties`.
pub fn set_duties(req: &SetDuties) -> ApiRequest<DutiesInfo> {
    ApiRequest::put(&["v1", "policies", "duties"]).json(req)
}

/// The history of a policy: `GET /v1/keys/{key}/policy/history` or
/// `GET /v1/policies/{approvals|duties}/history`.
pub fn policy_history(target: &PolicyTarget) -> ApiRequest<PolicyHistoryList> {
    match target {
        PolicyTarget::Key { key } => ApiRequest::get(&["v1", "keys", &key.0, "policy", "history"]),
        PolicyTarget::Approvals => ApiRequest::get(&["v1", "policies", "approvals", "history"]),
        PolicyTarget::Duties => ApiRequest::get(&["v1", "policies", "duties", "history"]),
    }
}

/// `POST /v1/keys/{key}/policy/revert`: the key's grants after the revert.
pub fn revert_key_policy(key: &str, to: u32) -> ApiRequest<GrantList> {
    ApiRequest::post(&["v1", "keys", key, "policy", "revert"])
        .json(&serde_json::json!({ "to": to }))
}

/// `POST /v1/policies/approvals/revert`.
pub fn revert_approval_policy(to: u32) -> ApiRequest<ApprovalPolicyInfo> {
    ApiRequest::post(&["v1", "policies", "approvals", "revert"])
        .json(&serde_json::json!({ "to": to }))
}

/// `POST /v1/policies/duties/revert`.
pub fn revert_duties(to: u32) -> ApiRequest<DutiesInfo> {
    ApiRequest::post(&["v1", "policies", "duties", "revert"]).json(&serde_json::json!({ "to": to }))
}

/// `GET /v1/audit/verify`.
pub fn audit_verify() -> ApiRequest<AuditVerifyResponse> {
    ApiRequest::get(&["v1", "audit", "verify"])
}

/// `POST /v1/audit/checkpoint`.
pub fn audit_checkpoint() -> ApiRequest<AuditCheckpointResponse> {
    ApiRequest::post(&["v1", "audit", "checkpoint"]).json(&serde_json::json!({}))
}

/// `GET /v1/audit/checkpoint-key`.
pub fn audit_checkpoint_key() -> ApiRequest<AuditCheckpointKeyResponse> {
    ApiRequest::get(&["v1", "audit", "checkpoint-key"])
}

/// `GET /v1/audit/events`: one page of events from `from_seq`.
pub fn audit_events(from_seq: Option<u64>, limit: Option<u32>) -> ApiRequest<AuditExportResponse> {
    ApiRequest::get(&["v1", "audit", "events"])
        .query("from_seq", from_seq)
        .query("limit", limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhold_core::ids::KeyRef;

    fn body<T>(r: &ApiRequest<T>) -> serde_json::Value {
        serde_json::from_slice(r.body.as_ref().unwrap().as_ref().unwrap()).unwrap()
    }

    #[test]
    fn key_in_path_is_removed_from_body() {
        let req = Encrypt {
            key: KeyRef("alias/billing".into()),
            plaintext: None,
            context: [("a".to_owned(), "b".to_owned())].into(),
        };
        let r = encrypt(&req);
        assert_eq!(r.segments, ["v1", "keys", "alias/billing", "encrypt"]);
        let b = body(&r);
        assert!(b.get("key").is_none());
        assert_eq!(b["context"]["a"], "b");
    }

    #[test]
    fn state_changes_use_the_wire_form() {
        let j = |c: StateChange| serde_json::to_value(c).unwrap();
        assert_eq!(
            j(StateChange::Activate),
            serde_json::json!({"action": "activate"})
        );
        assert_eq!(
            j(StateChange::Revoke {
                reason: keyhold_core::lifecycle::RevocationReason::KeyCompromise
            }),
            serde_json::json!({"action": "revoke", "reason": "key-compromise"})
        );
        assert_eq!(
            j(StateChange::ScheduleDestroy {
                waiting_period_secs: Some(86400)
            }),
            serde_json::json!({"action": "schedule-destroy", "waiting_period_secs": 86400})
        );
        assert_eq!(
            j(StateChange::CancelDestroy),
            serde_json::json!({"action": "cancel-destroy"})
        );
    }

    #[test]
    fn list_keys_builds_its_query() {
        let r = list_keys(&ListKeys {
            state: Some(keyhold_core::lifecycle::KeyState::PreActive),
            tag: Some("env=prod".into()),
            limit: Some(5),
            ..Default::default()
        });
        assert_eq!(
            r.query,
            [
                ("state", "pre-active".to_owned()),
                ("tag", "env=prod".to_owned()),
                ("limit", "5".to_owned())
            ]
        );
    }

    #[test]
    fn new_token_decodes_and_hides_the_secret() {
        let j = serde_json::json!({
            "token": "kh_secret",
            "id": "0190b5e4-8f3a-7c3e-9a51-2f6d3b1c9e01",
            "principal": "app",
            "role": "key-user",
            "description": "",
            "created_at": "2026-01-01T00:00:00Z",
            "created_by": "admin",
            "expires_at": null,
            "revoked_at": null
        });
        let t: NewToken = serde_json::from_value(j).unwrap();
        assert_eq!(t.token.expose(), "kh_secret");
        assert!(!format!("{t:?}").contains("kh_secret"));
    }
}

/// The body of `POST /v1/client-certs`.
#[derive(Debug, Clone, Serialize)]
pub struct AddClientCert {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The principal; default: the certificate's common name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<keyhold_core::ids::PrincipalName>,
    /// Roles.
    pub roles: keyhold_core::model::Roles,
    /// Required for key-manager together with key-user.
    pub allow_combined_duties: bool,
    /// Free text.
    pub description: String,
}

/// `POST /v1/client-certs`.
pub fn add_client_cert(req: &AddClientCert) -> ApiRequest<keyhold_core::model::ClientCertRecord> {
    ApiRequest::post(&["v1", "client-certs"]).json(req)
}

/// `GET /v1/client-certs`.
pub fn list_client_certs() -> ApiRequest<keyhold_core::ops::ClientCertList> {
    ApiRequest::get(&["v1", "client-certs"])
}

/// `DELETE /v1/client-certs/{fingerprint}`.
pub fn revoke_client_cert(fingerprint: &str) -> ApiRequest<keyhold_core::model::ClientCertRecord> {
    ApiRequest::delete(&["v1", "client-certs", fingerprint])
}

/// `POST /v1/tenants`.
pub fn create_tenant(
    req: &keyhold_core::ops::CreateTenant,
) -> ApiRequest<keyhold_core::ops::TenantInfo> {
    ApiRequest::post(&["v1", "tenants"]).json(req)
}

/// `GET /v1/tenants`.
pub fn list_tenants() -> ApiRequest<keyhold_core::ops::TenantList> {
    ApiRequest::get(&["v1", "tenants"])
}

/// `POST /v1/tenants/{id}/disable` (`disabled`) or `/enable`.
pub fn set_tenant_disabled(
    id: &keyhold_core::ids::TenantId,
    disabled: bool,
) -> ApiRequest<keyhold_core::ops::TenantInfo> {
    let verb = if disabled { "disable" } else { "enable" };
    ApiRequest::post(&["v1", "tenants", id.as_str(), verb])
}

/// The body of `POST /v1/trust-anchors`.
#[derive(Debug, Clone, Serialize)]
pub struct AddTrustAnchor {
    /// The CA certificate, PEM.
    pub certificate_pem: String,
    /// The tenant; default: the caller's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<keyhold_core::ids::TenantId>,
    /// Roles of the principals it authenticates.
    pub roles: keyhold_core::model::Roles,
    /// Required for key-manager together with key-user.
    pub allow_combined_duties: bool,
    /// Free text.
    pub description: String,
}

/// `POST /v1/trust-anchors`.
pub fn add_trust_anchor(
    req: &AddTrustAnchor,
) -> ApiRequest<keyhold_core::model::TrustAnchorRecord> {
    ApiRequest::post(&["v1", "trust-anchors"]).json(req)
}

/// `GET /v1/trust-anchors`.
pub fn list_trust_anchors(
    tenant: Option<&keyhold_core::ids::TenantId>,
) -> ApiRequest<keyhold_core::ops::TrustAnchorList> {
    ApiRequest::get(&["v1", "trust-anchors"]).query("tenant", tenant)
}

/// `DELETE /v1/trust-anchors/{id}`.
pub fn remove_trust_anchor(
    id: &keyhold_core::ids::TrustAnchorId,
) -> ApiRequest<keyhold_core::model::TrustAnchorRecord> {
    ApiRequest::delete(&["v1", "trust-anchors", &id.to_string()])
}
