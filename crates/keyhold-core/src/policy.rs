//! Versioned policies and dual control (quorum approvals).
//!
//! ```text
//!  policy change (grant create/revoke, approval policy, duties setting, revert)
//!    └─ new PolicyVersion n+1 (whole document, who, when, what changed) — insert fails with a
//!       conflict if n+1 exists, so concurrent changes of one policy serialize
//!
//!  gated request (destroy, import, export, restore, policy change, …)
//!    ├─ tenant's approval policy names its action? no → runs
//!    ├─ an approved release-mode approval of this requester for this exact request? → runs once
//!    └─ otherwise → ApprovalRecord (pending) ─► approvers approve / reject ─► threshold met:
//!         execute mode: the approving request runs the stored operation as the requester,
//!                       in the same transaction as the approval's CAS to `executed`
//!         release mode: `approved`; the requester re-issues the identical request, which runs
//!                       once (secret results reach the requester only; secret inputs are
//!                       never stored)
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::audit::AuthMethod;
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{ApprovalId, GrantId, KeyId, PrincipalName, TenantId, TokenId};
use crate::model::{Grant, Role, Roles};

/// How long a pending approval waits when its rule names no lifetime: 24 hours.
pub const DEFAULT_APPROVAL_TTL_SECS: u64 = 24 * 3600;

/// What a policy version is the policy of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicySubject {
    /// A key's policy: its grants.
    Key(KeyId),
    /// The tenant's approval policy.
    Approvals,
    /// The tenant's separation-of-duties setting.
    Duties,
}

impl PolicySubject {
    /// The stored form: `key:<id>`, `approvals` or `duties`.
    pub fn as_text(&self) -> String {
        match self {
            Self::Key(id) => format!("key:{id}"),
            Self::Approvals => "approvals".into(),
            Self::Duties => "duties".into(),
        }
    }

    /// The action whose approval rule governs changes of this policy.
    pub fn change_action(&self) -> ApprovalAction {
        match self {
            Self::Key(_) => ApprovalAction::PolicyChange,
            Self::Approvals => ApprovalAction::ApprovalPolicyChange,
            Self::Duties => ApprovalAction::DutiesChange,
        }
    }
}

impl fmt::Display for PolicySubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl FromStr for PolicySubject {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, KmsError> {
        match s {
            "approvals" => Ok(Self::Approvals),
            "duties" => Ok(Self::Duties),
            other => match other.strip_prefix("key:") {
                Some(id) => Ok(Self::Key(id.parse()?)),
                None => Err(KmsError::invalid(format!("unknown policy subject '{s}'"))),
            },
        }
    }
}

impl Serialize for PolicySubject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for PolicySubject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PolicySubject {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PolicySubject {}

/// A whole policy as one version holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyDocument {
    /// A key's grants (its statements), by id.
    Grants {
        /// The grants.
        grants: Vec<Grant>,
    },
    /// The tenant's approval policy.
    Approvals(ApprovalPolicy),
    /// The tenant's separation-of-duties setting.
    Duties(DutiesPolicy),
}

/// One version of a policy: the whole document after a change, who made the change and when.
/// Versions are 1, 2, … per (tenant, subject) and never change once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyVersion {
    /// Record format version.
    pub v: u32,
    /// The tenant.
    pub tenant: TenantId,
    /// Whose policy.
    pub subject: PolicySubject,
    /// 1, 2, … without gaps.
    pub version: u32,
    /// The policy as of this version.
    pub document: PolicyDocument,
    /// When it changed.
    pub changed_at: Timestamp,
    /// Who changed it (the requester, for a change made under dual control).
    pub changed_by: PrincipalName,
    /// What changed, in words.
    pub change: String,
    /// For a revert: the version whose document this one restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_to: Option<u32>,
    /// The approval under which the change ran, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalId>,
}

/// The tenant's separation-of-duties setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DutiesPolicy {
    /// Whether a principal may both manage and use the same keys (a principal holding
    /// key-manager and key-user, or using a key it created or granted itself). Off by default.
    #[serde(default)]
    pub allow_combined_duties: bool,
}

/// An action that an approval policy can put under dual control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApprovalAction {
    /// Destroying a key's material now.
    #[serde(rename = "key.destroy")]
    KeyDestroy,
    /// Scheduling a key's destruction.
    #[serde(rename = "key.schedule-destroy")]
    KeyScheduleDestroy,
    /// Importing or registering key material.
    #[serde(rename = "key.import")]
    KeyImport,
    /// Reading secret key material (export, KMIP Get).
    #[serde(rename = "key.export")]
    KeyExport,
    /// Restoring a backup or recovering a key from one.
    #[serde(rename = "backup.restore")]
    BackupRestore,
    /// Changing a key's policy (grant create, revoke, revert).
    #[serde(rename = "policy.change")]
    PolicyChange,
    /// Changing the approval policy.
    #[serde(rename = "approval-policy.change")]
    ApprovalPolicyChange,
    /// Changing the separation-of-duties setting.
    #[serde(rename = "duties.change")]
    DutiesChange,
    /// Rotating the root key.
    #[serde(rename = "root.rotate")]
    RootRotate,
    /// Re-keying the unseal shares.
    #[serde(rename = "unseal.rekey")]
    UnsealRekey,
}

impl ApprovalAction {
    /// Every action.
    pub const ALL: [ApprovalAction; 10] = [
        Self::KeyDestroy,
        Self::KeyScheduleDestroy,
        Self::KeyImport,
        Self::KeyExport,
        Self::BackupRestore,
        Self::PolicyChange,
        Self::ApprovalPolicyChange,
        Self::DutiesChange,
        Self::RootRotate,
        Self::UnsealRekey,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyDestroy => "key.destroy",
            Self::KeyScheduleDestroy => "key.schedule-destroy",
            Self::KeyImport => "key.import",
            Self::KeyExport => "key.export",
            Self::BackupRestore => "backup.restore",
            Self::PolicyChange => "policy.change",
            Self::ApprovalPolicyChange => "approval-policy.change",
            Self::DutiesChange => "duties.change",
            Self::RootRotate => "root.rotate",
            Self::UnsealRekey => "unseal.rekey",
        }
    }
}

impl fmt::Display for ApprovalAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalAction {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, KmsError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                KmsError::invalid(format!(
                    "unknown action '{s}': use one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Who may approve: listed principals and/or every holder of a role (of the tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approvers {
    /// Eligible principals.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub principals: BTreeSet<PrincipalName>,
    /// Every holder of one of these roles is eligible.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub roles: BTreeSet<Role>,
}

impl Approvers {
    /// Whether a caller with this name and these roles is eligible.
    pub fn includes(&self, principal: &PrincipalName, roles: Roles) -> bool {
        self.principals.contains(principal) || self.roles.iter().any(|r| roles.contains(*r))
    }

    fn is_empty(&self) -> bool {
        self.principals.is_empty() && self.roles.is_empty()
    }
}

/// One rule of an approval policy: these actions need `approvals` distinct approvals from the
/// eligible approvers (never counting the requester) within `ttl_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalRule {
    /// The actions this rule governs.
    pub actions: BTreeSet<ApprovalAction>,
    /// M: approvals needed.
    pub approvals: u32,
    /// Who may approve (N).
    pub approvers: Approvers,
    /// How long a request waits for its approvals before it expires (default 24 h).
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
}

fn default_ttl() -> u64 {
    DEFAULT_APPROVAL_TTL_SECS
}

/// The tenant's approval policy: which actions need approvals, how many, from whom. Empty (the
/// default): nothing needs approval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalPolicy {
    /// The rules; an action appears in at most one.
    #[serde(default)]
    pub rules: Vec<ApprovalRule>,
}

impl ApprovalPolicy {
    /// The rule governing `action`, if any.
    pub fn rule(&self, action: ApprovalAction) -> Option<&ApprovalRule> {
        self.rules.iter().find(|r| r.actions.contains(&action))
    }

    /// Checks the policy's shape.
    pub fn validate(&self) -> Result<(), KmsError> {
        if self.rules.len() > 32 {
            return Err(KmsError::invalid("an approval policy has at most 32 rules"));
        }
        let mut seen = BTreeSet::new();
        for rule in &self.rules {
            if rule.actions.is_empty() {
                return Err(KmsError::invalid(
                    "an approval rule names at least one action",
                ));
            }
            for a in &rule.actions {
                if !seen.insert(*a) {
                    return Err(KmsError::invalid(format!(
                        "action {a} appears in two approval rules"
                    )));
                }
            }
            if rule.approvals == 0 || rule.approvals > 16 {
                return Err(KmsError::invalid(
                    "an approval rule needs between 1 and 16 approvals",
                ));
            }
            if rule.approvers.is_empty() {
                return Err(KmsError::invalid(
                    "an approval rule names eligible approvers (principals and/or roles)",
                ));
            }
            if rule.approvers.roles.is_empty()
                && (rule.approvers.principals.len() as u64) < u64::from(rule.approvals)
            {
                return Err(KmsError::invalid(
                    "an approval rule lists fewer approvers than the approvals it needs",
                ));
            }
            if rule.approvers.principals.len() > 64 {
                return Err(KmsError::invalid(
                    "an approval rule lists at most 64 approvers",
                ));
            }
            if !(1..=30 * 86_400).contains(&rule.ttl_secs) {
                return Err(KmsError::invalid(
                    "an approval's lifetime is between 1 second and 30 days",
                ));
            }
        }
        Ok(())
    }
}

/// Where a request waiting for approvals stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApprovalStatus {
    /// Waiting for approvals.
    Pending,
    /// Approved; the requester re-issues the request to run it (release mode).
    Approved,
    /// Rejected by an eligible approver (or withdrawn by the requester).
    Rejected,
    /// Not approved (or not run, once approved) in time.
    Expired,
    /// Ran, successfully.
    Executed,
    /// Ran and failed; the error is recorded.
    Failed,
}

impl ApprovalStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Executed => "executed",
            Self::Failed => "failed",
        }
    }

    /// Whether the approval can still change (approvals, execution, expiry).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Approved)
    }
}

impl FromStr for ApprovalStatus {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, KmsError> {
        [
            Self::Pending,
            Self::Approved,
            Self::Rejected,
            Self::Expired,
            Self::Executed,
            Self::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s.trim())
        .ok_or_else(|| KmsError::invalid(format!("unknown approval status '{s}'")))
    }
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    /// Who.
    pub principal: PrincipalName,
    /// When.
    pub at: Timestamp,
    /// Why (free text).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

/// Who asked for a gated action, as authenticated when they asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Requester {
    /// The principal.
    pub principal: PrincipalName,
    /// Its roles then.
    pub roles: Roles,
    /// How it authenticated.
    pub auth: AuthMethod,
    /// The token it used (checked again before the action runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenId>,
}

/// A request waiting for (or done with) its approvals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Record format version.
    pub v: u32,
    /// The approval.
    pub id: ApprovalId,
    /// The tenant.
    pub tenant: TenantId,
    /// What is asked.
    pub action: ApprovalAction,
    /// The key concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyId>,
    /// The request in words (for approvers).
    pub summary: String,
    /// Who asked.
    pub requester: Requester,
    /// The request itself, when it can be stored (execute mode: it runs when the threshold is
    /// met). Absent for requests that carry or return secrets (release mode: the requester
    /// re-issues the identical request once approved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::ops::StoredOperation>,
    /// Keyed digest of the exact request (binds a release-mode re-issue to what was approved).
    pub request_digest: String,
    /// M.
    pub required: u32,
    /// Who may approve (the rule as it stood at the request).
    pub approvers: Approvers,
    /// When asked.
    pub created_at: Timestamp,
    /// When it expires if not done.
    pub expires_at: Timestamp,
    /// Approvals so far, one per principal.
    #[serde(default)]
    pub approvals: Vec<Decision>,
    /// The rejection, if rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Decision>,
    /// Status as stored ([`ApprovalRecord::status_at`] applies expiry).
    pub status: ApprovalStatus,
    /// When it was executed, rejected or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// The executed operation's response (never secret material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The executed operation's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Compare-and-swap revision.
    pub revision: u64,
}

impl ApprovalRecord {
    /// The status at `now`: an open approval past its expiry is expired.
    pub fn status_at(&self, now: Timestamp) -> ApprovalStatus {
        if self.status.is_open() && now >= self.expires_at {
            ApprovalStatus::Expired
        } else {
            self.status
        }
    }

    /// Whether the request runs when approved (execute mode) rather than on re-issue.
    pub fn executes_on_approval(&self) -> bool {
        self.operation.is_some()
    }
}

/// How many times a limited grant was used (its counter row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantUses {
    /// Record format version.
    pub v: u32,
    /// The tenant.
    pub tenant: TenantId,
    /// The grant.
    pub grant: GrantId,
    /// Uses so far.
    pub uses: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(actions: &[ApprovalAction], m: u32, who: &[&str]) -> ApprovalRule {
        ApprovalRule {
            actions: actions.iter().copied().collect(),
            approvals: m,
            approvers: Approvers {
                principals: who.iter().map(|p| p.parse().unwrap()).collect(),
                roles: BTreeSet::new(),
            },
            ttl_secs: DEFAULT_APPROVAL_TTL_SECS,
        }
    }

    #[test]
    fn action_names_round_trip() {
        for a in ApprovalAction::ALL {
            assert_eq!(a.as_str().parse::<ApprovalAction>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
        assert!("key.explode".parse::<ApprovalAction>().is_err());
    }

    #[test]
    fn subjects_round_trip() {
        let id = KeyId::generate();
        for s in [
            PolicySubject::Key(id),
            PolicySubject::Approvals,
            PolicySubject::Duties,
        ] {
            assert_eq!(s.as_text().parse::<PolicySubject>().unwrap(), s);
        }
    }

    #[test]
    fn policies_are_validated() {
        use ApprovalAction::*;
        let ok = ApprovalPolicy {
            rules: vec![rule(&[KeyDestroy], 2, &["a", "b", "c"])],
        };
        ok.validate().unwrap();
        assert_eq!(ok.rule(KeyDestroy).unwrap().approvals, 2);
        assert!(ok.rule(KeyExport).is_none());
        let twice = ApprovalPolicy {
            rules: vec![
                rule(&[KeyDestroy], 1, &["a"]),
                rule(&[KeyDestroy], 1, &["b"]),
            ],
        };
        assert!(twice.validate().is_err());
        let too_few = ApprovalPolicy {
            rules: vec![rule(&[KeyDestroy], 3, &["a", "b"])],
        };
        assert!(too_few.validate().is_err());
        let none = ApprovalPolicy {
            rules: vec![rule(&[KeyDestroy], 1, &[])],
        };
        assert!(none.validate().is_err());
    }

    #[test]
    fn open_approvals_expire_at_their_instant() {
        let now = Timestamp::from_millis(1000);
        let r = ApprovalRecord {
            v: 1,
            id: ApprovalId::generate(),
            tenant: TenantId::default_tenant(),
            action: ApprovalAction::KeyDestroy,
            key: None,
            summary: String::new(),
            requester: Requester {
                principal: "a".parse().unwrap(),
                roles: Roles::one(Role::KeyManager),
                auth: AuthMethod::Token,
                token: None,
            },
            operation: None,
            request_digest: String::new(),
            required: 1,
            approvers: Approvers::default(),
            created_at: now,
            expires_at: now.plus_secs(10),
            approvals: vec![],
            rejection: None,
            status: ApprovalStatus::Pending,
            completed_at: None,
            result: None,
            error: None,
            revision: 1,
        };
        assert_eq!(r.status_at(now), ApprovalStatus::Pending);
        assert_eq!(r.status_at(now.plus_secs(10)), ApprovalStatus::Expired);
        let done = ApprovalRecord {
            status: ApprovalStatus::Executed,
            ..r
        };
        assert_eq!(done.status_at(now.plus_secs(10)), ApprovalStatus::Executed);
    }
}
