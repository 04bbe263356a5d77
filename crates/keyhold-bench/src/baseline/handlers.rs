//! The baseline's handlers: decode Keyhold's request type, do the cryptography on the key in
//! memory, encode Keyhold's response type. Errors have Keyhold's `{code, message, request_id}`
//! shape (`keyhold_server::rest::error::ApiError`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use keyhold_core::ciphertext::{Ciphertext, Format};
use keyhold_core::clock::{Clock, SystemClock, Timestamp};
use keyhold_core::ids::{GrantId, KeyId, PrincipalName, TenantId, TokenId};
use keyhold_core::lifecycle::{KeyState, Lifecycle};
use keyhold_core::model::{Grant, KeyUsage, Origin};
use keyhold_core::ops::{
    Context, CreateGrant, CreateKey, CreateToken, CreatedToken, Decrypt, DecryptResponse, Encrypt,
    EncryptResponse, GenerateDataKey, GenerateDataKeyResponse, GenerateMac, KeyInfo, KeySpec,
    MacResponse, SecretData, Sign, SignResponse, TokenInfo, Verify, VerifyResponse, VersionInfo,
};
use keyhold_core::{ErrorCode, KmsError, MessageType, SecretBytes};
use keyhold_crypto::{CryptoError, KeyFamily, AES_GCM_NONCE_LEN};
use keyhold_server::rest::error::{ApiError, ApiJson};
use serde_json::{json, Value};

use super::durable::KeyRow;
use super::{Held, State as Baseline};

type AppState = State<Arc<Baseline>>;
type ApiResult<T> = Result<Json<T>, ApiError>;

/// AAD prefix of wrapped key material.
const WRAP_AAD: &[u8] = b"keyhold-bench/baseline/key/v1";

/// The creator recorded on everything the baseline makes.
const CREATOR: &str = "baseline";

fn now() -> Timestamp {
    SystemClock.now()
}

fn crypto_error(e: CryptoError) -> ApiError {
    let e = KmsError::from(e);
    ApiError::new(e.code(), e.public_message())
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

fn creator() -> Result<PrincipalName, ApiError> {
    PrincipalName::try_from(CREATOR.to_owned())
        .map_err(|_| ApiError::new(ErrorCode::Internal, "invalid creator name"))
}

impl Baseline {
    /// A key by id or name.
    fn resolve(&self, key: &str) -> Result<Arc<Held>, ApiError> {
        let id = match key.parse::<KeyId>() {
            Ok(id) => Some(id),
            Err(_) => read(&self.names).get(key).copied(),
        };
        id.and_then(|id| read(&self.keys).get(&id).cloned())
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "key not found"))
    }

    /// AES-256-GCM in Keyhold's ciphertext format (version 1).
    fn seal(&self, held: &Held, plaintext: &[u8], context: &Context) -> Result<Vec<u8>, ApiError> {
        if held.info.algorithm.family() != KeyFamily::Aes {
            return Err(ApiError::new(
                ErrorCode::WrongKeyUsage,
                "the baseline encrypts with AES keys only",
            ));
        }
        let mut ct = Ciphertext {
            format: Format::AesGcm,
            key_id: held.info.id,
            version: 1,
            nonce: Vec::new(),
            body: Vec::new(),
        };
        let (nonce, body) = self
            .crypto
            .aes_gcm_seal(
                held.material.private.as_bytes(),
                &ct.aad(context),
                plaintext,
            )
            .map_err(crypto_error)?;
        ct.nonce = nonce.to_vec();
        ct.body = body;
        Ok(ct.to_bytes())
    }
}

/// Reads a lock, tolerating poisoning (a panicked writer leaves a consistent map: each
/// insertion is a single call).
pub(crate) fn read<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// `GET /v1/health`.
pub(super) async fn health() -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "initialized": true,
        "sealed": false,
        "unseal": null,
        "baseline": true,
    }))
}

/// Unknown paths, in Keyhold's error shape.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint in the baseline")
}

/// `POST /v1/keys`: generate, wrap under the KEK, commit one row (group commit), answer.
pub(super) async fn create_key(
    State(s): AppState,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<KeyInfo> {
    let held = s
        .new_key(req.algorithm, req.spec)
        .await
        .map_err(|(code, message)| ApiError::new(code, message))?;
    Ok(Json(held.info.clone()))
}

impl Baseline {
    /// Generates a key, wraps it under the KEK, commits one row (group commit), and holds it
    /// in memory, active.
    pub(crate) async fn new_key(
        &self,
        algorithm: keyhold_core::Algorithm,
        spec: KeySpec,
    ) -> Result<Arc<Held>, (ErrorCode, String)> {
        let crypto_failure = |e: CryptoError| {
            let e = KmsError::from(e);
            (e.code(), e.public_message().to_string())
        };
        let usage = spec
            .usage
            .unwrap_or_else(|| KeyUsage::default_for(algorithm));
        if !usage.fits(algorithm) {
            return Err((
                ErrorCode::InvalidRequest,
                "the usage does not fit the algorithm".into(),
            ));
        }
        if let Some(name) = &spec.name {
            if read(&self.names).contains_key(name.as_str()) {
                return Err((ErrorCode::AlreadyExists, "key name exists".into()));
            }
        }
        let material = self.crypto.generate(algorithm).map_err(crypto_failure)?;
        let id = KeyId::generate();
        let aad = [WRAP_AAD, id.as_bytes()].concat();
        let (nonce, wrapped) = self
            .crypto
            .aes_gcm_seal(self.kek.as_bytes(), &aad, material.private.as_bytes())
            .map_err(crypto_failure)?;
        let now = now();
        self.durable
            .insert(KeyRow {
                id: id.as_bytes().to_vec(),
                algorithm: algorithm.as_str(),
                nonce: nonce.to_vec(),
                wrapped,
                public: material.public.clone(),
                created_at: now.millis(),
            })
            .await
            .map_err(|e| (ErrorCode::Internal, e.to_string()))?;
        let active = Lifecycle {
            state: KeyState::Active,
            activation_date: Some(now),
            deactivation_date: None,
            destroy_at: None,
            compromise_date: None,
            revocation_reason: None,
            destroyed_at: None,
            state_changed_at: now,
            crypto_period_secs: None,
            archived_at: None,
        };
        let created_by = creator().map_err(|_| (ErrorCode::Internal, "invalid creator".into()))?;
        let info = KeyInfo {
            id,
            name: spec.name.clone(),
            description: spec.description,
            tags: spec.tags,
            algorithm,
            usage,
            origin: Origin::Generated,
            kind: Default::default(),
            links: Vec::new(),
            labels: spec.labels,
            usage_mask: spec.usage_mask,
            state: KeyState::Active,
            lifecycle: active,
            rotation_period_secs: None,
            next_rotation_at: None,
            current_version: 1,
            min_decrypt_version: 1,
            rotated_at: now,
            created_at: now,
            created_by,
            aliases: Vec::new(),
            versions: vec![VersionInfo {
                version: 1,
                created_at: now,
                destroyed: false,
            }],
        };
        if let Some(name) = &spec.name {
            write(&self.names).insert(name.as_str().to_owned(), id);
        }
        let held = Arc::new(Held { info, material });
        write(&self.keys).insert(id, held.clone());
        Ok(held)
    }
}

/// `GET /v1/keys/{key}`.
pub(super) async fn describe_key(
    State(s): AppState,
    Path(key): Path<String>,
) -> ApiResult<KeyInfo> {
    Ok(Json(s.resolve(&key)?.info.clone()))
}

/// `POST /v1/keys/{key}/encrypt`.
pub(super) async fn encrypt(
    State(s): AppState,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<Encrypt>,
) -> ApiResult<EncryptResponse> {
    let held = s.resolve(&key)?;
    let plaintext = req
        .plaintext
        .ok_or_else(|| invalid("plaintext is required"))?;
    let ciphertext = s.seal(&held, plaintext.0.as_bytes(), &req.context)?;
    Ok(Json(EncryptResponse {
        ciphertext,
        key_id: held.info.id,
        key_version: 1,
    }))
}

/// `POST /v1/decrypt`.
pub(super) async fn decrypt(
    State(s): AppState,
    ApiJson(req): ApiJson<Decrypt>,
) -> ApiResult<DecryptResponse> {
    let invalid_ct = || ApiError::new(ErrorCode::InvalidCiphertext, "invalid ciphertext");
    let ct = Ciphertext::parse(&req.ciphertext).map_err(|_| invalid_ct())?;
    let held = read(&s.keys)
        .get(&ct.key_id)
        .cloned()
        .ok_or_else(invalid_ct)?;
    let nonce: [u8; AES_GCM_NONCE_LEN] =
        ct.nonce.as_slice().try_into().map_err(|_| invalid_ct())?;
    if ct.format != Format::AesGcm || ct.version != 1 {
        return Err(invalid_ct());
    }
    let plaintext = s
        .crypto
        .aes_gcm_open(
            held.material.private.as_bytes(),
            &nonce,
            &ct.aad(&req.context),
            &ct.body,
        )
        .map_err(crypto_error)?;
    Ok(Json(DecryptResponse {
        plaintext: SecretData(plaintext),
        key_id: held.info.id,
        key_version: 1,
        key_compromised: false,
    }))
}

/// `POST /v1/keys/{key}/datakey`.
pub(super) async fn datakey(
    State(s): AppState,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<GenerateDataKey>,
) -> ApiResult<GenerateDataKeyResponse> {
    let n = req.number_of_bytes.unwrap_or(32);
    if !(1..=1024).contains(&n) {
        return Err(invalid("number_of_bytes must be between 1 and 1024"));
    }
    let held = s.resolve(&key)?;
    let data_key = s.crypto.random(n as usize).map_err(crypto_error)?;
    let ciphertext = s.seal(&held, data_key.as_bytes(), &req.context)?;
    Ok(Json(GenerateDataKeyResponse {
        ciphertext,
        plaintext: req
            .include_plaintext
            .unwrap_or(true)
            .then_some(SecretData(data_key)),
        key_id: held.info.id,
        key_version: 1,
    }))
}

/// The signing algorithm asked for, or the key's default; refused if it does not fit.
pub(crate) fn signing_algorithm(
    held: &Held,
    requested: Option<keyhold_core::SigningAlgorithm>,
) -> Result<keyhold_core::SigningAlgorithm, ApiError> {
    let alg = requested
        .or_else(|| held.info.algorithm.default_signing())
        .filter(|a| held.info.algorithm.supports_signing(*a))
        .ok_or_else(|| ApiError::new(ErrorCode::WrongKeyUsage, "this key is not for signing"))?;
    Ok(alg)
}

/// `POST /v1/keys/{key}/sign`.
pub(super) async fn sign(
    State(s): AppState,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<Sign>,
) -> ApiResult<SignResponse> {
    let held = s.resolve(&key)?;
    let alg = signing_algorithm(&held, req.algorithm)?;
    let signature = s
        .crypto
        .sign(
            held.info.algorithm,
            held.material.private.as_bytes(),
            alg,
            req.message_type.unwrap_or(MessageType::Raw),
            &req.message,
        )
        .map_err(crypto_error)?;
    Ok(Json(SignResponse {
        signature,
        key_id: held.info.id,
        key_version: 1,
        algorithm: alg,
    }))
}

/// `POST /v1/keys/{key}/verify`.
pub(super) async fn verify(
    State(s): AppState,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<Verify>,
) -> ApiResult<VerifyResponse> {
    let held = s.resolve(&key)?;
    let alg = signing_algorithm(&held, req.algorithm)?;
    let public =
        held.material.public.as_deref().ok_or_else(|| {
            ApiError::new(ErrorCode::WrongKeyUsage, "this key is not for signing")
        })?;
    let valid = s
        .crypto
        .verify(
            held.info.algorithm,
            public,
            alg,
            req.message_type.unwrap_or(MessageType::Raw),
            &req.message,
            &req.signature,
        )
        .map_err(crypto_error)?;
    Ok(Json(VerifyResponse {
        valid,
        key_id: held.info.id,
        key_version: 1,
        key_compromised: false,
    }))
}

/// `POST /v1/keys/{key}/mac`.
pub(super) async fn mac(
    State(s): AppState,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<GenerateMac>,
) -> ApiResult<MacResponse> {
    let held = s.resolve(&key)?;
    if held.info.algorithm.family() != KeyFamily::Hmac {
        return Err(ApiError::new(
            ErrorCode::WrongKeyUsage,
            "this key is not for MACs",
        ));
    }
    let mac = s
        .crypto
        .mac(
            held.info.algorithm,
            held.material.private.as_bytes(),
            &req.message,
        )
        .map_err(crypto_error)?;
    Ok(Json(MacResponse {
        mac,
        key_id: held.info.id,
        key_version: 1,
    }))
}

/// `POST /v1/tokens`: a plausible answer; the baseline accepts every token anyway.
pub(super) async fn create_token(
    State(s): AppState,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult<CreatedToken> {
    let id = TokenId::generate();
    let secret = s.crypto.random(24).map_err(crypto_error)?;
    let text = format!("kh_baseline_{}", hex_encode(secret.as_bytes()));
    let now = now();
    Ok(Json(CreatedToken {
        token: SecretData(SecretBytes::new(text.into_bytes())),
        info: TokenInfo {
            id,
            principal: req.principal,
            role: req.role,
            description: req.description,
            created_at: now,
            created_by: creator()?,
            expires_at: req.ttl_secs.map(|t| now.plus_secs(t)),
            revoked_at: None,
        },
    }))
}

/// `POST /v1/grants`: a plausible answer for an existing key; nothing is enforced.
pub(super) async fn create_grant(
    State(s): AppState,
    ApiJson(req): ApiJson<CreateGrant>,
) -> ApiResult<Grant> {
    let held = s.resolve(&req.key.0)?;
    Ok(Json(Grant {
        v: 1,
        id: GrantId::generate(),
        tenant: TenantId::default_tenant(),
        key_id: held.info.id,
        grantee: req.grantee,
        operations: req.operations,
        conditions: req.conditions,
        created_at: now(),
        created_by: creator()?,
    }))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
