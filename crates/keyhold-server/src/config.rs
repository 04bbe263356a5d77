//! Configuration: a TOML file, `KEYHOLD_*` environment variables and flags (in rising order of
//! precedence), parsed into [`RawConfig`] and validated once into [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keyhold_core::clock::parse_duration_secs;
use keyhold_core::KmsConfig;
use serde::Deserialize;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("configuration file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation (line and column included).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The configuration as written: every field optional, strings not yet parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `host:port` of the HTTPS listener.
    pub listen: Option<String>,
    /// `host:port` of the KMIP (mutual TLS) listener, or `off`.
    pub kmip_listen: Option<String>,
    /// Where the database, certificates and dev files live.
    pub data_dir: Option<PathBuf>,
    /// TLS certificate and key; generated at init when absent.
    #[serde(default)]
    pub tls: RawTls,
    /// Request limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// Key policy defaults.
    #[serde(default)]
    pub keys: RawKeys,
    /// `trace`, `debug`, `info`, `warn`, `error` or a tracing filter.
    pub log: Option<String>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// How often date-driven transitions and rotations are swept, e.g. `5s`.
    pub sweep_interval: Option<String>,
    /// How often the audit chain is checkpointed when it moved, e.g. `60s`.
    pub audit_checkpoint_interval: Option<String>,
    /// Scheduled backups.
    #[serde(default)]
    pub backup: RawBackup,
}

/// `[backup]`: scheduled backups (all of interval, dir and recipient, or none).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// Time between backups, e.g. `6h`.
    pub interval: Option<String>,
    /// Destination directory.
    pub dir: Option<PathBuf>,
    /// Backups to keep (default 7).
    pub retain: Option<usize>,
    /// PEM file of the RSA public key that protects each backup key (no one is present to take
    /// shares).
    pub recipient: Option<PathBuf>,
}

/// `[tls]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Time allowed for a TLS handshake, then for the first request bytes after it, and for
    /// request headers, e.g. `10s`.
    pub header_timeout: Option<String>,
    /// Idle keep-alive connections are closed after this, e.g. `60s`.
    pub idle_timeout: Option<String>,
    /// Simultaneous connections.
    pub max_connections: Option<usize>,
}

/// `[keys]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// Waiting period of a scheduled destruction, e.g. `30d`.
    pub default_destroy_wait: Option<String>,
    /// Shortest waiting period a request may ask for (at least `1d`).
    pub min_destroy_wait: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A KMIP listen address, or `off`.
pub fn kmip_address(text: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if text.trim() == "off" {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        ConfigError::Invalid(format!(
            "kmip_listen = '{text}' is not an address like 127.0.0.1:5696 or 'off'"
        ))
    })
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener address.
    pub listen: SocketAddr,
    /// KMIP listener address; `None` when KMIP is off.
    pub kmip_listen: Option<SocketAddr>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Configured certificate and key, if any.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Handshake and header timeout.
    pub header_timeout: Duration,
    /// Idle connection timeout.
    pub idle_timeout: Duration,
    /// Simultaneous connections.
    pub max_connections: usize,
    /// Core tunables.
    pub kms: KmsConfig,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Sweeper period.
    pub sweep_interval: Duration,
    /// Period of the audit chain's signed checkpoints.
    pub audit_checkpoint_interval: Duration,
    /// Scheduled backups, if configured.
    pub backup: Option<crate::backup::Schedule>,
}

impl RawConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Fills every field still unset from `lower`.
    pub fn or(self, lower: RawConfig) -> RawConfig {
        RawConfig {
            listen: self.listen.or(lower.listen),
            kmip_listen: self.kmip_listen.or(lower.kmip_listen),
            data_dir: self.data_dir.or(lower.data_dir),
            tls: RawTls {
                cert: self.tls.cert.or(lower.tls.cert),
                key: self.tls.key.or(lower.tls.key),
            },
            limits: RawLimits {
                max_body_bytes: self.limits.max_body_bytes.or(lower.limits.max_body_bytes),
                header_timeout: self.limits.header_timeout.or(lower.limits.header_timeout),
                idle_timeout: self.limits.idle_timeout.or(lower.limits.idle_timeout),
                max_connections: self.limits.max_connections.or(lower.limits.max_connections),
            },
            keys: RawKeys {
                default_destroy_wait: self
                    .keys
                    .default_destroy_wait
                    .or(lower.keys.default_destroy_wait),
                min_destroy_wait: self.keys.min_destroy_wait.or(lower.keys.min_destroy_wait),
            },
            log: self.log.or(lower.log),
            log_format: self.log_format.or(lower.log_format),
            sweep_interval: self.sweep_interval.or(lower.sweep_interval),
            audit_checkpoint_interval: self
                .audit_checkpoint_interval
                .or(lower.audit_checkpoint_interval),
            backup: RawBackup {
                interval: self.backup.interval.or(lower.backup.interval),
                dir: self.backup.dir.or(lower.backup.dir),
                retain: self.backup.retain.or(lower.backup.retain),
                recipient: self.backup.recipient.or(lower.backup.recipient),
            },
        }
    }

    /// Validates and applies defaults.
    pub fn validate(self, default_data_dir: &Path) -> Result<Config, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(m);
        let listen_text = self.listen.unwrap_or_else(|| "127.0.0.1:8443".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(format!(
                "listen = '{listen_text}' is not an address like 127.0.0.1:8443"
            ))
        })?;
        let duration =
            |field: &str, v: Option<String>, default: &str| -> Result<u64, ConfigError> {
                let text = v.unwrap_or_else(|| default.to_owned());
                parse_duration_secs(&text).map_err(|_| {
                    invalid(format!(
                        "{field} = '{text}' is not a duration like 30s, 5m, 1d"
                    ))
                })
            };
        let tls_files = match (self.tls.cert, self.tls.key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "tls.cert and tls.key must be given together".into(),
                ))
            }
        };
        let max_body_bytes = self.limits.max_body_bytes.unwrap_or(1024 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(invalid(
                "limits.max_body_bytes must be between 1 KiB and 64 MiB".into(),
            ));
        }
        let header_timeout = duration("limits.header_timeout", self.limits.header_timeout, "10s")?;
        let idle_timeout = duration("limits.idle_timeout", self.limits.idle_timeout, "60s")?;
        if header_timeout == 0 || idle_timeout == 0 {
            return Err(invalid("timeouts must be at least 1s".into()));
        }
        let max_connections = self.limits.max_connections.unwrap_or(1024);
        if max_connections == 0 {
            return Err(invalid("limits.max_connections must be positive".into()));
        }
        let min_wait = duration("keys.min_destroy_wait", self.keys.min_destroy_wait, "1d")?;
        if min_wait < 86_400 {
            return Err(invalid(
                "keys.min_destroy_wait cannot be shorter than 1d".into(),
            ));
        }
        let default_wait = duration(
            "keys.default_destroy_wait",
            self.keys.default_destroy_wait,
            "30d",
        )?;
        if default_wait < min_wait {
            return Err(invalid(
                "keys.default_destroy_wait is shorter than keys.min_destroy_wait".into(),
            ));
        }
        let log = self.log.clone().unwrap_or_else(|| "info".into());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(invalid(format!(
                "log = '{log}': {e} (use a level such as info or debug, or directives such as \
                 info,keyhold_core=debug)"
            )));
        }
        let log_format = match self.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(invalid(format!("log_format = '{other}': use text or json"))),
        };
        let sweep = duration("sweep_interval", self.sweep_interval, "5s")?;
        if sweep == 0 {
            return Err(invalid("sweep_interval must be at least 1s".into()));
        }
        let checkpoint = duration(
            "audit_checkpoint_interval",
            self.audit_checkpoint_interval,
            "60s",
        )?;
        if checkpoint == 0 {
            return Err(invalid(
                "audit_checkpoint_interval must be at least 1s".into(),
            ));
        }
        let kmip_listen = kmip_address(self.kmip_listen.as_deref().unwrap_or("127.0.0.1:5696"))?;
        let backup = match (self.backup.interval, self.backup.dir, self.backup.recipient) {
            (None, None, None) if self.backup.retain.is_none() => None,
            (Some(interval), Some(dir), Some(recipient)) => {
                let secs = duration("backup.interval", Some(interval), "1d")?;
                if secs == 0 {
                    return Err(invalid("backup.interval must be at least 1s".into()));
                }
                let retain = self.backup.retain.unwrap_or(7);
                if retain == 0 {
                    return Err(invalid("backup.retain must be at least 1".into()));
                }
                if !dir.is_dir() {
                    return Err(invalid(format!(
                        "backup.dir = '{}' is not a directory",
                        dir.display()
                    )));
                }
                let pem = std::fs::read_to_string(&recipient).map_err(|e| {
                    invalid(format!(
                        "backup.recipient = '{}' cannot be read: {e}",
                        recipient.display()
                    ))
                })?;
                let recipient_spki = keyhold_crypto::Provider::aws_lc()
                    .public_key_from_pem(&pem)
                    .map_err(|_| {
                        invalid(format!(
                            "backup.recipient = '{}' is not a PEM public key",
                            recipient.display()
                        ))
                    })?;
                Some(crate::backup::Schedule {
                    interval: Duration::from_secs(secs),
                    dir,
                    retain,
                    recipient_spki,
                })
            }
            _ => {
                return Err(invalid(
                    "backup.interval, backup.dir and backup.recipient must be given together"
                        .into(),
                ))
            }
        };
        Ok(Config {
            backup,
            listen,
            kmip_listen,
            data_dir: self.data_dir.unwrap_or_else(|| default_data_dir.to_owned()),
            tls_files,
            max_body_bytes,
            header_timeout: Duration::from_secs(header_timeout),
            idle_timeout: Duration::from_secs(idle_timeout),
            max_connections,
            kms: KmsConfig {
                default_destroy_wait_secs: default_wait,
                min_destroy_wait_secs: min_wait,
                ..KmsConfig::default()
            },
            log,
            log_format,
            sweep_interval: Duration::from_secs(sweep),
            audit_checkpoint_interval: Duration::from_secs(checkpoint),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(toml_text).map_err(|e| ConfigError::Parse {
            path: "t.toml".into(),
            message: e.to_string(),
        })?;
        raw.validate(Path::new("/tmp/d"))
    }

    #[test]
    fn defaults_are_valid() {
        let c = parse("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.kms.default_destroy_wait_secs, 30 * 86_400);
        assert_eq!(c.audit_checkpoint_interval, Duration::from_secs(60));
        let c = parse("audit_checkpoint_interval = '5m'").unwrap();
        assert_eq!(c.audit_checkpoint_interval, Duration::from_secs(300));
    }

    #[test]
    fn bad_values_get_clear_messages() {
        let e = parse("listen = 'nope'").unwrap_err().to_string();
        assert!(e.contains("listen"), "{e}");
        let e = parse("[keys]\nmin_destroy_wait = '1h'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("1d"), "{e}");
        let e = parse("[tls]\ncert = 'a.pem'").unwrap_err().to_string();
        assert!(e.contains("together"), "{e}");
        assert!(parse("unknown_field = 1").is_err());
        let e = parse("audit_checkpoint_interval = '0s'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("audit_checkpoint_interval"), "{e}");
        let e = parse("log = 'keyhold=loud'").unwrap_err().to_string();
        assert!(e.contains("log = 'keyhold=loud'"), "{e}");
        assert!(parse("log = 'warn,keyhold_core=debug'").is_ok());
    }

    #[test]
    fn higher_layers_win() {
        let file: RawConfig = toml::from_str("listen = '127.0.0.1:1'\nlog = 'debug'").unwrap();
        let flags = RawConfig {
            listen: Some("127.0.0.1:2".into()),
            ..RawConfig::default()
        };
        let c = flags.or(file).validate(Path::new("/d")).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.log, "debug");
    }
}
