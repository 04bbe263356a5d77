//! Compliance reports for auditors, over the caller's tenant: the key inventory (by state,
//! algorithm and age, with keys past their crypto-period or overdue for rotation), who can do
//! what with each key, usage per key and per principal over a period (from the audit trail),
//! and pending and executed approvals. Reports hold metadata only, never key material.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::KeyId;
use crate::lifecycle::KeyState;
use crate::model::{Conditions, KeyOp, Role};
use crate::policy::{ApprovalRecord, ApprovalStatus};
use crate::store::KeyFilter;

/// Records read per store query.
const PAGE: u32 = 1000;
/// Most audit events one usage report reads (from its period's start, found by bisection).
const MAX_EVENTS: u64 = 1_000_000;
/// How far an event's time may precede an earlier event's: a request's time is taken when it
/// runs, its sequence number when it commits, so times are in sequence order only up to the
/// longest commit wait. Periods are searched and ended with this margin.
const TIME_SLACK_MS: i64 = 5 * 60_000;
/// The usage period when none is given: the last 30 days.
const DEFAULT_PERIOD_MS: i64 = 30 * 86_400_000;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReportKind {
    /// Keys by state, algorithm and age; keys past their crypto-period or rotation period.
    Keys,
    /// Who may do what with each key (its grants and their conditions).
    Access,
    /// Operations per key and per principal over a period, from the audit trail.
    Usage,
    /// Pending and executed approvals.
    Approvals,
}

/// Request: a compliance report (auditors).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct Report {
    /// Which report.
    pub kind: ReportKind,
    /// Start of the usage period (default: 30 days before `to`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub from: Option<Timestamp>,
    /// End of the usage period (default: now).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub to: Option<Timestamp>,
}

/// A compliance report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReportOut {
    /// See [`ReportKind::Keys`].
    Keys(KeysReport),
    /// See [`ReportKind::Access`].
    Access(AccessReport),
    /// See [`ReportKind::Usage`].
    Usage(UsageReport),
    /// See [`ReportKind::Approvals`].
    Approvals(ApprovalsReport),
}

/// The key inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeysReport {
    /// When the report was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub at: Timestamp,
    /// Objects in the tenant.
    pub total: u64,
    /// Count per effective state.
    pub by_state: BTreeMap<String, u64>,
    /// Count per algorithm.
    pub by_algorithm: BTreeMap<String, u64>,
    /// Count per age: `under-30d`, `30-90d`, `90-365d`, `over-1y`.
    pub by_age: BTreeMap<String, u64>,
    /// Keys whose crypto-period (protection period) has ended and that are not destroyed.
    pub past_crypto_period: Vec<KeyNote>,
    /// Keys with a rotation period whose current version is older than it.
    pub rotation_overdue: Vec<KeyNote>,
}

/// One key named by a report, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyNote {
    /// The key.
    pub id: KeyId,
    /// Its name.
    pub name: Option<String>,
    /// Its effective state.
    pub state: KeyState,
    /// Since when.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub since: Timestamp,
}

/// Who may do what with each key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessReport {
    /// Keys that are not destroyed, with their grants.
    pub keys: Vec<KeyAccess>,
}

/// One key's grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyAccess {
    /// The key.
    pub id: KeyId,
    /// Its name.
    pub name: Option<String>,
    /// Its effective state.
    pub state: KeyState,
    /// Who may do what.
    pub grants: Vec<AccessLine>,
}

/// One grant, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessLine {
    /// A principal, or `role:<role>`.
    pub grantee: String,
    /// The operations.
    pub operations: Vec<KeyOp>,
    /// Its conditions.
    pub conditions: Conditions,
    /// Uses counted so far, for a grant limited by `max_uses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u64>,
    /// Whether it allows anything at the report's time.
    #[serde(default)]
    pub status: GrantStatus,
}

/// Whether a grant allows its operations now (encryption-context conditions aside, which each
/// request meets or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Inside its validity window with uses left.
    #[default]
    Effective,
    /// Its validity window has not begun.
    NotYetValid,
    /// Its validity window has ended.
    Expired,
    /// Every use `max_uses` allows has been made.
    Exhausted,
}

impl GrantStatus {
    /// The status of a grant with `conditions` and `uses` counted uses, at `now`.
    pub fn of(conditions: &Conditions, uses: Option<u64>, now: Timestamp) -> Self {
        if conditions.not_before.is_some_and(|t| now < t) {
            Self::NotYetValid
        } else if conditions.not_after.is_some_and(|t| now >= t) {
            Self::Expired
        } else if conditions
            .max_uses
            .is_some_and(|max| uses.unwrap_or(0) >= max)
        {
            Self::Exhausted
        } else {
            Self::Effective
        }
    }

    /// The status as text (`effective`, `not_yet_valid`, `expired`, `exhausted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Effective => "effective",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::Exhausted => "exhausted",
        }
    }
}

/// Operations over a period.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// Start of the period.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub from: Timestamp,
    /// End of the period.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub to: Timestamp,
    /// Events of the tenant in the period.
    pub events: u64,
    /// Of which refused (outcome denied).
    pub denied: u64,
    /// Of which failed (outcome error).
    pub errors: u64,
    /// Key → action → count.
    pub by_key: BTreeMap<String, BTreeMap<String, u64>>,
    /// Principal → action → count.
    pub by_principal: BTreeMap<String, BTreeMap<String, u64>>,
    /// Whether the scan stopped at its limit before the end of the period.
    pub truncated: bool,
}

/// Approvals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalsReport {
    /// Waiting for approvals (or approved and waiting for their re-issue).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub pending: Vec<ApprovalRecord>,
    /// Executed (successfully or not).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub executed: Vec<ApprovalRecord>,
}

impl Report {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Auditor], "only auditors make compliance reports")?;
        let out = match self.kind {
            ReportKind::Keys => ReportOut::Keys(keys(cx).await?),
            ReportKind::Access => ReportOut::Access(access(cx).await?),
            ReportKind::Usage => {
                let to = self.to.unwrap_or(cx.now);
                let from = self
                    .from
                    .unwrap_or(Timestamp::from_millis(to.millis() - DEFAULT_PERIOD_MS));
                if from > to {
                    return Err(KmsError::invalid("the period starts after it ends"));
                }
                ReportOut::Usage(usage(cx, from, to).await?)
            }
            ReportKind::Approvals => ReportOut::Approvals(approvals(cx).await?),
        };
        Ok(Done::new(Response::Report(Box::new(out))))
    }
}

/// Every key record of the caller's tenant, a page at a time.
async fn for_each_key(
    cx: &Cx<'_>,
    mut f: impl FnMut(&crate::model::KeyRecord, crate::lifecycle::Lifecycle),
) -> Result<(), KmsError> {
    let mut after = None;
    loop {
        let page = cx
            .kms
            .store
            .list_keys(
                &cx.caller.tenant,
                &KeyFilter::default(),
                after.as_ref(),
                PAGE,
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for k in &page {
            f(k, k.lifecycle.effective(cx.now));
        }
    }
    Ok(())
}

fn age_bucket(ms: i64) -> &'static str {
    const DAY: i64 = 86_400_000;
    match ms {
        m if m < 30 * DAY => "under-30d",
        m if m < 90 * DAY => "30-90d",
        m if m < 365 * DAY => "90-365d",
        _ => "over-1y",
    }
}

async fn keys(cx: &Cx<'_>) -> Result<KeysReport, KmsError> {
    let mut r = KeysReport {
        at: cx.now,
        total: 0,
        by_state: BTreeMap::new(),
        by_algorithm: BTreeMap::new(),
        by_age: BTreeMap::new(),
        past_crypto_period: Vec::new(),
        rotation_overdue: Vec::new(),
    };
    let now = cx.now;
    for_each_key(cx, |k, lc| {
        r.total += 1;
        *r.by_state.entry(lc.state.to_string()).or_default() += 1;
        *r.by_algorithm.entry(k.algorithm.to_string()).or_default() += 1;
        *r.by_age
            .entry(age_bucket(now.millis() - k.created_at.millis()).to_owned())
            .or_default() += 1;
        let note = |since| KeyNote {
            id: k.id,
            name: k.name.as_ref().map(ToString::to_string),
            state: lc.state,
            since,
        };
        if !lc.state.is_destroyed() {
            // The effective life cycle already folds the crypto-period into the deactivation
            // date (at activation).
            if let Some(end) = lc.deactivation_date.filter(|e| *e <= now) {
                r.past_crypto_period.push(note(end));
            }
        }
        if let Some(period) = k.rotation_period_secs {
            let due = k.rotated_at.plus_secs(period);
            if due <= now && lc.state == KeyState::Active {
                r.rotation_overdue.push(note(due));
            }
        }
    })
    .await?;
    Ok(r)
}

/// The first sequence number whose event is at `t` or later (one past the head if none is),
/// by bisection over the chain: a report on a recent period does not read the years before it.
async fn first_seq_from(cx: &Cx<'_>, t: Timestamp) -> Result<u64, KmsError> {
    let store = &cx.kms.store;
    let Some((head, _)) = store.audit_head().await? else {
        return Ok(1);
    };
    // The first event, which may be after 1 if the chain starts later.
    let Some(first) = store.audit_events(1, 1).await?.into_iter().next() else {
        return Ok(1);
    };
    let (mut lo, mut hi) = (first.seq, head + 1);
    if first.time >= t {
        return Ok(lo);
    }
    // Invariant: the event at `lo` is before `t`; every event from `hi` on is at `t` or later.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match store.audit_events(mid, 1).await?.into_iter().next() {
            // The event at `mid`, or after a gap (which verification reports) the next one.
            Some(e) if e.seq < hi && e.time < t => lo = e.seq,
            _ => hi = mid,
        }
    }
    Ok(hi)
}

async fn access(cx: &Cx<'_>) -> Result<AccessReport, KmsError> {
    let mut listed = Vec::new();
    for_each_key(cx, |k, lc| {
        if !lc.state.is_destroyed() {
            listed.push(KeyAccess {
                id: k.id,
                name: k.name.as_ref().map(ToString::to_string),
                state: lc.state,
                grants: Vec::new(),
            });
        }
    })
    .await?;
    for k in &mut listed {
        let grants = cx
            .kms
            .store
            .grants(&cx.caller.tenant, Some(&k.id), None)
            .await?;
        let mut lines = Vec::with_capacity(grants.len());
        for g in grants {
            let uses = match g.conditions.max_uses {
                Some(_) => Some(cx.kms.store.grant_uses(&cx.caller.tenant, &g.id).await?),
                None => None,
            };
            lines.push(AccessLine {
                grantee: g.grantee.to_string(),
                operations: g.operations.into_iter().collect(),
                status: GrantStatus::of(&g.conditions, uses, cx.now),
                conditions: g.conditions,
                uses,
            });
        }
        k.grants = lines;
    }
    Ok(AccessReport { keys: listed })
}

async fn usage(cx: &Cx<'_>, from: Timestamp, to: Timestamp) -> Result<UsageReport, KmsError> {
    use crate::audit::Outcome;
    let mut r = UsageReport {
        from,
        to,
        events: 0,
        denied: 0,
        errors: 0,
        by_key: BTreeMap::new(),
        by_principal: BTreeMap::new(),
        truncated: false,
    };
    let mut seq = first_seq_from(cx, Timestamp::from_millis(from.millis() - TIME_SLACK_MS)).await?;
    let mut scanned = 0u64;
    'scan: loop {
        let page = cx.kms.store.audit_events(seq, PAGE).await?;
        let Some(last) = page.last() else { break };
        seq = last.seq + 1;
        for e in page {
            scanned += 1;
            if scanned > MAX_EVENTS {
                r.truncated = true;
                break 'scan;
            }
            if e.time.millis() > to.millis().saturating_add(TIME_SLACK_MS) {
                break 'scan;
            }
            if e.time < from || e.time > to || !e.concerns(&cx.caller.tenant) {
                continue;
            }
            r.events += 1;
            match e.outcome {
                Outcome::Denied => r.denied += 1,
                Outcome::Error => r.errors += 1,
                Outcome::Ok => {}
            }
            if let Some(key) = &e.key {
                *r.by_key
                    .entry(key.clone())
                    .or_default()
                    .entry(e.action.clone())
                    .or_default() += 1;
            }
            *r.by_principal
                .entry(e.principal.to_string())
                .or_default()
                .entry(e.action)
                .or_default() += 1;
        }
    }
    Ok(r)
}

async fn approvals(cx: &Cx<'_>) -> Result<ApprovalsReport, KmsError> {
    let store = &cx.kms.store;
    let tenant = &cx.caller.tenant;
    let mut r = ApprovalsReport::default();
    for status in [ApprovalStatus::Pending, ApprovalStatus::Approved] {
        r.pending
            .extend(store.approvals(tenant, Some(status), None, PAGE).await?);
    }
    for status in [ApprovalStatus::Executed, ApprovalStatus::Failed] {
        r.executed
            .extend(store.approvals(tenant, Some(status), None, PAGE).await?);
    }
    Ok(r)
}
