//! Integration-test harness: starts the real `keyhold` binary on a free loopback port in a
//! temporary data directory, runs CLI commands against it, and talks raw HTTPS to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyhold");

/// A running server.
pub struct Server {
    child: Option<Child>,
    pub dir: PathBuf,
    pub addr: String,
    /// `host:port` of the KMIP (mutual TLS) listener.
    pub kmip_addr: String,
    pub ca: PathBuf,
    dev: bool,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let base = std::env::temp_dir().join(format!(
            "keyhold-it-{tag}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&base).unwrap();
        TempDir(base)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

impl Server {
    /// `keyhold serve --dev` in `dir`.
    pub fn dev(dir: &Path) -> Server {
        Self::spawn(dir, true)
    }

    /// `keyhold serve` (production path) in an initialized `dir`.
    pub fn sealed(dir: &Path) -> Server {
        Self::spawn(dir, false)
    }

    fn spawn(dir: &Path, dev: bool) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve");
        if dev {
            cmd.arg("--dev");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        cmd.args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--kmip-listen",
            "127.0.0.1:0",
        ])
        .env("KEYHOLD_LOG", "warn")
        .env_remove("KEYHOLD_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("start keyhold serve");
        let stdout = child.stdout.take().unwrap();
        // The REST line comes first, then the KMIP one.
        const REST: &str = "listening on https://";
        const KMIP: &str = "KMIP listening on kmip://";
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let found = [(KMIP, KMIP.len()), (REST, "listening on ".len())]
                    .into_iter()
                    .find_map(|(marker, skip)| line.find(marker).map(|i| i + skip));
                if let Some(start) = found {
                    let addr = line[start..].split_whitespace().next().unwrap().to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let mut next_line = || match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("server did not start (REST and KMIP listeners); log:\n{log}");
            }
        };
        let addr = next_line();
        let kmip_addr = next_line();
        Server {
            child: Some(child),
            dir: dir.to_owned(),
            addr,
            kmip_addr,
            ca: dir.join("ca.pem"),
            dev,
        }
    }

    /// The admin token a dev server wrote.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Runs the CLI against this server with `token`.
    pub fn cli(&self, token: &str, args: &[&str]) -> Output {
        self.cli_stdin(token, args, None)
    }

    pub fn cli_stdin(&self, token: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("KEYHOLD_ADDR", &self.addr)
            .env("KEYHOLD_CACERT", &self.ca)
            .env("KEYHOLD_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match stdin {
            Some(bytes) => {
                cmd.stdin(Stdio::piped());
                let mut child = cmd.spawn().unwrap();
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes).unwrap();
                child.wait_with_output().unwrap()
            }
            None => {
                cmd.stdin(Stdio::null());
                cmd.output().unwrap()
            }
        }
    }

    /// Runs the CLI and requires success; returns stdout.
    pub fn ok(&self, token: &str, args: &[&str]) -> String {
        let out = self.cli(token, args);
        assert!(
            out.status.success(),
            "keyhold {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the CLI with `--json` and parses the answer.
    pub fn json(&self, token: &str, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.ok(token, &full);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Issues a token with a role (as admin) and returns its secret.
    pub fn token(&self, admin: &str, principal: &str, role: &str) -> String {
        self.ok(
            admin,
            &["token", "create", "--principal", principal, "--role", role],
        )
        .trim()
        .to_owned()
    }

    /// A raw HTTPS client trusting only the server's CA.
    pub fn http(&self) -> reqwest::blocking::Client {
        let pem = std::fs::read(&self.ca).unwrap();
        let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap();
        reqwest::blocking::Client::builder()
            .tls_certs_only(certs)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            for _ in 0..100 {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        let again = Server::spawn(&self.dir, self.dev);
        *self = again;
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A KMIP connection to `s`: mutual TLS to its KMIP listener as the client `chain` (end entity
/// first) and `key`, trusting the server's CA, with the handshake done. Connecting and the
/// handshake fail as I/O errors; a bad certificate or key panics.
pub fn kmip_tls(
    s: &Server,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&s.ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let conn = rustls::ClientConnection::new(
        std::sync::Arc::new(config),
        rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
    )
    .unwrap();
    let sock = std::net::TcpStream::connect(&s.kmip_addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}
