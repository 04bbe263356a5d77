//! The one error type of the core. Each protocol adapter maps [`ErrorCode`] onto its wire form
//! in exactly one table (REST: `keyhold-server::rest::error`).

use keyhold_crypto::CryptoError;
use serde::{Deserialize, Serialize};

use crate::ids::ApprovalId;
use crate::lifecycle::KeyState;
use crate::policy::ApprovalAction;
use crate::store::StoreError;

/// Everything an operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// The server is sealed: only health and unseal work.
    #[error("the server is sealed; unseal it with `keyhold unseal`")]
    Sealed,
    /// No valid credential.
    #[error("authentication required: the credential is missing, unknown, expired or revoked")]
    Unauthenticated,
    /// Authenticated, but the role or grants do not allow this.
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    /// The object does not exist, or exists in another tenant (the two are indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique name, alias or id is taken.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The request is malformed or its values are out of range.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The key's life-cycle state forbids the operation.
    #[error("key is {state}: {action} is not allowed in this state")]
    InvalidState {
        /// The key's effective state.
        state: KeyState,
        /// What was attempted.
        action: &'static str,
    },
    /// A key is pending destruction and can do nothing until the destruction is cancelled.
    #[error("key is pending destruction; cancel the destruction to use it")]
    PendingDestruction,
    /// The key is archived: its material is in archive storage and it does nothing but answer
    /// metadata requests until it is recovered.
    #[error("key is archived: recover it first ({0} is not allowed while archived)")]
    Archived(&'static str),
    /// The key's usage or algorithm does not support the operation.
    #[error("key usage does not allow this: {0}")]
    WrongKeyUsage(&'static str),
    /// Ciphertext, signature input or context does not authenticate.
    #[error("ciphertext is invalid, was tampered with, or the encryption context does not match")]
    InvalidCiphertext,
    /// The ciphertext's key version is below the key's minimum decryption version or destroyed.
    #[error("key version {0} is disabled for decryption")]
    KeyVersionDisabled(u32),
    /// A concurrent change won; the operation may be retried.
    #[error("the object was changed concurrently; retry")]
    Conflict,
    /// An idempotency token was reused with different parameters.
    #[error("idempotency token was already used with different parameters")]
    IdempotencyMismatch,
    /// A size or count limit was exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    /// The audit event could not be made durable, so the operation was not performed.
    #[error("audit trail unavailable; the operation was not performed")]
    AuditUnavailable(#[source] StoreError),
    /// A cryptographic failure that is not the caller's fault.
    #[error("cryptographic failure")]
    Crypto(#[source] CryptoError),
    /// The store failed.
    #[error("storage failure")]
    Store(#[source] StoreError),
    /// Stored data failed an integrity check (wrapped material, record format).
    #[error("integrity check failed: {0}")]
    Integrity(&'static str),
    /// The action is under dual control: a pending approval holds the request until enough
    /// eligible principals approve it. Nothing else happened.
    #[error(
        "approval required: {action} needs {required} approval(s); pending approval {approval} \
         (approvers: `keyhold approval approve {approval}`){}",
        if *rerun { "; once approved, re-issue this identical request to run it" } else { "; it runs when approved" }
    )]
    ApprovalRequired {
        /// The pending approval.
        approval: ApprovalId,
        /// The gated action.
        action: ApprovalAction,
        /// Approvals needed.
        required: u32,
        /// Whether the requester runs it again once approved (release mode).
        rerun: bool,
    },
    /// Internal signal of an operation that needs approvals; `Kms::run` turns it into a
    /// pending approval and [`KmsError::ApprovalRequired`]. Never reaches a client.
    #[doc(hidden)]
    #[error("approval required")]
    NeedsApproval,
}

impl KmsError {
    /// Shorthand for [`KmsError::InvalidRequest`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }

    /// The stable, protocol-neutral code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Sealed => ErrorCode::Sealed,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::InvalidState { .. } => ErrorCode::InvalidKeyState,
            Self::PendingDestruction | Self::Archived(_) => ErrorCode::InvalidKeyState,
            Self::WrongKeyUsage(_) => ErrorCode::WrongKeyUsage,
            Self::InvalidCiphertext => ErrorCode::InvalidCiphertext,
            Self::KeyVersionDisabled(_) => ErrorCode::KeyVersionDisabled,
            Self::Conflict => ErrorCode::Conflict,
            Self::IdempotencyMismatch => ErrorCode::IdempotencyMismatch,
            Self::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Self::AuditUnavailable(_) => ErrorCode::AuditUnavailable,
            Self::ApprovalRequired { .. } | Self::NeedsApproval => ErrorCode::ApprovalRequired,
            Self::Crypto(_) | Self::Store(_) | Self::Integrity(_) => ErrorCode::Internal,
        }
    }

    /// The message safe to show a client. Internal failures carry no detail outward.
    pub fn public_message(&self) -> String {
        match self.code() {
            ErrorCode::Internal => "internal error; see the server log for the request id".into(),
            _ => self.to_string(),
        }
    }
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Conflict,
            other => Self::Store(other),
        }
    }
}

impl From<CryptoError> for KmsError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::AuthenticationFailed => Self::InvalidCiphertext,
            CryptoError::InvalidKey(m) => {
                Self::InvalidRequest(format!("invalid key material: {m}"))
            }
            CryptoError::InvalidInput(m) => Self::InvalidRequest(m.to_owned()),
            CryptoError::UnknownAlgorithm(a) => {
                Self::InvalidRequest(format!("unknown algorithm '{a}'"))
            }
            CryptoError::Unsupported(m) => Self::InvalidRequest(format!("unsupported: {m}")),
            other => Self::Crypto(other),
        }
    }
}

/// Stable error codes: part of the API contract, mapped once per protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// See [`KmsError::Sealed`].
    Sealed,
    /// See [`KmsError::Unauthenticated`].
    Unauthenticated,
    /// See [`KmsError::PermissionDenied`].
    PermissionDenied,
    /// See [`KmsError::NotFound`].
    NotFound,
    /// See [`KmsError::AlreadyExists`].
    AlreadyExists,
    /// See [`KmsError::InvalidRequest`].
    InvalidRequest,
    /// See [`KmsError::InvalidState`].
    InvalidKeyState,
    /// See [`KmsError::WrongKeyUsage`].
    WrongKeyUsage,
    /// See [`KmsError::InvalidCiphertext`].
    InvalidCiphertext,
    /// See [`KmsError::KeyVersionDisabled`].
    KeyVersionDisabled,
    /// See [`KmsError::Conflict`].
    Conflict,
    /// See [`KmsError::IdempotencyMismatch`].
    IdempotencyMismatch,
    /// See [`KmsError::LimitExceeded`].
    LimitExceeded,
    /// See [`KmsError::AuditUnavailable`].
    AuditUnavailable,
    /// See [`KmsError::ApprovalRequired`].
    ApprovalRequired,
    /// Request bodies that are not valid for the protocol (raised by adapters).
    MalformedRequest,
    /// The request body is larger than allowed (raised by adapters).
    PayloadTooLarge,
    /// Anything else: details only in the server log.
    Internal,
}

impl ErrorCode {
    /// Every code, for exhaustive mapping tests.
    pub const ALL: [ErrorCode; 18] = [
        Self::Sealed,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::NotFound,
        Self::AlreadyExists,
        Self::InvalidRequest,
        Self::InvalidKeyState,
        Self::WrongKeyUsage,
        Self::InvalidCiphertext,
        Self::KeyVersionDisabled,
        Self::Conflict,
        Self::IdempotencyMismatch,
        Self::LimitExceeded,
        Self::AuditUnavailable,
        Self::ApprovalRequired,
        Self::MalformedRequest,
        Self::PayloadTooLarge,
        Self::Internal,
    ];

    /// The code's wire name, e.g. `invalid_key_state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sealed => "sealed",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidKeyState => "invalid_key_state",
            Self::WrongKeyUsage => "wrong_key_usage",
            Self::InvalidCiphertext => "invalid_ciphertext",
            Self::KeyVersionDisabled => "key_version_disabled",
            Self::Conflict => "conflict",
            Self::IdempotencyMismatch => "idempotency_mismatch",
            Self::LimitExceeded => "limit_exceeded",
            Self::AuditUnavailable => "audit_unavailable",
            Self::ApprovalRequired => "approval_required",
            Self::MalformedRequest => "malformed_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Internal => "internal",
        }
    }
}
