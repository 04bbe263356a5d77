//! Servers started as child processes, each in a fresh temporary data directory on a free
//! loopback port: the baseline (`keyhold-bench baseline`) and `keyhold serve --dev`.
//!
//! ```text
//!  spawn ─► read stdout until "… listening on https://host:port" and
//!           "KMIP listening on kmip://host:port" (60 s at most)
//!        ─► Target { url, CA = DIR/ca.pem, token }      stderr ─► DIR/server.log
//!        ─► KmipTarget { addr, CA, DIR/kmip-client.pem, DIR/kmip-client.key }
//!  stop  ─► kill, wait, remove DIR
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use zeroize::Zeroizing;

use crate::kmip::KmipTarget;
use crate::target::{Endpoint, Protocol, Target};
use crate::BenchError;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The token sent to the baseline (it checks none).
const BASELINE_TOKEN: &str = "baseline-accepts-any-token";

/// A server running as a child process. Killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    label: String,
    child: Child,
    url: String,
    kmip_addr: String,
    ca: PathBuf,
    token: Zeroizing<String>,
    dir: TempDir,
}

impl ServerProcess {
    /// Starts `bench_exe baseline` (this program's own binary).
    pub async fn baseline(bench_exe: &Path) -> Result<Self, BenchError> {
        let dir = temp_dir("baseline")?;
        let mut cmd = Command::new(bench_exe);
        cmd.arg("baseline")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--kmip-listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path());
        let (child, url, kmip_addr) = spawn("baseline", cmd, &dir).await?;
        Ok(Self {
            label: "baseline".into(),
            child,
            url,
            kmip_addr,
            ca: dir.path().join("ca.pem"),
            token: Zeroizing::new(BASELINE_TOKEN.into()),
            dir,
        })
    }

    /// Starts `keyhold serve --dev`, with `KEYHOLD_LOG=log` if given (else Keyhold's default).
    pub async fn keyhold(keyhold_exe: &Path, log: Option<&str>) -> Result<Self, BenchError> {
        let dir = temp_dir("keyhold")?;
        let mut cmd = Command::new(keyhold_exe);
        cmd.arg("serve")
            .arg("--dev")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--kmip-listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KEYHOLD_") {
                cmd.env_remove(name);
            }
        }
        if let Some(level) = log {
            cmd.env("KEYHOLD_LOG", level);
        }
        let (child, url, kmip_addr) = spawn("keyhold", cmd, &dir).await?;
        let token_file = dir.path().join("admin.token");
        let token = std::fs::read_to_string(&token_file)
            .map_err(BenchError::io(format!("reading {}", token_file.display())))?;
        Ok(Self {
            label: "keyhold".into(),
            child,
            url,
            kmip_addr,
            ca: dir.path().join("ca.pem"),
            token: Zeroizing::new(token.trim().to_owned()),
            dir,
        })
    }

    /// `https://127.0.0.1:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The data directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `127.0.0.1:port` of the KMIP listener.
    pub fn kmip_addr(&self) -> &str {
        &self.kmip_addr
    }

    /// The server as a target of the harness.
    pub fn target(&self) -> Result<Target, BenchError> {
        Target::new(&self.label, &self.url, &self.ca, &self.token, false)
    }

    /// The server's KMIP listener as a target, with the client certificate in its directory.
    pub fn kmip_target(&self) -> Result<KmipTarget, BenchError> {
        KmipTarget::new(
            &self.label,
            &self.kmip_addr,
            &self.ca,
            &self.dir.path().join("kmip-client.pem"),
            &self.dir.path().join("kmip-client.key"),
            false,
        )
    }

    /// The server over `protocol`.
    pub fn endpoint(&self, protocol: Protocol) -> Result<Endpoint, BenchError> {
        Ok(match protocol {
            Protocol::Rest => Endpoint::Rest(self.target()?),
            Protocol::Kmip => Endpoint::Kmip(self.kmip_target()?),
        })
    }

    /// The process id (to read its memory from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process and waits for it; the data directory is removed.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        let _ = self.child.start_kill();
        self.child
            .wait()
            .await
            .map_err(BenchError::io(format!("waiting for {}", self.label)))?;
        Ok(())
    }
}

fn temp_dir(label: &str) -> Result<TempDir, BenchError> {
    tempfile::Builder::new()
        .prefix(&format!("keyhold-bench-{label}-"))
        .tempdir()
        .map_err(BenchError::io("creating a temporary directory"))
}

/// The `host:port` in a line such as `KMIP listening on kmip://127.0.0.1:5696 (mutual TLS)`.
pub fn kmip_listening_address(line: &str) -> Option<String> {
    let i = line.find("KMIP listening on kmip://")?;
    line[i + "KMIP listening on kmip://".len()..]
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

/// The `https://…` address in a line such as `Keyhold listening on https://127.0.0.1:8443`.
pub fn listening_address(line: &str) -> Option<String> {
    let i = line.find("listening on https://")?;
    line[i + "listening on ".len()..]
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

async fn spawn(
    label: &str,
    mut cmd: Command,
    dir: &TempDir,
) -> Result<(Child, String, String), BenchError> {
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path)
        .map_err(BenchError::io(format!("creating {}", log_path.display())))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(BenchError::io(format!("starting {label}")))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(BenchError::Server(format!("{label}: no standard output")));
    };
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(START_TIMEOUT, async {
        let (mut url, mut kmip) = (None, None);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(u) = listening_address(&line) {
                url = Some(u);
            } else if let Some(k) = kmip_listening_address(&line) {
                kmip = Some(k);
            }
            if let (Some(u), Some(k)) = (&url, &kmip) {
                return Some((u.clone(), k.clone()));
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some((url, kmip))) => {
            tokio::spawn(drain(lines));
            Ok((child, url, kmip))
        }
        _ => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(BenchError::Server(format!(
                "{label} did not start within {} s; its log ends with:\n{}",
                START_TIMEOUT.as_secs(),
                tail.join("\n")
            )))
        }
    }
}

/// Reads the rest of a child's output so that it never blocks on a full pipe; ends at EOF.
async fn drain(mut lines: tokio::io::Lines<BufReader<ChildStdout>>) {
    while let Ok(Some(_)) = lines.next_line().await {}
}

/// The `keyhold` binary: `explicit` if given, else next to this executable (or one directory
/// up, where test binaries in `deps/` find it).
pub fn find_keyhold(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(BenchError::Usage(format!(
                "--keyhold {}: no such file",
                path.display()
            )))
        };
    }
    let exe = std::env::current_exe().map_err(BenchError::io("locating this executable"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let name = format!("keyhold{}", std::env::consts::EXE_SUFFIX);
    [dir.join(&name), dir.join("..").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BenchError::Usage(format!(
                "no `keyhold` binary next to {}; build it (cargo build --release -p keyhold-cli) \
                 or pass --keyhold PATH",
                exe.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_either_banner() {
        assert_eq!(
            listening_address("Keyhold (development mode) listening on https://127.0.0.1:4431")
                .as_deref(),
            Some("https://127.0.0.1:4431")
        );
        assert_eq!(
            listening_address("baseline listening on https://127.0.0.1:9 (no authentication)")
                .as_deref(),
            Some("https://127.0.0.1:9")
        );
        assert_eq!(listening_address("admin token: x"), None);
        assert_eq!(
            kmip_listening_address("KMIP listening on kmip://127.0.0.1:5696 (mutual TLS)")
                .as_deref(),
            Some("127.0.0.1:5696")
        );
        assert_eq!(
            kmip_listening_address("Keyhold listening on https://127.0.0.1:1"),
            None
        );
    }
}
