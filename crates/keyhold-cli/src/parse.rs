//! Value parsers for command-line arguments. Each turns text into a typed value once, at the
//! edge, with a message clap prints as a usage error (exit code 2).

use std::collections::BTreeMap;
use std::str::FromStr;

use keyhold_core::clock::{parse_duration_secs, Timestamp};
use keyhold_core::ids::PrincipalName;
use keyhold_core::lifecycle::{KeyState, RevocationReason};
use keyhold_core::model::{KeyOp, KeyUsage, Role};
use keyhold_core::KmsError;
use keyhold_crypto::{Algorithm, SigningAlgorithm};
use serde::de::DeserializeOwned;

/// The message of a core validation error, without the "invalid request:" prefix.
fn message(e: KmsError) -> String {
    match e {
        KmsError::InvalidRequest(m) => m,
        other => other.to_string(),
    }
}

/// `key=value`; the key must not be empty, the value may be.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

/// Collects repeated `key=value` pairs into a map; a key given twice is an error.
pub fn pairs_to_map(
    pairs: &[(String, String)],
    what: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v.clone()).is_some() {
            return Err(format!("{what} '{k}' is given twice"));
        }
    }
    Ok(map)
}

/// A duration such as `90d`, `12h`, `30m`, `45s`, `1y` or plain seconds.
pub fn duration_secs(s: &str) -> Result<u64, String> {
    let secs = parse_duration_secs(s).map_err(message)?;
    if secs == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(secs)
}

/// A rotation period, or `off` / `0` to turn automatic rotation off (sent as 0).
pub fn rotation_period(s: &str) -> Result<u64, String> {
    match s.trim() {
        "off" | "0" => Ok(0),
        other => duration_secs(other),
    }
}

/// An action an approval policy can govern, e.g. `key.destroy`.
pub fn approval_action(s: &str) -> Result<keyhold_core::policy::ApprovalAction, String> {
    s.parse().map_err(message)
}

/// An approval's status, e.g. `pending`.
pub fn approval_status(s: &str) -> Result<keyhold_core::policy::ApprovalStatus, String> {
    s.parse().map_err(message)
}

/// A compliance report, e.g. `usage`.
pub fn report_kind(s: &str) -> Result<keyhold_core::ops::ReportKind, String> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned()))
        .map_err(|_| format!("unknown report '{s}': keys, access, usage or approvals"))
}

/// An RFC 3339 instant, e.g. `2026-01-31T12:00:00Z`.
pub fn timestamp(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(s.trim()).map_err(message)
}

/// A key algorithm, e.g. `aes-256`.
pub fn algorithm(s: &str) -> Result<Algorithm, String> {
    Algorithm::from_str(s.trim()).map_err(|_| {
        let all: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        format!("unknown algorithm '{s}'; one of: {}", all.join(", "))
    })
}

/// A signing algorithm, e.g. `ecdsa-sha256`.
pub fn signing_algorithm(s: &str) -> Result<SigningAlgorithm, String> {
    SigningAlgorithm::from_str(s.trim()).map_err(|_| format!("unknown signing algorithm '{s}'"))
}

/// A value by its serde wire name (for enums that have no `FromStr`).
fn wire<T: DeserializeOwned>(s: &str, what: &str, choices: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned()))
        .map_err(|_| format!("unknown {what} '{s}'; one of: {choices}"))
}

/// A key usage.
pub fn usage(s: &str) -> Result<KeyUsage, String> {
    wire(s, "usage", "encrypt-decrypt, sign-verify, mac")
}

/// A revocation reason.
pub fn revocation_reason(s: &str) -> Result<RevocationReason, String> {
    wire(
        s,
        "reason",
        "key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation, \
         privilege-withdrawn, unspecified",
    )
}

/// A key state, e.g. `pre-active`.
pub fn key_state(s: &str) -> Result<KeyState, String> {
    KeyState::from_str(s).map_err(message)
}

/// A role, e.g. `key-user`.
pub fn role(s: &str) -> Result<Role, String> {
    Role::from_str(s).map_err(message)
}

/// A tenant id.
pub fn tenant(s: &str) -> Result<keyhold_core::ids::TenantId, String> {
    keyhold_core::ids::TenantId::from_str(s.trim()).map_err(message)
}

/// A principal name.
pub fn principal(s: &str) -> Result<PrincipalName, String> {
    PrincipalName::from_str(s.trim()).map_err(message)
}

/// One key operation, e.g. `encrypt` (lists are split at commas by clap).
pub fn key_op(s: &str) -> Result<KeyOp, String> {
    KeyOp::from_str(s.trim()).map_err(|_| {
        let all: Vec<&str> = KeyOp::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown operation '{s}'; one of: {}", all.join(", "))
    })
}

/// A positive count, e.g. `--bytes 32`.
pub fn positive_u32(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive number, got '{s}'")),
    }
}

/// Seconds shown the way they are typed: `30d`, `12h`, `90m`, `45s`.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_splits_at_the_first_equals_sign() {
        assert_eq!(key_value("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(
            key_value("url=x?y=z").unwrap(),
            ("url".into(), "x?y=z".into())
        );
        assert_eq!(
            key_value("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        assert!(key_value("novalue").is_err());
        assert!(key_value("=v").is_err());
    }

    #[test]
    fn context_pairs_become_a_map_and_refuse_duplicates() {
        let pairs = vec![("b".into(), "2".into()), ("a".into(), "1".into())];
        let m = pairs_to_map(&pairs, "context key").unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        let dup = vec![("a".into(), "1".into()), ("a".into(), "2".into())];
        assert!(pairs_to_map(&dup, "context key")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn durations_use_the_core_parser() {
        assert_eq!(duration_secs("90d").unwrap(), 90 * 86_400);
        assert_eq!(duration_secs("12h").unwrap(), 12 * 3600);
        assert_eq!(duration_secs("45").unwrap(), 45);
        assert!(duration_secs("0").is_err());
        assert!(duration_secs("soon").is_err());
        assert!(duration_secs("3w").is_err());
        assert_eq!(rotation_period("off").unwrap(), 0);
        assert_eq!(rotation_period("30d").unwrap(), 30 * 86_400);
    }

    #[test]
    fn durations_format_back_to_what_was_typed() {
        for s in ["30d", "12h", "90m", "45s"] {
            assert_eq!(format_duration(duration_secs(s).unwrap()), s);
        }
    }

    #[test]
    fn enums_parse_by_their_wire_names() {
        assert_eq!(usage("sign-verify").unwrap(), KeyUsage::SignVerify);
        assert!(usage("signing").is_err());
        assert_eq!(
            revocation_reason("key-compromise").unwrap(),
            RevocationReason::KeyCompromise
        );
        assert!(revocation_reason("because").is_err());
        assert_eq!(key_state("pre-active").unwrap(), KeyState::PreActive);
        assert_eq!(role("key-user").unwrap(), Role::KeyUser);
        assert_eq!(algorithm("AES-256").unwrap(), Algorithm::Aes256);
        assert!(algorithm("des").unwrap_err().contains("aes-256"));
    }

    #[test]
    fn key_ops_parse_by_wire_name() {
        assert_eq!(key_op(" encrypt").unwrap(), KeyOp::Encrypt);
        assert_eq!(key_op("generate-data-key").unwrap(), KeyOp::GenerateDataKey);
        assert!(key_op("fly").unwrap_err().contains("mac-verify"));
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert!(timestamp("2026-01-31T12:00:00Z").is_ok());
        assert!(timestamp("tomorrow").is_err());
    }
}
