//! Life-cycle requests: activate, suspend, resume, deactivate, revoke, schedule and cancel
//! destruction, destroy, archive, recover, and setting a pre-active key's activation date.
//! Every one goes through [`crate::lifecycle::apply`].

use serde::{Deserialize, Serialize};

use super::describe::key_info;
use super::{update_writes, Cx, Done, Response};
use crate::error::KmsError;
use crate::ids::KeyRef;
use crate::lifecycle::{apply, RevocationReason, Transition};
use crate::model::Role;
use crate::policy::ApprovalAction;

/// A life-cycle change a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StateChange {
    /// PreActive → Active.
    Activate,
    /// Active → Suspended.
    Suspend,
    /// Suspended → Active.
    Resume,
    /// → Deactivated.
    Deactivate,
    /// → Compromised or Deactivated, by reason.
    Revoke {
        /// Why.
        reason: RevocationReason,
    },
    /// Destroy after a waiting period (default from the configuration, at least its minimum).
    ScheduleDestroy {
        /// Seconds to wait.
        #[serde(default)]
        waiting_period_secs: Option<u64>,
    },
    /// Cancel a scheduled destruction.
    CancelDestroy,
    /// Destroy the material now (refused while active).
    Destroy,
    /// Move the material of a deactivated or compromised key to archive storage; the key does
    /// nothing but answer metadata requests until recovered.
    Archive,
    /// Bring an archived key's material back.
    Recover,
    /// Set or move the activation date of a pre-active key (active at once when the date is
    /// not in the future); refused once the key is active.
    SetActivationDate {
        /// The new activation date.
        at: crate::clock::Timestamp,
    },
}

/// Request: change a key's life-cycle state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeState {
    /// Id, name or alias.
    pub key: KeyRef,
    /// The change.
    pub change: StateChange,
}

impl ChangeState {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self.change {
            StateChange::Activate => "key.activate",
            StateChange::Suspend => "key.suspend",
            StateChange::Resume => "key.resume",
            StateChange::Deactivate => "key.deactivate",
            StateChange::Revoke { .. } => "key.revoke",
            StateChange::ScheduleDestroy { .. } => "key.schedule-destroy",
            StateChange::CancelDestroy => "key.cancel-destroy",
            StateChange::Destroy => "key.destroy",
            StateChange::Archive => "key.archive",
            StateChange::Recover => "key.recover",
            StateChange::SetActivationDate { .. } => "key.set-activation-date",
        }
    }

    pub(crate) async fn execute(self, cx: &Cx<'_>) -> Result<Done, KmsError> {
        cx.require(
            &[Role::KeyManager],
            "only key managers change a key's life cycle",
        )?;
        let old = cx.resolve(&self.key).await?;
        let config = &cx.kms.config;
        let transition = match self.change {
            StateChange::Activate => Transition::Activate,
            StateChange::Suspend => Transition::Suspend,
            StateChange::Resume => Transition::Resume,
            StateChange::Deactivate => Transition::Deactivate,
            StateChange::Revoke { reason } => Transition::Revoke { reason },
            StateChange::ScheduleDestroy {
                waiting_period_secs,
            } => {
                let wait = crate::clock::check_duration(
                    "the waiting period",
                    waiting_period_secs.unwrap_or(config.default_destroy_wait_secs),
                )?;
                if wait < config.min_destroy_wait_secs {
                    return Err(KmsError::invalid(format!(
                        "the waiting period must be at least {} seconds",
                        config.min_destroy_wait_secs
                    )));
                }
                Transition::ScheduleDestroy {
                    at: cx.now.plus_secs(wait),
                }
            }
            StateChange::CancelDestroy => Transition::CancelDestroy,
            StateChange::Destroy => Transition::Destroy,
            StateChange::Archive => Transition::Archive,
            StateChange::Recover => Transition::Recover,
            StateChange::SetActivationDate { at } => Transition::SetActivationDate { at },
        };
        let before = old.lifecycle.effective(cx.now);
        let lifecycle = apply(&old.lifecycle, transition, cx.now)?;
        let gated = match self.change {
            StateChange::Destroy => Some(ApprovalAction::KeyDestroy),
            StateChange::ScheduleDestroy { .. } => Some(ApprovalAction::KeyScheduleDestroy),
            _ => None,
        };
        if let Some(action) = gated {
            let what = self.action();
            cx.dual_control(action, Some(old.id), || format!("{what} of key {}", old.id))
                .await?;
        }
        let detail = match (lifecycle.destroy_at, lifecycle.archived_at) {
            (Some(at), _) if before.destroy_at.is_none() => {
                format!("{}; destruction at {at}", lifecycle.state)
            }
            (_, Some(_)) if before.archived_at.is_none() => {
                format!("{}; archived", lifecycle.state)
            }
            (_, None) if before.archived_at.is_some() => format!("{}; recovered", lifecycle.state),
            _ => format!("{} -> {}", before.state, lifecycle.state),
        };
        let mut new = old.clone();
        new.lifecycle = lifecycle;
        let info = key_info(cx, &new).await?;
        let material = super::archive::material_writes(cx, &old, &new).await?;
        let mut writes = update_writes(&old, new.clone());
        writes.0.extend(material.0);
        Ok(Done::new(Response::Key(Box::new(info)))
            .key(new.id, None)
            .writes(writes)
            .detail(detail))
    }
}
