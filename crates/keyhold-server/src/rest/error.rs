//! REST errors: the one table from [`ErrorCode`] to HTTP status, and the JSON body
//! `{code, message, request_id}` (plus `approval_id` for `202 approval_required`). Extractors
//! here turn malformed bodies into that form too.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyhold_core::ids::RequestId;
use keyhold_core::{ErrorCode, KmsError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The REST mapping of every error code. Exhaustive: a new code does not compile until mapped.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Sealed => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists => StatusCode::CONFLICT,
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidKeyState => StatusCode::CONFLICT,
        ErrorCode::WrongKeyUsage => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidCiphertext => StatusCode::BAD_REQUEST,
        ErrorCode::KeyVersionDisabled => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::IdempotencyMismatch => StatusCode::CONFLICT,
        ErrorCode::LimitExceeded => StatusCode::BAD_REQUEST,
        ErrorCode::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Not a failure: the request is held, as a pending approval, until approvers decide.
        ErrorCode::ApprovalRequired => StatusCode::ACCEPTED,
        ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON error body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `invalid_key_state`.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The request id (also in the `x-request-id` header).
    pub request_id: String,
    /// With `approval_required`: the pending approval that holds the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
}

tokio::task_local! {
    /// The id of the request being served: scoped around the whole router by the request-id
    /// middleware (`rest::request_id`), so that an error raised anywhere before, in or after
    /// the core (extractor rejections, the fallback) carries the id of the `x-request-id` header.
    static REQUEST_ID: RequestId;
}

/// The id of the request this task is serving, if the request-id middleware set one.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// Runs `fut` with `id` as the current request id.
pub async fn with_request_id<F: std::future::Future>(id: RequestId, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// Marks a response whose body is already an [`ErrorBody`], so the request-id middleware
/// leaves it as it is (and rewrites any other error response into one).
#[derive(Debug, Clone, Copy)]
pub struct IsApiError;

/// Marks an error response for a request the adapter refused before the core saw it (see
/// [`ApiError::unaudited`]): the request-id middleware records it in the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct Unaudited(pub ErrorCode);

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// Code.
    pub code: ErrorCode,
    /// Message.
    pub message: String,
    /// Request id; the current request's (see [`current_request_id`]) when not given.
    pub request_id: Option<RequestId>,
    /// The pending approval of an `approval_required` answer.
    pub approval_id: Option<String>,
    /// The core has not recorded this refusal (the request never became an operation): the
    /// request-id middleware audits it. Errors from the core were audited there.
    pub unaudited: bool,
}

impl ApiError {
    /// A refusal of the adapter's own (a body, query or path it cannot decode, an unknown
    /// endpoint), audited by the request-id middleware.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            request_id: current_request_id(),
            approval_id: None,
            unaudited: true,
        }
    }

    /// A core error raised by the adapter itself while decoding a request (a value that does
    /// not parse), before any operation ran: audited by the request-id middleware.
    pub fn unaudited(e: KmsError, request_id: &RequestId) -> Self {
        Self {
            unaudited: true,
            ..Self::from_kms(e, request_id)
        }
    }

    /// From a core error, logging internal details (never secrets: errors carry none).
    pub fn from_kms(e: KmsError, request_id: &RequestId) -> Self {
        if e.code() == ErrorCode::Internal || e.code() == ErrorCode::AuditUnavailable {
            tracing::error!(request_id = %request_id, error = ?e, "request failed");
        }
        let approval_id = match &e {
            KmsError::ApprovalRequired { approval, .. } => Some(approval.to_string()),
            _ => None,
        };
        Self {
            code: e.code(),
            message: e.public_message(),
            request_id: Some(request_id.clone()),
            approval_id,
            unaudited: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            request_id: self
                .request_id
                .or_else(current_request_id)
                .map(|r| r.0)
                .unwrap_or_default(),
            approval_id: self.approval_id,
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(IsApiError);
        if self.unaudited {
            resp.extensions_mut().insert(Unaudited(self.code));
        }
        if self.code == ErrorCode::Unauthenticated {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// A JSON body whose rejections are API errors (413 for oversized bodies, 400 otherwise).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            "request body is larger than the server accepts",
        );
    }
    let message = match &r {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with Content-Type: application/json".to_owned()
        }
        JsonRejection::JsonSyntaxError(_) => format!("malformed JSON: {}", r.body_text()),
        JsonRejection::JsonDataError(_) => format!("invalid request body: {}", r.body_text()),
        _ => format!("cannot read the request body: {}", r.body_text()),
    };
    ApiError::new(ErrorCode::MalformedRequest, message)
}

/// A query string whose rejections are API errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::new(
                    ErrorCode::MalformedRequest,
                    format!("invalid query: {}", r.body_text()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_an_error_status() {
        for code in ErrorCode::ALL {
            let s = status_of(code);
            if code == ErrorCode::ApprovalRequired {
                assert_eq!(s, StatusCode::ACCEPTED);
                continue;
            }
            assert!(
                s.is_client_error() || s.is_server_error(),
                "{code:?} -> {s}"
            );
        }
    }
}
