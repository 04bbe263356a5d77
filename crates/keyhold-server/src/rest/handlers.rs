//! One handler per endpoint: decode, run, encode. Annotated for the OpenAPI document.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use keyhold_core::ids::{AliasName, GrantId, KeyRef, TenantId, TokenId, TrustAnchorId};
use keyhold_core::ops::*;
use keyhold_core::{Operation, Response};
use serde::Deserialize;

use super::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use super::{AppState, Ctx};
use crate::app::{Health, UnsealState};

type ApiResult = Result<Json<Response>, ApiError>;

async fn run(state: &AppState, ctx: Ctx, op: Operation) -> ApiResult {
    state
        .run(&ctx.meta, &ctx.credential, op)
        .await
        .map(Json)
        .map_err(|e| ApiError::from_kms(e, &ctx.meta.request_id))
}

fn key_ref(path: String) -> KeyRef {
    KeyRef(path)
}

fn parse<T: std::str::FromStr<Err = keyhold_core::KmsError>>(
    s: &str,
    ctx: &Ctx,
) -> Result<T, ApiError> {
    s.parse()
        .map_err(|e| ApiError::unaudited(e, &ctx.meta.request_id))
}

/// Liveness, version and seal status. Never needs a token.
#[utoipa::path(get, path = "/v1/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health(state: AppState) -> Result<Json<Health>, ApiError> {
    state.health().await.map(Json).map_err(|e| {
        let id = super::error::current_request_id()
            .unwrap_or_else(keyhold_core::ids::RequestId::generate);
        ApiError::from_kms(e, &id)
    })
}

/// Body of an unseal request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    /// One share, `khs1-…`.
    pub share: String,
}

/// Submits one unseal share.
#[utoipa::path(post, path = "/v1/sys/unseal", tag = "system", request_body = UnsealRequest,
    responses((status = 200, body = UnsealState), (status = 400, body = ErrorBody)))]
pub async fn unseal(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<UnsealRequest>,
) -> Result<Json<UnsealState>, ApiError> {
    state
        .submit_share(&ctx.meta, &req.share)
        .await
        .map(Json)
        .map_err(|e| ApiError::from_kms(e, &ctx.meta.request_id))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(State(app): AppState) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

/// Creates a key.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 200, body = KeyInfo), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_key(state: AppState, ctx: Ctx, ApiJson(req): ApiJson<CreateKey>) -> ApiResult {
    run(&state, ctx, Operation::CreateKey(req)).await
}

/// Lists keys with filters and pagination.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(ListKeys), responses((status = 200, body = KeyList)))]
pub async fn list_keys(state: AppState, ctx: Ctx, ApiQuery(req): ApiQuery<ListKeys>) -> ApiResult {
    run(&state, ctx, Operation::ListKeys(req)).await
}

/// Describes a key.
#[utoipa::path(get, path = "/v1/keys/{key}", tag = "keys", params(("key" = String, Path, description = "id, name or alias/…")),
    responses((status = 200, body = KeyInfo), (status = 404, body = ErrorBody)))]
pub async fn describe_key(state: AppState, ctx: Ctx, Path(key): Path<String>) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::DescribeKey(DescribeKey { key: key_ref(key) }),
    )
    .await
}

/// Changes mutable metadata.
#[utoipa::path(patch, path = "/v1/keys/{key}", tag = "keys", request_body = UpdateKey, params(("key" = String, Path)),
    responses((status = 200, body = KeyInfo)))]
pub async fn update_key(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<UpdateKey>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::UpdateKey(req)).await
}

/// Rotates a key: a new version becomes current.
#[utoipa::path(post, path = "/v1/keys/{key}/rotate", tag = "keys", params(("key" = String, Path)), responses((status = 200, body = KeyInfo)))]
pub async fn rotate_key(state: AppState, ctx: Ctx, Path(key): Path<String>) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::RotateKey(RotateKey { key: key_ref(key) }),
    )
    .await
}

/// Changes the life-cycle state.
#[utoipa::path(post, path = "/v1/keys/{key}/lifecycle", tag = "keys", request_body = StateChange, params(("key" = String, Path)),
    responses((status = 200, body = KeyInfo), (status = 409, body = ErrorBody)))]
pub async fn change_state(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(change): ApiJson<StateChange>,
) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::ChangeState(ChangeState {
            key: key_ref(key),
            change,
        }),
    )
    .await
}

/// Issues a short-lived wrapping key for an import.
#[utoipa::path(post, path = "/v1/keys/import-parameters", tag = "keys", responses((status = 200, body = ImportParameters)))]
pub async fn import_parameters(state: AppState, ctx: Ctx) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::GetImportParameters(GetImportParameters {}),
    )
    .await
}

/// Imports wrapped key material.
#[utoipa::path(post, path = "/v1/keys/import", tag = "keys", request_body = ImportKey, responses((status = 200, body = KeyInfo)))]
pub async fn import_key(state: AppState, ctx: Ctx, ApiJson(req): ApiJson<ImportKey>) -> ApiResult {
    run(&state, ctx, Operation::ImportKey(req)).await
}

/// Query of the public-key endpoint.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Key version; default current.
    pub key_version: Option<u32>,
}

/// The public key of an asymmetric key, as PEM.
#[utoipa::path(get, path = "/v1/keys/{key}/public-key", tag = "crypto", params(("key" = String, Path), VersionQuery),
    responses((status = 200, body = PublicKeyResponse)))]
pub async fn public_key(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult {
    let op = GetPublicKey {
        key: key_ref(key),
        key_version: q.key_version,
    };
    run(&state, ctx, Operation::GetPublicKey(op)).await
}

/// Encrypts with the key's current version.
#[utoipa::path(post, path = "/v1/keys/{key}/encrypt", tag = "crypto", request_body = Encrypt, params(("key" = String, Path)),
    responses((status = 200, body = EncryptResponse)))]
pub async fn encrypt(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<Encrypt>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::Encrypt(req)).await
}

/// Derives a new AES or HMAC key from a key or secret with usage `derive` (key managers with a
/// `derive` grant on it).
#[utoipa::path(post, path = "/v1/keys/{key}/derive", tag = "keys", request_body = DeriveKey, params(("key" = String, Path)),
    responses((status = 200, body = KeyInfo)))]
pub async fn derive_key(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<DeriveKey>,
) -> ApiResult {
    req.base = key_ref(key);
    run(&state, ctx, Operation::DeriveKey(req)).await
}

/// Exports a version's material: wrapped under another AES key of the tenant (`wrap`, which
/// needs an `encrypt` grant on it) or in the clear. Needs an `export` grant, and approvals when
/// the tenant's approval policy covers `key.export`.
#[utoipa::path(post, path = "/v1/keys/{key}/export", tag = "keys", request_body = ExportKey, params(("key" = String, Path)),
    responses((status = 200, body = ExportedKey)))]
pub async fn export_key(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<ExportKey>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::ExportKey(req)).await
}

/// Decrypts a self-describing ciphertext.
#[utoipa::path(post, path = "/v1/decrypt", tag = "crypto", request_body = Decrypt, responses((status = 200, body = DecryptResponse)))]
pub async fn decrypt(state: AppState, ctx: Ctx, ApiJson(req): ApiJson<Decrypt>) -> ApiResult {
    run(&state, ctx, Operation::Decrypt(req)).await
}

/// Re-encrypts under the latest (or another) key without exposing the plaintext.
#[utoipa::path(post, path = "/v1/reencrypt", tag = "crypto", request_body = ReEncrypt, responses((status = 200, body = ReEncryptResponse)))]
pub async fn reencrypt(state: AppState, ctx: Ctx, ApiJson(req): ApiJson<ReEncrypt>) -> ApiResult {
    run(&state, ctx, Operation::ReEncrypt(req)).await
}

/// A data key for envelope encryption.
#[utoipa::path(post, path = "/v1/keys/{key}/datakey", tag = "crypto", request_body = GenerateDataKey, params(("key" = String, Path)),
    responses((status = 200, body = GenerateDataKeyResponse)))]
pub async fn datakey(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<GenerateDataKey>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::GenerateDataKey(req)).await
}

/// Signs a message or digest.
#[utoipa::path(post, path = "/v1/keys/{key}/sign", tag = "crypto", request_body = Sign, params(("key" = String, Path)),
    responses((status = 200, body = SignResponse)))]
pub async fn sign(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<Sign>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::Sign(req)).await
}

/// Verifies a signature.
#[utoipa::path(post, path = "/v1/keys/{key}/verify", tag = "crypto", request_body = Verify, params(("key" = String, Path)),
    responses((status = 200, body = VerifyResponse)))]
pub async fn verify(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<Verify>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::Verify(req)).await
}

/// Computes a MAC.
#[utoipa::path(post, path = "/v1/keys/{key}/mac", tag = "crypto", request_body = GenerateMac, params(("key" = String, Path)),
    responses((status = 200, body = MacResponse)))]
pub async fn mac(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<GenerateMac>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::GenerateMac(req)).await
}

/// Verifies a MAC in constant time.
#[utoipa::path(post, path = "/v1/keys/{key}/mac-verify", tag = "crypto", request_body = VerifyMac, params(("key" = String, Path)),
    responses((status = 200, body = VerifyResponse)))]
pub async fn mac_verify(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(mut req): ApiJson<VerifyMac>,
) -> ApiResult {
    req.key = key_ref(key);
    run(&state, ctx, Operation::VerifyMac(req)).await
}

/// Rotates the root key: every tenant KEK and archive key is rewrapped under a new root key
/// sealed by the root of trust, online.
#[utoipa::path(post, path = "/v1/sys/rotate-root", tag = "system", responses((status = 200, body = RootKeyRotation)))]
pub async fn rotate_root(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::RotateRootKey(RotateRootKey {})).await
}

/// Issues new unseal shares with a new threshold; the old shares stop working.
#[utoipa::path(post, path = "/v1/sys/rekey", tag = "system", request_body = RekeyUnseal, responses((status = 200, body = UnsealRekey)))]
pub async fn rekey_unseal(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<RekeyUnseal>,
) -> ApiResult {
    run(&state, ctx, Operation::RekeyUnseal(req)).await
}

/// Random bytes.
#[utoipa::path(post, path = "/v1/random", tag = "crypto", request_body = Random, responses((status = 200, body = RandomResponse)))]
pub async fn random(state: AppState, ctx: Ctx, ApiJson(req): ApiJson<Random>) -> ApiResult {
    run(&state, ctx, Operation::Random(req)).await
}

/// Lists aliases.
#[utoipa::path(get, path = "/v1/aliases", tag = "aliases", params(ListAliases), responses((status = 200, body = AliasList)))]
pub async fn list_aliases(
    state: AppState,
    ctx: Ctx,
    ApiQuery(req): ApiQuery<ListAliases>,
) -> ApiResult {
    run(&state, ctx, Operation::ListAliases(req)).await
}

/// Creates an alias.
#[utoipa::path(post, path = "/v1/aliases", tag = "aliases", request_body = CreateAlias, responses((status = 200, body = AliasList)))]
pub async fn create_alias(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<CreateAlias>,
) -> ApiResult {
    run(&state, ctx, Operation::CreateAlias(req)).await
}

/// Deletes an alias (percent-encode the `/`).
#[utoipa::path(delete, path = "/v1/aliases/{alias}", tag = "aliases", params(("alias" = String, Path)), responses((status = 200)))]
pub async fn delete_alias(state: AppState, ctx: Ctx, Path(alias): Path<String>) -> ApiResult {
    let alias: AliasName = parse(&alias, &ctx)?;
    run(&state, ctx, Operation::DeleteAlias(DeleteAlias { alias })).await
}

/// Lists the tenant's tokens (admins).
#[utoipa::path(get, path = "/v1/tokens", tag = "access", responses((status = 200, body = TokenList)))]
pub async fn list_tokens(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::ListTokens(ListTokens {})).await
}

/// Issues a token (admins); the secret is in this answer only.
#[utoipa::path(post, path = "/v1/tokens", tag = "access", request_body = CreateToken, responses((status = 200, body = CreatedToken)))]
pub async fn create_token(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult {
    run(&state, ctx, Operation::CreateToken(req)).await
}

/// Revokes a token (admins).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "access", params(("id" = String, Path)), responses((status = 200, body = TokenInfo)))]
pub async fn revoke_token(state: AppState, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let id: TokenId = parse(&id, &ctx)?;
    run(&state, ctx, Operation::RevokeToken(RevokeToken { id })).await
}

/// Lists grants (key managers).
#[utoipa::path(get, path = "/v1/grants", tag = "access", params(ListGrants), responses((status = 200, body = GrantList)))]
pub async fn list_grants(
    state: AppState,
    ctx: Ctx,
    ApiQuery(req): ApiQuery<ListGrants>,
) -> ApiResult {
    run(&state, ctx, Operation::ListGrants(req)).await
}

/// Grants a principal operations on a key (key managers).
#[utoipa::path(post, path = "/v1/grants", tag = "access", request_body = CreateGrant, responses((status = 200, body = keyhold_core::model::Grant)))]
pub async fn create_grant(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<CreateGrant>,
) -> ApiResult {
    run(&state, ctx, Operation::CreateGrant(req)).await
}

/// Revokes a grant (key managers).
#[utoipa::path(delete, path = "/v1/grants/{id}", tag = "access", params(("id" = String, Path)), responses((status = 200)))]
pub async fn revoke_grant(state: AppState, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let id: GrantId = parse(&id, &ctx)?;
    run(&state, ctx, Operation::RevokeGrant(RevokeGrant { id })).await
}

/// Verifies the audit hash chain (auditors).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", responses((status = 200, body = AuditVerifyResponse)))]
pub async fn audit_verify(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::AuditVerify(AuditVerify {})).await
}

/// Checkpoints the audit chain now: a signed attestation of its head (auditors, administrators).
#[utoipa::path(post, path = "/v1/audit/checkpoint", tag = "audit", responses((status = 200, body = AuditCheckpointResponse)))]
pub async fn audit_checkpoint(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::AuditCheckpoint(AuditCheckpoint {})).await
}

/// The public key that verifies audit checkpoints, PEM (auditors, administrators).
#[utoipa::path(get, path = "/v1/audit/checkpoint-key", tag = "audit", responses((status = 200, body = AuditCheckpointKeyResponse)))]
pub async fn audit_checkpoint_key(state: AppState, ctx: Ctx) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::AuditCheckpointKey(AuditCheckpointKey {}),
    )
    .await
}

/// A compliance report (auditors): `kind` keys, access, usage (with `from`/`to`) or approvals.
#[utoipa::path(get, path = "/v1/reports", tag = "audit", params(Report), responses((status = 200, body = ReportOut)))]
pub async fn report(state: AppState, ctx: Ctx, ApiQuery(req): ApiQuery<Report>) -> ApiResult {
    run(&state, ctx, Operation::Report(req)).await
}

/// Reads audit events (auditors).
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(AuditExport), responses((status = 200, body = AuditExportResponse)))]
pub async fn audit_events(
    state: AppState,
    ctx: Ctx,
    ApiQuery(req): ApiQuery<AuditExport>,
) -> ApiResult {
    run(&state, ctx, Operation::AuditExport(req)).await
}

/// The caller's identity.
#[utoipa::path(get, path = "/v1/whoami", tag = "access", responses((status = 200, body = WhoAmIResponse)))]
pub async fn whoami(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::WhoAmI(WhoAmI {})).await
}

/// A client certificate to register, as the CLI sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddClientCert {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The principal; default: the subject's common name.
    #[serde(default)]
    pub principal: Option<keyhold_core::ids::PrincipalName>,
    /// Roles.
    pub roles: keyhold_core::model::Roles,
    /// Required for key-manager together with key-user.
    #[serde(default)]
    pub allow_combined_duties: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Registers a client certificate for mutual TLS (admins).
#[utoipa::path(post, path = "/v1/client-certs", tag = "access", request_body = AddClientCert, responses((status = 200, body = keyhold_core::model::ClientCertRecord)))]
pub async fn add_client_cert(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<AddClientCert>,
) -> ApiResult {
    let parsed = crate::certs::parse_pem(&req.certificate_pem)
        .map_err(|e| ApiError::unaudited(e, &ctx.meta.request_id))?;
    let principal = match req.principal {
        Some(p) => p,
        None => parsed
            .common_name
            .parse()
            .map_err(|e| ApiError::unaudited(e, &ctx.meta.request_id))?,
    };
    let op = Operation::RegisterClientCert(RegisterClientCert {
        certificate: parsed.der,
        subject: parsed.subject,
        not_after: parsed.not_after,
        principal,
        roles: req.roles,
        allow_combined_duties: req.allow_combined_duties,
        description: req.description,
    });
    run(&state, ctx, op).await
}

/// Lists client certificates (admins).
#[utoipa::path(get, path = "/v1/client-certs", tag = "access", responses((status = 200, body = ClientCertList)))]
pub async fn list_client_certs(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::ListClientCerts(ListClientCerts {})).await
}

/// Revokes a client certificate by fingerprint (admins).
#[utoipa::path(delete, path = "/v1/client-certs/{fingerprint}", tag = "access", params(("fingerprint" = String, Path, description = "hex SHA-256 of the DER")), responses((status = 200, body = keyhold_core::model::ClientCertRecord)))]
pub async fn revoke_client_cert(
    state: AppState,
    ctx: Ctx,
    Path(fingerprint): Path<String>,
) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::RevokeClientCert(RevokeClientCert { fingerprint }),
    )
    .await
}

/// Creates a tenant with its own key-encryption key (administrators of the default tenant).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 200, body = TenantInfo), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_tenant(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<CreateTenant>,
) -> ApiResult {
    run(&state, ctx, Operation::CreateTenant(req)).await
}

/// Lists every tenant (administrators of the default tenant).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", responses((status = 200, body = TenantList), (status = 403, body = ErrorBody)))]
pub async fn list_tenants(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::ListTenants(ListTenants {})).await
}

/// Disables a tenant: its principals can no longer authenticate (administrators of the default
/// tenant).
#[utoipa::path(post, path = "/v1/tenants/{id}/disable", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = TenantInfo), (status = 404, body = ErrorBody)))]
pub async fn disable_tenant(state: AppState, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let id: TenantId = parse(&id, &ctx)?;
    run(
        &state,
        ctx,
        Operation::UpdateTenant(UpdateTenant { id, disabled: true }),
    )
    .await
}

/// Enables a disabled tenant again (administrators of the default tenant).
#[utoipa::path(post, path = "/v1/tenants/{id}/enable", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = TenantInfo), (status = 404, body = ErrorBody)))]
pub async fn enable_tenant(state: AppState, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let id: TenantId = parse(&id, &ctx)?;
    run(
        &state,
        ctx,
        Operation::UpdateTenant(UpdateTenant {
            id,
            disabled: false,
        }),
    )
    .await
}

/// A trust anchor to add, as the CLI sends it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTrustAnchorRequest {
    /// The CA certificate, PEM.
    pub certificate_pem: String,
    /// The tenant; default: the caller's (only administrators of the default tenant name
    /// another).
    #[serde(default)]
    pub tenant: Option<TenantId>,
    /// The roles of the principals it authenticates.
    pub roles: keyhold_core::model::Roles,
    /// Required for key-manager together with key-user.
    #[serde(default)]
    pub allow_combined_duties: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Trusts a CA certificate to issue client certificates for a tenant and roles (admins).
#[utoipa::path(post, path = "/v1/trust-anchors", tag = "access", request_body = AddTrustAnchorRequest,
    responses((status = 200, body = keyhold_core::model::TrustAnchorRecord), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_trust_anchor(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<AddTrustAnchorRequest>,
) -> ApiResult {
    let parsed = crate::certs::parse_pem(&req.certificate_pem)
        .map_err(|e| ApiError::unaudited(e, &ctx.meta.request_id))?;
    let op = Operation::AddTrustAnchor(AddTrustAnchor {
        certificate: parsed.der,
        tenant: req.tenant,
        roles: req.roles,
        allow_combined_duties: req.allow_combined_duties,
        description: req.description,
    });
    run(&state, ctx, op).await
}

/// Lists a tenant's trust anchors, removed ones included (admins).
#[utoipa::path(get, path = "/v1/trust-anchors", tag = "access", params(ListTrustAnchors),
    responses((status = 200, body = TrustAnchorList)))]
pub async fn list_trust_anchors(
    state: AppState,
    ctx: Ctx,
    ApiQuery(req): ApiQuery<ListTrustAnchors>,
) -> ApiResult {
    run(&state, ctx, Operation::ListTrustAnchors(req)).await
}

/// Removes a trust anchor: certificates issued under it are refused from the next request
/// (and handshake) on (admins).
#[utoipa::path(delete, path = "/v1/trust-anchors/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = keyhold_core::model::TrustAnchorRecord), (status = 404, body = ErrorBody)))]
pub async fn remove_trust_anchor(state: AppState, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let id: TrustAnchorId = parse(&id, &ctx)?;
    run(
        &state,
        ctx,
        Operation::RemoveTrustAnchor(RemoveTrustAnchor { id }),
    )
    .await
}

/// KMIP over HTTPS: a binary TTLV Request Message in, a Response Message out, authenticated
/// by the bearer token or the connection's client certificate.
#[utoipa::path(post, path = "/kmip", tag = "kmip", request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn kmip(state: AppState, ctx: Ctx, body: axum::body::Bytes) -> impl IntoResponse {
    let limits = keyhold_kmip::Limits::DEFAULT;
    let out = crate::kmip::handle(
        &state,
        &ctx.credential,
        ctx.meta.peer.clone(),
        &body,
        &limits,
    )
    .await;
    ([(header::CONTENT_TYPE, "application/octet-stream")], out)
}

/// Lists the tenant's approvals, newest first.
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", params(ListApprovals),
    responses((status = 200, body = Object)))]
pub async fn list_approvals(
    state: AppState,
    ctx: Ctx,
    ApiQuery(req): ApiQuery<ListApprovals>,
) -> ApiResult {
    run(&state, ctx, Operation::ListApprovals(req)).await
}

/// Shows one approval.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "approvals", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn show_approval(state: AppState, ctx: Ctx, Path(id): Path<String>) -> ApiResult {
    let id = parse(&id, &ctx)?;
    run(&state, ctx, Operation::ShowApproval(ShowApproval { id })).await
}

/// Approves a pending request (eligible approvers other than the requester). When the
/// threshold is met, a stored request runs now, as its requester.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "approvals", request_body = ApproveRequest,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn approve(
    state: AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    ApiJson(mut req): ApiJson<ApproveRequest>,
) -> ApiResult {
    req.id = parse(&id, &ctx)?;
    run(&state, ctx, Operation::ApproveRequest(req)).await
}

/// Rejects a pending request (an eligible approver), or withdraws it (its requester).
#[utoipa::path(post, path = "/v1/approvals/{id}/reject", tag = "approvals", request_body = RejectRequest,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn reject(
    state: AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    ApiJson(mut req): ApiJson<RejectRequest>,
) -> ApiResult {
    req.id = parse(&id, &ctx)?;
    run(&state, ctx, Operation::RejectRequest(req)).await
}

/// The tenant's approval policy.
#[utoipa::path(get, path = "/v1/policies/approvals", tag = "approvals", responses((status = 200, body = ApprovalPolicyInfo)))]
pub async fn get_approval_policy(state: AppState, ctx: Ctx) -> ApiResult {
    run(
        &state,
        ctx,
        Operation::GetApprovalPolicy(GetApprovalPolicy {}),
    )
    .await
}

/// Replaces the tenant's approval policy (administrators).
#[utoipa::path(put, path = "/v1/policies/approvals", tag = "approvals", request_body = SetApprovalPolicy,
    responses((status = 200, body = ApprovalPolicyInfo), (status = 202, body = ErrorBody)))]
pub async fn set_approval_policy(
    state: AppState,
    ctx: Ctx,
    ApiJson(req): ApiJson<SetApprovalPolicy>,
) -> ApiResult {
    run(&state, ctx, Operation::SetApprovalPolicy(req)).await
}

/// The tenant's separation-of-duties setting.
#[utoipa::path(get, path = "/v1/policies/duties", tag = "approvals", responses((status = 200, body = DutiesInfo)))]
pub async fn get_duties(state: AppState, ctx: Ctx) -> ApiResult {
    run(&state, ctx, Operation::GetDuties(GetDuties {})).await
}

/// Changes the tenant's separation-of-duties setting (administrators).
#[utoipa::path(put, path = "/v1/policies/duties", tag = "approvals", request_body = SetDuties,
    responses((status = 200, body = DutiesInfo), (status = 202, body = ErrorBody)))]
pub async fn set_duties(state: AppState, ctx: Ctx, ApiJson(req): ApiJson<SetDuties>) -> ApiResult {
    run(&state, ctx, Operation::SetDuties(req)).await
}

/// Body of a revert.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertBody {
    /// The version whose document becomes the policy again.
    pub to: u32,
}

/// Every version of a tenant policy (`approvals` or `duties`).
#[utoipa::path(get, path = "/v1/policies/{policy}/history", tag = "approvals",
    params(("policy" = String, Path, description = "approvals or duties")), responses((status = 200, body = PolicyHistoryList)))]
pub async fn tenant_policy_history(
    state: AppState,
    ctx: Ctx,
    Path(policy): Path<String>,
) -> ApiResult {
    let target = tenant_target(&policy, &ctx)?;
    run(
        &state,
        ctx,
        Operation::PolicyHistory(PolicyHistory { target }),
    )
    .await
}

/// Reverts a tenant policy to an earlier version, as a new version (administrators).
#[utoipa::path(post, path = "/v1/policies/{policy}/revert", tag = "approvals", request_body = RevertBody,
    params(("policy" = String, Path, description = "approvals or duties")), responses((status = 200, body = Object), (status = 202, body = ErrorBody)))]
pub async fn tenant_policy_revert(
    state: AppState,
    ctx: Ctx,
    Path(policy): Path<String>,
    ApiJson(body): ApiJson<RevertBody>,
) -> ApiResult {
    let target = tenant_target(&policy, &ctx)?;
    let op = RevertPolicy {
        target,
        to: body.to,
    };
    run(&state, ctx, Operation::RevertPolicy(op)).await
}

fn tenant_target(policy: &str, ctx: &Ctx) -> Result<PolicyTarget, ApiError> {
    match policy {
        "approvals" => Ok(PolicyTarget::Approvals),
        "duties" => Ok(PolicyTarget::Duties),
        _ => Err(ApiError::unaudited(
            keyhold_core::KmsError::NotFound("policy"),
            &ctx.meta.request_id,
        )),
    }
}

/// Every version of a key's policy (its grants).
#[utoipa::path(get, path = "/v1/keys/{key}/policy/history", tag = "access", params(("key" = String, Path)),
    responses((status = 200, body = PolicyHistoryList)))]
pub async fn key_policy_history(state: AppState, ctx: Ctx, Path(key): Path<String>) -> ApiResult {
    let target = PolicyTarget::Key { key: key_ref(key) };
    run(
        &state,
        ctx,
        Operation::PolicyHistory(PolicyHistory { target }),
    )
    .await
}

/// Reverts a key's policy to an earlier version, as a new version (key managers).
#[utoipa::path(post, path = "/v1/keys/{key}/policy/revert", tag = "access", request_body = RevertBody,
    params(("key" = String, Path)), responses((status = 200, body = GrantList), (status = 202, body = ErrorBody)))]
pub async fn key_policy_revert(
    state: AppState,
    ctx: Ctx,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<RevertBody>,
) -> ApiResult {
    let op = RevertPolicy {
        target: PolicyTarget::Key { key: key_ref(key) },
        to: body.to,
    };
    run(&state, ctx, Operation::RevertPolicy(op)).await
}
