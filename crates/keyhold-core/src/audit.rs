//! The audit trail: a hash chain of events stored with the data they describe.
//!
//! ```text
//!  event n:  hash_n = SHA-256( hash_{n-1} || canonical(event n without hash) )
//! ```
//!
//! Events never contain plaintext, key material or tokens. [`verify_chain`] recomputes every
//! hash from the first event (whose predecessor is [`GENESIS_HASH`]) and reports the first
//! event that was changed, removed or reordered.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::ErrorCode;
use crate::ids::{PrincipalName, RequestId, TenantId};

/// The predecessor hash of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How the principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuthMethod {
    /// Bearer API token.
    Token,
    /// Client certificate.
    Certificate,
    /// Unseal share or bootstrap (no principal).
    None,
    /// Internal (sweeper, date-driven transitions).
    System,
}

impl AuthMethod {
    /// The name in an audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Certificate => "certificate",
            Self::None => "none",
            Self::System => "system",
        }
    }
}

/// Which interface the request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Protocol {
    /// REST/JSON over HTTPS.
    Rest,
    /// KMIP.
    Kmip,
    /// The AWS-KMS-compatible API.
    Aws,
    /// The server itself.
    Internal,
}

impl Protocol {
    /// The name in an audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::Kmip => "kmip",
            Self::Aws => "aws",
            Self::Internal => "internal",
        }
    }
}

/// The result of the audited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// Performed.
    Ok,
    /// Refused by authentication or authorization.
    Denied,
    /// Failed.
    Error,
}

impl Outcome {
    /// The name in an audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

/// One audit event. Field order is the canonical order of the hash input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Record format version (part of the hash input).
    pub v: u32,
    /// 1, 2, … without gaps.
    pub seq: u64,
    /// When it happened.
    pub time: Timestamp,
    /// The principal's tenant, if known.
    pub tenant: Option<TenantId>,
    /// The tenant acted on, when it is not the principal's own: an installation administrator's
    /// change to another tenant (creating or disabling it, issuing its first administrator's
    /// token, adding or removing its trust anchors). The event is then in that tenant's audit view as well
    /// as in the installation's. Absent otherwise, so events written before the field existed
    /// hash as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tenant: Option<TenantId>,
    /// Who.
    pub principal: PrincipalName,
    /// How they authenticated.
    pub auth_method: AuthMethod,
    /// Through which interface.
    pub protocol: Protocol,
    /// What (operation name, e.g. `encrypt`, `key.create`).
    pub action: String,
    /// The key acted on (id, or the reference the client gave when it did not resolve).
    pub key: Option<String>,
    /// The key version used.
    pub key_version: Option<u32>,
    /// Performed, denied or failed.
    pub outcome: Outcome,
    /// The error code when not performed.
    pub error_code: Option<ErrorCode>,
    /// Set when a compromised key was used to process data.
    pub compromised_key_used: bool,
    /// Extra non-secret detail (e.g. a state transition `active -> suspended`).
    pub detail: Option<String>,
    /// Request id.
    pub request_id: String,
    /// The client's address.
    pub peer: Option<String>,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// Hash of this event (see the module docs).
    pub hash: String,
}

impl AuditEvent {
    /// Whether the event is in `tenant`'s audit view: its principal is of that tenant, or it
    /// acted on that tenant (see [`AuditEvent::target_tenant`]).
    pub fn concerns(&self, tenant: &TenantId) -> bool {
        self.tenant.as_ref() == Some(tenant) || self.target_tenant.as_ref() == Some(tenant)
    }
}

/// The parts of an event that the caller provides; `seq`, `prev_hash` and `hash` are filled in
/// when it joins the chain.
#[derive(Debug, Clone)]
pub struct EventDraft {
    /// See [`AuditEvent::time`].
    pub time: Timestamp,
    /// See [`AuditEvent::tenant`].
    pub tenant: Option<TenantId>,
    /// See [`AuditEvent::target_tenant`].
    pub target_tenant: Option<TenantId>,
    /// See [`AuditEvent::principal`].
    pub principal: PrincipalName,
    /// See [`AuditEvent::auth_method`].
    pub auth_method: AuthMethod,
    /// See [`AuditEvent::protocol`].
    pub protocol: Protocol,
    /// See [`AuditEvent::action`].
    pub action: String,
    /// See [`AuditEvent::key`].
    pub key: Option<String>,
    /// See [`AuditEvent::key_version`].
    pub key_version: Option<u32>,
    /// See [`AuditEvent::outcome`].
    pub outcome: Outcome,
    /// See [`AuditEvent::error_code`].
    pub error_code: Option<ErrorCode>,
    /// See [`AuditEvent::compromised_key_used`].
    pub compromised_key_used: bool,
    /// See [`AuditEvent::detail`].
    pub detail: Option<String>,
    /// See [`AuditEvent::request_id`].
    pub request_id: RequestId,
    /// See [`AuditEvent::peer`].
    pub peer: Option<String>,
}

impl EventDraft {
    /// Links the draft into the chain after `(prev_seq, prev_hash)`.
    pub fn seal(self, prev_seq: u64, prev_hash: &str) -> AuditEvent {
        let mut e = self.unsealed(prev_seq, prev_hash);
        e.hash = event_hash(&e);
        e
    }

    /// The draft serialized for sealing (see [`PreparedEvent`]), done by the request that
    /// makes the event rather than by the store's one writer.
    ///
    /// The fields of [`AuditEvent`] from `time` to `peer`, in its order and written as serde
    /// writes them (a test checks that the sealed record is the event's stored form). Written
    /// by hand: it is on every request's path, and serde's field-by-field output cost more
    /// than the rest of the event's handling.
    pub fn prepare(&self) -> PreparedEvent {
        let mut w = Vec::with_capacity(320);
        w.extend_from_slice(b"\"time\":");
        json_str(&mut w, &self.time.to_rfc3339());
        w.extend_from_slice(b",\"tenant\":");
        json_opt_str(&mut w, self.tenant.as_ref().map(TenantId::as_str));
        if let Some(target) = &self.target_tenant {
            w.extend_from_slice(b",\"target_tenant\":");
            json_str(&mut w, target.as_str());
        }
        w.extend_from_slice(b",\"principal\":");
        json_str(&mut w, self.principal.as_str());
        w.extend_from_slice(b",\"auth_method\":");
        json_str(&mut w, self.auth_method.as_str());
        w.extend_from_slice(b",\"protocol\":");
        json_str(&mut w, self.protocol.as_str());
        w.extend_from_slice(b",\"action\":");
        json_str(&mut w, &self.action);
        w.extend_from_slice(b",\"key\":");
        json_opt_str(&mut w, self.key.as_deref());
        w.extend_from_slice(b",\"key_version\":");
        match self.key_version {
            // Writing to a Vec cannot fail.
            Some(v) => {
                let _ = std::io::Write::write_fmt(&mut w, format_args!("{v}"));
            }
            None => w.extend_from_slice(b"null"),
        }
        w.extend_from_slice(b",\"outcome\":");
        json_str(&mut w, self.outcome.as_str());
        w.extend_from_slice(b",\"error_code\":");
        json_opt_str(&mut w, self.error_code.map(ErrorCode::as_str));
        w.extend_from_slice(if self.compromised_key_used {
            b",\"compromised_key_used\":true"
        } else {
            b",\"compromised_key_used\":false"
        });
        w.extend_from_slice(b",\"detail\":");
        json_opt_str(&mut w, self.detail.as_deref());
        w.extend_from_slice(b",\"request_id\":");
        json_str(&mut w, &self.request_id.0);
        w.extend_from_slice(b",\"peer\":");
        json_opt_str(&mut w, self.peer.as_deref());
        PreparedEvent { fields: w }
    }

    fn unsealed(self, prev_seq: u64, prev_hash: &str) -> AuditEvent {
        AuditEvent {
            v: crate::model::RECORD_VERSION,
            seq: prev_seq + 1,
            time: self.time,
            tenant: self.tenant,
            target_tenant: self.target_tenant,
            principal: self.principal,
            auth_method: self.auth_method,
            protocol: self.protocol,
            action: self.action,
            key: self.key,
            key_version: self.key_version,
            outcome: self.outcome,
            error_code: self.error_code,
            compromised_key_used: self.compromised_key_used,
            detail: self.detail,
            request_id: self.request_id.0,
            peer: self.peer,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        }
    }
}

/// An event draft serialized for sealing: the JSON of every field but its place in the chain.
/// Sealing it, which the store does in commit order, frames these bytes with the sequence
/// number and the predecessor's hash and hashes the result: cheap work for the one writer.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedEvent {
    /// `"time":…,…,"peer":…` (no braces).
    fields: Vec<u8>,
}

impl std::fmt::Debug for PreparedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Audit events hold no secrets.
        f.debug_tuple("PreparedEvent")
            .field(&String::from_utf8_lossy(&self.fields))
            .finish()
    }
}

impl PreparedEvent {
    /// The event linked into the chain after `(prev_seq, prev_hash)`, as its stored JSON
    /// record: the bytes of [`crate::store::encode_record`] of [`EventDraft::seal`]'s event,
    /// whose hash input is this record with an empty `hash` (the last field).
    pub fn seal(&self, prev_seq: u64, prev_hash: &str) -> SealedRecord {
        use std::io::Write as _;
        let seq = prev_seq + 1;
        let mut doc = Vec::with_capacity(prev_hash.len() * 2 + self.fields.len() + 96);
        doc.extend_from_slice(prev_hash.as_bytes());
        let start = doc.len();
        // Writing to a Vec and serializing a string cannot fail.
        let _ = write!(
            doc,
            "{{\"v\":{},\"seq\":{seq},",
            crate::model::RECORD_VERSION
        );
        doc.extend_from_slice(&self.fields);
        doc.extend_from_slice(b",\"prev_hash\":");
        let _ = serde_json::to_writer(&mut doc, prev_hash);
        doc.extend_from_slice(b",\"hash\":\"\"}");
        let hash = keyhold_crypto::to_hex(&keyhold_crypto::Provider::aws_lc().sha256(&doc));
        doc.drain(..start);
        doc.truncate(doc.len() - 2);
        doc.extend_from_slice(hash.as_bytes());
        doc.extend_from_slice(b"\"}");
        SealedRecord { seq, hash, doc }
    }
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it: control characters, `"`
/// and `\` (the common case, with none of them, is copied as it is).
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Appends `s` as a JSON string, or `null`.
fn json_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A sealed event in its stored form (see [`PreparedEvent::seal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash, which the next event links to.
    pub hash: String,
    /// Its JSON record.
    pub doc: Vec<u8>,
}

/// The hash of `e` as the chain defines it (its own `hash` field excluded): SHA-256 of the
/// previous hash followed by the event's JSON with an empty `hash`.
pub fn event_hash(e: &AuditEvent) -> String {
    // A sealed event is hashed without its hash; one being sealed has none yet (no copy).
    let body = if e.hash.is_empty() {
        std::borrow::Cow::Borrowed(e)
    } else {
        let mut body = e.clone();
        body.hash = String::new();
        std::borrow::Cow::Owned(body)
    };
    let mut input = Vec::with_capacity(512);
    input.extend_from_slice(e.prev_hash.as_bytes());
    // Serializing this plain struct to JSON cannot fail.
    let _ = serde_json::to_writer(&mut input, body.as_ref());
    keyhold_crypto::to_hex(&keyhold_crypto::Provider::aws_lc().sha256(&input))
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum ChainBreak {
    /// An event's content does not match its hash: it was changed.
    #[error("event {seq} was modified (its hash does not match its content)")]
    Modified {
        /// The event.
        seq: u64,
    },
    /// An event does not link to its predecessor: events were removed, inserted or reordered.
    #[error("event {seq} does not follow event {expected_prev}: events were removed or reordered")]
    Unlinked {
        /// The event.
        seq: u64,
        /// The sequence number it should follow.
        expected_prev: u64,
    },
    /// A checkpoint event's attestation does not verify under the installation's checkpoint
    /// key: it was forged or altered.
    #[error("checkpoint event {seq} does not verify: it was forged or altered")]
    ForgedCheckpoint {
        /// The checkpoint event.
        seq: u64,
    },
    /// A checkpoint attests a hash the chain no longer has at that position: the events up to
    /// it were rewritten (every later hash recomputed).
    #[error("checkpoint event {seq} attests another hash for event {covers}: the chain up to it was rewritten")]
    CheckpointMismatch {
        /// The checkpoint event.
        seq: u64,
        /// The event it attests.
        covers: u64,
    },
    /// The chain no longer holds the last checkpoint this server made: events were removed
    /// from its end.
    #[error("the chain lacks the checkpoint of event {covers} this server made: events were removed from its end (the chain now ends at event {head})")]
    Truncated {
        /// The chain's last event.
        head: u64,
        /// The event the missing checkpoint attests.
        covers: u64,
    },
}

/// Incremental verifier, fed events in order (so the whole trail never has to be in memory).
#[derive(Debug)]
pub struct ChainVerifier {
    last_seq: u64,
    last_hash: String,
    /// Events checked so far.
    pub count: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            count: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next event.
    pub fn feed(&mut self, e: &AuditEvent) -> Result<(), ChainBreak> {
        if e.seq != self.last_seq + 1 || e.prev_hash != self.last_hash {
            return Err(ChainBreak::Unlinked {
                seq: e.seq,
                expected_prev: self.last_seq,
            });
        }
        if event_hash(e) != e.hash {
            return Err(ChainBreak::Modified { seq: e.seq });
        }
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
        self.count += 1;
        Ok(())
    }

    /// The last verified event's sequence number and hash.
    pub fn head(&self) -> (u64, &str) {
        (self.last_seq, &self.last_hash)
    }
}

/// Verifies a whole chain held in memory.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::default();
    for e in events {
        v.feed(e)?;
    }
    Ok(v.count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A system event's draft with `action`.
    pub(crate) fn draft(action: &str) -> EventDraft {
        EventDraft {
            time: Timestamp::from_millis(1),
            tenant: None,
            target_tenant: None,
            principal: PrincipalName::system(),
            auth_method: AuthMethod::System,
            protocol: Protocol::Internal,
            action: action.into(),
            key: None,
            key_version: None,
            outcome: Outcome::Ok,
            error_code: None,
            compromised_key_used: false,
            detail: None,
            request_id: RequestId("r".into()),
            peer: None,
        }
    }

    fn chain(n: usize) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out
                .last()
                .map_or((0, GENESIS_HASH.to_owned()), |e| (e.seq, e.hash.clone()));
            out.push(draft(&format!("a{i}")).seal(seq, &hash));
        }
        out
    }

    #[test]
    fn an_event_without_a_target_tenant_hashes_as_before_the_field_existed() {
        let event = draft("tenant.create").seal(0, GENESIS_HASH);
        let json = serde_json::to_string(&event).expect("json");
        assert!(!json.contains("target_tenant"), "{json}");
        // A record written before the field existed decodes, and its hash still verifies.
        let decoded: AuditEvent = serde_json::from_str(&json).expect("decode");
        assert_eq!(decoded.target_tenant, None);
        assert_eq!(event_hash(&decoded), event.hash);
        let mut v = ChainVerifier::default();
        v.feed(&decoded).expect("verifies");
    }

    #[test]
    fn an_event_is_in_the_view_of_its_principals_tenant_and_of_the_tenant_it_acted_on() {
        let acme = TenantId::try_from("acme".to_owned()).expect("tenant");
        let beta = TenantId::try_from("beta".to_owned()).expect("tenant");
        let mut d = draft("tenant.update");
        d.tenant = Some(TenantId::default_tenant());
        let own = d.clone().seal(0, GENESIS_HASH);
        assert!(own.concerns(&TenantId::default_tenant()));
        assert!(!own.concerns(&acme));
        d.target_tenant = Some(acme.clone());
        let on_acme = d.seal(0, GENESIS_HASH);
        assert!(on_acme.concerns(&TenantId::default_tenant()));
        assert!(on_acme.concerns(&acme));
        assert!(!on_acme.concerns(&beta));
        assert!(!draft("system.seal").seal(0, GENESIS_HASH).concerns(&acme));
    }

    #[test]
    fn a_sealed_record_is_the_stored_form_of_the_sealed_event() {
        let plain = draft("key.create");
        let mut full = draft("encrypt");
        full.detail = Some("with \"quotes\", a \\, a \u{7} and \u{e9}".into());
        full.tenant = Some(TenantId::try_from("acme".to_owned()).expect("tenant"));
        full.target_tenant = Some(TenantId::try_from("beta".to_owned()).expect("tenant"));
        full.auth_method = AuthMethod::Certificate;
        full.protocol = Protocol::Kmip;
        full.key = Some("01a20d42-0f77-74b7-976e-a835e1a8a4fe".into());
        full.key_version = Some(7);
        full.outcome = Outcome::Denied;
        full.error_code = Some(ErrorCode::PermissionDenied);
        full.compromised_key_used = true;
        full.peer = Some("[::1]:5696".into());
        let prev = chain(2);
        let head = prev.last().expect("event");
        for d in [plain, full] {
            let event = d.clone().seal(head.seq, &head.hash);
            let record = d.prepare().seal(head.seq, &head.hash);
            assert_eq!(record.seq, 3);
            assert_eq!(record.hash, event.hash);
            assert_eq!(
                String::from_utf8(record.doc.clone()).expect("utf-8"),
                String::from_utf8(crate::store::encode_record(&event)).expect("utf-8")
            );
            let decoded: AuditEvent = serde_json::from_slice(&record.doc).expect("json");
            assert_eq!(decoded, event);
            assert_eq!(verify_chain(&[prev.clone(), vec![decoded]].concat()), Ok(3));
        }
    }

    #[test]
    fn every_name_and_escape_is_prepared_as_serde_writes_it() {
        // Each kind of character that needs escaping alone in its string, and then all
        // together, beside characters that do not (DEL, non-ASCII).
        let odd = [
            "a \"quote\"",
            "a \\ backslash",
            "a \u{0} and a \u{1f}",
            "a new line \n and a tab \t",
            "\u{7f}, \u{e9} and \u{1f511}",
            "all: \", \\, \u{1}\n, \u{7f} and \u{e9}",
        ];
        let mut drafts = Vec::new();
        for auth_method in [
            AuthMethod::Token,
            AuthMethod::Certificate,
            AuthMethod::None,
            AuthMethod::System,
        ] {
            for protocol in [
                Protocol::Rest,
                Protocol::Kmip,
                Protocol::Aws,
                Protocol::Internal,
            ] {
                for outcome in [Outcome::Ok, Outcome::Denied, Outcome::Error] {
                    let mut d = draft("encrypt");
                    d.auth_method = auth_method;
                    d.protocol = protocol;
                    d.outcome = outcome;
                    drafts.push(d);
                }
            }
        }
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            let odd = |k: usize| odd[(i + k) % odd.len()].to_owned();
            let mut d = draft(&odd(0));
            d.error_code = Some(code);
            d.key = Some(odd(1));
            d.key_version = Some(if i % 2 == 0 { u32::MAX } else { 0 });
            d.detail = Some(odd(2));
            d.request_id = RequestId(odd(3));
            d.peer = Some(odd(4));
            d.time = Timestamp::from_millis(1_764_000_000_123 + i as i64);
            drafts.push(d);
        }
        for d in drafts {
            let event = d.clone().seal(0, GENESIS_HASH);
            let record = d.prepare().seal(0, GENESIS_HASH);
            assert_eq!(
                String::from_utf8(record.doc).expect("utf-8"),
                String::from_utf8(crate::store::encode_record(&event)).expect("utf-8")
            );
            assert_eq!(record.hash, event.hash);
        }
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
    }

    #[test]
    fn modified_event_is_detected() {
        let mut c = chain(5);
        c[2].action = "other".into();
        assert_eq!(verify_chain(&c), Err(ChainBreak::Modified { seq: 3 }));
    }

    #[test]
    fn removed_or_reordered_events_are_detected() {
        let mut c = chain(5);
        c.remove(1);
        assert!(matches!(
            verify_chain(&c),
            Err(ChainBreak::Unlinked { seq: 3, .. })
        ));
        let mut c = chain(5);
        c.swap(1, 2);
        assert!(matches!(verify_chain(&c), Err(ChainBreak::Unlinked { .. })));
    }
}
