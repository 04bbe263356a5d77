//! The operations the harness knows, and a weighted mix of them (`encrypt-64:2,sign-p256:1`).

use std::fmt;
use std::str::FromStr;

use keyhold_core::Algorithm;
use serde::{Deserialize, Serialize};

/// One benchmarked request type: an API call with a fixed payload size and key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    /// `POST /v1/keys/{aes-256}/encrypt` of 64 bytes.
    #[serde(rename = "encrypt-64")]
    Encrypt64,
    /// Encrypt of 1 KiB.
    #[serde(rename = "encrypt-1k")]
    Encrypt1k,
    /// Encrypt of 16 KiB.
    #[serde(rename = "encrypt-16k")]
    Encrypt16k,
    /// `POST /v1/decrypt` of a ciphertext of 64 bytes.
    #[serde(rename = "decrypt-64")]
    Decrypt64,
    /// Decrypt of 1 KiB.
    #[serde(rename = "decrypt-1k")]
    Decrypt1k,
    /// Decrypt of 16 KiB.
    #[serde(rename = "decrypt-16k")]
    Decrypt16k,
    /// `POST /v1/keys/{aes-256}/datakey` (32-byte data key).
    #[serde(rename = "datakey")]
    DataKey,
    /// `POST /v1/keys/{ec-p256}/sign` of a 64-byte message.
    #[serde(rename = "sign-p256")]
    SignP256,
    /// Sign with Ed25519.
    #[serde(rename = "sign-ed25519")]
    SignEd25519,
    /// Sign with RSA-2048 (PSS, the key's default).
    #[serde(rename = "sign-rsa2048")]
    SignRsa2048,
    /// `POST /v1/keys/{ec-p256}/verify` of a valid signature.
    #[serde(rename = "verify-p256")]
    VerifyP256,
    /// Verify with Ed25519.
    #[serde(rename = "verify-ed25519")]
    VerifyEd25519,
    /// Verify with RSA-2048.
    #[serde(rename = "verify-rsa2048")]
    VerifyRsa2048,
    /// `POST /v1/keys/{hmac-sha256}/mac` of a 64-byte message.
    #[serde(rename = "mac")]
    Mac,
    /// `POST /v1/keys` of a new AES-256 key (a durable write).
    #[serde(rename = "create-key")]
    CreateKey,
    /// `GET /v1/keys/{aes-256}` (a read of metadata).
    #[serde(rename = "describe-key")]
    DescribeKey,
}

impl Op {
    /// Every operation, in table order.
    pub const ALL: [Op; 16] = [
        Op::Encrypt64,
        Op::Encrypt1k,
        Op::Encrypt16k,
        Op::Decrypt64,
        Op::Decrypt1k,
        Op::Decrypt16k,
        Op::DataKey,
        Op::SignP256,
        Op::SignEd25519,
        Op::SignRsa2048,
        Op::VerifyP256,
        Op::VerifyEd25519,
        Op::VerifyRsa2048,
        Op::Mac,
        Op::CreateKey,
        Op::DescribeKey,
    ];

    /// The name used in `--mix`, tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Op::Encrypt64 => "encrypt-64",
            Op::Encrypt1k => "encrypt-1k",
            Op::Encrypt16k => "encrypt-16k",
            Op::Decrypt64 => "decrypt-64",
            Op::Decrypt1k => "decrypt-1k",
            Op::Decrypt16k => "decrypt-16k",
            Op::DataKey => "datakey",
            Op::SignP256 => "sign-p256",
            Op::SignEd25519 => "sign-ed25519",
            Op::SignRsa2048 => "sign-rsa2048",
            Op::VerifyP256 => "verify-p256",
            Op::VerifyEd25519 => "verify-ed25519",
            Op::VerifyRsa2048 => "verify-rsa2048",
            Op::Mac => "mac",
            Op::CreateKey => "create-key",
            Op::DescribeKey => "describe-key",
        }
    }

    /// The algorithm of the long-lived key the operation uses (set up before the run).
    pub fn key_algorithm(self) -> Algorithm {
        match self {
            Op::Encrypt64
            | Op::Encrypt1k
            | Op::Encrypt16k
            | Op::Decrypt64
            | Op::Decrypt1k
            | Op::Decrypt16k
            | Op::DataKey
            | Op::CreateKey
            | Op::DescribeKey => Algorithm::Aes256,
            Op::SignP256 | Op::VerifyP256 => Algorithm::EcP256,
            Op::SignEd25519 | Op::VerifyEd25519 => Algorithm::Ed25519,
            Op::SignRsa2048 | Op::VerifyRsa2048 => Algorithm::Rsa2048,
            Op::Mac => Algorithm::HmacSha256,
        }
    }

    /// Plaintext size of encrypt and decrypt operations.
    pub fn payload_len(self) -> Option<usize> {
        match self {
            Op::Encrypt64 | Op::Decrypt64 => Some(64),
            Op::Encrypt1k | Op::Decrypt1k => Some(1024),
            Op::Encrypt16k | Op::Decrypt16k => Some(16 * 1024),
            _ => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An operation name not in [`Op::ALL`], or a malformed mix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MixError(String);

impl FromStr for Op {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Op::ALL.iter().map(|o| o.name()).collect();
                MixError(format!(
                    "unknown operation '{s}'; known: {}",
                    names.join(", ")
                ))
            })
    }
}

/// The largest weight of one operation in a mix.
const MAX_WEIGHT: u32 = 1000;

/// Operations with relative weights, each operation at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    entries: Vec<(Op, u32)>,
}

impl Mix {
    /// Every operation, weight 1.
    pub fn all() -> Self {
        Self {
            entries: Op::ALL.iter().map(|&op| (op, 1)).collect(),
        }
    }

    /// The operations, in the order given.
    pub fn ops(&self) -> Vec<Op> {
        self.entries.iter().map(|(op, _)| *op).collect()
    }

    /// The operations with their weights.
    pub fn entries(&self) -> &[(Op, u32)] {
        &self.entries
    }

    /// A cyclic schedule in which each operation appears as often as its weight, spread
    /// evenly (smooth weighted round robin), so that any window of the cycle has about the
    /// mix's proportions.
    pub fn schedule(&self) -> Vec<Op> {
        let total: i64 = self.entries.iter().map(|(_, w)| i64::from(*w)).sum();
        let mut current: Vec<i64> = vec![0; self.entries.len()];
        let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for _ in 0..total {
            let mut best = 0;
            for (i, (_, w)) in self.entries.iter().enumerate() {
                current[i] += i64::from(*w);
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            out.push(self.entries[best].0);
        }
        out
    }
}

impl Mix {
    /// The mix as the protocol can run it: over KMIP, `all` leaves out `datakey` (KMIP has no
    /// such operation) and an explicit `datakey` is refused.
    pub fn for_protocol(self, protocol: crate::target::Protocol) -> Result<Mix, MixError> {
        if protocol != crate::target::Protocol::Kmip {
            return Ok(self);
        }
        if self == Mix::all() {
            return Ok(Mix {
                entries: self
                    .entries
                    .into_iter()
                    .filter(|(op, _)| crate::setup::kmip::supported(*op))
                    .collect(),
            });
        }
        match self
            .entries
            .iter()
            .find(|(op, _)| !crate::setup::kmip::supported(*op))
        {
            Some((op, _)) => Err(MixError(format!("{op} has no KMIP equivalent"))),
            None => Ok(self),
        }
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self::all()
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(op, w)| format!("{op}:{w}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Mix {
    type Err = MixError;

    /// `all`, or a comma-separated list of `op` or `op:weight` (weight 1 to 1000).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "all" {
            return Ok(Self::all());
        }
        let mut entries: Vec<(Op, u32)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.split_once(':') {
                Some((n, w)) => {
                    let w: u32 = w
                        .trim()
                        .parse()
                        .map_err(|_| MixError(format!("weight of '{n}' must be a whole number")))?;
                    (n.trim(), w)
                }
                None => (part, 1),
            };
            let op: Op = name.parse()?;
            if !(1..=MAX_WEIGHT).contains(&weight) {
                return Err(MixError(format!(
                    "weight of '{op}' must be between 1 and {MAX_WEIGHT}"
                )));
            }
            if entries.iter().any(|(o, _)| *o == op) {
                return Err(MixError(format!("'{op}' appears twice in the mix")));
            }
            entries.push((op, weight));
        }
        if entries.is_empty() {
            return Err(MixError("the mix names no operation".into()));
        }
        Ok(Self { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back() {
        for op in Op::ALL {
            assert_eq!(op.name().parse::<Op>().unwrap(), op);
            assert_eq!(
                serde_json::to_string(&op).unwrap(),
                format!("\"{}\"", op.name())
            );
        }
    }

    #[test]
    fn mix_parses_weights_and_defaults_to_one() {
        let mix: Mix = "encrypt-64:3, sign-p256".parse().unwrap();
        assert_eq!(mix.entries(), &[(Op::Encrypt64, 3), (Op::SignP256, 1)]);
        assert_eq!(mix.to_string(), "encrypt-64:3,sign-p256:1");
        assert_eq!("all".parse::<Mix>().unwrap(), Mix::all());
    }

    #[test]
    fn mix_refuses_unknown_duplicate_and_zero() {
        assert!("encrypt-65".parse::<Mix>().is_err());
        assert!("mac,mac".parse::<Mix>().is_err());
        assert!("mac:0".parse::<Mix>().is_err());
        assert!("".parse::<Mix>().is_err());
    }

    #[test]
    fn schedule_has_the_weights_spread_out() {
        let mix: Mix = "encrypt-64:2,mac:1,datakey:1".parse().unwrap();
        let s = mix.schedule();
        assert_eq!(s.len(), 4);
        assert_eq!(s.iter().filter(|o| **o == Op::Encrypt64).count(), 2);
        // The heavy operation is not run twice in a row.
        assert_ne!(s[0], s[1]);
    }
}
