//! The REST/JSON adapter: decode → [`Operation`] → [`App::run`] → encode. No business rule
//! lives here; see `keyhold-core`.

mod drain;
pub mod error;
mod handlers;
pub mod openapi;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use keyhold_core::audit::Protocol;
use keyhold_core::ids::RequestId;
use keyhold_core::{ClientChain, Credential, ErrorCode, RequestMeta, SecretBytes};

use crate::app::App;
use error::ApiError;

/// The peer address of a connection, put into each request by the accept loop. Its text, which
/// every request's audit event records, is formatted once per connection.
#[derive(Debug, Clone)]
pub struct Peer {
    text: Arc<str>,
}

impl Peer {
    /// The peer at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            text: addr.to_string().into(),
        }
    }

    /// The address as the audit trail records it (`127.0.0.1:50000`, `[::1]:50000`).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The client certificate chain of a mutual-TLS connection (end entity first), put into each
/// request by the accept loop.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub ClientChain);

/// What every handler needs: request metadata and the credential.
#[derive(Debug)]
pub struct Ctx {
    /// For the core.
    pub meta: RequestMeta,
    /// The bearer token if the request has one, else the connection's client certificate.
    pub credential: Credential,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate);
        let peer = parts.extensions.get::<Peer>().map(|p| p.text().to_owned());
        let credential = credential_of(
            parts.headers.get(axum::http::header::AUTHORIZATION),
            parts.extensions.get::<PeerCertificates>(),
        );
        Ok(Ctx {
            meta: RequestMeta {
                request_id,
                protocol: Protocol::Rest,
                peer,
            },
            credential,
        })
    }
}

/// The bearer token of an `Authorization` header if there is one, else the connection's client
/// certificate chain.
fn credential_of(
    authorization: Option<&HeaderValue>,
    certificates: Option<&PeerCertificates>,
) -> Credential {
    authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| Credential::Bearer(SecretBytes::new(t.trim().as_bytes().to_vec())))
        .or_else(|| certificates.map(|c| Credential::Certificate(c.0.clone())))
        .unwrap_or(Credential::None)
}

/// Builds the router with its middleware.
pub fn router(app: Arc<App>) -> Router {
    let max_body = app.config.max_body_bytes;
    Router::new()
        .route("/v1/health", get(handlers::health))
        .route("/v1/sys/unseal", post(handlers::unseal))
        .route("/v1/sys/rotate-root", post(handlers::rotate_root))
        .route("/v1/sys/rekey", post(handlers::rekey_unseal))
        .route("/metrics", get(handlers::metrics))
        .route("/v1/openapi.json", get(openapi::serve))
        .route(
            "/v1/keys",
            post(handlers::create_key).get(handlers::list_keys),
        )
        .route(
            "/v1/keys/import-parameters",
            post(handlers::import_parameters),
        )
        .route("/v1/keys/import", post(handlers::import_key))
        .route(
            "/v1/keys/{key}",
            get(handlers::describe_key).patch(handlers::update_key),
        )
        .route("/v1/keys/{key}/rotate", post(handlers::rotate_key))
        .route("/v1/keys/{key}/lifecycle", post(handlers::change_state))
        .route("/v1/keys/{key}/public-key", get(handlers::public_key))
        .route("/v1/keys/{key}/encrypt", post(handlers::encrypt))
        .route("/v1/keys/{key}/derive", post(handlers::derive_key))
        .route("/v1/keys/{key}/export", post(handlers::export_key))
        .route("/v1/keys/{key}/datakey", post(handlers::datakey))
        .route("/v1/keys/{key}/sign", post(handlers::sign))
        .route("/v1/keys/{key}/verify", post(handlers::verify))
        .route("/v1/keys/{key}/mac", post(handlers::mac))
        .route("/v1/keys/{key}/mac-verify", post(handlers::mac_verify))
        .route("/v1/decrypt", post(handlers::decrypt))
        .route("/v1/reencrypt", post(handlers::reencrypt))
        .route("/v1/random", post(handlers::random))
        .route(
            "/v1/aliases",
            get(handlers::list_aliases).post(handlers::create_alias),
        )
        .route("/v1/aliases/{alias}", delete(handlers::delete_alias))
        .route(
            "/v1/tokens",
            get(handlers::list_tokens).post(handlers::create_token),
        )
        .route("/v1/tokens/{id}", delete(handlers::revoke_token))
        .route(
            "/v1/grants",
            get(handlers::list_grants).post(handlers::create_grant),
        )
        .route("/v1/grants/{id}", delete(handlers::revoke_grant))
        .route("/v1/audit/verify", get(handlers::audit_verify))
        .route("/v1/audit/events", get(handlers::audit_events))
        .route("/v1/audit/checkpoint", post(handlers::audit_checkpoint))
        .route(
            "/v1/audit/checkpoint-key",
            get(handlers::audit_checkpoint_key),
        )
        .route("/v1/reports", get(handlers::report))
        .route("/v1/whoami", get(handlers::whoami))
        .route(
            "/v1/client-certs",
            get(handlers::list_client_certs).post(handlers::add_client_cert),
        )
        .route(
            "/v1/client-certs/{fingerprint}",
            delete(handlers::revoke_client_cert),
        )
        .route(
            "/v1/tenants",
            get(handlers::list_tenants).post(handlers::create_tenant),
        )
        .route("/v1/tenants/{id}/disable", post(handlers::disable_tenant))
        .route("/v1/tenants/{id}/enable", post(handlers::enable_tenant))
        .route(
            "/v1/trust-anchors",
            get(handlers::list_trust_anchors).post(handlers::add_trust_anchor),
        )
        .route(
            "/v1/trust-anchors/{id}",
            delete(handlers::remove_trust_anchor),
        )
        .route("/v1/approvals", get(handlers::list_approvals))
        .route("/v1/approvals/{id}", get(handlers::show_approval))
        .route("/v1/approvals/{id}/approve", post(handlers::approve))
        .route("/v1/approvals/{id}/reject", post(handlers::reject))
        .route(
            "/v1/policies/approvals",
            get(handlers::get_approval_policy).put(handlers::set_approval_policy),
        )
        .route(
            "/v1/policies/duties",
            get(handlers::get_duties).put(handlers::set_duties),
        )
        .route(
            "/v1/policies/{policy}/history",
            get(handlers::tenant_policy_history),
        )
        .route(
            "/v1/policies/{policy}/revert",
            post(handlers::tenant_policy_revert),
        )
        .route(
            "/v1/keys/{key}/policy/history",
            get(handlers::key_policy_history),
        )
        .route(
            "/v1/keys/{key}/policy/revert",
            post(handlers::key_policy_revert),
        )
        .route("/kmip", post(handlers::kmip))
        .route("/v1/backups", post(crate::backup::create_backup))
        .route("/v1/backups/restore", post(crate::backup::restore_backup))
        .route("/v1/backups/recover-key", post(crate::backup::recover_key))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            request_id,
        ))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such endpoint; see /v1/openapi.json",
    )
}

async fn method_not_allowed() -> Response {
    let mut r = ApiError::new(
        ErrorCode::MalformedRequest,
        "method not allowed on this endpoint",
    )
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// Gives every request an id (in the core's audit event, the log, the `x-request-id` header and
/// the body of every error: [`ApiError`] reads it from the task-local scope set here), turns
/// error responses made outside [`ApiError`] (axum's own rejections) into the JSON error form,
/// audits the requests refused before they became an operation (see [`audit_rejected`]), reads
/// and discards what the handler left of the request body (see `drain`), and logs the request
/// line without its body.
///
/// A success is logged at `debug`: the audit trail already records every operation with its
/// request id, durably, and one formatted line per request would cost the hot path a tenth of
/// its CPU. Refusals and client errors are logged at `info`, server errors at `warn`.
async fn request_id(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let id = RequestId::generate();
    // Kept for auditing a refusal (cheap: a shared header value and a shared chain).
    let authorization = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .cloned();
    let certificates = req.extensions().get::<PeerCertificates>().cloned();
    let peer = req.extensions().get::<Peer>().cloned();
    let expects_continue = req
        .headers()
        .get(axum::http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = req.into_parts();
    let (body_left, body) = drain::SharedBody::wrap(body);
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(id.clone());
    let method = req.method().clone();
    let start = std::time::Instant::now();
    // Only the path is kept for the log line; the query string may carry values.
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut resp = error::with_request_id(id.clone(), next.run(req)).await;
    if (resp.status().is_client_error() || resp.status().is_server_error())
        && resp.extensions().get::<error::IsApiError>().is_none()
    {
        resp = error::with_request_id(id.clone(), as_api_error(resp)).await;
    }
    if let Some(&error::Unaudited(code)) = resp.extensions().get::<error::Unaudited>() {
        let meta = RequestMeta {
            request_id: id.clone(),
            protocol: Protocol::Rest,
            peer: peer.map(|p| p.text().to_owned()),
        };
        let credential = credential_of(authorization.as_ref(), certificates.as_ref());
        let endpoint = route.as_deref().unwrap_or(&path);
        audit_rejected(&app, &meta, &credential, code, &method, endpoint).await;
    }
    // What the handler left unread (a body over the limit, or one it never read) is read
    // before answering, so that the client, still sending, gets to read the answer.
    body_left.discard_rest(expects_continue).await;
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status();
    let micros = start.elapsed().as_micros() as u64;
    let line = |level| match level {
        tracing::Level::WARN => tracing::warn!(
            request_id = %id, %method, %path, status = status.as_u16(), micros, "request"
        ),
        tracing::Level::INFO => tracing::info!(
            request_id = %id, %method, %path, status = status.as_u16(), micros, "request"
        ),
        _ => tracing::debug!(
            request_id = %id, %method, %path, status = status.as_u16(), micros, "request"
        ),
    };
    if status.is_server_error() {
        line(tracing::Level::WARN);
    } else if status.is_client_error() {
        line(tracing::Level::INFO);
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        line(tracing::Level::DEBUG);
    }
    resp
}

/// Records a request refused before it became an operation. The event names the method and
/// the endpoint (the route's template when one matched, else the path, cut to 200 characters),
/// never the body or query, whose decoding errors can quote what the client sent. If the event
/// cannot be written the refusal is still answered: it changed nothing.
async fn audit_rejected(
    app: &App,
    meta: &RequestMeta,
    credential: &Credential,
    code: ErrorCode,
    method: &axum::http::Method,
    endpoint: &str,
) {
    let endpoint: String = endpoint.chars().take(200).collect();
    let detail = format!("{method} {endpoint}");
    if let Err(e) = app
        .kms
        .record_rejected(meta, credential, code, detail)
        .await
    {
        tracing::warn!(request_id = %meta.request_id, error = %e, "cannot audit a refused request");
    }
}

/// An error response that axum made itself (a path or body extractor's rejection), rewritten
/// as `{code, message, request_id}` with the same status and its text as the message.
async fn as_api_error(resp: Response) -> Response {
    let status = resp.status();
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::PermissionDenied,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::MalformedRequest,
    };
    let text = match code {
        ErrorCode::PayloadTooLarge => None,
        ErrorCode::Internal => None,
        _ => axum::body::to_bytes(resp.into_body(), 1024)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .filter(|t| !t.trim().is_empty()),
    };
    let message = match (code, text) {
        (ErrorCode::PayloadTooLarge, _) => "request body is larger than the server accepts".into(),
        (_, Some(t)) => t.trim().to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let mut r = ApiError::new(code, message).into_response();
    *r.status_mut() = status;
    r
}

/// Shared state type of the handlers.
pub type AppState = State<Arc<App>>;
