//! The client's error type.

use keyhold_core::ErrorCode;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{code}: {message} (request {})", request_id.as_deref().unwrap_or("unknown"))]
    Api {
        /// HTTP status.
        status: u16,
        /// The stable error code (see [`ErrorCode::as_str`]); `http_<status>` when the body
        /// was not a Keyhold error (e.g. from a proxy).
        code: String,
        /// Human-readable explanation.
        message: String,
        /// The request id, from the body or the `x-request-id` header.
        request_id: Option<String>,
    },
    /// The request did not reach the server, or the answer did not arrive (DNS, TCP, TLS,
    /// timeout).
    #[error("cannot talk to the server")]
    Transport(#[source] reqwest::Error),
    /// The server's answer is not the JSON expected.
    #[error("unexpected response from the server (request {})", request_id.as_deref().unwrap_or("unknown"))]
    Decode {
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
        /// The request id from the `x-request-id` header.
        request_id: Option<String>,
    },
    /// The request body could not be encoded.
    #[error("cannot encode the request")]
    Encode(#[source] serde_json::Error),
    /// The client is misconfigured (address, CA certificate, token).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The action is under dual control: the server holds the request as a pending approval
    /// (HTTP 202). Nothing else happened yet.
    #[error("{message} (request {})", request_id.as_deref().unwrap_or("unknown"))]
    ApprovalRequired {
        /// The pending approval.
        approval_id: String,
        /// The server's explanation (how many approvals, whether to re-issue).
        message: String,
        /// The request id.
        request_id: Option<String>,
    },
}

impl ClientError {
    /// The stable error code of an API error, when the server sent a known one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => ErrorCode::ALL.into_iter().find(|c| c.as_str() == code),
            Self::ApprovalRequired { .. } => Some(ErrorCode::ApprovalRequired),
            _ => None,
        }
    }

    /// The pending approval that holds the request, for `approval_required`.
    pub fn approval_id(&self) -> Option<&str> {
        match self {
            Self::ApprovalRequired { approval_id, .. } => Some(approval_id),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::ApprovalRequired { .. } => Some(202),
            _ => None,
        }
    }

    /// The request id, when the server assigned one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. }
            | Self::Decode { request_id, .. }
            | Self::ApprovalRequired { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_displays_code_message_and_request() {
        let e = ClientError::Api {
            status: 404,
            code: "not_found".into(),
            message: "key not found".into(),
            request_id: Some("abc".into()),
        };
        assert_eq!(e.to_string(), "not_found: key not found (request abc)");
        assert_eq!(e.error_code(), Some(ErrorCode::NotFound));
        assert_eq!(e.status(), Some(404));
    }

    #[test]
    fn unknown_code_has_no_error_code() {
        let e = ClientError::Api {
            status: 502,
            code: "http_502".into(),
            message: "Bad Gateway".into(),
            request_id: None,
        };
        assert_eq!(e.error_code(), None);
        assert_eq!(e.to_string(), "http_502: Bad Gateway (request unknown)");
    }
}
