//! `key …`: create, list, show, update, rotate, life cycle, import, public key, aliases.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;

use base64::Engine;
use keyhold_client::api::{self, StateChange};
use keyhold_core::ids::{AliasName, KeyName, KeyRef};
use keyhold_core::ops::{
    CreateAlias, CreateKey, DeriveKey, ExportKey, ImportKey, KeyInfo, KeySpec, ListKeys, UpdateKey,
    WrapSpec,
};
use keyhold_crypto::{KeyFamily, Provider};
use zeroize::Zeroizing;

use crate::args::{
    AliasCommand, CreateArgs, DeriveArgs, ExportArgs, ImportArgs, KeyCommand, ListArgs,
    MaterialFormat, UpdateArgs,
};
use crate::error::CliError;
use crate::input::{pem_block, read_path};
use crate::output::{key_full, key_short, print_json, table, Ctx};
use crate::parse::pairs_to_map;

/// The attributes of a new key, from the command line.
fn key_spec(args: &crate::args::SpecArgs) -> Result<KeySpec, CliError> {
    Ok(KeySpec {
        name: args.name.as_deref().map(parse_name).transpose()?,
        description: args.description.clone(),
        tags: pairs_to_map(&args.tags, "tag").map_err(CliError::Input)?,
        labels: args.labels.clone(),
        usage: args.usage,
        usage_mask: None,
        activation_date: args.activation_date,
        deactivation_date: args.deactivation_date,
        crypto_period_secs: args.crypto_period,
        rotation_period_secs: args.rotation_period,
        pre_active: args.pre_active,
    })
}

/// Runs a `key` subcommand.
pub async fn run(ctx: &Ctx, command: KeyCommand) -> Result<ExitCode, CliError> {
    match command {
        KeyCommand::Create(a) => create(ctx, a).await?,
        KeyCommand::List(a) => list(ctx, a).await?,
        KeyCommand::Show(k) => ctx.run(api::describe_key(&k.key), key_full).await?,
        KeyCommand::Update(a) => update(ctx, a).await?,
        KeyCommand::Rotate(k) => ctx.run(api::rotate_key(&k.key), key_short).await?,
        KeyCommand::Activate(k) => change(ctx, &k.key, StateChange::Activate).await?,
        KeyCommand::Suspend(k) => change(ctx, &k.key, StateChange::Suspend).await?,
        KeyCommand::Resume(k) => change(ctx, &k.key, StateChange::Resume).await?,
        KeyCommand::Deactivate(k) => change(ctx, &k.key, StateChange::Deactivate).await?,
        KeyCommand::CancelDestroy(k) => change(ctx, &k.key, StateChange::CancelDestroy).await?,
        KeyCommand::Destroy(k) => change(ctx, &k.key, StateChange::Destroy).await?,
        KeyCommand::Archive(k) => change(ctx, &k.key, StateChange::Archive).await?,
        KeyCommand::Recover(k) => change(ctx, &k.key, StateChange::Recover).await?,
        KeyCommand::Revoke(a) => {
            change(ctx, &a.key, StateChange::Revoke { reason: a.reason }).await?
        }
        KeyCommand::ScheduleDestroy(a) => {
            let waiting_period_secs = a.days.map(|d| u64::from(d) * 86_400).or(a.waiting_period);
            change(
                ctx,
                &a.key,
                StateChange::ScheduleDestroy {
                    waiting_period_secs,
                },
            )
            .await?
        }
        KeyCommand::Import(a) => import(ctx, a).await?,
        KeyCommand::PublicKey(a) => {
            ctx.run(api::public_key(&a.key, a.version), |o, p| {
                write!(o, "{}", p.public_key_pem)
            })
            .await?
        }
        KeyCommand::Alias(a) => alias(ctx, a).await?,
        KeyCommand::Derive(a) => derive(ctx, a).await?,
        KeyCommand::Export(a) => export(ctx, a).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_name(s: &str) -> Result<KeyName, CliError> {
    KeyName::from_str(s.trim()).map_err(|e| CliError::Input(e.public_message()))
}

async fn create(ctx: &Ctx, a: CreateArgs) -> Result<(), CliError> {
    let req = CreateKey {
        algorithm: a.algorithm,
        spec: key_spec(&a.spec)?,
        idempotency_token: a.idempotency_token,
    };
    ctx.run(api::create_key(&req), key_short).await
}

async fn derive(ctx: &Ctx, a: DeriveArgs) -> Result<(), CliError> {
    // The core's own JSON form, so that the names and checks are the server's.
    let mut derivation = serde_json::json!({ "method": a.method, "hash": a.hash });
    for (field, value) in [
        ("salt", &a.salt),
        ("info", &a.info),
        ("context", &a.context),
    ] {
        if let Some(v) = value {
            derivation[field] = v.clone().into();
        }
    }
    if let Some(n) = a.iterations {
        derivation["iterations"] = n.into();
    }
    let derivation = serde_json::from_value(derivation)
        .map_err(|e| CliError::Input(format!("derivation: {e}")))?;
    let req = DeriveKey {
        base: KeyRef(a.base),
        derivation,
        algorithm: a.algorithm,
        kind: Default::default(),
        length: None,
        spec: key_spec(&a.spec)?,
    };
    ctx.run(api::derive_key(&req), key_short).await
}

async fn export(ctx: &Ctx, a: ExportArgs) -> Result<(), CliError> {
    let wrap = match a.wrap_key {
        Some(key) => Some(WrapSpec {
            key: KeyRef(key),
            mode: serde_json::from_value(a.wrap_mode.clone().into()).map_err(|_| {
                CliError::Input(format!(
                    "--wrap-mode {}: use aes-key-wrap or aes-key-wrap-pad",
                    a.wrap_mode
                ))
            })?,
        }),
        None => None,
    };
    let req = ExportKey {
        key: KeyRef(a.key),
        key_version: a.version,
        wrap,
    };
    let reply = ctx.fetch(api::export_key(&req)).await?;
    if let Some(path) = &a.out {
        super::crypto::write_private_file(path, reply.value.material.0.as_bytes())?;
        // The material went to the file only.
        if let Some(raw) = reply.raw() {
            let mut shown = raw.clone();
            if let Some(fields) = shown.as_object_mut() {
                fields.remove("material");
                fields.insert("written_to".into(), path.display().to_string().into());
            }
            let mut out = std::io::stdout().lock();
            print_json(&mut out, &shown)?;
            return Ok(out.flush()?);
        }
    }
    ctx.show(&reply, |o, r| {
        let mut rows = vec![
            ("id", r.key.id.to_string()),
            ("version", r.key_version.to_string()),
            (
                "wrapped by",
                r.wrapped_by
                    .as_ref()
                    .map_or("- (in the clear)".into(), |w| {
                        let mode = serde_json::to_value(w.mode).unwrap_or_default();
                        format!(
                            "{} version {} ({})",
                            w.key_id,
                            w.key_version,
                            mode.as_str().unwrap_or("?")
                        )
                    }),
            ),
        ];
        match &a.out {
            Some(path) => rows.push(("written to", path.display().to_string())),
            None => rows.push((
                "material",
                base64::engine::general_purpose::STANDARD.encode(r.material.0.as_bytes()),
            )),
        }
        crate::output::kv(o, &rows)
    })
}

async fn list(ctx: &Ctx, a: ListArgs) -> Result<(), CliError> {
    let mut req = ListKeys {
        state: a.state,
        algorithm: a.algorithm,
        tag: a.tag.map(|(k, v)| format!("{k}={v}")),
        name_prefix: a.name_prefix,
        label: a.label,
        limit: a.limit,
        page_token: a.page_token,
    };
    if !a.all {
        return ctx
            .run(api::list_keys(&req), |o, page| {
                key_table(o, &page.keys)?;
                if let Some(next) = &page.next_page {
                    writeln!(o, "more: --page-token {next}")?;
                }
                Ok(())
            })
            .await;
    }
    // Every page: one combined answer, in the same shape as a single page.
    let mut keys = Vec::new();
    let mut raw_keys = Vec::new();
    loop {
        let page = ctx.fetch(api::list_keys(&req)).await?;
        if let Some(arr) = page
            .raw()
            .and_then(|j| j.get("keys"))
            .and_then(|k| k.as_array())
        {
            raw_keys.extend(arr.iter().cloned());
        }
        let next = page.value.next_page.clone();
        keys.extend(page.value.keys);
        match next {
            // A server that repeats the same token would loop forever: stop instead.
            Some(next) if Some(&next) != req.page_token.as_ref() => req.page_token = Some(next),
            _ => break,
        }
    }
    let mut out = std::io::stdout().lock();
    if ctx.json {
        print_json(
            &mut out,
            &serde_json::json!({ "keys": raw_keys, "next_page": null }),
        )?;
    } else {
        key_table(&mut out, &keys)?;
    }
    out.flush()?;
    Ok(())
}

fn key_table(out: &mut impl Write, keys: &[KeyInfo]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.to_string(),
                k.name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
                k.algorithm.to_string(),
                k.usage.to_string(),
                k.state.to_string(),
                k.current_version.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &["ID", "NAME", "ALGORITHM", "USAGE", "STATE", "VERSION"],
        &rows,
    )
}

async fn update(ctx: &Ctx, a: UpdateArgs) -> Result<(), CliError> {
    let tags = if a.clear_tags {
        Some(Default::default())
    } else if a.tags.is_empty() {
        None
    } else {
        Some(pairs_to_map(&a.tags, "tag").map_err(CliError::Input)?)
    };
    let req = UpdateKey {
        key: KeyRef(a.key),
        name: a.name.as_deref().map(parse_name).transpose()?,
        description: a.description,
        tags,
        labels: if a.clear_labels {
            Some(Vec::new())
        } else {
            (!a.labels.is_empty()).then_some(a.labels)
        },
        rotation_period_secs: a.rotation_period,
        min_decrypt_version: a.min_decrypt_version,
        deactivation_date: a.deactivation_date,
    };
    ctx.run(api::update_key(&req), key_short).await
}

async fn change(ctx: &Ctx, key: &str, change: StateChange) -> Result<(), CliError> {
    ctx.run(api::change_state(key, &change), key_short).await
}

/// Reads key material in the form the server expects: raw bytes for AES and HMAC, PKCS#8 DER
/// for key pairs.
fn read_material(
    path: &Path,
    alg: keyhold_crypto::Algorithm,
    format: Option<MaterialFormat>,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let bytes = read_path(path)?;
    let symmetric = matches!(alg.family(), KeyFamily::Aes | KeyFamily::Hmac);
    let format = format.unwrap_or(if symmetric {
        MaterialFormat::Raw
    } else if bytes.starts_with(b"-----BEGIN") {
        MaterialFormat::Pkcs8Pem
    } else {
        MaterialFormat::Pkcs8Der
    });
    match (format, symmetric) {
        (MaterialFormat::Raw, true) | (MaterialFormat::Pkcs8Der, false) => Ok(bytes),
        (MaterialFormat::Pkcs8Pem, false) => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| CliError::Input("the PEM file is not text".into()))?;
            if !text.contains("-----BEGIN PRIVATE KEY-----") && text.contains("PRIVATE KEY-----") {
                return Err(CliError::Input(
                    "the key is not PKCS#8; convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY -out key.p8.pem`".into(),
                ));
            }
            pem_block(text, "PRIVATE KEY")
        }
        (_, true) => Err(CliError::Input(format!(
            "{alg} material is raw key bytes: use --format raw"
        ))),
        (MaterialFormat::Raw, false) => Err(CliError::Input(format!(
            "{alg} material is a PKCS#8 private key: use --format pkcs8-der or pkcs8-pem"
        ))),
    }
}

async fn import(ctx: &Ctx, a: ImportArgs) -> Result<(), CliError> {
    let material = read_material(&a.material, a.algorithm, a.format)?;
    let params = ctx.client.import_parameters().await?;
    let provider = Provider::aws_lc();
    let wrapping = provider
        .public_key_from_pem(&params.wrapping_public_key_pem)
        .map_err(|e| CliError::Input(format!("the server's wrapping key does not parse: {e}")))?;
    let wrapped_material = provider
        .wrap_for_import(&wrapping, &material)
        .map_err(|e| CliError::Input(format!("cannot wrap the material: {e}")))?;
    drop(material);
    let req = ImportKey {
        import_token: params.import_token,
        algorithm: a.algorithm,
        wrapped_material,
        key: a.key.map(KeyRef),
        spec: key_spec(&a.spec)?,
    };
    ctx.run(api::import_key(&req), key_short).await
}

async fn alias(ctx: &Ctx, command: AliasCommand) -> Result<(), CliError> {
    match command {
        AliasCommand::Create { alias, key } => {
            let alias = AliasName::from_str(alias.trim())
                .map_err(|e| CliError::Input(e.public_message()))?;
            let req = CreateAlias {
                alias,
                key: KeyRef(key),
            };
            ctx.run(api::create_alias(&req), |o, list| {
                for a in &list.aliases {
                    writeln!(o, "{} -> {}", a.name, a.key_id)?;
                }
                Ok(())
            })
            .await
        }
        AliasCommand::Delete { alias } => {
            ctx.run(api::delete_alias(alias.trim()), |o, _| {
                writeln!(o, "deleted {}", alias.trim())
            })
            .await
        }
        AliasCommand::List { key } => {
            ctx.run(api::list_aliases(key.as_deref()), |o, list| {
                let rows: Vec<Vec<String>> = list
                    .aliases
                    .iter()
                    .map(|a| vec![a.name.to_string(), a.key_id.to_string()])
                    .collect();
                table(o, &["ALIAS", "KEY"], &rows)
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhold_crypto::Algorithm;

    #[test]
    fn material_formats_follow_the_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("k.bin");
        std::fs::write(&raw, [7u8; 32]).unwrap();
        assert_eq!(
            read_material(&raw, Algorithm::Aes256, None).unwrap().len(),
            32
        );
        assert!(read_material(&raw, Algorithm::Aes256, Some(MaterialFormat::Pkcs8Pem)).is_err());
        assert!(read_material(&raw, Algorithm::EcP256, Some(MaterialFormat::Raw)).is_err());

        let pem = dir.path().join("k.pem");
        std::fs::write(
            &pem,
            "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert_eq!(
            &*read_material(&pem, Algorithm::EcP256, None).unwrap(),
            b"hello"
        );

        let legacy = dir.path().join("rsa.pem");
        std::fs::write(
            &legacy,
            "-----BEGIN RSA PRIVATE KEY-----\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = read_material(&legacy, Algorithm::Rsa2048, None).unwrap_err();
        assert!(e.to_string().contains("openssl pkcs8"));
    }
}
