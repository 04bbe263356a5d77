//! The bare baseline server: Keyhold's own TLS and HTTP stack (`keyhold_server::http::serve`,
//! `keyhold_server::tls`) with handlers that do only the cryptography, under keys held in
//! memory. No authentication, policy, store or audit, except that creating a key writes one row
//! durably (see [`durable`]).
//!
//! ```text
//!  TCP ─► TLS (keyhold_server::tls) ─► hyper (keyhold_server::http::serve: same timeouts)
//!      ─► axum router with Keyhold's routes and JSON shapes (keyhold-core's op types)
//!           crypto ops ─► keyhold_crypto::Provider on the in-memory key
//!           POST /v1/keys ─► generate, wrap under the KEK, group-commit one SQLite row
//!  TCP ─► TLS, client certificate signed by the baseline's CA required
//!      ─► keyhold_server::kmip::serve_with (Keyhold's KMIP listener: cap, timeouts, framing)
//!      ─► kmip::KmipBaseline: TTLV in, the same cryptography on the same keys, TTLV out
//! ```
//!
//! It answers any bearer token (or none), and therefore listens on loopback addresses only.
//! Its KMIP listener requires a client certificate issued by its CA (`kmip-client.pem` and
//! `kmip-client.key` in the data directory, as `keyhold serve --dev` writes them).
//! Every Keyhold figure of the harness is reported as a ratio to this server's, measured in the
//! same run: the ratio is the cost of everything Keyhold adds.

pub mod durable;
mod handlers;
mod kmip;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use keyhold_core::ids::KeyId;
use keyhold_core::ops::KeyInfo;
use keyhold_crypto::{KeyMaterial, Provider, SecretBytes};
use keyhold_server::http::Limits;
use keyhold_server::kmip::KmipLimits;
use keyhold_server::tls::{self, TlsPaths};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::BenchError;
use durable::Durable;

/// The same limits as a Keyhold server with the default configuration.
const LIMITS: Limits = Limits {
    header_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(60),
    max_connections: 1024,
};

/// The same bounds as Keyhold's KMIP listener with the default configuration.
const KMIP_LIMITS: KmipLimits = KmipLimits {
    handshake_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(60),
    max_connections: 1024,
    ttlv: keyhold_kmip::Limits::DEFAULT,
};

/// The client certificate for KMIP, issued by the baseline's CA, and its key.
pub const KMIP_CLIENT_CERT: &str = "kmip-client.pem";
/// See [`KMIP_CLIENT_CERT`].
pub const KMIP_CLIENT_KEY: &str = "kmip-client.key";

/// Keyhold's default `limits.max_body_bytes`.
const MAX_BODY: usize = 1024 * 1024;

/// The database file in the data directory.
pub const DB_FILE: &str = "baseline.db";

/// Where and how the baseline runs.
#[derive(Debug, Clone)]
pub struct BaselineConfig {
    /// A loopback address; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Holds the generated CA and server certificate, the KMIP client certificate, and the
    /// database.
    pub data_dir: PathBuf,
    /// A loopback address for KMIP over mutual TLS (port 0 picks a free one); `None`: no KMIP.
    pub kmip_listen: Option<SocketAddr>,
}

/// A key held in memory.
pub(crate) struct Held {
    pub(crate) info: KeyInfo,
    pub(crate) material: KeyMaterial,
}

/// The baseline's state: the provider, the KEK, the keys.
pub(crate) struct State {
    pub(crate) crypto: Provider,
    pub(crate) kek: SecretBytes,
    pub(crate) keys: RwLock<HashMap<KeyId, Arc<Held>>>,
    pub(crate) names: RwLock<HashMap<String, KeyId>>,
    pub(crate) durable: Durable,
}

/// A running baseline server.
#[derive(Debug)]
pub struct RunningBaseline {
    addr: SocketAddr,
    kmip_addr: Option<SocketAddr>,
    ca_cert: PathBuf,
    data_dir: PathBuf,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    kmip_server: Option<JoinHandle<std::io::Result<()>>>,
    durable: Durable,
}

impl RunningBaseline {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://addr`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The CA certificate that signed its server certificate.
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    /// The address of the KMIP listener, if any.
    pub fn kmip_addr(&self) -> Option<SocketAddr> {
        self.kmip_addr
    }

    /// The KMIP client certificate and key (PEM files).
    pub fn kmip_client(&self) -> (PathBuf, PathBuf) {
        (
            self.data_dir.join(KMIP_CLIENT_CERT),
            self.data_dir.join(KMIP_CLIENT_KEY),
        )
    }

    /// Transactions and rows committed by `POST /v1/keys` so far.
    pub fn commits(&self) -> (u64, u64) {
        let s = self.durable.stats();
        (
            s.commits.load(std::sync::atomic::Ordering::Relaxed),
            s.rows.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Stops accepting, lets open requests finish (at most a few seconds), and returns.
    pub async fn stop(self) -> Result<(), BenchError> {
        let _ = self.stop.send(true);
        if let Some(kmip) = self.kmip_server {
            match kmip.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(BenchError::io("baseline KMIP server")(e)),
                Err(e) => return Err(BenchError::Server(format!("baseline KMIP task: {e}"))),
            }
        }
        match self.server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BenchError::io("baseline server")(e)),
            Err(e) => Err(BenchError::Server(format!("baseline server task: {e}"))),
        }
    }
}

/// Starts the baseline: certificates in `data_dir` (generated if missing), the database, the
/// listener. Returns once it accepts connections.
pub async fn start(config: BaselineConfig) -> Result<RunningBaseline, BenchError> {
    for addr in std::iter::once(config.listen).chain(config.kmip_listen) {
        if !addr.ip().is_loopback() {
            return Err(BenchError::Usage(format!(
                "the baseline has no authorization and listens on loopback addresses only, not {addr}"
            )));
        }
    }
    keyhold_server::app::create_private_dir(&config.data_dir)
        .map_err(|e| BenchError::Server(e.to_string()))?;
    let paths = TlsPaths::in_dir(&config.data_dir);
    tls::ensure_generated(&paths, &tls::default_hosts(&config.listen))
        .map_err(|e| BenchError::Server(e.to_string()))?;
    let tls_config = tls::server_config(&paths.server_cert, &paths.server_key)
        .map_err(|e| BenchError::Server(e.to_string()))?;
    let durable = Durable::open(&config.data_dir.join(DB_FILE))
        .await
        .map_err(|e| BenchError::Server(format!("cannot open the baseline database: {e}")))?;
    let crypto = Provider::aws_lc();
    let kek = crypto
        .random(32)
        .map_err(|e| BenchError::Server(format!("cannot generate the KEK: {e}")))?;
    let state = Arc::new(State {
        crypto,
        kek,
        keys: RwLock::new(HashMap::new()),
        names: RwLock::new(HashMap::new()),
        durable: durable.clone(),
    });
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(BenchError::io(format!(
            "cannot listen on {}",
            config.listen
        )))?;
    let addr = listener
        .local_addr()
        .map_err(BenchError::io("listener address"))?;
    let (stop, stop_rx) = watch::channel(false);
    let (kmip_addr, kmip_server) = match config.kmip_listen {
        Some(listen) => {
            let kmip_tls = kmip_tls_config(&paths, &config.data_dir)?;
            let listener = TcpListener::bind(listen)
                .await
                .map_err(BenchError::io(format!("cannot listen on {listen} (KMIP)")))?;
            let bound = listener
                .local_addr()
                .map_err(BenchError::io("KMIP listener address"))?;
            let server = tokio::spawn(keyhold_server::kmip::serve_with(
                listener,
                kmip_tls,
                Arc::new(kmip::KmipBaseline(state.clone())),
                KMIP_LIMITS,
                stop_rx.clone(),
            ));
            (Some(bound), Some(server))
        }
        None => (None, None),
    };
    let server = tokio::spawn(keyhold_server::http::serve(
        listener,
        tls_config,
        router(state),
        LIMITS,
        stop_rx,
    ));
    Ok(RunningBaseline {
        addr,
        kmip_addr,
        ca_cert: paths.ca_cert,
        data_dir: config.data_dir,
        stop,
        server,
        kmip_server,
        durable,
    })
}

/// The KMIP listener's TLS: the baseline's server certificate, TLS 1.3 and 1.2 as Keyhold's,
/// and a client certificate required, signed by the baseline's CA (checked once, at the
/// handshake). Issues the client certificate the harness uses if it is missing.
fn kmip_tls_config(
    paths: &TlsPaths,
    data_dir: &Path,
) -> Result<Arc<rustls::ServerConfig>, BenchError> {
    let server = |e: &dyn std::fmt::Display| BenchError::Server(format!("baseline KMIP TLS: {e}"));
    let cert_path = data_dir.join(KMIP_CLIENT_CERT);
    let key_path = data_dir.join(KMIP_CLIENT_KEY);
    if !(cert_path.exists() && key_path.exists()) {
        let (cert_pem, key_pem, _) =
            tls::issue_client_cert(paths, "keyhold-bench").map_err(|e| server(&e))?;
        keyhold_server::app::write_private_file(&key_path, key_pem.as_bytes())
            .map_err(BenchError::io(format!("writing {}", key_path.display())))?;
        std::fs::write(&cert_path, cert_pem)
            .map_err(BenchError::io(format!("writing {}", cert_path.display())))?;
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&paths.ca_cert).map_err(|e| server(&e))? {
        roots
            .add(c.map_err(|e| server(&e))?)
            .map_err(|e| server(&e))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&paths.server_cert)
        .map_err(|e| server(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| server(&e))?;
    let key = PrivateKeyDer::from_pem_file(&paths.server_key).map_err(|e| server(&e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| server(&e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| server(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| server(&e))?;
    Ok(Arc::new(config))
}

/// Keyhold's routes for the benchmarked operations and the set-up calls the harness makes.
fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/health", get(handlers::health))
        .route("/v1/keys", post(handlers::create_key))
        .route("/v1/keys/{key}", get(handlers::describe_key))
        .route("/v1/keys/{key}/encrypt", post(handlers::encrypt))
        .route("/v1/keys/{key}/datakey", post(handlers::datakey))
        .route("/v1/keys/{key}/sign", post(handlers::sign))
        .route("/v1/keys/{key}/verify", post(handlers::verify))
        .route("/v1/keys/{key}/mac", post(handlers::mac))
        .route("/v1/decrypt", post(handlers::decrypt))
        .route("/v1/tokens", post(handlers::create_token))
        .route("/v1/grants", post(handlers::create_grant))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}
