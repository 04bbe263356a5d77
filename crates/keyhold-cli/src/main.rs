//! `keyhold`: the command-line client of the Keyhold key management system, and the launcher
//! of its server (`keyhold serve`, `keyhold init`).
//!
//! ```text
//!  argv ─► clap (args.rs, values typed by parse.rs; usage errors exit 2)
//!       ─► client commands: Ctx { Client, --json } ─► cmd::run ─► stdout (result only)
//!       ─► serve / init: keyhold_server::cli
//!  errors ─► stderr "error: <code>: <message> (request <id>)", exit 1
//!  held for approvals (202) ─► stdout the approval id, stderr the explanation, exit 3
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod args;
mod cmd;
mod error;
mod input;
mod output;
mod parse;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use keyhold_client::{Client, DEFAULT_ADDRESS};

use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::output::Ctx;

/// mimalloc instead of the system allocator: the server allocates and frees many small buffers
/// per request from several threads, where glibc's allocator spent a sixth of the CPU
/// (docs/PERFORMANCE.md). The benchmark baseline uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The CA certificate `keyhold init` writes for a development installation.
const DEV_CA: &str = "keyhold-dev/ca.pem";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Serve(a) => return run_server(keyhold_server::cli::serve(a)),
        Command::Init(a) => return run_server(keyhold_server::cli::init(a)),
        command => command,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    // An empty variable (`KEYHOLD_CACERT=`) counts as unset.
    let cacert = cli
        .cacert
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(Path::new);
    let identity = match (non_empty(&cli.client_cert), non_empty(&cli.client_key)) {
        (Some(c), Some(k)) => Some((Path::new(c), Path::new(k))),
        (None, None) => None,
        _ => {
            return report(&CliError::Input(
                "--client-cert and --client-key go together".into(),
            ))
        }
    };
    let ctx = match context(&cli.addr, cli.token.as_deref(), cacert, identity, cli.json) {
        Ok(ctx) => ctx,
        Err(e) => return report(&e),
    };
    match runtime.block_on(cmd::run(&ctx, command)) {
        Ok(code) => code,
        Err(CliError::Client(keyhold_client::ClientError::ApprovalRequired {
            approval_id,
            message,
            ..
        })) => approval_required(&approval_id, &message, cli.json),
        Err(e) => report(&e),
    }
}

/// An option that is set and not blank (an empty variable counts as unset).
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

/// The request is held for approvals: its approval id on stdout (for scripts), the
/// explanation on stderr, exit code 3.
fn approval_required(id: &str, message: &str, json: bool) -> ExitCode {
    let line = if json {
        serde_json::json!({ "code": "approval_required", "approval_id": id, "message": message })
            .to_string()
    } else {
        id.to_owned()
    };
    let _ = writeln!(std::io::stdout(), "{line}");
    let _ = writeln!(std::io::stderr(), "{message}");
    ExitCode::from(3)
}

/// Builds the client from the global flags.
fn context(
    addr: &str,
    token: Option<&str>,
    cacert: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    json: bool,
) -> Result<Ctx, CliError> {
    let addr = if addr.trim().is_empty() {
        DEFAULT_ADDRESS
    } else {
        addr
    };
    let mut builder = Client::builder().address(addr);
    if let Some(t) = token {
        builder = builder.token(t);
    }
    let ca = match cacert {
        Some(p) => Some(p.to_owned()),
        None => Some(PathBuf::from(DEV_CA)).filter(|p| p.is_file()),
    };
    if let Some(path) = ca {
        let pem = std::fs::read(&path).map_err(|e| CliError::file(&path, e))?;
        builder = builder.ca_cert_pem(pem);
    }
    if let Some((cert, key)) = identity {
        let mut pem = std::fs::read(cert).map_err(|e| CliError::file(cert, e))?;
        pem.push(b'\n');
        pem.extend(std::fs::read(key).map_err(|e| CliError::file(key, e))?);
        builder = builder.identity_pem(pem);
    }
    Ok(Ctx {
        client: builder.build()?,
        json,
    })
}

/// Prints an error to stderr; exit code 1 (0 when stdout was merely closed early).
fn report(e: &CliError) -> ExitCode {
    if e.is_broken_pipe() {
        return ExitCode::SUCCESS;
    }
    fail(&e.report())
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::FAILURE
}

/// Runs `serve` or `init` on a multi-threaded runtime.
fn run_server<E: std::fmt::Display>(
    future: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}
