//! The OpenAPI document, generated from the handlers' annotations and the core's types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;

/// The API description served at `/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keyhold", description = "Keyhold key management system: REST/JSON API"),
    paths(
        handlers::health, handlers::unseal, handlers::metrics,
        handlers::create_key, handlers::list_keys, handlers::describe_key, handlers::update_key,
        handlers::rotate_key, handlers::change_state, handlers::import_parameters, handlers::import_key,
        handlers::public_key, handlers::derive_key, handlers::export_key, handlers::encrypt, handlers::decrypt, handlers::reencrypt, handlers::datakey,
        handlers::sign, handlers::verify, handlers::mac, handlers::mac_verify, handlers::random,
        handlers::list_aliases, handlers::create_alias, handlers::delete_alias,
        handlers::list_tokens, handlers::create_token, handlers::revoke_token,
        handlers::list_grants, handlers::create_grant, handlers::revoke_grant,
        handlers::audit_verify, handlers::audit_events, handlers::audit_checkpoint, handlers::audit_checkpoint_key, handlers::whoami, handlers::rotate_root, handlers::report,
        handlers::rekey_unseal,
        handlers::add_client_cert, handlers::list_client_certs, handlers::revoke_client_cert,
        handlers::create_tenant, handlers::list_tenants, handlers::disable_tenant, handlers::enable_tenant,
        handlers::add_trust_anchor, handlers::list_trust_anchors, handlers::remove_trust_anchor,
        handlers::list_approvals, handlers::show_approval, handlers::approve, handlers::reject,
        handlers::get_approval_policy, handlers::set_approval_policy, handlers::get_duties,
        handlers::set_duties, handlers::tenant_policy_history, handlers::tenant_policy_revert,
        handlers::key_policy_history, handlers::key_policy_revert,
        handlers::kmip,
        crate::backup::create_backup, crate::backup::restore_backup, crate::backup::recover_key,
    ),
    components(schemas(super::error::ErrorBody, keyhold_core::ErrorCode)),
    modifiers(&BearerAuth),
    // A request without an Authorization header on a mutual-TLS connection is authenticated by
    // its client certificate (pinned, or issued under a trust anchor).
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
