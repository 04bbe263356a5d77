//! Reading and verifying the audit trail (auditors only).
//!
//! An auditor of the default tenant (which administers the installation) reads every event; an
//! auditor of any other tenant reads only the events of its tenant. Verification always walks
//! the whole chain (the only way to prove nothing was removed); a tenant auditor is told how
//! many of its tenant's events it covered.

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::audit::{AuditEvent, ChainBreak, ChainVerifier};
use crate::error::KmsError;
use crate::model::Role;

const PAGE: u32 = 1000;
/// The most events one export request of a tenant auditor looks through; it answers with a
/// `next_seq` to go on from.
const SCAN: u64 = 20_000;

/// Request: verify the whole chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerify {}

/// Verification result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerifyResponse {
    /// True when every event links and hashes correctly.
    pub ok: bool,
    /// Events verified (for an auditor of a tenant other than the default one: the events of
    /// its tenant among them).
    pub events: u64,
    /// Sequence number of the last verified event.
    pub head_seq: u64,
    /// Hash of the last verified event.
    pub head_hash: String,
    /// The first problem found.
    pub problem: Option<ChainBreak>,
}

/// Request: read events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct AuditExport {
    /// First sequence number (default 1).
    #[serde(default)]
    pub from_seq: Option<u64>,
    /// At most this many (default and maximum 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditExportResponse {
    /// The events, in order.
    pub events: Vec<AuditEvent>,
    /// The `from_seq` of the next page, if there may be more.
    pub next_seq: Option<u64>,
}

impl AuditVerify {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Auditor], "only auditors verify the audit trail")?;
        let mut v = ChainVerifier::default();
        let mut from = 1;
        let mut problem = None;
        let scope = (!cx.caller.tenant.is_default()).then(|| cx.caller.tenant.clone());
        let mut own = 0u64;
        'pages: loop {
            let page = cx.kms.store.audit_events(from, PAGE).await?;
            for e in &page {
                if scope.is_some() && e.tenant == scope {
                    own += 1;
                }
                if let Err(p) = v.feed(e) {
                    problem = Some(p);
                    break 'pages;
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => from = last.seq + 1,
                _ => break,
            }
        }
        // The chain as stored must also reach the head the store reports (no truncated tail).
        if problem.is_none() {
            if let Some((seq, _)) = cx.kms.store.audit_head().await? {
                if seq != v.head().0 {
                    problem = Some(ChainBreak::Unlinked {
                        seq,
                        expected_prev: v.head().0,
                    });
                }
            }
        }
        let (head_seq, head_hash) = v.head();
        let events = if scope.is_some() { own } else { v.count };
        let response = AuditVerifyResponse {
            ok: problem.is_none(),
            events,
            head_seq,
            head_hash: head_hash.to_owned(),
            problem: problem.clone(),
        };
        let detail = match &problem {
            None => format!("{events} events verified"),
            Some(p) => p.to_string(),
        };
        Ok(Done::new(Response::AuditVerify(response)).detail(detail))
    }
}

impl AuditExport {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Auditor], "only auditors read the audit trail")?;
        let from = self.from_seq.unwrap_or(1).max(1);
        let limit = self.limit.unwrap_or(PAGE).clamp(1, PAGE);
        let (events, next_seq) = if cx.caller.tenant.is_default() {
            let events = cx.kms.store.audit_events(from, limit).await?;
            let next_seq = match events.last() {
                Some(last) if events.len() == limit as usize => Some(last.seq + 1),
                _ => None,
            };
            (events, next_seq)
        } else {
            tenant_events(cx, from, limit).await?
        };
        Ok(Done::new(Response::AuditExport(AuditExportResponse {
            events,
            next_seq,
        })))
    }
}

/// Up to `limit` events of the caller's tenant from `from` on, looking through at most [`SCAN`]
/// events; `next_seq` is where to go on when the scan stopped before the end.
async fn tenant_events(
    cx: &Cx<'_>,
    from: u64,
    limit: u32,
) -> Result<(Vec<AuditEvent>, Option<u64>), KmsError> {
    let tenant = Some(cx.caller.tenant.clone());
    let mut out = Vec::new();
    let mut next = from;
    let mut scanned = 0u64;
    loop {
        let page = cx.kms.store.audit_events(next, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for e in page {
            next = e.seq + 1;
            scanned += 1;
            if e.tenant == tenant {
                out.push(e);
                if out.len() == limit as usize {
                    return Ok((out, Some(next)));
                }
            }
        }
        if !full {
            return Ok((out, None));
        }
        if scanned >= SCAN {
            return Ok((out, Some(next)));
        }
    }
}
