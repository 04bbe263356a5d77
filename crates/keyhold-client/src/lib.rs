//! `keyhold-client`: a typed, async Rust client for Keyhold's REST API, and envelope encryption
//! of files and streams of any size ([`envelope`]).
//!
//! ```text
//!  Client::builder().address(url).token(secret).ca_cert_pem(pem).build()?
//!     │
//!     ├─ typed methods (client.encrypt(&req)) ──► api::encrypt(&req) ─┐
//!     │                                                              ├─► HTTPS ─► keyhold-server
//!     └─ client.send(req) / client.send_json(req) ◄── ApiRequest<T> ─┘
//! ```
//!
//! The request and response bodies are `keyhold-core`'s operation types: the REST JSON is their
//! serde form. Every endpoint is described once, in [`api`], as an [`ApiRequest<T>`] whose type
//! parameter is the response type; [`Client::send`] decodes it, [`Client::send_json`] returns
//! the server's JSON untouched (for `--json` output).

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api;
pub mod backup;
mod client;
pub mod envelope;
mod error;

pub use api::ApiRequest;
pub use client::{Client, ClientBuilder, DEFAULT_ADDRESS};
pub use error::ClientError;
