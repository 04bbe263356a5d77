//! `keyhold audit verify-file`: an exported trail verified offline, without the server. The hash
//! chain proves nothing was changed, removed or reordered in the file; with the checkpoint
//! key's public half (`keyhold audit checkpoint-key`, kept apart from the server), every
//! checkpoint's signature and attested hash are checked too, so a trail rewritten with
//! recomputed hashes is found.

use std::io::{BufRead, BufReader};
use std::path::Path;

use keyhold_core::audit::{AuditEvent, ChainBreak, ChainVerifier};
use keyhold_core::checkpoint::CheckpointVerifier;
use keyhold_core::ops::AuditVerifyResponse;
use keyhold_crypto::Provider;

use crate::error::CliError;

/// Verifies the JSON-lines export at `file` (it must start at event 1); checkpoints are checked
/// when `public_key_pem` is given.
pub fn verify(file: &Path, public_key_pem: Option<&Path>) -> Result<AuditVerifyResponse, CliError> {
    let public = match public_key_pem {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
            let spki = Provider::aws_lc()
                .public_key_from_pem(&pem)
                .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
            Some(spki)
        }
        None => None,
    };
    let check_checkpoints = public.is_some();
    let reader = BufReader::new(std::fs::File::open(file).map_err(|e| CliError::file(file, e))?);
    let mut chain = ChainVerifier::default();
    let mut checkpoints = CheckpointVerifier::new(public);
    // Every hash, for checkpoints that attest an event beyond the verifier's window.
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    let mut problem = None;
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| CliError::file(file, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: AuditEvent = serde_json::from_str(&line).map_err(|e| {
            CliError::Input(format!(
                "{} line {}: not an audit event: {e}",
                file.display(),
                n + 1
            ))
        })?;
        if let Err(p) = feed(
            &mut chain,
            &mut checkpoints,
            check_checkpoints,
            &hashes,
            &event,
        ) {
            problem = Some(p);
            break;
        }
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&event.hash, &mut hash).map_err(|_| {
            CliError::Input(format!(
                "{} line {}: the hash is not hex",
                file.display(),
                n + 1
            ))
        })?;
        hashes.push(hash);
    }
    let (head_seq, head_hash) = chain.head();
    Ok(AuditVerifyResponse {
        ok: problem.is_none(),
        events: chain.count,
        head_seq,
        head_hash: head_hash.to_owned(),
        problem,
        checkpoints: checkpoints.checkpoints,
        last_checkpoint: checkpoints.last,
        unanchored: head_seq - checkpoints.last_at.unwrap_or(0),
    })
}

fn feed(
    chain: &mut ChainVerifier,
    checkpoints: &mut CheckpointVerifier,
    check_checkpoints: bool,
    hashes: &[[u8; 32]],
    event: &AuditEvent,
) -> Result<(), ChainBreak> {
    chain.feed(event)?;
    if !check_checkpoints {
        return Ok(());
    }
    if let Some(lookup) = checkpoints.feed(event)? {
        // Events are numbered from 1 without gaps (the chain verifier saw to it).
        let attested = usize::try_from(lookup.checkpoint.seq)
            .ok()
            .and_then(|seq| hashes.get(seq.checked_sub(1)?))
            .map(hex::encode);
        checkpoints.confirm(lookup.at, &lookup.checkpoint, attested.as_deref())?;
    }
    Ok(())
}
