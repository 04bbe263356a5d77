//! `backup create | verify | restore | recover-key`.
//!
//! ```text
//!  create:   server streams the key backup ─► DIR/.keyhold-*.tmp (fsync) ─► rename .keys
//!            KEK backup ─► DIR/.keyhold-*.tmp (fsync) ─► rename .keks ─► fsync DIR
//!            (a killed process leaves only temporary files, or a key backup without its KEK
//!            backup: never a pair that verifies but does not restore)
//!  verify:   offline; with shares or private key everything, without them headers and pairing
//!  restore / recover-key: the backup key is opened here, sent over TLS with the artifacts
//! ```

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use keyhold_client::backup as client;
use keyhold_core::backup::format::read_header;
use keyhold_core::backup::verify::{self, read_pair, structural_report};
use keyhold_core::backup::wire::{CreateBackupRequest, SharesSpec, Summary};
use keyhold_core::backup::{BackupKey, BackupSecret, Report};
use keyhold_crypto::shamir::Share;
use keyhold_crypto::SecretBytes;
use zeroize::Zeroizing;

use crate::args::{BackupCommand, BackupCreateArgs, BackupInputArgs};
use crate::cmd::files::progress_bar;
use crate::error::CliError;
use crate::input::pem_block;
use crate::output::{print_json, Ctx};

/// Runs a `backup` subcommand.
pub async fn run(ctx: &Ctx, command: BackupCommand) -> Result<ExitCode, CliError> {
    match command {
        BackupCommand::Create(a) => create(ctx, a).await,
        BackupCommand::Verify(a) => verify_cmd(ctx, &a.input).await,
        BackupCommand::Restore(a) => restore(ctx, &a.input).await,
        BackupCommand::RecoverKey(a) => recover_key(ctx, a.key, &a.input).await,
    }
}

async fn create(ctx: &Ctx, a: BackupCreateArgs) -> Result<ExitCode, CliError> {
    let req = match &a.recipient {
        Some(path) => CreateBackupRequest {
            shares: None,
            recipient_public_key_pem: Some(
                std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?,
            ),
        },
        None => CreateBackupRequest {
            shares: Some(SharesSpec {
                threshold: a.threshold,
                shares: a.shares,
            }),
            recipient_public_key_pem: None,
        },
    };
    std::fs::create_dir_all(&a.out)
        .map_err(|e| CliError::Input(format!("cannot create {}: {e}", a.out.display())))?;
    let tmp_keys = temp_in(&a.out)?;
    let bar = progress_bar(None);
    let result = {
        let file = tokio::fs::File::from_std(tmp_keys.as_file().try_clone()?);
        client::create(&ctx.client, &req, file, &mut |n| bar.set_position(n)).await
    };
    bar.finish_and_clear();
    let (kek_backup, summary) = result?;
    let (keys_name, keks_name) = names(&summary.backup_id);
    let keys_path = a.out.join(&keys_name);
    let keks_path = a.out.join(&keks_name);
    let tmp_keks = temp_in(&a.out)?;
    tmp_keks.as_file().write_all(&kek_backup)?;
    tmp_keks.as_file().sync_all()?;
    tmp_keys.as_file().sync_all()?;
    // The shares are printed before the files get their names: a pair never exists on disk
    // without its shares having been handed out.
    report_created(ctx, &summary, &keys_path, &keks_path)?;
    persist(tmp_keys, &keys_path)?;
    persist(tmp_keks, &keks_path)?;
    std::fs::File::open(&a.out)?.sync_all()?;
    Ok(ExitCode::SUCCESS)
}

fn names(backup_id: &str) -> (String, String) {
    (
        format!("keyhold-backup-{backup_id}.keys"),
        format!("keyhold-backup-{backup_id}.keks"),
    )
}

fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile, CliError> {
    tempfile::Builder::new()
        .prefix(".keyhold-backup-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| CliError::Input(format!("cannot write in {}: {e}", dir.display())))
}

/// fsync, then give the file its name.
fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), CliError> {
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| CliError::Input(format!("cannot write {}: {}", path.display(), e.error)))?;
    Ok(())
}

fn report_created(ctx: &Ctx, s: &Summary, keys: &Path, keks: &Path) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    if ctx.json {
        print_json(
            &mut out,
            &serde_json::json!({
                "backup_id": s.backup_id,
                "key_backup": keys.display().to_string(),
                "kek_backup": keks.display().to_string(),
                "counts": s.counts,
                "audit_head": s.audit_head,
                "key_backup_sha256": s.key_backup_sha256,
                "key_backup_bytes": s.key_backup_bytes,
                "shares": s.shares,
            }),
        )?;
    } else {
        let c = &s.counts;
        writeln!(out, "Backup {} written.", s.backup_id)?;
        writeln!(
            out,
            "  key backup: {} ({} bytes)",
            keys.display(),
            s.key_backup_bytes
        )?;
        writeln!(out, "  KEK backup: {}", keks.display())?;
        writeln!(
            out,
            "  {} tenants, {} keys, {} versions, {} archived, {} aliases, {} grants, {} tokens",
            c.tenants, c.keys, c.versions, c.archived, c.aliases, c.grants, c.tokens
        )?;
        writeln!(out, "Store the two files in different places.")?;
        if !s.shares.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "Backup shares (shown only now; any threshold of them opens this backup):"
            )?;
            for (i, share) in s.shares.iter().enumerate() {
                writeln!(out, "  share {}: {share}", i + 1)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The secret given on the command line, if any.
fn secret(input: &BackupInputArgs) -> Result<Option<BackupSecret>, CliError> {
    let mut texts: Vec<Zeroizing<String>> = input
        .shares
        .iter()
        .map(|s| Zeroizing::new(s.clone()))
        .collect();
    if let Some(path) = &input.shares_file {
        let all =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?);
        texts.extend(
            all.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Zeroizing::new(l.trim().to_owned())),
        );
    }
    match (&input.private_key, texts.is_empty()) {
        (Some(_), false) => Err(CliError::Input(
            "give backup shares or a private key, not both".into(),
        )),
        (Some(path), true) => {
            let pem =
                Zeroizing::new(std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?);
            let der = pem_block(&pem, "PRIVATE KEY")?;
            Ok(Some(BackupSecret::PrivateKey(SecretBytes::new(
                der.to_vec(),
            ))))
        }
        (None, false) => {
            let shares = texts
                .iter()
                .map(|t| Share::parse(t).map_err(|e| CliError::Input(format!("backup share: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(BackupSecret::Shares(shares)))
        }
        (None, true) => Ok(None),
    }
}

async fn open_file(path: &Path) -> Result<(tokio::fs::File, u64), CliError> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|e| CliError::file(path, e))?;
    let len = f
        .metadata()
        .await
        .map_err(|e| CliError::file(path, e))?
        .len();
    Ok((f, len))
}

async fn verify_cmd(ctx: &Ctx, input: &BackupInputArgs) -> Result<ExitCode, CliError> {
    let secret = secret(input)?;
    let (mut keys, len) = open_file(&input.key_backup).await?;
    let (mut keks, _) = open_file(&input.kek_backup).await?;
    let Some(secret) = secret else {
        // Without the secret the contents (encrypted and authenticated as a whole) cannot be
        // checked: a flipped byte inside them goes unseen, so this is not a pass.
        let report = structural_report(&read_pair(&mut keys, &mut keks).await.map_err(backup_err)?);
        print_report(ctx, "headers checked, contents NOT verified", &report)?;
        return Ok(ExitCode::from(2));
    };
    let bar = progress_bar(Some(len));
    let r = verify::verify(keys, keks, &secret, &|n| bar.set_position(n)).await;
    bar.finish_and_clear();
    print_report(ctx, "verified", &r.map_err(backup_err)?)?;
    Ok(ExitCode::SUCCESS)
}

fn backup_err(e: keyhold_core::backup::BackupError) -> CliError {
    CliError::Backup(e.into())
}

/// Opens the backup key here, from the shares or private key.
async fn backup_key(input: &BackupInputArgs) -> Result<(BackupKey, Vec<u8>), CliError> {
    let secret = secret(input)?.ok_or_else(|| {
        CliError::Input("give the backup shares (--share, --shares-file) or --private-key".into())
    })?;
    let kek_backup =
        std::fs::read(&input.kek_backup).map_err(|e| CliError::file(&input.kek_backup, e))?;
    let mut reader: &[u8] = &kek_backup;
    let (header, _) = read_header(&mut reader).await.map_err(backup_err)?;
    let key = BackupKey::open(&header, &secret).map_err(backup_err)?;
    Ok((key, kek_backup))
}

async fn restore(ctx: &Ctx, input: &BackupInputArgs) -> Result<ExitCode, CliError> {
    let (key, kek_backup) = backup_key(input).await?;
    let (file, len) = open_file(&input.key_backup).await?;
    let bar = progress_bar(Some(len));
    let b = bar.clone();
    let r = client::restore(
        &ctx.client,
        &key,
        &kek_backup,
        file,
        Box::new(move |n| b.set_position(n)),
    )
    .await;
    bar.finish_and_clear();
    print_report(ctx, "restored", &r?)?;
    Ok(ExitCode::SUCCESS)
}

async fn recover_key(
    ctx: &Ctx,
    key_id: keyhold_core::ids::KeyId,
    input: &BackupInputArgs,
) -> Result<ExitCode, CliError> {
    let (key, kek_backup) = backup_key(input).await?;
    let (file, len) = open_file(&input.key_backup).await?;
    let bar = progress_bar(Some(len));
    let b = bar.clone();
    let r = client::recover_key(
        &ctx.client,
        &key,
        key_id,
        &kek_backup,
        file,
        Box::new(move |n| b.set_position(n)),
    )
    .await;
    bar.finish_and_clear();
    let r = r?;
    let mut out = io::stdout().lock();
    if ctx.json {
        print_json(&mut out, &serde_json::to_value(&r)?)?;
    } else {
        writeln!(
            out,
            "Recovered key {} ({} versions, {} grants) from backup {}",
            r.key_id, r.versions, r.grants, r.backup_id
        )?;
        if !r.aliases.is_empty() {
            writeln!(out, "  aliases: {}", r.aliases.join(", "))?;
        }
        if !r.aliases_skipped.is_empty() {
            writeln!(
                out,
                "  aliases not restored (names taken): {}",
                r.aliases_skipped.join(", ")
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(ctx: &Ctx, verb: &str, r: &Report) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    if ctx.json {
        print_json(&mut out, &serde_json::to_value(r)?)?;
        out.flush()?;
        return Ok(());
    }
    writeln!(out, "Backup {} {verb}.", r.backup_id)?;
    if let Some(t) = r.created_at {
        writeln!(out, "  taken:      {t}")?;
    }
    writeln!(out, "  protection: {}", r.protection)?;
    if !r.contents_verified {
        writeln!(
            out,
            "  contents NOT checked: give the backup shares or private key to check them (exit code 2)"
        )?;
    }
    if let Some(c) = &r.counts {
        writeln!(
            out,
            "  {} tenants, {} keys, {} versions ({} material checked), {} archived, {} aliases, {} grants, {} tokens",
            c.tenants, c.keys, c.versions, r.versions_checked, c.archived, c.aliases, c.grants, c.tokens
        )?;
    }
    for (tenant, states) in &r.keys_by_tenant_state {
        let parts: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
        writeln!(out, "  tenant {tenant}: {}", parts.join(", "))?;
    }
    if !r.keys_by_algorithm.is_empty() {
        let parts: Vec<String> = r
            .keys_by_algorithm
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect();
        writeln!(out, "  algorithms: {}", parts.join(", "))?;
    }
    if let Some((seq, hash)) = &r.audit_head {
        writeln!(out, "  audit head at the snapshot: seq {seq} {hash}")?;
    }
    if io::stderr().is_terminal() {
        for c in &r.checks {
            let _ = writeln!(io::stderr(), "  checked: {c}");
        }
    }
    out.flush()?;
    Ok(())
}
