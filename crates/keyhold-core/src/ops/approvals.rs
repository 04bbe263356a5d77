//! Dual control: the gate every governed action passes, and the approval requests.
//!
//! ```text
//!  op ─► cx.dual_control(action, key)
//!          no rule for action ─────────────────────────────► runs
//!          running an approved stored request ─────────────► runs (the approver's request commits
//!                                                               it with the approval's CAS)
//!          my approved release-mode approval, same digest ─► runs once: CAS approved → executed
//!                                                               in the same transaction
//!          my pending approval, same digest ───────────────► ApprovalRequired (same id)
//!          otherwise ─► NeedsApproval ─► Kms::run stores a pending ApprovalRecord
//!                                        (+ `approval.request` event) ─► ApprovalRequired
//!
//!  approve: eligible, not the requester, once per principal; at M approvals
//!     execute mode (stored operation): runs it as the requester now, atomically with the
//!                                      approval's CAS (pending → executed | failed)
//!     release mode (secret input or output): pending → approved; the requester re-issues
//!  reject:  one eligible principal (or the requester, withdrawing) closes it
//!  expire:  the sweeper closes open approvals past their expiry (`approval.expire`)
//! ```

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{
    AlsoEvent, Caller, ChangeState, CreateGrant, Cx, Done, Operation, Response, RevertPolicy,
    RevokeGrant, RotateRootKey, SetApprovalPolicy, SetDuties,
};
use crate::audit::Outcome;
use crate::error::KmsError;
use crate::ids::{ApprovalId, KeyId, KeyRef};
use crate::model::{Role, RECORD_VERSION};
use crate::policy::{
    ApprovalAction, ApprovalRecord, ApprovalRule, ApprovalStatus, Decision, Requester,
};
use crate::store::{Write, WriteBatch};

/// A request that the gate found needs approvals, for `Kms::run` to store.
#[derive(Debug, Clone)]
pub(crate) struct ApprovalNeed {
    pub action: ApprovalAction,
    pub key: Option<KeyId>,
    pub summary: String,
    pub rule: ApprovalRule,
    pub digest: String,
}

/// A request stored in an approval to run when the threshold is met (execute mode). Only
/// requests that carry no secret and whose answer is no secret are stored; the key is pinned
/// by id, so that what runs is what the approvers saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StoredOperation {
    /// A life-cycle change (destroy, schedule destroy).
    ChangeState(ChangeState),
    /// A new grant.
    CreateGrant(CreateGrant),
    /// A grant revocation.
    RevokeGrant(RevokeGrant),
    /// A revert of a policy.
    RevertPolicy(RevertPolicy),
    /// A new approval policy.
    SetApprovalPolicy(SetApprovalPolicy),
    /// A new separation-of-duties setting.
    SetDuties(SetDuties),
    /// A root-key rotation (it carries and returns no secret).
    RotateRootKey(RotateRootKey),
}

impl StoredOperation {
    /// The storable form of `op` with its key pinned to `key`, or `None` for requests that are
    /// re-issued instead (import, register and export carry or return key material; an unseal
    /// rekey returns the new shares).
    pub(crate) fn of(op: &Operation, key: Option<KeyId>) -> Option<Self> {
        let pin = |r: &KeyRef| key.map_or_else(|| r.clone(), KeyRef::from);
        Some(match op {
            Operation::ChangeState(o) => Self::ChangeState(ChangeState {
                key: pin(&o.key),
                change: o.change,
            }),
            Operation::CreateGrant(o) => Self::CreateGrant(CreateGrant {
                key: pin(&o.key),
                ..o.clone()
            }),
            Operation::RevokeGrant(o) => Self::RevokeGrant(o.clone()),
            Operation::RevertPolicy(o) => Self::RevertPolicy(RevertPolicy {
                target: match &o.target {
                    super::PolicyTarget::Key { key: r } => super::PolicyTarget::Key { key: pin(r) },
                    other => other.clone(),
                },
                to: o.to,
            }),
            Operation::SetApprovalPolicy(o) => Self::SetApprovalPolicy(o.clone()),
            Operation::SetDuties(o) => Self::SetDuties(o.clone()),
            Operation::RotateRootKey(o) => Self::RotateRootKey(o.clone()),
            _ => return None,
        })
    }

    /// The operation to run.
    pub(crate) fn into_operation(self) -> Operation {
        match self {
            Self::ChangeState(o) => Operation::ChangeState(o),
            Self::CreateGrant(o) => Operation::CreateGrant(o),
            Self::RevokeGrant(o) => Operation::RevokeGrant(o),
            Self::RevertPolicy(o) => Operation::RevertPolicy(o),
            Self::SetApprovalPolicy(o) => Operation::SetApprovalPolicy(o),
            Self::SetDuties(o) => Operation::SetDuties(o),
            Self::RotateRootKey(o) => Operation::RotateRootKey(o),
        }
    }
}

/// The keyed digest of a gated request: HMAC-SHA-256 under a key derived from the tenant's
/// KEK, so the stored digest says nothing about the request's secrets.
pub(crate) fn request_digest(cx: &Cx<'_>, bytes: &[u8]) -> Result<String, KmsError> {
    let kek = cx.kms.kek(&cx.caller.tenant)?;
    let crypto = &cx.kms.crypto;
    let subkey = crypto.hmac_sha256(kek.as_bytes(), b"keyhold/approval-digest/v1");
    Ok(hex::encode(crypto.hmac_sha256(&subkey, bytes)))
}

/// The gate (see the module docs). `request` is the canonical form of the request (its keyed
/// digest binds an approval to it); `None` when the request cannot be held for approval.
pub(crate) async fn gate(
    cx: &Cx<'_>,
    action: ApprovalAction,
    key: Option<KeyId>,
    summary: impl FnOnce() -> String,
    request: Option<Vec<u8>>,
) -> Result<(), KmsError> {
    let policies = cx.tenant_policies().await?;
    let Some(rule) = policies.approvals.rule(action) else {
        return Ok(());
    };
    if let Some(a) = cx.approved {
        if a.action == action && a.key == key {
            return Ok(());
        }
    }
    let Some(request) = request else {
        return Err(KmsError::PermissionDenied(
            "this action needs approvals and cannot run on its own",
        ));
    };
    let digest = request_digest(cx, &request)?;
    let open = cx
        .kms
        .store
        .open_approvals(&cx.caller.tenant, &digest)
        .await?;
    let mine = open.into_iter().filter(|a| {
        a.requester.principal == cx.caller.principal
            && a.action == action
            && a.key == key
            && a.request_digest == digest
            && a.status_at(cx.now).is_open()
    });
    let mut pending = None;
    for a in mine {
        if a.status == ApprovalStatus::Approved && !a.executes_on_approval() {
            // The re-issue of an approved request: it runs now, and only once.
            let mut done = a.clone();
            done.status = ApprovalStatus::Executed;
            done.completed_at = Some(cx.now);
            done.result = Some(serde_json::json!({
                "delivered_to": cx.caller.principal.as_str(),
            }));
            done.revision = a.revision + 1;
            cx.push_extra(Write::UpdateApproval {
                record: done,
                expected_revision: a.revision,
            });
            *crate::kms::lock(&cx.released) = Some(a.id);
            return Ok(());
        }
        if a.status == ApprovalStatus::Pending {
            pending = Some(a);
        }
    }
    if let Some(a) = pending {
        return Err(KmsError::ApprovalRequired {
            approval: a.id,
            action,
            required: a.required,
            rerun: !a.executes_on_approval(),
        });
    }
    *crate::kms::lock(&cx.need) = Some(ApprovalNeed {
        action,
        key,
        summary: summary(),
        rule: rule.clone(),
        digest,
    });
    Err(KmsError::NeedsApproval)
}

/// The gate for a request that does not go through [`crate::Kms::run`] (a restore, a Recover
/// Key): lets it through with the writes that consume its approval (to commit with the
/// request's first writes), or stores a pending approval and answers `ApprovalRequired`.
pub(crate) async fn gate_outside(
    kms: &crate::Kms,
    meta: &crate::RequestMeta,
    caller: &Caller,
    action: ApprovalAction,
    key: Option<KeyId>,
    request: Vec<u8>,
    summary: String,
) -> Result<Vec<Write>, KmsError> {
    let cx = Cx::new(kms, caller, kms.now(), kms.caches.epoch());
    match gate(&cx, action, key, || summary, Some(request)).await {
        Ok(()) => Ok(cx.take_extra()),
        Err(KmsError::NeedsApproval) => {
            let need = cx
                .take_need()
                .ok_or(KmsError::Integrity("approval needed without a request"))?;
            kms.request_approval(meta, caller, None, need, cx.now)
                .await
                .map(|_| Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// A new pending approval for `need`, asked by `caller`; `stored` is the request when it runs
/// on approval (execute mode).
pub(crate) fn new_approval(
    need: ApprovalNeed,
    caller: &Caller,
    stored: Option<StoredOperation>,
    now: crate::clock::Timestamp,
) -> ApprovalRecord {
    ApprovalRecord {
        v: RECORD_VERSION,
        id: ApprovalId::generate(),
        tenant: caller.tenant.clone(),
        action: need.action,
        key: need.key,
        summary: need.summary,
        requester: Requester {
            principal: caller.principal.clone(),
            roles: caller.roles,
            auth: caller.auth,
            token: caller.token,
        },
        operation: stored,
        request_digest: need.digest,
        required: need.rule.approvals,
        approvers: need.rule.approvers,
        created_at: now,
        expires_at: now.plus_secs(need.rule.ttl_secs),
        approvals: Vec::new(),
        rejection: None,
        status: ApprovalStatus::Pending,
        completed_at: None,
        result: None,
        error: None,
        revision: 1,
    }
}

/// Request: list the tenant's approvals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListApprovals {
    /// Only approvals with this status (as of now: open approvals past their expiry count as
    /// expired).
    #[serde(default)]
    pub status: Option<ApprovalStatus>,
    /// At most this many, newest first (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Approvals, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalList {
    /// The approvals.
    pub approvals: Vec<ApprovalRecord>,
}

/// Request: one approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShowApproval {
    /// The approval.
    pub id: ApprovalId,
}

/// Request: approve a pending request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApproveRequest {
    /// The approval.
    #[serde(default = "nil_approval")]
    pub id: ApprovalId,
    /// Why (free text, audited).
    #[serde(default)]
    pub comment: String,
}

/// Request: reject a pending request (or withdraw one's own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectRequest {
    /// The approval.
    #[serde(default = "nil_approval")]
    pub id: ApprovalId,
    /// Why (free text, audited).
    #[serde(default)]
    pub comment: String,
}

/// Placeholder for an id that the REST adapter fills from the path.
fn nil_approval() -> ApprovalId {
    ApprovalId::from_bytes([0; 16])
}

/// Who may read approvals: admins, key managers and auditors all of them; others those they
/// asked for or may decide.
fn can_view(cx: &Cx<'_>, a: &ApprovalRecord) -> bool {
    let c = cx.caller;
    c.roles
        .any_of(&[Role::Admin, Role::KeyManager, Role::Auditor])
        || a.requester.principal == c.principal
        || a.approvers.includes(&c.principal, c.roles)
}

/// The approval as a client sees it: status as of now, no digest.
fn shown(cx: &Cx<'_>, mut a: ApprovalRecord) -> ApprovalRecord {
    a.status = a.status_at(cx.now);
    a.request_digest = String::new();
    a
}

/// An approval of the caller's tenant; one of another tenant is a missing one.
async fn load(cx: &Cx<'_>, id: &ApprovalId) -> Result<ApprovalRecord, KmsError> {
    let a = cx
        .kms
        .store
        .approval(&cx.caller.tenant, id)
        .await?
        .ok_or(KmsError::NotFound("approval"))?;
    if !can_view(cx, &a) {
        return Err(KmsError::NotFound("approval"));
    }
    Ok(a)
}

impl ListApprovals {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let limit = super::page_limit(self.limit, 100, cx.kms.config.max_page)?;
        // Expiry is applied here, so an open approval past its instant lists as expired even
        // before the sweeper records it; the store filter on the stored status is a superset.
        let stored = match self.status {
            Some(ApprovalStatus::Expired) | None => None,
            Some(s) => Some(s),
        };
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = cx
                .kms
                .store
                .approvals(&cx.caller.tenant, stored, before.as_ref(), limit)
                .await?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            let full = page.len() as u32 == limit;
            for a in page {
                if can_view(cx, &a) && self.status.is_none_or(|s| a.status_at(cx.now) == s) {
                    out.push(shown(cx, a));
                }
            }
            if out.len() as u32 >= limit || !full {
                break;
            }
        }
        out.truncate(limit as usize);
        Ok(Done::new(Response::Approvals(ApprovalList {
            approvals: out,
        })))
    }
}

impl ShowApproval {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let a = load(cx, &self.id).await?;
        let key = a.key;
        let mut done = Done::new(Response::Approval(Box::new(shown(cx, a))));
        done.key = key;
        Ok(done)
    }
}

/// Refuses unless the approval is pending now.
fn require_pending(cx: &Cx<'_>, a: &ApprovalRecord, what: &str) -> Result<(), KmsError> {
    let status = a.status_at(cx.now);
    if status != ApprovalStatus::Pending {
        return Err(KmsError::invalid(format!(
            "approval {} is {}; it can no longer be {what}",
            a.id,
            status.as_str()
        )));
    }
    Ok(())
}

fn check_comment(comment: &str) -> Result<(), KmsError> {
    if comment.len() > 1024 {
        return Err(KmsError::invalid("a comment has at most 1024 bytes"));
    }
    Ok(())
}

impl ApproveRequest {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        check_comment(&self.comment)?;
        let a = load(cx, &self.id).await?;
        require_pending(cx, &a, "approved")?;
        let me = &cx.caller.principal;
        if &a.requester.principal == me {
            return Err(KmsError::PermissionDenied(
                "the requester cannot approve their own request",
            ));
        }
        if !a.approvers.includes(me, cx.caller.roles) {
            return Err(KmsError::PermissionDenied(
                "not an eligible approver of this request",
            ));
        }
        let prefix = format!("approval {} ({})", a.id, a.action);
        if a.approvals.iter().any(|d| &d.principal == me) {
            // Counted once: nothing changes.
            let detail = format!(
                "{prefix}: {me} approved already; {} of {}",
                a.approvals.len(),
                a.required
            );
            let mut done =
                Done::new(Response::Approval(Box::new(shown(cx, a.clone())))).detail(detail);
            done.key = a.key;
            return Ok(done);
        }
        let mut next = a.clone();
        next.revision = a.revision + 1;
        next.approvals.push(Decision {
            principal: me.clone(),
            at: cx.now,
            comment: self.comment,
        });
        let count = next.approvals.len() as u32;
        let mut writes = WriteBatch::default();
        let mut also = Vec::new();
        let mut root_change = None;
        let detail;
        if count < a.required {
            detail = format!("{prefix}: {count} of {}", a.required);
        } else if let Some(stored) = a.operation.clone() {
            let (ran, extra_writes, event, root) = run_stored(cx, &a, stored).await?;
            // A root rotation's new key is taken into memory once the approval commits.
            root_change = root;
            next.completed_at = Some(cx.now);
            match ran {
                Ok(result) => {
                    next.status = ApprovalStatus::Executed;
                    next.result = result;
                }
                Err(message) => {
                    next.status = ApprovalStatus::Failed;
                    next.error = Some(message);
                }
            }
            writes.0.extend(extra_writes);
            also.push(event);
            detail = format!(
                "{prefix}: {count} of {}; {} as {}",
                a.required,
                next.status.as_str(),
                a.requester.principal
            );
        } else {
            next.status = ApprovalStatus::Approved;
            detail = format!(
                "{prefix}: {count} of {}; approved: {} may now re-issue the request",
                a.required, a.requester.principal
            );
        }
        writes.push(Write::UpdateApproval {
            record: next.clone(),
            expected_revision: a.revision,
        });
        let mut done = Done::new(Response::Approval(Box::new(shown(cx, next))))
            .writes(writes)
            .detail(detail);
        done.key = a.key;
        done.also = also;
        done.root_change = root_change;
        Ok(done)
    }
}

/// What running a stored request produced: its response as JSON or its error message, the
/// writes to commit with the approval, and its audit event (as the requester).
type Ran = (
    Result<Option<serde_json::Value>, String>,
    Vec<Write>,
    AlsoEvent,
    Option<crate::kms::RootChange>,
);

/// Runs an approved stored request as its requester. A compare-and-swap conflict propagates
/// (the whole approval is retried); any other failure is the request's outcome.
async fn run_stored(
    cx: &Cx<'_>,
    a: &ApprovalRecord,
    stored: StoredOperation,
) -> Result<Ran, KmsError> {
    let op = stored.into_operation();
    let action = op.action();
    let requester = Caller {
        tenant: a.tenant.clone(),
        principal: a.requester.principal.clone(),
        roles: a.requester.roles,
        auth: a.requester.auth,
        token: a.requester.token,
    };
    let mut event = AlsoEvent {
        principal: requester.principal.clone(),
        auth: requester.auth,
        action: action.to_owned(),
        key: a.key,
        version: None,
        outcome: Outcome::Ok,
        error_code: None,
        compromised: false,
        detail: None,
    };
    let result = match requester_still_valid(cx, &requester).await? {
        Err(e) => Err(e),
        Ok(()) => {
            let mut inner = Cx::new(cx.kms, &requester, cx.now, cx.epoch);
            inner.approved = Some(a);
            // Boxed: an operation running an operation.
            match Box::pin(super::execute(&inner, op)).await {
                Ok(mut done) => {
                    done.writes.0.extend(inner.take_extra());
                    Ok(done)
                }
                Err(KmsError::Conflict) => return Err(KmsError::Conflict),
                Err(e) => Err(e),
            }
        }
    };
    Ok(match result {
        Ok(done) => {
            event.key = done.key.or(a.key);
            event.version = done.version;
            event.compromised = done.compromised;
            event.detail = Some(match done.detail {
                Some(d) => format!("{d}; approval {}", a.id),
                None => format!("approval {}", a.id),
            });
            let result = serde_json::to_value(&done.response).ok();
            (Ok(result), done.writes.0, event, done.root_change)
        }
        Err(e) => {
            event.outcome = match e {
                KmsError::PermissionDenied(_) | KmsError::Unauthenticated => Outcome::Denied,
                _ => Outcome::Error,
            };
            event.error_code = Some(e.code());
            event.detail = Some(format!("approval {}", a.id));
            (Err(e.public_message()), Vec::new(), event, None)
        }
    })
}

/// Whether the requester's token still authenticates (revoked or expired tokens cannot have
/// their requests run).
async fn requester_still_valid(
    cx: &Cx<'_>,
    requester: &Caller,
) -> Result<Result<(), KmsError>, KmsError> {
    let Some(id) = requester.token else {
        return Ok(Ok(()));
    };
    let token = cx.kms.store.token(&requester.tenant, &id).await?;
    let valid =
        token.is_some_and(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > cx.now));
    Ok(if valid {
        Ok(())
    } else {
        Err(KmsError::PermissionDenied(
            "the requester's token was revoked or expired before the request was approved",
        ))
    })
}

impl RejectRequest {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        check_comment(&self.comment)?;
        let a = load(cx, &self.id).await?;
        let me = &cx.caller.principal;
        let withdraw = &a.requester.principal == me;
        if withdraw {
            // The requester may withdraw while the request is open.
            if !a.status_at(cx.now).is_open() {
                require_pending(cx, &a, "withdrawn")?;
            }
        } else {
            require_pending(cx, &a, "rejected")?;
            if !a.approvers.includes(me, cx.caller.roles) {
                return Err(KmsError::PermissionDenied(
                    "not an eligible approver of this request",
                ));
            }
        }
        let mut next = a.clone();
        next.revision = a.revision + 1;
        next.status = ApprovalStatus::Rejected;
        next.completed_at = Some(cx.now);
        next.rejection = Some(Decision {
            principal: me.clone(),
            at: cx.now,
            comment: self.comment,
        });
        let detail = format!(
            "approval {} ({}) {} by {me}",
            a.id,
            a.action,
            if withdraw { "withdrawn" } else { "rejected" }
        );
        let mut writes = WriteBatch::default();
        writes.push(Write::UpdateApproval {
            record: next.clone(),
            expected_revision: a.revision,
        });
        let mut done = Done::new(Response::Approval(Box::new(shown(cx, next))))
            .writes(writes)
            .detail(detail);
        done.key = a.key;
        Ok(done)
    }
}

/// The expiry of an open approval past its instant, for the sweeper.
pub(crate) fn expired(a: &ApprovalRecord, now: crate::clock::Timestamp) -> (Write, String) {
    let mut next = a.clone();
    next.revision = a.revision + 1;
    next.status = ApprovalStatus::Expired;
    next.completed_at = Some(now);
    let detail = format!(
        "approval {} ({}) of {} expired with {} of {} approvals",
        a.id,
        a.action,
        a.requester.principal,
        a.approvals.len(),
        a.required
    );
    (
        Write::UpdateApproval {
            record: next,
            expected_revision: a.revision,
        },
        detail,
    )
}

/// Names of the approvers for messages.
pub(crate) fn describe_rule(rule: &ApprovalRule) -> String {
    let mut who: BTreeSet<String> = rule
        .approvers
        .principals
        .iter()
        .map(|p| p.to_string())
        .collect();
    who.extend(rule.approvers.roles.iter().map(|r| format!("role {r}")));
    format!(
        "{} approval(s) from {}",
        rule.approvals,
        who.into_iter().collect::<Vec<_>>().join(", ")
    )
}
