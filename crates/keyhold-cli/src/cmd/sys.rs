//! `status`, `unseal`, `whoami`.

use std::io::IsTerminal;
use std::process::ExitCode;

use keyhold_client::api;
use zeroize::Zeroizing;

use crate::args::UnsealArgs;
use crate::error::CliError;
use crate::input::read_line_stdin;
use crate::output::{kv, Ctx};

/// `keyhold status`.
pub async fn status(ctx: &Ctx) -> Result<ExitCode, CliError> {
    ctx.run(api::health(), |out, h| {
        let mut rows = vec![
            ("status", h.status.clone()),
            ("version", h.version.clone()),
            ("initialized", h.initialized.to_string()),
            ("sealed", h.sealed.to_string()),
        ];
        if let Some(u) = h.unseal {
            rows.push((
                "unseal",
                format!("{} of {} shares submitted", u.submitted, u.threshold),
            ));
        }
        if let Some(b) = &h.backup {
            let mut text = b.status.clone();
            if let Some(at) = &b.last_success_at {
                text.push_str(&format!(", last success {at}"));
            }
            if let Some(e) = b.last_error.as_ref().filter(|_| b.status == "failing") {
                text.push_str(&format!(", {} failures, last: {e}", b.failures));
            }
            rows.push(("backups", text));
        }
        if let Some(r) = &h.restore {
            let text = if r.state == "running" {
                format!(
                    "backup {} running (started {}, run {})",
                    r.backup_id, r.started_at, r.runs
                )
            } else {
                format!(
                    "backup {} {} (started {}, {} run(s)): run the same `keyhold backup restore` \
                     again, with that backup's pair, to finish it",
                    r.backup_id, r.state, r.started_at, r.runs
                )
            };
            rows.push(("restore", text));
        }
        kv(out, &rows)
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold unseal`.
pub async fn unseal(ctx: &Ctx, args: UnsealArgs) -> Result<ExitCode, CliError> {
    let share = match args.share {
        Some(s) => Zeroizing::new(s),
        None if std::io::stdin().is_terminal() => rpassword::prompt_password("Unseal share: ")
            .map(Zeroizing::new)
            .map_err(|e| {
                CliError::Input(format!("cannot read the share from the terminal: {e}"))
            })?,
        None => read_line_stdin()?,
    };
    let share = share.trim();
    if share.is_empty() {
        return Err(CliError::Input("the unseal share is empty".into()));
    }
    ctx.run(api::unseal(share), |out, r| {
        use std::io::Write;
        if r.sealed {
            writeln!(
                out,
                "share accepted: {} of {} submitted; still sealed",
                r.submitted, r.threshold
            )
        } else {
            writeln!(out, "unsealed")
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold root rotate`.
pub async fn rotate_root(ctx: &Ctx) -> Result<ExitCode, CliError> {
    ctx.run(api::rotate_root(), |out, r| {
        kv(
            out,
            &[
                ("tenant KEKs rewrapped", r.tenants.to_string()),
                ("archive keys rewrapped", r.archive_keys.to_string()),
                ("sealed by", r.sealed_by.clone()),
            ],
        )
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold root rekey`.
pub async fn rekey_unseal(ctx: &Ctx, shares: u8, threshold: u8) -> Result<ExitCode, CliError> {
    let req = keyhold_core::ops::RekeyUnseal { shares, threshold };
    ctx.run(api::rekey_unseal(&req), |out, r| {
        use std::io::Write;
        writeln!(
            out,
            "New unseal shares: {} of {} are needed to unseal. Give each to a different person;",
            r.threshold,
            r.shares.len()
        )?;
        writeln!(out, "the old shares no longer unseal this server.")?;
        writeln!(out)?;
        for (i, s) in r.shares.iter().enumerate() {
            writeln!(
                out,
                "  share {}: {}",
                i + 1,
                String::from_utf8_lossy(s.0.as_bytes())
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyhold whoami`.
pub async fn whoami(ctx: &Ctx) -> Result<ExitCode, CliError> {
    ctx.run(api::whoami(), |out, w| {
        kv(
            out,
            &[
                ("tenant", w.tenant.to_string()),
                ("principal", w.principal.to_string()),
                ("roles", w.roles.to_string()),
            ],
        )
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
