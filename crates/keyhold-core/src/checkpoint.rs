//! Signed checkpoints of the audit chain.
//!
//! The hash chain shows that events were changed, removed or reordered, but not that someone
//! with write access to the database rewrote its tail consistently (recomputing every hash
//! after the change) or cut it short. A checkpoint closes that: an `audit.checkpoint` event
//! whose detail attests the chain's head when it was made,
//!
//! ```text
//!  head <seq> <hash> sig <Ed25519 signature of "keyhold/audit-checkpoint/v1\n<seq>\n<hash>">
//! ```
//!
//! under the installation's checkpoint key: an Ed25519 key pair whose private half is sealed by
//! the root key (a system value, rewrapped by a root-key rotation, never in a backup), so only a
//! server holding the root key can make one. Anyone with the public key checks one, offline too
//! (`keyhold audit verify-file`). Verification ([`CheckpointVerifier`]) checks each signature and
//! that the chain still holds the attested hash at the attested position: a rewrite of any event
//! before a checkpoint is found even when every hash after it was recomputed. The server takes
//! the public key from the private one, never from the stored copy, which whoever writes the
//! database could replace.
//!
//! The server writes one periodically when the chain moved (and at start-up), and an auditor
//! can ask for one (`POST /v1/audit/checkpoint`). Events after the last checkpoint are protected
//! by the hash chain only; verification reports how many there are. A server also remembers
//! the last checkpoint it made, so that a tail cut off while it runs is found, and logs each
//! checkpoint, so that the log is a witness outside the database.

use std::collections::VecDeque;

use keyhold_crypto::{Algorithm, MessageType, Provider, SecretBytes, SigningAlgorithm};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, ChainBreak, Outcome};
use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::kms::{Kms, RootSealedValue};
use crate::model::RECORD_VERSION;
use crate::store::Write;

/// The action of a checkpoint event.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";

/// The system value holding the sealed checkpoint key.
pub const CHECKPOINT_KEY_NAME: &str = "audit-checkpoint-key";

/// The AAD of the checkpoint key under the root key.
pub const CHECKPOINT_KEY_AAD: &[u8] = b"keyhold/audit-checkpoint-key/v1";

/// Domain separation of the signed message.
const CONTEXT: &str = "keyhold/audit-checkpoint/v1";

/// Recent events whose hash a checkpoint can be checked against without reading the store (a
/// checkpoint attests the head it read just before its own event joined the chain).
const WINDOW: usize = 4096;

/// What a checkpoint event attests: the chain's head, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sequence number of the head.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Ed25519 signature of the head under the checkpoint key, hex.
    pub sig: String,
}

impl Checkpoint {
    /// Attests `(seq, hash)` with the checkpoint key's private half (PKCS#8).
    pub fn sign(private_pkcs8: &[u8], seq: u64, hash: &str) -> Result<Self, KmsError> {
        let sig = Provider::aws_lc().sign(
            Algorithm::Ed25519,
            private_pkcs8,
            SigningAlgorithm::Ed25519,
            MessageType::Raw,
            &message(seq, hash),
        )?;
        Ok(Self {
            seq,
            hash: hash.to_owned(),
            sig: hex::encode(sig),
        })
    }

    /// Whether the signature is the checkpoint key's over the attested head; `public_spki` is
    /// the public half (DER SubjectPublicKeyInfo).
    pub fn verify(&self, public_spki: &[u8]) -> bool {
        let Ok(sig) = hex::decode(&self.sig) else {
            return false;
        };
        Provider::aws_lc()
            .verify(
                Algorithm::Ed25519,
                public_spki,
                SigningAlgorithm::Ed25519,
                MessageType::Raw,
                &message(self.seq, &self.hash),
                &sig,
            )
            .unwrap_or(false)
    }

    /// The event detail that carries it.
    pub fn detail(&self) -> String {
        format!("head {} {} sig {}", self.seq, self.hash, self.sig)
    }

    /// Reads [`Checkpoint::detail`] back; `None` unless it has exactly that form.
    pub fn parse(detail: &str) -> Option<Self> {
        let parts: Vec<&str> = detail.split(' ').collect();
        let &["head", seq, hash, "sig", sig] = parts.as_slice() else {
            return None;
        };
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(hash, 64) || !hex(sig, 128) || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            seq: seq.parse().ok()?,
            hash: hash.to_owned(),
            sig: sig.to_owned(),
        })
    }
}

fn message(seq: u64, hash: &str) -> Vec<u8> {
    format!("{CONTEXT}\n{seq}\n{hash}").into_bytes()
}

/// Whether `e` is a checkpoint: a performed `audit.checkpoint` (a refused request for one
/// attests nothing).
pub fn is_checkpoint(e: &AuditEvent) -> bool {
    e.action == CHECKPOINT_ACTION && e.outcome == Outcome::Ok
}

/// Checks the checkpoints of a chain fed in order, each event after
/// [`crate::audit::ChainVerifier`] accepted it.
#[derive(Debug)]
pub struct CheckpointVerifier {
    public: Option<Vec<u8>>,
    recent: VecDeque<(u64, String)>,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// The head the last verified checkpoint attests.
    pub last: Option<u64>,
    /// The last verified checkpoint event.
    pub last_at: Option<u64>,
}

/// A checkpoint whose attested event is too far back for the verifier's window: the caller
/// reads that event and calls [`CheckpointVerifier::confirm`].
#[derive(Debug)]
pub struct Lookup {
    /// The checkpoint event.
    pub at: u64,
    /// What it attests.
    pub checkpoint: Checkpoint,
}

impl CheckpointVerifier {
    /// A verifier with the public half of the installation's checkpoint key (`None` when none
    /// was ever made, so that any checkpoint found is forged).
    pub fn new(public_spki: Option<Vec<u8>>) -> Self {
        Self {
            public: public_spki,
            recent: VecDeque::with_capacity(WINDOW),
            checkpoints: 0,
            last: None,
            last_at: None,
        }
    }

    /// Checks `e` if it is a checkpoint, then remembers its hash.
    pub fn feed(&mut self, e: &AuditEvent) -> Result<Option<Lookup>, ChainBreak> {
        let lookup = if is_checkpoint(e) {
            self.check(e)?
        } else {
            None
        };
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back((e.seq, e.hash.clone()));
        Ok(lookup)
    }

    fn check(&mut self, e: &AuditEvent) -> Result<Option<Lookup>, ChainBreak> {
        let forged = ChainBreak::ForgedCheckpoint { seq: e.seq };
        let checkpoint = e
            .detail
            .as_deref()
            .and_then(Checkpoint::parse)
            .ok_or_else(|| forged.clone())?;
        let public = self.public.as_deref().ok_or_else(|| forged.clone())?;
        if !checkpoint.verify(public) || checkpoint.seq == 0 || checkpoint.seq >= e.seq {
            return Err(forged);
        }
        // The window holds consecutive events, the last one just before `e`.
        let first = match self.recent.front() {
            Some(&(first, _)) if first <= checkpoint.seq => first,
            _ => {
                return Ok(Some(Lookup {
                    at: e.seq,
                    checkpoint,
                }))
            }
        };
        let index = usize::try_from(checkpoint.seq - first).unwrap_or(usize::MAX);
        let hash = self.recent.get(index).map(|(_, h)| h.clone());
        self.confirm(e.seq, &checkpoint, hash.as_deref())?;
        Ok(None)
    }

    /// Completes the check of the checkpoint at event `at`: `hash` is the attested event's hash
    /// as stored (`None` if there is no such event).
    pub fn confirm(
        &mut self,
        at: u64,
        checkpoint: &Checkpoint,
        hash: Option<&str>,
    ) -> Result<(), ChainBreak> {
        if hash != Some(checkpoint.hash.as_str()) {
            return Err(ChainBreak::CheckpointMismatch {
                seq: at,
                covers: checkpoint.seq,
            });
        }
        self.checkpoints += 1;
        self.last = Some(checkpoint.seq);
        self.last_at = Some(at);
        Ok(())
    }
}

/// A checkpoint of the chain's head as stored now, with the writes that store a new checkpoint
/// key if there was none (to commit with the checkpoint event).
pub(crate) async fn attest(
    kms: &Kms,
    now: Timestamp,
) -> Result<(Checkpoint, Vec<Write>), KmsError> {
    // The chain is never empty once initialized (its first event is `system.initialize`).
    let (seq, hash) = kms
        .store()
        .audit_head()
        .await?
        .ok_or(KmsError::Integrity("the audit trail is empty"))?;
    let (key, writes) = key(kms, now).await?;
    Ok((
        Checkpoint::sign(key.private.as_bytes(), seq, &hash)?,
        writes,
    ))
}

/// The checkpoint key as stored (a system value, JSON): the private half sealed by the root key,
/// the public half in the clear for whoever reads the database (the server never trusts it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedCheckpointKey {
    /// Record format version.
    pub v: u32,
    /// When it was made.
    pub created_at: Timestamp,
    /// The public half, DER SubjectPublicKeyInfo.
    #[serde(with = "crate::b64")]
    pub public: Vec<u8>,
    /// AES-GCM nonce under the root key.
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    /// The private half (PKCS#8), AES-256-GCM under the root key with [`CHECKPOINT_KEY_AAD`].
    #[serde(with = "crate::b64")]
    pub wrapped: Vec<u8>,
}

impl RootSealedValue for SealedCheckpointKey {
    const UNDECODABLE: &'static str = "the audit checkpoint key record does not decode";
    const UNENCODABLE: &'static str = "audit checkpoint key encoding";
    fn sealed(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>) {
        (&mut self.nonce, &mut self.wrapped)
    }
}

/// The checkpoint key, unsealed.
pub(crate) struct CheckpointKey {
    /// PKCS#8.
    pub private: SecretBytes,
    /// DER SubjectPublicKeyInfo, derived from the private half.
    pub public: Vec<u8>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// The installation's checkpoint key, if one was made. Its public half is derived from the
/// private one; a stored copy that differs means the database was tampered with.
pub(crate) async fn existing_key(kms: &Kms) -> Result<Option<CheckpointKey>, KmsError> {
    let Some(raw) = kms.store().system_value(CHECKPOINT_KEY_NAME).await? else {
        return Ok(None);
    };
    let sealed = SealedCheckpointKey::decode(&raw)?;
    let private = kms.root_open(CHECKPOINT_KEY_AAD, &sealed.nonce, &sealed.wrapped)?;
    let public = kms
        .crypto
        .import(Algorithm::Ed25519, private.as_bytes())?
        .public
        .ok_or(KmsError::Integrity(
            "the audit checkpoint key has no public half",
        ))?;
    if public != sealed.public {
        return Err(KmsError::Integrity(
            "the stored public audit checkpoint key is not the sealed key's",
        ));
    }
    Ok(Some(CheckpointKey {
        private,
        public,
        created_at: sealed.created_at,
    }))
}

/// The checkpoint key; a new one (with the writes that store it) if there is none yet.
async fn key(kms: &Kms, now: Timestamp) -> Result<(CheckpointKey, Vec<Write>), KmsError> {
    if let Some(key) = existing_key(kms).await? {
        return Ok((key, Vec::new()));
    }
    let pair = kms.crypto.generate(Algorithm::Ed25519)?;
    let public = pair.public.ok_or(KmsError::Integrity(
        "an Ed25519 key pair without a public half",
    ))?;
    let root_sealed = kms.root_seal(CHECKPOINT_KEY_AAD, pair.private.as_bytes())?;
    let sealed = SealedCheckpointKey {
        v: RECORD_VERSION,
        created_at: now,
        public: public.clone(),
        nonce: root_sealed.nonce.to_vec(),
        wrapped: root_sealed.wrapped,
    };
    let value = sealed.encode()?;
    // A concurrent first checkpoint stores its own key first: this batch then fails with
    // AlreadyExists, and the retry finds that key.
    Ok((
        CheckpointKey {
            private: pair.private,
            public,
            created_at: now,
        },
        vec![
            Write::InsertSystem {
                name: CHECKPOINT_KEY_NAME.into(),
                value,
            },
            root_sealed.guard,
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EventDraft, GENESIS_HASH};

    /// A checkpoint key pair: (private PKCS#8, public SPKI).
    fn pair() -> (Vec<u8>, Vec<u8>) {
        let k = Provider::aws_lc()
            .generate(Algorithm::Ed25519)
            .expect("key");
        (k.private.as_bytes().to_vec(), k.public.expect("public"))
    }

    fn draft(action: &str, detail: Option<String>) -> EventDraft {
        EventDraft {
            detail,
            ..crate::audit::tests::draft(action)
        }
    }

    fn push(out: &mut Vec<AuditEvent>, d: EventDraft) {
        let (seq, hash) = out
            .last()
            .map_or((0, GENESIS_HASH.to_owned()), |e| (e.seq, e.hash.clone()));
        out.push(d.seal(seq, &hash));
    }

    /// A chain of `n` events with a checkpoint of the head after each event in `at`.
    fn chain(n: usize, at: &[usize], private: &[u8]) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            push(&mut out, draft(&format!("a{i}"), None));
            if at.contains(&i) {
                let head = out.last().expect("event");
                let cp = Checkpoint::sign(private, head.seq, &head.hash).expect("signed");
                push(&mut out, draft(CHECKPOINT_ACTION, Some(cp.detail())));
            }
        }
        out
    }

    fn verify(
        events: &[AuditEvent],
        public: Option<&[u8]>,
    ) -> Result<CheckpointVerifier, ChainBreak> {
        crate::audit::verify_chain(events)?;
        let mut v = CheckpointVerifier::new(public.map(<[u8]>::to_vec));
        for e in events {
            if let Some(lookup) = v.feed(e)? {
                let stored = events.iter().find(|x| x.seq == lookup.checkpoint.seq);
                v.confirm(
                    lookup.at,
                    &lookup.checkpoint,
                    stored.map(|x| x.hash.as_str()),
                )?;
            }
        }
        Ok(v)
    }

    /// Rewrites the chain as an attacker with database access can: every hash recomputed,
    /// checkpoint details kept as they were.
    fn rehash(events: &mut [AuditEvent]) {
        let mut prev = GENESIS_HASH.to_owned();
        for e in events.iter_mut() {
            e.prev_hash = prev;
            e.hash = String::new();
            e.hash = crate::audit::event_hash(e);
            prev = e.hash.clone();
        }
    }

    #[test]
    fn the_detail_round_trips_and_anything_else_is_refused() {
        let (private, public) = pair();
        let cp = Checkpoint::sign(&private, 42, &"ab".repeat(32)).expect("signed");
        assert_eq!(Checkpoint::parse(&cp.detail()), Some(cp.clone()));
        assert!(cp.verify(&public));
        assert!(!cp.verify(&pair().1), "another key");
        let mut moved = cp.clone();
        moved.seq = 41;
        assert!(!moved.verify(&public), "the signature covers the position");
        for bad in [
            String::new(),
            format!("{} ", cp.detail()),
            cp.detail().replace("head", "tail"),
            cp.detail().replace("42", "-42"),
            format!("head 42 {} sig {}", "ab".repeat(31), cp.sig),
            format!("head 42 {} sig {}z", cp.hash, &cp.sig[1..]),
            format!("head 42 {} mac {}", cp.hash, cp.sig),
        ] {
            assert_eq!(Checkpoint::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn checkpoints_of_an_intact_chain_verify() {
        let (private, public) = pair();
        let events = chain(10, &[2, 6], &private);
        let v = verify(&events, Some(&public)).expect("intact");
        assert_eq!(v.checkpoints, 2);
        // a2 is event 3 and its checkpoint event 4; a6 is event 8 and its checkpoint event 9.
        assert_eq!((v.last, v.last_at), (Some(8), Some(9)));
    }

    #[test]
    fn a_rewrite_before_a_checkpoint_is_found_even_with_every_hash_recomputed() {
        let (private, public) = pair();
        let mut events = chain(10, &[2, 6], &private);
        events[5].action = "a-forged".into();
        rehash(&mut events);
        assert!(
            crate::audit::verify_chain(&events).is_ok(),
            "the chain alone is fooled"
        );
        assert_eq!(
            verify(&events, Some(&public)).err(),
            Some(ChainBreak::CheckpointMismatch { seq: 9, covers: 8 })
        );
    }

    #[test]
    fn a_checkpoint_made_with_another_key_or_altered_is_forged() {
        let (private, public) = pair();
        let events = chain(5, &[2], &pair().0);
        assert_eq!(
            verify(&events, Some(&public)).err(),
            Some(ChainBreak::ForgedCheckpoint { seq: 4 })
        );
        assert_eq!(
            verify(&chain(5, &[2], &private), None).err(),
            Some(ChainBreak::ForgedCheckpoint { seq: 4 }),
            "no key was ever made"
        );
        let mut events = chain(5, &[2], &private);
        let detail = events[3].detail.clone().expect("detail");
        events[3].detail = Some(detail.replacen("head 3", "head 2", 1));
        rehash(&mut events);
        assert_eq!(
            verify(&events, Some(&public)).err(),
            Some(ChainBreak::ForgedCheckpoint { seq: 4 })
        );
    }

    #[test]
    fn a_refused_checkpoint_request_attests_nothing() {
        let (private, public) = pair();
        let mut events = chain(3, &[], &private);
        let mut refused = draft(CHECKPOINT_ACTION, None);
        refused.outcome = Outcome::Denied;
        push(&mut events, refused);
        assert_eq!(verify(&events, Some(&public)).expect("ok").checkpoints, 0);
    }

    #[test]
    fn a_checkpoint_far_behind_its_head_is_looked_up() {
        let (private, public) = pair();
        let mut events = chain(WINDOW + 10, &[], &private);
        let attested = events[4].clone();
        let cp = Checkpoint::sign(&private, attested.seq, &attested.hash).expect("signed");
        push(&mut events, draft(CHECKPOINT_ACTION, Some(cp.detail())));
        let v = verify(&events, Some(&public)).expect("looked up");
        assert_eq!((v.checkpoints, v.last), (1, Some(5)));
        let mut v = CheckpointVerifier::new(Some(public));
        let mut lookups = Vec::new();
        for e in &events {
            lookups.extend(v.feed(e).expect("fed"));
        }
        let [lookup] = lookups.as_slice() else {
            panic!("one lookup: {lookups:?}");
        };
        assert_eq!(
            v.confirm(lookup.at, &lookup.checkpoint, Some(&"0".repeat(64))),
            Err(ChainBreak::CheckpointMismatch {
                seq: lookup.at,
                covers: 5
            })
        );
    }
}
