//! `policy`, `approval` and `duties`: key policy history and reverts, dual control, and the
//! separation-of-duties setting.

use std::io::{self, Write};
use std::process::ExitCode;
use std::str::FromStr;

use keyhold_client::api;
use keyhold_core::ids::{ApprovalId, KeyRef};
use keyhold_core::ops::{
    ApprovalPolicyInfo, DutiesInfo, PolicyHistoryList, PolicyTarget, SetApprovalPolicy, SetDuties,
};
use keyhold_core::policy::{
    ApprovalPolicy, ApprovalRecord, ApprovalRule, Approvers, PolicyDocument,
    DEFAULT_APPROVAL_TTL_SECS,
};

use crate::args::{ApprovalCommand, ApprovalPolicyCommand, DutiesCommand, PolicyCommand};
use crate::error::CliError;
use crate::output::{kv, or_dash, table, Ctx};
use crate::parse::format_duration;

/// Runs a `policy` subcommand.
pub async fn policy(ctx: &Ctx, command: PolicyCommand) -> Result<ExitCode, CliError> {
    match command {
        PolicyCommand::History { key } => {
            let target = PolicyTarget::Key { key: KeyRef(key) };
            ctx.run(api::policy_history(&target), history_table).await?;
        }
        PolicyCommand::Revert { key, to } => {
            ctx.run(api::revert_key_policy(&key, to), |o, list| {
                writeln!(o, "reverted the policy of {key} to version {to}")?;
                super::admin::grant_table(o, &list.grants)
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs an `approval` subcommand.
pub async fn approval(ctx: &Ctx, command: ApprovalCommand) -> Result<ExitCode, CliError> {
    match command {
        ApprovalCommand::List { status } => {
            ctx.run(api::list_approvals(status, None), |o, list| {
                approval_table(o, &list.approvals)
            })
            .await?;
        }
        ApprovalCommand::Show { id } => {
            let id = approval_id(&id)?;
            ctx.run(api::show_approval(&id), approval_details).await?;
        }
        ApprovalCommand::Approve { id, comment } => {
            let id = approval_id(&id)?;
            ctx.run(api::approve(&id, &comment), approval_details)
                .await?;
        }
        ApprovalCommand::Reject { id, comment } => {
            let id = approval_id(&id)?;
            ctx.run(api::reject(&id, &comment), approval_details)
                .await?;
        }
        ApprovalCommand::Policy(c) => approval_policy(ctx, c).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn approval_policy(ctx: &Ctx, command: ApprovalPolicyCommand) -> Result<(), CliError> {
    match command {
        ApprovalPolicyCommand::Show => {
            ctx.run(api::approval_policy(), policy_details).await?;
        }
        ApprovalPolicyCommand::Set {
            actions,
            approvals,
            approvers,
            approver_roles,
            ttl,
        } => {
            let current = ctx.client.send(api::approval_policy()).await?;
            let rule = ApprovalRule {
                actions: actions.iter().copied().collect(),
                approvals,
                approvers: Approvers {
                    principals: approvers.into_iter().collect(),
                    roles: approver_roles.into_iter().collect(),
                },
                ttl_secs: ttl.unwrap_or(DEFAULT_APPROVAL_TTL_SECS),
            };
            let mut policy = without(current.policy, &actions);
            policy.rules.push(rule);
            let req = SetApprovalPolicy {
                policy,
                expected_version: Some(current.version),
            };
            ctx.run(api::set_approval_policy(&req), policy_details)
                .await?;
        }
        ApprovalPolicyCommand::Remove { actions } => {
            let current = ctx.client.send(api::approval_policy()).await?;
            let req = SetApprovalPolicy {
                policy: without(current.policy, &actions),
                expected_version: Some(current.version),
            };
            ctx.run(api::set_approval_policy(&req), policy_details)
                .await?;
        }
        ApprovalPolicyCommand::History => {
            ctx.run(api::policy_history(&PolicyTarget::Approvals), history_table)
                .await?;
        }
        ApprovalPolicyCommand::Revert { to } => {
            ctx.run(api::revert_approval_policy(to), policy_details)
                .await?;
        }
    }
    Ok(())
}

/// `policy` without `actions` (rules left without an action are dropped).
fn without(
    mut policy: ApprovalPolicy,
    actions: &[keyhold_core::policy::ApprovalAction],
) -> ApprovalPolicy {
    for rule in &mut policy.rules {
        rule.actions.retain(|a| !actions.contains(a));
    }
    policy.rules.retain(|r| !r.actions.is_empty());
    policy
}

/// Runs a `duties` subcommand.
pub async fn duties(ctx: &Ctx, command: DutiesCommand) -> Result<ExitCode, CliError> {
    match command {
        DutiesCommand::Show => ctx.run(api::duties(), duties_details).await?,
        DutiesCommand::Set {
            allow_combined_duties,
        } => {
            let req = SetDuties {
                allow_combined_duties,
                expected_version: None,
            };
            ctx.run(api::set_duties(&req), duties_details).await?;
        }
        DutiesCommand::History => {
            ctx.run(api::policy_history(&PolicyTarget::Duties), history_table)
                .await?;
        }
        DutiesCommand::Revert { to } => ctx.run(api::revert_duties(to), duties_details).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn approval_id(s: &str) -> Result<ApprovalId, CliError> {
    ApprovalId::from_str(s.trim()).map_err(|_| {
        CliError::Input(format!(
            "'{s}' is not an approval id (see `keyhold approval list`)"
        ))
    })
}

fn approval_table(out: &mut impl Write, approvals: &[ApprovalRecord]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = approvals
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.status.as_str().to_owned(),
                a.action.to_string(),
                a.requester.principal.to_string(),
                format!("{}/{}", a.approvals.len(), a.required),
                a.expires_at.to_string(),
                a.summary.clone(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "ID",
            "STATUS",
            "ACTION",
            "REQUESTER",
            "APPROVALS",
            "EXPIRES",
            "REQUEST",
        ],
        &rows,
    )
}

fn approval_details(out: &mut impl Write, a: &ApprovalRecord) -> io::Result<()> {
    let approvers: Vec<String> = a
        .approvers
        .principals
        .iter()
        .map(|p| p.to_string())
        .chain(a.approvers.roles.iter().map(|r| format!("role {r}")))
        .collect();
    let approved: Vec<String> = a
        .approvals
        .iter()
        .map(|d| format!("{} at {}", d.principal, d.at))
        .collect();
    let mut rows = vec![
        ("id", a.id.to_string()),
        ("status", a.status.as_str().to_owned()),
        ("action", a.action.to_string()),
        ("request", a.summary.clone()),
        ("key", or_dash(a.key)),
        ("requester", a.requester.principal.to_string()),
        (
            "approvals",
            format!(
                "{} of {}: {}",
                a.approvals.len(),
                a.required,
                approved.join(", ")
            ),
        ),
        ("approvers", approvers.join(", ")),
        ("created", a.created_at.to_string()),
        ("expires", a.expires_at.to_string()),
        (
            "runs",
            if a.executes_on_approval() {
                "when approved".into()
            } else {
                "when the requester re-issues the request, once approved".into()
            },
        ),
    ];
    if let Some(r) = &a.rejection {
        rows.push(("rejected by", format!("{} at {}", r.principal, r.at)));
    }
    if let Some(t) = a.completed_at {
        rows.push(("completed", t.to_string()));
    }
    if let Some(e) = &a.error {
        rows.push(("error", e.clone()));
    }
    kv(out, &rows)
}

fn policy_details(out: &mut impl Write, p: &ApprovalPolicyInfo) -> io::Result<()> {
    writeln!(out, "version {}", p.version)?;
    rules_table(out, &p.policy)
}

fn rules_table(out: &mut impl Write, p: &ApprovalPolicy) -> io::Result<()> {
    if p.rules.is_empty() {
        return writeln!(out, "no action needs approval");
    }
    let rows: Vec<Vec<String>> = p
        .rules
        .iter()
        .map(|r| {
            let actions: Vec<&str> = r.actions.iter().map(|a| a.as_str()).collect();
            let who: Vec<String> = r
                .approvers
                .principals
                .iter()
                .map(|p| p.to_string())
                .chain(r.approvers.roles.iter().map(|x| format!("role {x}")))
                .collect();
            vec![
                actions.join(","),
                r.approvals.to_string(),
                who.join(","),
                format_duration(r.ttl_secs),
            ]
        })
        .collect();
    table(
        out,
        &["ACTIONS", "APPROVALS", "APPROVERS", "EXPIRES AFTER"],
        &rows,
    )
}

fn duties_details(out: &mut impl Write, d: &DutiesInfo) -> io::Result<()> {
    kv(
        out,
        &[
            ("version", d.version.to_string()),
            (
                "allow_combined_duties",
                d.duties.allow_combined_duties.to_string(),
            ),
            ("changed_by", or_dash(d.changed_by.as_ref())),
            ("changed_at", or_dash(d.changed_at)),
        ],
    )
}

fn history_table(out: &mut impl Write, h: &PolicyHistoryList) -> io::Result<()> {
    let rows: Vec<Vec<String>> = h
        .versions
        .iter()
        .map(|v| {
            let document = match &v.document {
                PolicyDocument::Grants { grants } => format!("{} grant(s)", grants.len()),
                PolicyDocument::Approvals(p) => format!("{} rule(s)", p.rules.len()),
                PolicyDocument::Duties(d) => {
                    format!("allow_combined_duties={}", d.allow_combined_duties)
                }
            };
            vec![
                v.version.to_string(),
                v.changed_at.to_string(),
                v.changed_by.to_string(),
                v.change.clone(),
                document,
                or_dash(v.approval),
            ]
        })
        .collect();
    table(
        out,
        &["VERSION", "CHANGED", "BY", "CHANGE", "POLICY", "APPROVAL"],
        &rows,
    )
}
