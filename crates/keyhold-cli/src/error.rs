//! The CLI's error type and how it is reported.

use std::error::Error;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use keyhold_client::envelope::EnvelopeError;
use keyhold_client::ClientError;

/// Why a command failed. Every variant is reported as `error: …` on stderr with exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server refused, or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Envelope encryption or decryption failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A backup failed or an artifact is unusable.
    #[error(transparent)]
    Backup(#[from] keyhold_client::backup::BackupClientError),
    /// Bad input data (unreadable file, bad base64, …).
    #[error("{0}")]
    Input(String),
    /// The server's JSON did not have the expected shape.
    #[error("unexpected response from the server")]
    Decode(#[from] serde_json::Error),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[from] io::Error),
}

impl CliError {
    /// A file that cannot be opened or read.
    pub fn file(path: &Path, e: io::Error) -> Self {
        Self::Input(format!("cannot read {}: {e}", path.display()))
    }

    /// Whether the output was closed early (e.g. `keyhold key list | head`): not worth a
    /// message.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            Self::Output(e) => Some(e),
            Self::Envelope(EnvelopeError::Io(e)) => Some(e),
            _ => None,
        };
        io.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The message with its chain of causes, e.g. `cannot talk to the server: … : connection
    /// refused`, and a hint when one helps.
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut source = self.source();
        while let Some(s) = source {
            let text = s.to_string();
            if !out.ends_with(&text) {
                let _ = write!(out, ": {text}");
            }
            source = s.source();
        }
        if out.contains("UnknownIssuer") || out.contains("invalid peer certificate") {
            out.push_str("\nhint: pass the CA that issued the server's certificate with --cacert FILE (or KEYHOLD_CACERT)");
        } else if out.starts_with("unauthenticated:") {
            out.push_str("\nhint: set KEYHOLD_TOKEN (or --token) to a valid API token");
        }
        out
    }
}
