//! A server under test: over REST, its address, the CA that signed its certificate, and the
//! token that sets the benchmark up; over KMIP, see [`crate::kmip::KmipTarget`]. Also the small
//! parsers the command line shares.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::Url;
use zeroize::Zeroizing;

use crate::kmip::KmipTarget;
use crate::BenchError;

/// The protocol the harness speaks to a server.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Keyhold's REST API over HTTPS (bearer tokens).
    #[default]
    Rest,
    /// KMIP 1.4 over mutual TLS (a client certificate).
    Kmip,
}

impl Protocol {
    /// `rest` or `kmip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rest => "rest",
            Protocol::Kmip => "kmip",
        }
    }
}

/// A server under test, over one protocol.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// Over REST.
    Rest(Target),
    /// Over KMIP.
    Kmip(KmipTarget),
}

impl Endpoint {
    /// The label for reports.
    pub fn label(&self) -> &str {
        match self {
            Endpoint::Rest(t) => &t.label,
            Endpoint::Kmip(t) => &t.label,
        }
    }

    /// `https://…` or `kmip://…`.
    pub fn url(&self) -> String {
        match self {
            Endpoint::Rest(t) => t.url.to_string(),
            Endpoint::Kmip(t) => t.url(),
        }
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        match self {
            Endpoint::Rest(_) => Protocol::Rest,
            Endpoint::Kmip(_) => Protocol::Kmip,
        }
    }
}

impl From<Target> for Endpoint {
    fn from(t: Target) -> Self {
        Endpoint::Rest(t)
    }
}

impl From<KmipTarget> for Endpoint {
    fn from(t: KmipTarget) -> Self {
        Endpoint::Kmip(t)
    }
}

/// Where and how to reach a server that speaks Keyhold's REST API.
#[derive(Clone)]
pub struct Target {
    /// A label for reports (`keyhold`, `baseline`, or the address).
    pub label: String,
    /// Base URL, `https://host:port`.
    pub url: Url,
    /// PEM of the CA certificate(s) trusted for this server, and no other.
    pub ca_pem: Vec<u8>,
    /// The admin token used to create the benchmark's identities, keys and grants.
    pub setup_token: Zeroizing<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("label", &self.label)
            .field("url", &self.url.as_str())
            .field("setup_token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Checks the address and reads the CA file. Unless `allow_remote`, only loopback hosts
    /// are accepted: a load generator pointed at someone else's server by a typo does harm.
    pub fn new(
        label: impl Into<String>,
        url: &str,
        ca_file: &Path,
        setup_token: &str,
        allow_remote: bool,
    ) -> Result<Self, BenchError> {
        let url = Url::parse(url.trim())
            .map_err(|e| BenchError::Usage(format!("'{url}' is not a URL: {e}")))?;
        if url.scheme() != "https" || url.host().is_none() || url.cannot_be_a_base() {
            return Err(BenchError::Usage(format!(
                "'{url}' must look like https://host:port"
            )));
        }
        if !allow_remote && !is_loopback(&url) {
            return Err(BenchError::Usage(format!(
                "{url} is not a loopback address; pass --allow-remote to load another machine"
            )));
        }
        let ca_pem = std::fs::read(ca_file).map_err(|e| {
            BenchError::Usage(format!("cannot read CA file {}: {e}", ca_file.display()))
        })?;
        if setup_token.trim().is_empty() {
            return Err(BenchError::Usage("the setup token is empty".into()));
        }
        Ok(Self {
            label: label.into(),
            url,
            ca_pem,
            setup_token: Zeroizing::new(setup_token.trim().to_owned()),
        })
    }

    /// The absolute URL of an API path such as `/v1/decrypt`, below any path prefix of the
    /// base URL (`https://host/kms` + `/v1/decrypt` = `https://host/kms/v1/decrypt`).
    pub fn endpoint(&self, path: &str) -> Result<Url, BenchError> {
        let full = format!("{}{path}", self.url.as_str().trim_end_matches('/'));
        Url::parse(&full)
            .map_err(|e| BenchError::Usage(format!("cannot form a URL for {path}: {e}")))
    }
}

/// Whether the URL names this machine (`localhost`, 127.0.0.0/8 or `::1`).
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parses `10s`, `500ms`, `2m` or `1.5s` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 10s, 500ms or 2m"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{s}' (use ms, s, m or h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("'{s}' is out of range (0 to 24 h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let t = Target::new("t", "https://127.0.0.1:1/kms/", &ca, "tok", false).unwrap();
        assert_eq!(
            t.endpoint("/v1/decrypt").unwrap().as_str(),
            "https://127.0.0.1:1/kms/v1/decrypt"
        );
        assert!(Target::new("t", "https://10.1.2.3:1", &ca, "tok", false).is_err());
        assert!(Target::new("t", "https://10.1.2.3:1", &ca, "tok", true).is_ok());
        assert!(Target::new("t", "http://127.0.0.1:1", &ca, "tok", false).is_err());
    }

    #[test]
    fn only_loopback_is_accepted_by_default() {
        for ok in [
            "https://127.0.0.1:1",
            "https://localhost:1",
            "https://[::1]:1",
        ] {
            assert!(is_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for remote in ["https://10.0.0.1:1", "https://example.com"] {
            assert!(!is_loopback(&Url::parse(remote).unwrap()), "{remote}");
        }
    }
}
