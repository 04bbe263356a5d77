//! Time: a millisecond timestamp type and the injected [`Clock`], so that date-driven
//! transitions are tested without sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::KmsError;

/// A point in time, milliseconds since the Unix epoch (UTC). Serialized as RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = DateTime))]
pub struct Timestamp(i64);

/// The longest duration a request may name (a waiting period, a crypto-period, a rotation
/// period): 1,000 years, so that every date the server computes stays printable.
pub const MAX_DURATION_SECS: u64 = 1000 * 366 * 86_400;

/// Refuses a duration longer than [`MAX_DURATION_SECS`]; `what` names it in the error.
pub fn check_duration(what: &str, secs: u64) -> Result<u64, KmsError> {
    if secs > MAX_DURATION_SECS {
        return Err(KmsError::invalid(format!(
            "{what} must be at most {MAX_DURATION_SECS} seconds (1,000 years)"
        )));
    }
    Ok(secs)
}

impl Timestamp {
    /// The latest instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);
    /// The earliest: 0000-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000);

    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// From seconds since the epoch (a KMIP Date-Time), within [`Timestamp::MIN`]..=
    /// [`Timestamp::MAX`].
    pub fn from_unix_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000).clamp(Self::MIN.0, Self::MAX.0))
    }
    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// This instant plus `secs` seconds, at most [`Timestamp::MAX`].
    pub fn plus_secs(self, secs: u64) -> Self {
        let ms = i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000);
        Self(self.0.saturating_add(ms).min(Self::MAX.0))
    }
    /// RFC 3339 text, e.g. `2026-11-24T10:00:00.123Z`. An instant outside
    /// [`Timestamp::MIN`]..=[`Timestamp::MAX`] is written as the nearest bound, so that every
    /// stored record reads back.
    pub fn to_rfc3339(self) -> String {
        let ms = self.0.clamp(Self::MIN.0, Self::MAX.0);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "9999-12-31T23:59:59.999Z".to_owned())
    }
    /// Parses RFC 3339 text.
    pub fn parse_rfc3339(s: &str) -> Result<Self, KmsError> {
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| KmsError::invalid("timestamps are RFC 3339, e.g. 2026-01-31T12:00:00Z"))?;
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(ms)
            .map(Self)
            .map_err(|_| KmsError::invalid("timestamp out of range"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// The source of the current time. Injected into the core so tests control it.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.millis()))
    }
    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: u64) {
        let ms = i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Parses a human duration such as `30d`, `12h`, `90m`, `45s` or a plain number of seconds.
pub fn parse_duration_secs(s: &str) -> Result<u64, KmsError> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| KmsError::invalid("durations look like 30d, 12h, 90m or 45s"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "y" => 365 * 86_400,
        _ => {
            return Err(KmsError::invalid(
                "durations look like 30d, 12h, 90m or 45s",
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| KmsError::invalid("duration too large"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn far_dates_stay_printable_and_read_back() {
        let far = Timestamp::from_millis(0).plus_secs(u64::MAX);
        assert_eq!(far, Timestamp::MAX);
        assert_eq!(far.to_rfc3339(), "9999-12-31T23:59:59.999Z");
        for t in [
            Timestamp::from_millis(i64::MAX),
            Timestamp::from_millis(i64::MIN),
        ] {
            let text = serde_json::to_string(&t).unwrap();
            let back: Timestamp = serde_json::from_str(&text).unwrap();
            assert!(back == Timestamp::MAX || back == Timestamp::MIN, "{text}");
        }
        assert_eq!(Timestamp::MIN.to_rfc3339(), "0000-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_unix_secs(i64::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::from_unix_secs(i64::MIN), Timestamp::MIN);
        assert_eq!(Timestamp::from_unix_secs(2).millis(), 2000);
        assert!(check_duration("x", MAX_DURATION_SECS).is_ok());
        assert!(check_duration("x", MAX_DURATION_SECS + 1).is_err());
    }

    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_millis(1_795_000_000_123);
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_secs("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration_secs("90").unwrap(), 90);
        assert!(parse_duration_secs("ten").is_err());
        assert!(parse_duration_secs("5w").is_err());
    }
}
