//! The key life cycle of NIST SP 800-57 Part 1 §7 with KMIP's state names.
//!
//! ```text
//!             activate / activation date
//!  PreActive ───────────────────────────► Active ◄──── resume ──── Suspended
//!      │                                  │  │  └───── suspend ────────►│
//!      │                                  │  └─ deactivate / end of ─┐   │
//!      │ revoke(compromise)               │     crypto-period        ▼   │
//!      │                 revoke(compromise)                     Deactivated
//!      ▼                                  ▼                          │
//!  Compromised ◄──────────────────────────────── revoke(compromise) ─┘
//!      │ destroy                                    destroy │
//!      ▼                                                    ▼
//!  DestroyedCompromised                                 Destroyed
//! ```
//!
//! Any non-destroyed key can be scheduled for destruction; while the schedule is pending the key
//! does nothing but answer metadata and public-key requests, and at its date it is destroyed.
//!
//! A deactivated or compromised key can be archived: its material moves to archive storage
//! under a separate archive key, and the key does nothing but answer metadata reads until it
//! is recovered (no use, no change of its metadata, aliases or grants). Like a pending destruction, being archived is a field (`archived_at`), not a
//! state: the key keeps its KMIP state and comes back in it.
//!
//! [`apply`] is the only function that produces a new [`Lifecycle`]; no other code assigns a state.
//! [`check_use`] is the only place that decides whether a state permits a use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::KmsError;

/// A key's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyState {
    /// Generated, not yet usable.
    PreActive,
    /// Usable for everything its usage allows.
    Active,
    /// Temporarily unusable; can be resumed.
    Suspended,
    /// Past its protection period: processes (decrypt, verify) only.
    Deactivated,
    /// Known or suspected compromised: processes only, flagged.
    Compromised,
    /// Material destroyed; metadata kept.
    Destroyed,
    /// Material of a compromised key destroyed; metadata kept.
    DestroyedCompromised,
}

impl KeyState {
    /// Every state, for exhaustive tests.
    pub const ALL: [KeyState; 7] = [
        Self::PreActive,
        Self::Active,
        Self::Suspended,
        Self::Deactivated,
        Self::Compromised,
        Self::Destroyed,
        Self::DestroyedCompromised,
    ];

    /// The wire name, e.g. `pre-active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreActive => "pre-active",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deactivated => "deactivated",
            Self::Compromised => "compromised",
            Self::Destroyed => "destroyed",
            Self::DestroyedCompromised => "destroyed-compromised",
        }
    }

    /// Whether the key material is gone.
    pub fn is_destroyed(self) -> bool {
        matches!(self, Self::Destroyed | Self::DestroyedCompromised)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyState {
    type Err = KmsError;
    fn from_str(s: &str) -> Result<Self, KmsError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| KmsError::invalid(format!("unknown key state '{s}'")))
    }
}

/// Why a key was revoked (KMIP Revocation Reason Code, abridged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RevocationReason {
    /// The key is known or suspected to be compromised: the key becomes Compromised.
    KeyCompromise,
    /// The CA key is compromised: the key becomes Compromised.
    CaCompromise,
    /// The key's affiliation changed.
    AffiliationChanged,
    /// The key was replaced by another.
    Superseded,
    /// The key is no longer needed.
    CessationOfOperation,
    /// The key's privileges were withdrawn.
    PrivilegeWithdrawn,
    /// Any other reason.
    Unspecified,
}

impl RevocationReason {
    /// Whether this reason means compromise.
    pub fn is_compromise(self) -> bool {
        matches!(self, Self::KeyCompromise | Self::CaCompromise)
    }
}

/// Everything about a key that its life cycle depends on. Owned by [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lifecycle {
    /// The stored state (see [`Lifecycle::effective`] for the state at an instant).
    pub state: KeyState,
    /// When the key becomes (or became) active.
    pub activation_date: Option<Timestamp>,
    /// When the key's protection period ends (or ended).
    pub deactivation_date: Option<Timestamp>,
    /// When a scheduled destruction takes effect; `None` when none is pending.
    pub destroy_at: Option<Timestamp>,
    /// When the key was found compromised.
    pub compromise_date: Option<Timestamp>,
    /// Why the key was revoked, if it was.
    pub revocation_reason: Option<RevocationReason>,
    /// When the material was destroyed.
    pub destroyed_at: Option<Timestamp>,
    /// When the state last changed.
    pub state_changed_at: Timestamp,
    /// Length of the protection period: activation sets the deactivation date this far ahead.
    pub crypto_period_secs: Option<u64>,
    /// When the material was moved to archive storage; `None` while it is in the active store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<Timestamp>,
}

/// A requested or date-driven change of life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transition", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Transition {
    /// PreActive → Active, now.
    Activate,
    /// Active → Suspended.
    Suspend,
    /// Suspended → Active.
    Resume,
    /// Active, PreActive or Suspended → Deactivated.
    Deactivate,
    /// → Compromised (compromise reasons) or → Deactivated (any other reason).
    Revoke {
        /// Why.
        reason: RevocationReason,
    },
    /// Marks the key for destruction at `at`; the key is unusable until then.
    ScheduleDestroy {
        /// When the destruction takes effect.
        at: Timestamp,
    },
    /// Cancels a pending destruction. A key that was active comes back suspended, so nothing
    /// is silently re-enabled.
    CancelDestroy,
    /// Destroys the material now. Refused while the key is active.
    Destroy,
    /// Moves the material of a deactivated or compromised key to archive storage; the key does
    /// nothing but answer metadata requests until recovered.
    Archive,
    /// Brings an archived key's material back; the key is again in the state it was archived in.
    Recover,
    /// Sets (or moves) the activation date of a pre-active key: the key becomes active at `at`,
    /// at once when `at` is not in the future. Refused once the key is no longer pre-active.
    SetActivationDate {
        /// The new activation date.
        at: Timestamp,
    },
    /// Applies whatever the dates say is due at `now` (activation date, end of crypto-period,
    /// scheduled destruction). Never fails.
    Tick,
}

impl Transition {
    /// A short name for messages and audit events.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Deactivate => "deactivate",
            Self::Revoke { .. } => "revoke",
            Self::ScheduleDestroy { .. } => "schedule-destroy",
            Self::CancelDestroy => "cancel-destroy",
            Self::Destroy => "destroy",
            Self::Archive => "archive",
            Self::Recover => "recover",
            Self::SetActivationDate { .. } => "set the activation date",
            Self::Tick => "tick",
        }
    }
}

/// What a request wants to do with a key, for the state table of DESIGN.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Encrypt, sign, MAC, wrap, generate a data key.
    Protect,
    /// Decrypt, verify, MAC verify, unwrap.
    Process,
    /// Read the public key.
    PublicKey,
    /// Read metadata (always allowed).
    Metadata,
    /// Change metadata, point an alias at the key, grant its use (allowed unless archived;
    /// life-cycle changes go through [`apply`]).
    Modify,
    /// Read the secret material itself (KMIP Get): in every state that still has material.
    Export,
}

/// The answer of [`check_use`] when the use is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Allowed.
    Allowed,
    /// Allowed, but the key is compromised: flag it in the response and the audit event.
    AllowedCompromised,
}

impl Lifecycle {
    /// A new key's life cycle: pre-active until `activation_date` (active at once when that
    /// date is not in the future), deactivated at `deactivation_date` or at the end of the
    /// crypto-period after activation, whichever comes first.
    pub fn new(
        now: Timestamp,
        activation_date: Option<Timestamp>,
        deactivation_date: Option<Timestamp>,
        crypto_period_secs: Option<u64>,
    ) -> Self {
        let lc = Self {
            state: KeyState::PreActive,
            activation_date,
            deactivation_date,
            destroy_at: None,
            compromise_date: None,
            revocation_reason: None,
            destroyed_at: None,
            state_changed_at: now,
            crypto_period_secs,
            archived_at: None,
        };
        lc.effective(now)
    }

    /// The life cycle as it is at `now`, with every due date-driven transition applied.
    pub fn effective(&self, now: Timestamp) -> Lifecycle {
        // `Tick` never fails (see `apply`); fall back to the stored value regardless.
        apply(self, Transition::Tick, now).unwrap_or_else(|_| self.clone())
    }

    /// The next instant at which a date-driven transition is due, if any: the sweeper's index.
    pub fn next_due(&self) -> Option<Timestamp> {
        match self.state {
            _ if self.destroy_at.is_some() => self.destroy_at,
            KeyState::PreActive => match (self.activation_date, self.deactivation_date) {
                (Some(a), Some(d)) => Some(a.min(d)),
                (a, d) => a.or(d),
            },
            KeyState::Active | KeyState::Suspended => self.deactivation_date,
            _ => None,
        }
    }
}

/// The life-cycle function: the only code that changes a key's state.
///
/// Date-driven transitions due at `now` are applied first, then `t`. Errors name the effective
/// state so the caller can explain the refusal.
pub fn apply(lc: &Lifecycle, t: Transition, now: Timestamp) -> Result<Lifecycle, KmsError> {
    use KeyState::*;
    let mut next = lc.clone();
    tick(&mut next, now);
    let refuse = |state: KeyState| KmsError::InvalidState {
        state,
        action: t.name(),
    };
    if next.destroy_at.is_some() && !matches!(t, Transition::CancelDestroy | Transition::Tick) {
        return Err(KmsError::PendingDestruction);
    }
    let before = next.state;
    if next.archived_at.is_some() {
        // An archived key does nothing until it is recovered.
        return match t {
            Transition::Tick => Ok(next),
            Transition::Recover => {
                next.archived_at = None;
                Ok(next)
            }
            _ => Err(KmsError::Archived(t.name())),
        };
    }
    match (before, t) {
        (_, Transition::Tick) => {}
        (Deactivated | Compromised, Transition::Archive) => next.archived_at = Some(now),
        (PreActive, Transition::Activate) => activate(&mut next, now),
        (PreActive, Transition::SetActivationDate { at }) => {
            if next.deactivation_date.is_some_and(|d| d <= at) {
                return Err(KmsError::invalid(
                    "the activation date must be before the deactivation date",
                ));
            }
            next.activation_date = Some(at);
            if at <= now {
                activate(&mut next, at);
            }
        }
        (Active, Transition::Suspend) => next.state = Suspended,
        (Suspended, Transition::Resume) => next.state = Active,
        (PreActive | Active | Suspended, Transition::Deactivate) => {
            next.state = Deactivated;
            next.deactivation_date = Some(now);
        }
        (
            PreActive | Active | Suspended | Deactivated | Compromised,
            Transition::Revoke { reason },
        ) => {
            next.revocation_reason = Some(reason);
            if reason.is_compromise() {
                next.state = Compromised;
                next.compromise_date = Some(now);
            } else if before == Compromised {
                // A compromised key never becomes merely deactivated.
                return Err(refuse(before));
            } else {
                next.state = Deactivated;
                if next.deactivation_date.is_none_or(|d| d > now) {
                    next.deactivation_date = Some(now);
                }
            }
        }
        (s, Transition::ScheduleDestroy { at }) if !s.is_destroyed() => {
            if at <= now {
                return Err(KmsError::invalid(
                    "the destruction date must be in the future",
                ));
            }
            next.destroy_at = Some(at);
        }
        (s, Transition::CancelDestroy) if !s.is_destroyed() => {
            if next.destroy_at.take().is_none() {
                return Err(KmsError::invalid(
                    "no destruction is scheduled for this key",
                ));
            }
            if s == Active {
                next.state = Suspended;
            }
        }
        (PreActive | Suspended | Deactivated, Transition::Destroy) => {
            next.state = Destroyed;
            next.destroyed_at = Some(now);
        }
        (Compromised, Transition::Destroy) => {
            next.state = DestroyedCompromised;
            next.destroyed_at = Some(now);
        }
        (s, _) => return Err(refuse(s)),
    }
    if next.state != lc.state {
        next.state_changed_at = now;
    }
    Ok(next)
}

/// PreActive → Active at `at`; the crypto-period, if any, starts then.
fn activate(lc: &mut Lifecycle, at: Timestamp) {
    lc.state = KeyState::Active;
    lc.activation_date = Some(at);
    lc.state_changed_at = at;
    if let Some(period) = lc.crypto_period_secs {
        let end = at.plus_secs(period);
        lc.deactivation_date = Some(lc.deactivation_date.map_or(end, |d| d.min(end)));
    }
}

/// Applies every date-driven transition due at `now`, in date order.
fn tick(lc: &mut Lifecycle, now: Timestamp) {
    use KeyState::*;
    if let Some(at) = lc.destroy_at {
        if at <= now {
            lc.destroy_at = None;
            lc.state = if matches!(lc.state, Compromised | DestroyedCompromised) {
                DestroyedCompromised
            } else {
                Destroyed
            };
            lc.destroyed_at = Some(at);
            lc.state_changed_at = at;
            return;
        }
    }
    if lc.state == PreActive {
        if let Some(a) = lc.activation_date.filter(|a| *a <= now) {
            activate(lc, a);
        }
    }
    if matches!(lc.state, PreActive | Active | Suspended) {
        if let Some(d) = lc.deactivation_date.filter(|d| *d <= now) {
            lc.state = Deactivated;
            lc.state_changed_at = d;
        }
    }
}

/// The state table of DESIGN.md §5: whether `lc` (already effective) permits `use_`.
pub fn check_use(lc: &Lifecycle, use_: Use, action: &'static str) -> Result<Permit, KmsError> {
    use KeyState::*;
    if lc.destroy_at.is_some() && matches!(use_, Use::Protect | Use::Process | Use::Export) {
        return Err(KmsError::PendingDestruction);
    }
    if lc.archived_at.is_some() && use_ != Use::Metadata {
        return Err(KmsError::Archived(action));
    }
    let allowed = match (use_, lc.state) {
        (Use::Metadata | Use::Modify, _) => true,
        (Use::PublicKey | Use::Export, s) => !s.is_destroyed(),
        (Use::Protect, s) => s == Active,
        (Use::Process, s) => matches!(s, Active | Deactivated | Compromised),
    };
    match (allowed, lc.state) {
        (false, state) => Err(KmsError::InvalidState { state, action }),
        (true, Compromised) if matches!(use_, Use::Process | Use::Export) => {
            Ok(Permit::AllowedCompromised)
        }
        (true, _) => Ok(Permit::Allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn new_key_without_dates_is_pre_active() {
        assert_eq!(
            Lifecycle::new(t(0), None, None, None).state,
            KeyState::PreActive
        );
    }

    #[test]
    fn activation_date_in_the_past_makes_the_key_active() {
        assert_eq!(
            Lifecycle::new(t(10), Some(t(10)), None, None).state,
            KeyState::Active
        );
    }

    #[test]
    fn dates_take_effect_at_the_instant() {
        let lc = Lifecycle::new(t(0), Some(t(100)), Some(t(200)), None);
        assert_eq!(lc.effective(t(99)).state, KeyState::PreActive);
        assert_eq!(lc.effective(t(100)).state, KeyState::Active);
        assert_eq!(lc.effective(t(199)).state, KeyState::Active);
        assert_eq!(lc.effective(t(200)).state, KeyState::Deactivated);
        assert_eq!(lc.next_due(), Some(t(100)));
    }

    #[test]
    fn crypto_period_starts_at_activation() {
        let lc = Lifecycle::new(t(0), None, None, Some(50));
        let lc = apply(&lc, Transition::Activate, t(10)).unwrap();
        assert_eq!(lc.deactivation_date, Some(t(60)));
        assert_eq!(lc.effective(t(60)).state, KeyState::Deactivated);
    }

    #[test]
    fn cancelled_destruction_of_an_active_key_leaves_it_suspended() {
        let lc = apply(
            &Lifecycle::new(t(0), None, None, None),
            Transition::Activate,
            t(1),
        )
        .unwrap();
        let lc = apply(&lc, Transition::ScheduleDestroy { at: t(100) }, t(2)).unwrap();
        assert!(matches!(
            check_use(&lc, Use::Protect, "encrypt"),
            Err(KmsError::PendingDestruction)
        ));
        let lc = apply(&lc, Transition::CancelDestroy, t(3)).unwrap();
        assert_eq!(lc.state, KeyState::Suspended);
        assert_eq!(lc.destroy_at, None);
    }

    #[test]
    fn archived_keys_do_nothing_until_recovered() {
        let lc = Lifecycle::new(t(0), Some(t(0)), None, None);
        assert!(
            apply(&lc, Transition::Archive, t(1)).is_err(),
            "active keys are not archived"
        );
        let lc = apply(&lc, Transition::Deactivate, t(1)).unwrap();
        let archived = apply(&lc, Transition::Archive, t(2)).unwrap();
        assert_eq!(archived.state, KeyState::Deactivated);
        assert_eq!(archived.archived_at, Some(t(2)));
        for use_ in [Use::Protect, Use::Process, Use::PublicKey, Use::Modify] {
            assert!(
                matches!(
                    check_use(&archived, use_, "x"),
                    Err(KmsError::Archived("x"))
                ),
                "{use_:?}"
            );
        }
        assert!(check_use(&archived, Use::Metadata, "x").is_ok());
        for tr in [
            Transition::Archive,
            Transition::Destroy,
            Transition::Revoke {
                reason: RevocationReason::KeyCompromise,
            },
            Transition::ScheduleDestroy { at: t(100) },
        ] {
            assert!(
                matches!(apply(&archived, tr, t(3)), Err(KmsError::Archived(_))),
                "{tr:?}"
            );
        }
        let recovered = apply(&archived, Transition::Recover, t(4)).unwrap();
        assert_eq!(
            recovered,
            Lifecycle {
                archived_at: None,
                ..archived.clone()
            }
        );
        assert!(check_use(&recovered, Use::Process, "x").is_ok());
        assert!(check_use(&recovered, Use::Modify, "x").is_ok());
        assert!(apply(&recovered, Transition::Recover, t(5)).is_err());
        let compromised = apply(
            &recovered,
            Transition::Revoke {
                reason: RevocationReason::KeyCompromise,
            },
            t(6),
        )
        .unwrap();
        assert!(apply(&compromised, Transition::Archive, t(7)).is_ok());
    }

    #[test]
    fn the_activation_date_moves_only_while_pre_active() {
        let lc = Lifecycle::new(t(0), None, None, None);
        let later = apply(&lc, Transition::SetActivationDate { at: t(100) }, t(1)).unwrap();
        assert_eq!(later.state, KeyState::PreActive);
        assert_eq!(later.activation_date, Some(t(100)));
        assert_eq!(later.next_due(), Some(t(100)));
        assert_eq!(later.effective(t(100)).state, KeyState::Active);
        let sooner = apply(&later, Transition::SetActivationDate { at: t(50) }, t(2)).unwrap();
        assert_eq!(sooner.activation_date, Some(t(50)));
        let now = apply(&sooner, Transition::SetActivationDate { at: t(3) }, t(3)).unwrap();
        assert_eq!(now.state, KeyState::Active);
        assert_eq!(now.activation_date, Some(t(3)));
        assert!(matches!(
            apply(&now, Transition::SetActivationDate { at: t(200) }, t(4)),
            Err(KmsError::InvalidState {
                state: KeyState::Active,
                ..
            })
        ));
        // The date passed: the key is active, so the date no longer moves.
        assert!(apply(&later, Transition::SetActivationDate { at: t(300) }, t(150)).is_err());
        let bounded = Lifecycle::new(t(0), None, Some(t(10)), None);
        assert!(matches!(
            apply(&bounded, Transition::SetActivationDate { at: t(20) }, t(1)),
            Err(KmsError::InvalidRequest(_))
        ));
    }

    #[test]
    fn scheduled_destruction_fires_at_its_date() {
        let lc = Lifecycle::new(t(0), None, None, None);
        let lc = apply(&lc, Transition::ScheduleDestroy { at: t(100) }, t(1)).unwrap();
        assert_eq!(lc.effective(t(100)).state, KeyState::Destroyed);
        assert_eq!(lc.next_due(), Some(t(100)));
    }
}
