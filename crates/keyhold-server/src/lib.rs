//! `keyhold-server`: configuration, TLS, the REST adapter, metrics, and wiring of the core to
//! its store and root of trust.
//!
//! ```text
//!  TCP ─► TLS (rustls) ─► hyper (timeouts) ─► axum router ─► rest::handler
//!                                                 │  decode JSON → Operation
//!                                                 ▼
//!                                          App::run → Kms::run → encode Response | error table
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod backup;
pub mod certs;
pub mod cli;
pub mod config;
pub mod hardening;
pub mod http;
pub mod kmip;
pub mod metrics;
pub mod rest;
pub mod tls;

pub use app::App;
pub use config::Config;
