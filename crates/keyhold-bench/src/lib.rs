//! `keyhold-bench`: a load generator for any server that speaks Keyhold's REST API or KMIP over
//! mutual TLS, and the bare baseline server that Keyhold's figures are divided by.
//!
//! ```text
//!  run:      setup (tokens, keys, grants, ciphertexts, signatures over the API; or KMIP
//!            Create, Activate, Encrypt, Sign with a client certificate)
//!            ─► per phase: N workers, one keep-alive HTTPS or KMIP/TLS connection each
//!                 warm-up (not recorded) ─► measured window (duration or request count)
//!                 closed loop, or open loop at --rate (latency from the intended send time)
//!                 requests spread over --keys keys per algorithm, round robin
//!                 latency of every request timed here (HDR histogram), errors by code
//!            ─► table and JSON report
//!  baseline: keyhold_server's TLS + accept loop (REST) and KMIP listener, handlers that only
//!            do the cryptography
//!  compare:  spawn baseline and `keyhold serve --dev`, set both up, then per phase and round:
//!            baseline, keyhold, baseline, keyhold … ─► ratio table
//!            (--half-load: then each at half its own maximum, open loop ─► p99 table)
//! ```
//!
//! No figure from this crate is meaningful on its own: the machines it runs on vary run to run,
//! so Keyhold's figures are always read as ratios to the baseline measured in the same run.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod baseline;
pub mod bench;
pub mod kmip;
pub mod load;
pub mod mix;
pub mod process;
pub mod report;
pub mod setup;
pub mod target;

pub use bench::{Mode, Settings};
pub use kmip::KmipTarget;
pub use load::{LoadConfig, Stop};
pub use mix::{Mix, Op};
pub use report::{CompareReport, RunReport};
pub use setup::KeyConfig;
pub use target::{Endpoint, Protocol, Target};

/// Everything the harness can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A flag or argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// A set-up call to the server under test failed.
    #[error("setting up {target}: {step}: {source}")]
    Setup {
        /// Which server.
        target: String,
        /// What was being created.
        step: String,
        /// The client's error.
        #[source]
        source: Box<keyhold_client::ClientError>,
    },
    /// A server could not be started or stopped.
    #[error("{0}")]
    Server(String),
    /// A file, socket or process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// A worker task failed unexpectedly.
    #[error("a worker failed: {0}")]
    Worker(String),
}

impl BenchError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }
}
