//! Reading, verifying and checkpointing the audit trail (auditors only).
//!
//! An auditor of the default tenant (which administers the installation) reads every event; an
//! auditor of any other tenant reads only the events of its tenant. Verification always walks
//! the whole chain (the only way to prove nothing was removed) and checks its signed
//! checkpoints (see [`crate::checkpoint`]); a tenant auditor is told how many of its tenant's
//! events it covered.

use serde::{Deserialize, Serialize};

use super::{Cx, Done, Response};
use crate::audit::{AuditEvent, ChainBreak, ChainVerifier};
use crate::checkpoint::{self, CheckpointVerifier};
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
    /// Signed checkpoints verified.
    pub checkpoints: u64,
    /// The event the last verified checkpoint attests (every event up to it is proven as the
    /// server recorded it, even against a rewrite that recomputed the hashes).
    pub last_checkpoint: Option<u64>,
    /// Verified events after the last checkpoint event, protected by the hash chain only.
    pub unanchored: u64,
}

/// Request: checkpoint the chain now (auditors and administrators).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditCheckpoint {}

/// The head a checkpoint attests. The checkpoint is the request's own audit event, right after.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditCheckpointResponse {
    /// Sequence number of the attested event.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// Request: read events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
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
        // Read before the chain: whatever was committed by then must be found in it.
        let made_here = cx.kms.last_checkpoint();
        let stored_head = cx.kms.store.audit_head().await?;
        let mut v = ChainVerifier::default();
        let public = checkpoint::existing_key(cx.kms).await?.map(|k| k.public);
        let mut cps = CheckpointVerifier::new(public);
        let mut from = 1;
        let mut problem = None;
        let scope = (!cx.caller.tenant.is_default()).then(|| cx.caller.tenant.clone());
        let mut own = 0u64;
        'pages: loop {
            let page = cx.kms.store.audit_events(from, PAGE).await?;
            for e in &page {
                if scope.as_ref().is_some_and(|t| e.concerns(t)) {
                    own += 1;
                }
                if let Err(p) = v.feed(e) {
                    problem = Some(p);
                    break 'pages;
                }
                let checked = match cps.feed(e) {
                    Ok(None) => Ok(()),
                    Ok(Some(lookup)) => {
                        let attested = lookup.checkpoint.seq;
                        let stored = cx.kms.store.audit_events(attested, 1).await?;
                        let hash = stored.first().filter(|x| x.seq == attested);
                        cps.confirm(lookup.at, &lookup.checkpoint, hash.map(|x| x.hash.as_str()))
                    }
                    Err(p) => Err(p),
                };
                if let Err(p) = checked {
                    problem = Some(p);
                    break 'pages;
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => from = last.seq + 1,
                _ => break,
            }
        }
        // The chain read must reach the head the store reported before (events appended since
        // are beyond it), and hold the last checkpoint this server made.
        if problem.is_none() {
            if let Some((seq, _)) = stored_head {
                if seq > v.head().0 {
                    problem = Some(ChainBreak::Unlinked {
                        seq,
                        expected_prev: v.head().0,
                    });
                }
            }
        }
        if problem.is_none() {
            if let Some(covers) = made_here {
                if cps.last.is_none_or(|last| last < covers) {
                    problem = Some(ChainBreak::Truncated {
                        head: v.head().0,
                        covers,
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
            checkpoints: cps.checkpoints,
            last_checkpoint: cps.last,
            unanchored: head_seq - cps.last_at.unwrap_or(0),
        };
        let detail = match &problem {
            None => format!("{events} events verified"),
            Some(p) => p.to_string(),
        };
        Ok(Done::new(Response::AuditVerify(response)).detail(detail))
    }
}

/// Request: the public half of the checkpoint key (auditors and administrators), to verify
/// checkpoints offline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditCheckpointKey {}

/// The checkpoint key's public half.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditCheckpointKeyResponse {
    /// Ed25519 public key, PEM (SubjectPublicKeyInfo); absent until the first checkpoint.
    pub public_key_pem: Option<String>,
    /// When the key was made.
    pub created_at: Option<crate::clock::Timestamp>,
}

impl AuditCheckpointKey {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Auditor, Role::Admin],
            "only auditors and administrators read the audit checkpoint key",
        )?;
        let key = checkpoint::existing_key(cx.kms).await?;
        Ok(Done::new(Response::AuditCheckpointKey(
            AuditCheckpointKeyResponse {
                public_key_pem: key
                    .as_ref()
                    .map(|k| cx.kms.crypto.public_key_pem(&k.public)),
                created_at: key.map(|k| k.created_at),
            },
        )))
    }
}

impl AuditCheckpoint {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::Auditor, Role::Admin],
            "only auditors and administrators checkpoint the audit trail",
        )?;
        let (attested, writes) = checkpoint::attest(cx.kms, cx.now).await?;
        let mut done = Done::new(Response::AuditCheckpoint(AuditCheckpointResponse {
            seq: attested.seq,
            hash: attested.hash.clone(),
        }))
        .detail(attested.detail());
        done.writes.0.extend(writes);
        Ok(done)
    }
}

impl AuditExport {
    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(&[Role::Auditor], "only auditors read the audit trail")?;
        let from = self.from_seq.unwrap_or(1).max(1);
        let limit = super::page_limit(self.limit, PAGE, PAGE)?;
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

/// Up to `limit` events in the caller's tenant's view ([`AuditEvent::concerns`]) from `from` on,
/// looking through at most [`SCAN`] events; `next_seq` is where to go on when the scan stopped
/// before the end.
async fn tenant_events(
    cx: &Cx<'_>,
    from: u64,
    limit: u32,
) -> Result<(Vec<AuditEvent>, Option<u64>), KmsError> {
    let tenant = &cx.caller.tenant;
    let mut out = Vec::new();
    let mut next = from;
    let mut scanned = 0u64;
    loop {
        let page = cx.kms.store.audit_events(next, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for e in page {
            next = e.seq + 1;
            scanned += 1;
            if e.concerns(tenant) {
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
