//! `encrypt-file` and `decrypt-file`: envelope encryption of data of any size, streamed.
//!
//! Output to a file goes to a temporary file beside it, renamed into place only when the whole
//! stream succeeded, so a failed or tampered decryption never leaves partial plaintext behind
//! under the requested name.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use keyhold_client::envelope::{self, EnvelopeSummary};
use tempfile::NamedTempFile;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::args::{DecryptFileArgs, EncryptFileArgs};
use crate::error::CliError;
use crate::output::{print_json, warn, Ctx};
use crate::parse::pairs_to_map;

/// `keyhold encrypt-file`.
pub async fn encrypt_file(ctx: &Ctx, a: EncryptFileArgs) -> Result<ExitCode, CliError> {
    let context = pairs_to_map(&a.context.context, "context key").map_err(CliError::Input)?;
    let (reader, total) = open_input(&a.input).await?;
    let mut output = Output::create(&a.out)?;
    let bar = progress_bar(total);
    let summary = {
        let writer = output.writer()?;
        envelope::encrypt_stream(&ctx.client, &a.key, &context, reader, writer, |n| {
            bar.set_position(n)
        })
        .await
    };
    bar.finish_and_clear();
    let summary = summary?;
    output.commit()?;
    report(ctx, "encrypted", &a.out, &summary)
}

/// `keyhold decrypt-file`.
pub async fn decrypt_file(ctx: &Ctx, a: DecryptFileArgs) -> Result<ExitCode, CliError> {
    let (reader, total) = open_input(&a.input).await?;
    let mut output = Output::create(&a.out)?;
    let bar = progress_bar(total);
    let summary = {
        let writer = output.writer()?;
        envelope::decrypt_stream(&ctx.client, reader, writer, |n| bar.set_position(n)).await
    };
    bar.finish_and_clear();
    let summary = summary?;
    if summary.key_compromised {
        warn(&format!(
            "key {} is compromised: this plaintext may be known to others",
            summary.key_id
        ));
    }
    output.commit()?;
    report(ctx, "decrypted", &a.out, &summary)
}

fn is_std(path: &Path) -> bool {
    path == Path::new("-")
}

/// The input stream and, for a regular file, its size (for the progress bar).
async fn open_input(
    path: &Path,
) -> Result<(Box<dyn AsyncRead + Unpin + Send>, Option<u64>), CliError> {
    if is_std(path) {
        return Ok((Box::new(tokio::io::stdin()), None));
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::file(path, e))?;
    let meta = file.metadata().await.map_err(|e| CliError::file(path, e))?;
    if meta.is_dir() {
        return Err(CliError::Input(format!(
            "{} is a directory",
            path.display()
        )));
    }
    let total = meta.is_file().then_some(meta.len());
    Ok((Box::new(file), total))
}

/// Where the result goes: stdout, or a temporary file renamed into place by [`Output::commit`].
enum Output {
    Stdout,
    File { tmp: NamedTempFile, path: PathBuf },
}

impl Output {
    fn create(path: &Path) -> Result<Self, CliError> {
        if is_std(path) {
            return Ok(Self::Stdout);
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".keyhold-")
            .tempfile_in(dir)
            .map_err(|e| CliError::Input(format!("cannot write in {}: {e}", dir.display())))?;
        Ok(Self::File {
            tmp,
            path: path.to_owned(),
        })
    }

    fn writer(&mut self) -> Result<Box<dyn AsyncWrite + Unpin + Send>, CliError> {
        Ok(match self {
            Self::Stdout => Box::new(tokio::io::stdout()),
            Self::File { tmp, .. } => {
                Box::new(tokio::fs::File::from_std(tmp.as_file().try_clone()?))
            }
        })
    }

    /// Makes the output durable and gives it its name. Dropping an uncommitted output deletes
    /// the temporary file.
    fn commit(self) -> Result<(), CliError> {
        match self {
            Self::Stdout => Ok(()),
            Self::File { tmp, path } => {
                tmp.as_file().sync_all()?;
                tmp.persist(&path).map_err(|e| {
                    CliError::Input(format!("cannot write {}: {}", path.display(), e.error))
                })?;
                Ok(())
            }
        }
    }
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
pub(crate) fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total {
        Some(t) => {
            let bar = ProgressBar::new(t);
            if let Ok(style) = ProgressStyle::with_template(
                "{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }
    }
}

/// A summary: JSON on stdout with `--json` (unless stdout carries the data), else a line on
/// stderr when it is a terminal.
fn report(ctx: &Ctx, verb: &str, out: &Path, s: &EnvelopeSummary) -> Result<ExitCode, CliError> {
    if ctx.json {
        if !is_std(out) {
            let mut stdout = io::stdout().lock();
            print_json(
                &mut stdout,
                &serde_json::json!({
                    "key_id": s.key_id,
                    "plaintext_bytes": s.plaintext_bytes,
                    "key_compromised": s.key_compromised,
                    "out": out.display().to_string(),
                }),
            )?;
            stdout.flush()?;
        }
    } else if io::stderr().is_terminal() {
        let _ = writeln!(
            io::stderr(),
            "{verb} {} bytes with key {}",
            s.plaintext_bytes,
            s.key_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
