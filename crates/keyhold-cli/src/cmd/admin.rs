//! `token …`, `grant …`, `audit …`.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use keyhold_client::api;
use keyhold_core::clock::{Clock, SystemClock};
use keyhold_core::ids::{GrantId, KeyRef, TokenId};
use keyhold_core::model::{Conditions, Grant, Grantee};
use keyhold_core::ops::{AuditVerifyResponse, CreateGrant, CreateToken, ListGrants, TokenInfo};

use crate::args::{
    AuditCommand, GrantCommand, KmipClientCommand, TenantCommand, TokenCommand, TrustAnchorCommand,
};
use crate::error::CliError;
use crate::output::{kv, or_dash, table, Ctx};

/// Runs a `token` subcommand.
pub async fn token(ctx: &Ctx, command: TokenCommand) -> Result<ExitCode, CliError> {
    match command {
        TokenCommand::Create {
            principal,
            role,
            ttl,
            description,
            tenant,
        } => {
            let req = CreateToken {
                principal,
                role,
                ttl_secs: ttl,
                description,
                tenant,
            };
            // The secret alone, so that `export KEYHOLD_TOKEN=$(keyhold token create …)` works.
            ctx.run(api::create_token(&req), |o, t| {
                writeln!(o, "{}", t.token.expose())
            })
            .await?;
        }
        TokenCommand::List => {
            ctx.run(api::list_tokens(), |o, list| {
                let now = SystemClock.now();
                let rows: Vec<Vec<String>> = list
                    .tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.principal.to_string(),
                            t.role.to_string(),
                            token_status(t, now).into(),
                            t.created_at.to_string(),
                            or_dash(t.expires_at),
                            t.description.clone(),
                        ]
                    })
                    .collect();
                table(
                    o,
                    &[
                        "ID",
                        "PRINCIPAL",
                        "ROLE",
                        "STATUS",
                        "CREATED",
                        "EXPIRES",
                        "DESCRIPTION",
                    ],
                    &rows,
                )
            })
            .await?;
        }
        TokenCommand::Revoke { id } => {
            let id = TokenId::from_str(id.trim()).map_err(|_| {
                CliError::Input(format!(
                    "'{id}' is not a token id (see `keyhold token list`)"
                ))
            })?;
            ctx.run(api::revoke_token(&id), |o, t| {
                writeln!(o, "revoked token {} of {}", t.id, t.principal)
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn token_status(t: &TokenInfo, now: keyhold_core::clock::Timestamp) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    }
}

/// Runs a `grant` subcommand.
pub async fn grant(ctx: &Ctx, command: GrantCommand) -> Result<ExitCode, CliError> {
    match command {
        GrantCommand::Create {
            key,
            to,
            to_role,
            ops,
            require_context,
            not_before,
            not_after,
            max_uses,
        } => {
            let grantee = match (to, to_role) {
                (Some(p), _) => Grantee::Principal(p),
                (None, Some(role)) => Grantee::Role { role },
                (None, None) => return Err(CliError::Input("give --to or --to-role".into())),
            };
            let context = crate::parse::pairs_to_map(&require_context, "context key")
                .map_err(CliError::Input)?;
            let req = CreateGrant {
                key: KeyRef(key),
                grantee,
                operations: ops.into_iter().collect(),
                conditions: Conditions {
                    context,
                    not_before,
                    not_after,
                    max_uses,
                },
            };
            ctx.run(api::create_grant(&req), |o, g| {
                grant_table(o, std::slice::from_ref(g))
            })
            .await?;
        }
        GrantCommand::List { key, grantee } => {
            let req = ListGrants {
                key: key.map(KeyRef),
                grantee,
            };
            ctx.run(api::list_grants(&req), |o, list| {
                grant_table(o, &list.grants)
            })
            .await?;
        }
        GrantCommand::Revoke { id } => {
            let parsed = GrantId::from_str(id.trim()).map_err(|_| {
                CliError::Input(format!(
                    "'{id}' is not a grant id (see `keyhold grant list`)"
                ))
            })?;
            ctx.run(api::revoke_grant(&parsed), |o, _| {
                writeln!(o, "revoked grant {parsed}")
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn grant_table(out: &mut impl Write, grants: &[Grant]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = grants
        .iter()
        .map(|g| {
            let ops: Vec<&str> = g.operations.iter().map(|o| o.as_str()).collect();
            vec![
                g.id.to_string(),
                g.key_id.to_string(),
                g.grantee.to_string(),
                ops.join(","),
                conditions(&g.conditions),
            ]
        })
        .collect();
    table(
        out,
        &["ID", "KEY", "GRANTEE", "OPERATIONS", "CONDITIONS"],
        &rows,
    )
}

/// A grant's conditions in one cell.
pub(crate) fn conditions(c: &Conditions) -> String {
    let mut parts = Vec::new();
    for (k, v) in &c.context {
        parts.push(format!("context {k}={v}"));
    }
    if let Some(t) = c.not_before {
        parts.push(format!("from {t}"));
    }
    if let Some(t) = c.not_after {
        parts.push(format!("until {t}"));
    }
    if let Some(n) = c.max_uses {
        parts.push(format!("max {n} uses"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

/// Runs an `audit` subcommand.
pub async fn audit(ctx: &Ctx, command: AuditCommand) -> Result<ExitCode, CliError> {
    match command {
        AuditCommand::Verify => {
            let reply = ctx.fetch(api::audit_verify()).await?;
            ctx.show(&reply, print_verification)?;
            Ok(verification_exit(&reply.value))
        }
        AuditCommand::VerifyFile { file, public_key } => {
            let result = super::audit_file::verify(&file, public_key.as_deref())?;
            let mut out = io::stdout().lock();
            if ctx.json {
                crate::output::print_json(&mut out, &serde_json::to_value(&result)?)?;
            } else {
                print_verification(&mut out, &result)?;
                if public_key.is_none() {
                    kv(
                        &mut out,
                        &[("note", "checkpoints not checked: give --public-key".into())],
                    )?;
                }
            }
            out.flush()?;
            Ok(verification_exit(&result))
        }
        AuditCommand::CheckpointKey { out } => {
            let reply = ctx.fetch(api::audit_checkpoint_key()).await?;
            let Some(pem) = reply.value.public_key_pem.clone() else {
                return Err(CliError::Input(
                    "no checkpoint has been made yet (keyhold audit checkpoint makes one)".into(),
                ));
            };
            match out {
                Some(path) => std::fs::write(&path, pem).map_err(|e| CliError::file(&path, e))?,
                None => ctx.show(&reply, |o, _| write!(o, "{pem}"))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint => {
            let reply = ctx.fetch(api::audit_checkpoint()).await?;
            ctx.show(&reply, |o, r| {
                kv(
                    o,
                    &[("checkpoint", format!("attests event {} {}", r.seq, r.hash))],
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { from, out } => {
            export(ctx, from, out).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The human form of a verification, from the server or of a file.
fn print_verification(o: &mut impl Write, r: &AuditVerifyResponse) -> io::Result<()> {
    match &r.problem {
        None => kv(
            o,
            &[
                ("audit", "ok".into()),
                ("events", r.events.to_string()),
                ("head", format!("{} {}", r.head_seq, r.head_hash)),
                (
                    "checkpoints",
                    match r.last_checkpoint {
                        Some(seq) => format!(
                            "{} verified, the last attests event {seq}; {} events after it",
                            r.checkpoints, r.unanchored
                        ),
                        None => format!("none verified; {} events unanchored", r.unanchored),
                    },
                ),
            ],
        ),
        Some(p) => kv(
            o,
            &[
                ("audit", "BROKEN".into()),
                ("problem", p.to_string()),
                (
                    "verified",
                    format!("{} events, up to {}", r.events, r.head_seq),
                ),
            ],
        ),
    }
}

/// 0 when intact, 2 when broken.
fn verification_exit(r: &AuditVerifyResponse) -> ExitCode {
    if r.ok && r.problem.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// Writes every event from `from` as one JSON line each, page after page.
async fn export(ctx: &Ctx, from: Option<u64>, out: Option<PathBuf>) -> Result<(), CliError> {
    let sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let mut sink = BufWriter::new(sink);
    let mut from = from;
    loop {
        let page = ctx.client.send_json(api::audit_events(from, None)).await?;
        let events = page
            .get("events")
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        for event in &events {
            serde_json::to_writer(&mut sink, event).map_err(io::Error::from)?;
            sink.write_all(b"\n")?;
        }
        let next = page.get("next_seq").and_then(serde_json::Value::as_u64);
        match next {
            // Stop on an empty page or a cursor that does not advance.
            Some(n) if !events.is_empty() && Some(n) != from => from = Some(n),
            _ => break,
        }
    }
    sink.flush()?;
    Ok(())
}

/// Runs a `kmip-client` subcommand.
pub async fn kmip_client(ctx: &Ctx, command: KmipClientCommand) -> Result<ExitCode, CliError> {
    match command {
        KmipClientCommand::Add {
            cert,
            roles,
            principal,
            allow_combined_duties,
            description,
        } => {
            let certificate_pem = std::fs::read_to_string(&cert)
                .map_err(|e| CliError::Input(format!("{}: {e}", cert.display())))?;
            let req = api::AddClientCert {
                certificate_pem,
                principal,
                roles: keyhold_core::model::Roles::of(&roles),
                allow_combined_duties,
                description,
            };
            ctx.run(api::add_client_cert(&req), |o, c| {
                kv(
                    o,
                    &[
                        ("fingerprint", c.fingerprint.clone()),
                        ("principal", c.principal.to_string()),
                        ("roles", c.roles.to_string()),
                        ("subject", c.subject.clone()),
                        ("expires", or_dash(c.not_after)),
                    ],
                )
            })
            .await?;
        }
        KmipClientCommand::List => {
            ctx.run(api::list_client_certs(), |o, list| {
                let rows: Vec<Vec<String>> = list
                    .client_certs
                    .iter()
                    .map(|c| {
                        vec![
                            c.fingerprint.clone(),
                            c.principal.to_string(),
                            c.roles.to_string(),
                            if c.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            }
                            .into(),
                            or_dash(c.not_after),
                            c.subject.clone(),
                        ]
                    })
                    .collect();
                table(
                    o,
                    &[
                        "FINGERPRINT",
                        "PRINCIPAL",
                        "ROLES",
                        "STATUS",
                        "EXPIRES",
                        "SUBJECT",
                    ],
                    &rows,
                )
            })
            .await?;
        }
        KmipClientCommand::Revoke { fingerprint } => {
            ctx.run(api::revoke_client_cert(fingerprint.trim()), |o, c| {
                writeln!(o, "revoked {}", c.fingerprint)
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a `tenant` subcommand.
pub async fn tenant(ctx: &Ctx, command: TenantCommand) -> Result<ExitCode, CliError> {
    match command {
        TenantCommand::Create { id } => {
            let req = keyhold_core::ops::CreateTenant { id };
            ctx.run(api::create_tenant(&req), show).await?;
        }
        TenantCommand::List => {
            ctx.run(api::list_tenants(), |o, list| {
                let rows: Vec<Vec<String>> = list
                    .tenants
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            tenant_status(t.disabled).into(),
                            t.created_at.to_string(),
                        ]
                    })
                    .collect();
                table(o, &["TENANT", "STATUS", "CREATED"], &rows)
            })
            .await?;
        }
        TenantCommand::Disable { id } => {
            ctx.run(api::set_tenant_disabled(&id, true), show).await?;
        }
        TenantCommand::Enable { id } => {
            ctx.run(api::set_tenant_disabled(&id, false), show).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(o: &mut crate::output::Out, t: &keyhold_core::ops::TenantInfo) -> io::Result<()> {
    kv(
        o,
        &[
            ("tenant", t.id.to_string()),
            ("status", tenant_status(t.disabled).into()),
            ("created", t.created_at.to_string()),
        ],
    )
}

fn tenant_status(disabled: bool) -> &'static str {
    if disabled {
        "disabled"
    } else {
        "enabled"
    }
}

/// Runs a `trust-anchor` subcommand.
pub async fn trust_anchor(ctx: &Ctx, command: TrustAnchorCommand) -> Result<ExitCode, CliError> {
    match command {
        TrustAnchorCommand::Add {
            ca,
            tenant,
            roles,
            allow_combined_duties,
            description,
        } => {
            let certificate_pem = std::fs::read_to_string(&ca)
                .map_err(|e| CliError::Input(format!("{}: {e}", ca.display())))?;
            let req = api::AddTrustAnchor {
                certificate_pem,
                tenant,
                roles: keyhold_core::model::Roles::of(&roles),
                allow_combined_duties,
                description,
            };
            ctx.run(api::add_trust_anchor(&req), |o, a| {
                kv(
                    o,
                    &[
                        ("id", a.id.to_string()),
                        ("tenant", a.tenant.to_string()),
                        ("roles", a.roles.to_string()),
                        ("subject", a.subject.clone()),
                        ("fingerprint", a.fingerprint.clone()),
                        ("expires", a.not_after.to_string()),
                    ],
                )
            })
            .await?;
        }
        TrustAnchorCommand::List { tenant } => {
            ctx.run(api::list_trust_anchors(tenant.as_ref()), |o, list| {
                let rows: Vec<Vec<String>> = list
                    .trust_anchors
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.to_string(),
                            a.tenant.to_string(),
                            a.roles.to_string(),
                            if a.removed_at.is_some() {
                                "removed"
                            } else {
                                "active"
                            }
                            .into(),
                            a.not_after.to_string(),
                            a.subject.clone(),
                        ]
                    })
                    .collect();
                table(
                    o,
                    &["ID", "TENANT", "ROLES", "STATUS", "EXPIRES", "SUBJECT"],
                    &rows,
                )
            })
            .await?;
        }
        TrustAnchorCommand::Remove { id } => {
            let id = keyhold_core::ids::TrustAnchorId::from_str(id.trim()).map_err(|_| {
                CliError::Input(format!(
                    "'{id}' is not a trust anchor id (see `keyhold trust-anchor list`)"
                ))
            })?;
            ctx.run(api::remove_trust_anchor(&id), |o, a| {
                writeln!(o, "removed trust anchor {} ({})", a.id, a.subject)
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `keyhold report KIND`: a readable summary, or the whole report with `--json`.
pub async fn report(ctx: &Ctx, args: crate::args::ReportArgs) -> Result<ExitCode, CliError> {
    use keyhold_core::ops::{Report, ReportOut};
    let req = Report {
        kind: args.kind,
        from: args.from,
        to: args.to,
    };
    ctx.run(api::report(&req), |o, r| {
        let counts = |m: &std::collections::BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match r {
            ReportOut::Keys(k) => {
                kv(
                    o,
                    &[
                        ("at", k.at.to_rfc3339()),
                        ("keys", k.total.to_string()),
                        ("by state", counts(&k.by_state)),
                        ("by algorithm", counts(&k.by_algorithm)),
                        ("by age", counts(&k.by_age)),
                    ],
                )?;
                for (title, notes) in [
                    ("past their crypto-period", &k.past_crypto_period),
                    ("rotation overdue", &k.rotation_overdue),
                ] {
                    writeln!(o, "\n{title}: {}", notes.len())?;
                    let rows: Vec<Vec<String>> = notes
                        .iter()
                        .map(|n| {
                            vec![
                                n.id.to_string(),
                                n.name.clone().unwrap_or_else(|| "-".into()),
                                n.state.to_string(),
                                n.since.to_rfc3339(),
                            ]
                        })
                        .collect();
                    if !rows.is_empty() {
                        table(o, &["ID", "NAME", "STATE", "SINCE"], &rows)?;
                    }
                }
                Ok(())
            }
            ReportOut::Access(a) => {
                let mut rows = Vec::new();
                for k in &a.keys {
                    let name = k.name.clone().unwrap_or_else(|| "-".into());
                    if k.grants.is_empty() {
                        rows.push(vec![
                            k.id.to_string(),
                            name.clone(),
                            "-".into(),
                            "-".into(),
                            "-".into(),
                        ]);
                    }
                    for g in &k.grants {
                        let ops: Vec<&str> = g.operations.iter().map(|op| op.as_str()).collect();
                        let status = match (g.uses, g.conditions.max_uses) {
                            (Some(used), Some(max)) => {
                                format!("{} ({used}/{max} uses)", g.status.as_str())
                            }
                            _ => g.status.as_str().to_owned(),
                        };
                        rows.push(vec![
                            k.id.to_string(),
                            name.clone(),
                            g.grantee.clone(),
                            ops.join(","),
                            status,
                        ]);
                    }
                }
                table(
                    o,
                    &["KEY", "NAME", "GRANTEE", "OPERATIONS", "STATUS"],
                    &rows,
                )
            }
            ReportOut::Usage(u) => {
                kv(
                    o,
                    &[
                        ("from", u.from.to_rfc3339()),
                        ("to", u.to.to_rfc3339()),
                        ("events", u.events.to_string()),
                        ("denied", u.denied.to_string()),
                        ("errors", u.errors.to_string()),
                    ],
                )?;
                if u.truncated {
                    writeln!(o, "(the scan stopped at its limit; narrow the period)")?;
                }
                for (title, map) in [("KEY", &u.by_key), ("PRINCIPAL", &u.by_principal)] {
                    let rows: Vec<Vec<String>> = map
                        .iter()
                        .map(|(who, actions)| vec![who.clone(), counts(actions)])
                        .collect();
                    writeln!(o)?;
                    table(o, &[title, "OPERATIONS"], &rows)?;
                }
                Ok(())
            }
            ReportOut::Approvals(a) => {
                for (title, list) in [("pending", &a.pending), ("executed", &a.executed)] {
                    writeln!(o, "{title}: {}", list.len())?;
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.to_string(),
                                r.action.to_string(),
                                r.requester.principal.to_string(),
                                format!("{}/{}", r.approvals.len(), r.required),
                                r.created_at.to_rfc3339(),
                                r.summary.clone(),
                            ]
                        })
                        .collect();
                    if !rows.is_empty() {
                        table(
                            o,
                            &[
                                "ID",
                                "ACTION",
                                "REQUESTER",
                                "APPROVALS",
                                "CREATED",
                                "SUMMARY",
                            ],
                            &rows,
                        )?;
                    }
                }
                Ok(())
            }
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
