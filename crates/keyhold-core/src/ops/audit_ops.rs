//! Reading and verifying the audit trail (auditors only).

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::audit::{AuditEvent, ChainBreak, ChainVerifier};
use crate::error::KmsError;
use crate::model::Role;

const PAGE: u32 = 1000;

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
    /// Events verified.
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
        'pages: loop {
            let page = cx.kms.store.audit_events(from, PAGE).await?;
            for e in &page {
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
        let response = AuditVerifyResponse {
            ok: problem.is_none(),
            events: v.count,
            head_seq,
            head_hash: head_hash.to_owned(),
            problem: problem.clone(),
        };
        let detail = match &problem {
            None => format!("{} events verified", v.count),
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
        let events = cx.kms.store.audit_events(from, limit).await?;
        let next_seq = match events.last() {
            Some(last) if events.len() == limit as usize => Some(last.seq + 1),
            _ => None,
        };
        Ok(Done::new(Response::AuditExport(AuditExportResponse {
            events,
            next_seq,
        })))
    }
}
