//! Tenant policies (approval policy, separation-of-duties setting), the history of every
//! policy, and reverts. Every change appends a [`PolicyVersion`] holding the whole document,
//! who changed it and when; a revert is a change like any other (audited, versioned, and under
//! dual control when the approval policy says so).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{KeyRef, PrincipalName};
use crate::lifecycle::Use;
use crate::model::{Grant, KeyRecord, Role, RECORD_VERSION};
use crate::policy::{
    ApprovalAction, ApprovalPolicy, DutiesPolicy, PolicyDocument, PolicySubject, PolicyVersion,
};
use crate::store::{Write, WriteBatch};

/// Whose policy a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyTarget {
    /// A key's policy (its grants).
    Key {
        /// Id, name or alias.
        key: KeyRef,
    },
    /// The tenant's approval policy.
    Approvals,
    /// The tenant's separation-of-duties setting.
    Duties,
}

/// Request: the tenant's approval policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetApprovalPolicy {}

/// The approval policy in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalPolicyInfo {
    /// Its version (0: never set; nothing needs approval).
    pub version: u32,
    /// The policy.
    pub policy: ApprovalPolicy,
    /// When it was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Timestamp>,
    /// By whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<PrincipalName>,
}

/// Request: replace the tenant's approval policy (administrators; itself under dual control
/// when the policy in force governs `approval-policy.change`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetApprovalPolicy {
    /// The new policy.
    pub policy: ApprovalPolicy,
    /// Refuse unless the policy in force has this version (optimistic concurrency).
    #[serde(default)]
    pub expected_version: Option<u32>,
}

/// Request: the tenant's separation-of-duties setting.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetDuties {}

/// The separation-of-duties setting in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DutiesInfo {
    /// Its version (0: never set; duties are separated).
    pub version: u32,
    /// The setting.
    #[serde(flatten)]
    pub duties: DutiesPolicy,
    /// When it was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Timestamp>,
    /// By whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<PrincipalName>,
}

/// Request: change the tenant's separation-of-duties setting (administrators; under dual
/// control when the approval policy governs `duties.change`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetDuties {
    /// Whether a principal may manage and use the same keys.
    pub allow_combined_duties: bool,
    /// Refuse unless the setting in force has this version.
    #[serde(default)]
    pub expected_version: Option<u32>,
}

/// Request: every version of a policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyHistory {
    /// Whose.
    #[serde(flatten)]
    pub target: PolicyTarget,
}

/// The versions of one policy, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyHistoryList {
    /// Whose.
    pub subject: PolicySubject,
    /// The versions.
    pub versions: Vec<PolicyVersion>,
}

/// Request: make an earlier version's document the policy again, as a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevertPolicy {
    /// Whose.
    #[serde(flatten)]
    pub target: PolicyTarget,
    /// The version to return to.
    pub to: u32,
}

impl RevertPolicy {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self.target {
            PolicyTarget::Key { .. } => "policy.revert",
            PolicyTarget::Approvals => "approval-policy.revert",
            PolicyTarget::Duties => "duties.revert",
        }
    }
}

/// The latest version number of a policy (0 when it never changed) and its document.
async fn latest(
    cx: &Cx<'_>,
    subject: &PolicySubject,
) -> Result<(u32, Option<PolicyVersion>), KmsError> {
    let v = cx
        .kms
        .store
        .latest_policy(&cx.caller.tenant, subject)
        .await?;
    Ok((v.as_ref().map_or(0, |v| v.version), v))
}

/// The version following `current`, made by the caller (under the approval it runs with).
fn next_version(
    cx: &Cx<'_>,
    subject: PolicySubject,
    current: u32,
    document: PolicyDocument,
    change: String,
    reverted_to: Option<u32>,
) -> PolicyVersion {
    PolicyVersion {
        v: RECORD_VERSION,
        tenant: cx.caller.tenant.clone(),
        subject,
        version: current + 1,
        document,
        changed_at: cx.now,
        changed_by: cx.caller.principal.clone(),
        change,
        reverted_to,
        approval: cx.approved.map(|a| a.id),
    }
}

fn check_expected(expected: Option<u32>, current: u32) -> Result<(), KmsError> {
    match expected {
        Some(e) if e != current => Err(KmsError::invalid(format!(
            "the policy is at version {current}, not {e}: read it again before changing it"
        ))),
        _ => Ok(()),
    }
}

/// A key's policy as it stands: its latest version number, then its grants read from the
/// store (in this order, so that a change committed in between makes the next version's
/// insert conflict rather than go unseen).
pub(crate) async fn key_policy(
    cx: &Cx<'_>,
    key: &KeyRecord,
) -> Result<(u32, Vec<Grant>), KmsError> {
    let (version, _) = latest(cx, &PolicySubject::Key(key.id)).await?;
    let grants = cx
        .kms
        .store
        .grants(&cx.caller.tenant, Some(&key.id), None)
        .await?;
    Ok((version, grants))
}

/// The policy version recording a change of `key`'s grants to `grants`.
pub(crate) fn key_policy_change(
    cx: &Cx<'_>,
    key: &KeyRecord,
    current: u32,
    mut grants: Vec<Grant>,
    change: String,
    reverted_to: Option<u32>,
) -> Write {
    grants.sort_by_key(|g| g.id);
    Write::InsertPolicyVersion(next_version(
        cx,
        PolicySubject::Key(key.id),
        current,
        PolicyDocument::Grants { grants },
        change,
        reverted_to,
    ))
}

impl GetApprovalPolicy {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let (version, v) = latest(cx, &PolicySubject::Approvals).await?;
        let policy = match v.as_ref().map(|v| &v.document) {
            Some(PolicyDocument::Approvals(p)) => p.clone(),
            _ => ApprovalPolicy::default(),
        };
        Ok(Done::new(Response::ApprovalPolicy(ApprovalPolicyInfo {
            version,
            policy,
            changed_at: v.as_ref().map(|v| v.changed_at),
            changed_by: v.map(|v| v.changed_by),
        })))
    }
}

impl SetApprovalPolicy {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Admin],
            "only administrators set the approval policy",
        )?;
        self.policy.validate()?;
        let (current, _) = latest(cx, &PolicySubject::Approvals).await?;
        check_expected(self.expected_version, current)?;
        let summary = summarize_approvals(&self.policy);
        cx.dual_control(ApprovalAction::ApprovalPolicyChange, None, || {
            format!("set the approval policy to: {summary}")
        })
        .await?;
        let version = next_version(
            cx,
            PolicySubject::Approvals,
            current,
            PolicyDocument::Approvals(self.policy.clone()),
            format!("approval policy set: {summary}"),
            None,
        );
        let detail = format!("version {}: {summary}", version.version);
        let info = ApprovalPolicyInfo {
            version: version.version,
            policy: self.policy,
            changed_at: Some(cx.now),
            changed_by: Some(cx.caller.principal.clone()),
        };
        Ok(Done::new(Response::ApprovalPolicy(info))
            .writes(WriteBatch(vec![Write::InsertPolicyVersion(version)]))
            .detail(detail))
    }
}

/// The approval policy in words, for audit details and approvers.
fn summarize_approvals(p: &ApprovalPolicy) -> String {
    if p.rules.is_empty() {
        return "nothing needs approval".into();
    }
    let rules: Vec<String> = p
        .rules
        .iter()
        .map(|r| {
            let actions: Vec<&str> = r.actions.iter().map(|a| a.as_str()).collect();
            format!(
                "{} -> {}",
                actions.join(","),
                super::approvals::describe_rule(r)
            )
        })
        .collect();
    rules.join("; ")
}

impl GetDuties {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let (version, v) = latest(cx, &PolicySubject::Duties).await?;
        let duties = match v.as_ref().map(|v| &v.document) {
            Some(PolicyDocument::Duties(d)) => *d,
            _ => DutiesPolicy::default(),
        };
        Ok(Done::new(Response::Duties(DutiesInfo {
            version,
            duties,
            changed_at: v.as_ref().map(|v| v.changed_at),
            changed_by: v.map(|v| v.changed_by),
        })))
    }
}

impl SetDuties {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Admin],
            "only administrators change separation of duties",
        )?;
        let (current, _) = latest(cx, &PolicySubject::Duties).await?;
        check_expected(self.expected_version, current)?;
        let allow = self.allow_combined_duties;
        let words = if allow {
            "allow combined duties"
        } else {
            "separate duties"
        };
        cx.dual_control(ApprovalAction::DutiesChange, None, || words.to_owned())
            .await?;
        let duties = DutiesPolicy {
            allow_combined_duties: allow,
        };
        let version = next_version(
            cx,
            PolicySubject::Duties,
            current,
            PolicyDocument::Duties(duties),
            words.to_owned(),
            None,
        );
        let detail = format!("version {}: {words}", version.version);
        let info = DutiesInfo {
            version: version.version,
            duties,
            changed_at: Some(cx.now),
            changed_by: Some(cx.caller.principal.clone()),
        };
        Ok(Done::new(Response::Duties(info))
            .writes(WriteBatch(vec![Write::InsertPolicyVersion(version)]))
            .detail(detail))
    }
}

impl PolicyHistory {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let (subject, key) = match &self.target {
            PolicyTarget::Key { key } => {
                cx.require(
                    &[Role::KeyManager, Role::Auditor],
                    "only key managers and auditors read a key's policy history",
                )?;
                let key = cx.resolve(key).await?;
                (PolicySubject::Key(key.id), Some(key.id))
            }
            PolicyTarget::Approvals => (PolicySubject::Approvals, None),
            PolicyTarget::Duties => (PolicySubject::Duties, None),
        };
        if key.is_none() {
            cx.require(
                &[Role::Admin, Role::KeyManager, Role::Auditor],
                "only administrators, key managers and auditors read policy history",
            )?;
        }
        let versions = cx
            .kms
            .store
            .policy_versions(&cx.caller.tenant, &subject)
            .await?;
        let mut done = Done::new(Response::PolicyHistory(PolicyHistoryList {
            subject,
            versions,
        }));
        done.key = key;
        Ok(done)
    }
}

impl RevertPolicy {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        match &self.target {
            PolicyTarget::Key { key } => {
                cx.require(
                    &[Role::KeyManager],
                    "only key managers revert a key's policy",
                )?;
                let key = cx.resolve(key).await?;
                cx.check(&key, Use::Modify, "policy revert")?;
                self.revert_key(cx, &key).await
            }
            PolicyTarget::Approvals | PolicyTarget::Duties => {
                cx.require(&[Role::Admin], "only administrators revert tenant policies")?;
                self.revert_tenant(cx).await
            }
        }
    }

    /// The document of version `to` of `subject`.
    async fn target(
        &self,
        cx: &Cx<'_>,
        subject: &PolicySubject,
    ) -> Result<(u32, PolicyDocument), KmsError> {
        let versions = cx
            .kms
            .store
            .policy_versions(&cx.caller.tenant, subject)
            .await?;
        let current = versions.last().map_or(0, |v| v.version);
        let target = versions
            .into_iter()
            .find(|v| v.version == self.to)
            .ok_or(KmsError::NotFound("policy version"))?;
        if self.to == current {
            return Err(KmsError::invalid(format!(
                "version {current} is the policy in force already"
            )));
        }
        Ok((current, target.document))
    }

    async fn revert_key(&self, cx: &Cx<'_>, key: &KeyRecord) -> Result<Done, KmsError> {
        let subject = PolicySubject::Key(key.id);
        let (_, document) = self.target(cx, &subject).await?;
        let PolicyDocument::Grants { grants: wanted } = document else {
            return Err(KmsError::Integrity("a key policy version holds no grants"));
        };
        let to = self.to;
        cx.dual_control(ApprovalAction::PolicyChange, Some(key.id), || {
            format!("revert the policy of key {} to version {to}", key.id)
        })
        .await?;
        let (current, grants) = key_policy(cx, key).await?;
        let have: BTreeMap<_, _> = grants.iter().map(|g| (g.id, g)).collect();
        let want: BTreeSet<_> = wanted.iter().map(|g| g.id).collect();
        let mut writes = WriteBatch::default();
        let mut removed = 0;
        for g in &grants {
            if !want.contains(&g.id) {
                writes.push(Write::DeleteGrant {
                    tenant: g.tenant.clone(),
                    id: g.id,
                });
                removed += 1;
            }
        }
        let mut added = 0;
        for g in &wanted {
            if !have.contains_key(&g.id) {
                writes.push(Write::InsertGrant(g.clone()));
                added += 1;
            }
        }
        let change =
            format!("revert to version {to}: {added} grant(s) restored, {removed} removed");
        writes.push(key_policy_change(
            cx,
            key,
            current,
            wanted.clone(),
            change.clone(),
            Some(to),
        ));
        let _ = subject;
        Ok(
            Done::new(Response::Grants(super::GrantList { grants: wanted }))
                .key(key.id, None)
                .writes(writes)
                .detail(format!("version {}: {change}", current + 1)),
        )
    }

    async fn revert_tenant(&self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        let subject = match self.target {
            PolicyTarget::Duties => PolicySubject::Duties,
            _ => PolicySubject::Approvals,
        };
        let (current, document) = self.target(cx, &subject).await?;
        let to = self.to;
        cx.dual_control(subject.change_action(), None, || {
            format!("revert the {subject} policy to version {to}")
        })
        .await?;
        let change = format!("revert to version {to}");
        let version = next_version(
            cx,
            subject,
            current,
            document.clone(),
            change.clone(),
            Some(to),
        );
        let detail = format!("version {}: {change}", version.version);
        let response = match document {
            PolicyDocument::Approvals(policy) => Response::ApprovalPolicy(ApprovalPolicyInfo {
                version: version.version,
                policy,
                changed_at: Some(cx.now),
                changed_by: Some(cx.caller.principal.clone()),
            }),
            PolicyDocument::Duties(duties) => Response::Duties(DutiesInfo {
                version: version.version,
                duties,
                changed_at: Some(cx.now),
                changed_by: Some(cx.caller.principal.clone()),
            }),
            PolicyDocument::Grants { .. } => {
                return Err(KmsError::Integrity("a tenant policy version holds grants"))
            }
        };
        Ok(Done::new(response)
            .writes(WriteBatch(vec![Write::InsertPolicyVersion(version)]))
            .detail(detail))
    }
}
