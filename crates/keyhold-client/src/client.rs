//! The HTTP client: TLS trust, authentication, error decoding.

use std::fmt;
use std::time::Duration;

use keyhold_core::ids::{GrantId, TokenId};
use keyhold_core::model::Grant;
use keyhold_core::ops::{
    AliasList, AuditCheckpointKeyResponse, AuditCheckpointResponse, AuditExportResponse,
    AuditVerifyResponse, CreateAlias, CreateGrant, CreateKey, CreateToken, Decrypt,
    DecryptResponse, Encrypt, EncryptResponse, GenerateDataKey, GenerateDataKeyResponse,
    GenerateMac, GrantList, ImportKey, ImportParameters, KeyInfo, KeyList, ListGrants, ListKeys,
    MacResponse, PublicKeyResponse, RandomResponse, ReEncrypt, ReEncryptResponse, Sign,
    SignResponse, TokenInfo, TokenList, UpdateKey, Verify, VerifyMac, VerifyResponse,
    WhoAmIResponse,
};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Certificate, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::api::{self, ApiRequest, Empty, Health, NewToken, StateChange, UnsealResponse};
use crate::error::ClientError;

/// Where the server listens unless told otherwise.
pub const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8443";

/// Answers larger than this are refused (the largest legitimate one, a page of 1000 audit
/// events, is far smaller).
const MAX_RESPONSE: usize = 64 << 20;

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    address: Option<String>,
    token: Option<Zeroizing<String>>,
    ca_pem: Option<Vec<u8>>,
    identity_pem: Option<Zeroizing<Vec<u8>>>,
    timeout: Option<Duration>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("ca_pem", &self.ca_pem.is_some())
            .field(
                "identity",
                &self.identity_pem.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl ClientBuilder {
    /// The server's base URL, e.g. `https://kms.example:8443` (default [`DEFAULT_ADDRESS`]).
    pub fn address(mut self, url: impl Into<String>) -> Self {
        self.address = Some(url.into());
        self
    }

    /// The bearer token sent with every authenticated request.
    pub fn token(mut self, secret: impl Into<String>) -> Self {
        self.token = Some(Zeroizing::new(secret.into()));
        self
    }

    /// Trust only the CA certificate(s) in this PEM (Keyhold issues its server certificate from
    /// its own CA). Without it, the platform's trust store is used.
    pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// A client certificate (and its chain) with its private key, PEM, presented for mutual
    /// TLS: a request without a token is then authenticated by the certificate.
    pub fn identity_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.identity_pem = Some(Zeroizing::new(pem.into()));
        self
    }

    /// Overall timeout of one request (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let address = self.address.as_deref().unwrap_or(DEFAULT_ADDRESS);
        let base = Url::parse(address.trim())
            .map_err(|e| ClientError::Config(format!("address '{address}' is not a URL: {e}")))?;
        if !matches!(base.scheme(), "https" | "http")
            || base.cannot_be_a_base()
            || base.host().is_none()
        {
            return Err(ClientError::Config(format!(
                "address '{address}' must look like https://host:port"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
            return Err(ClientError::Config(
                "the address must not contain credentials, a query or a fragment".into(),
            ));
        }
        let auth = match &self.token {
            Some(t) if !t.trim().is_empty() => {
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", t.trim())).map_err(|_| {
                        ClientError::Config(
                            "the token contains characters not allowed in a header".into(),
                        )
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
            _ => None,
        };
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("keyhold-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(self.timeout.unwrap_or(Duration::from_secs(120)));
        if let Some(pem) = &self.ca_pem {
            let certs = Certificate::from_pem_bundle(pem).map_err(|e| {
                ClientError::Config(format!("the CA certificate is not valid PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(ClientError::Config(
                    "the CA file holds no certificate".into(),
                ));
            }
            http = http.tls_certs_only(certs);
        }
        if let Some(pem) = &self.identity_pem {
            let identity = reqwest::Identity::from_pem(pem).map_err(|e| {
                ClientError::Config(format!(
                    "the client certificate and key are not valid PEM: {e}"
                ))
            })?;
            http = http.identity(identity);
        }
        let http = http.build().map_err(ClientError::Transport)?;
        Ok(Client { http, base, auth })
    }
}

/// A Keyhold REST client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.auth.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The error body of every Keyhold error answer.
#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    approval_id: Option<String>,
}

/// The answer `202 approval_required`, if `body` is one.
fn approval_required(
    status: reqwest::StatusCode,
    body: &[u8],
    header_id: &Option<String>,
) -> Option<ClientError> {
    if status != reqwest::StatusCode::ACCEPTED {
        return None;
    }
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    Some(ClientError::ApprovalRequired {
        approval_id: e.approval_id?,
        message: e.message,
        request_id: e.request_id.or_else(|| header_id.clone()),
    })
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The server's base URL.
    pub fn address(&self) -> &Url {
        &self.base
    }

    /// Sends a request and decodes the answer.
    pub async fn send<T: DeserializeOwned>(&self, req: ApiRequest<T>) -> Result<T, ClientError> {
        let (body, request_id) = self.exchange(req).await?;
        let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
        serde_json::from_slice(body).map_err(|source| ClientError::Decode { source, request_id })
    }

    /// Sends a request and returns the server's JSON answer as it came.
    pub async fn send_json<T>(&self, req: ApiRequest<T>) -> Result<serde_json::Value, ClientError> {
        let (body, request_id) = self.exchange(req).await?;
        let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
        serde_json::from_slice(body).map_err(|source| ClientError::Decode { source, request_id })
    }

    /// A request with the token to the path `segments`, for endpoints whose bodies stream
    /// (backups); its timeout is `timeout` instead of the client's.
    pub(crate) fn raw(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("the address cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        let mut rb = self.http.request(method, url).timeout(timeout);
        if let Some(auth) = &self.auth {
            rb = rb.header(AUTHORIZATION, auth.clone());
        }
        Ok(rb)
    }

    /// `resp` if it is a success, else its error decoded.
    pub(crate) async fn checked(resp: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        let status = resp.status();
        if status.is_success() && status != reqwest::StatusCode::ACCEPTED {
            return Ok(resp);
        }
        let header_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.bytes().await.map_err(ClientError::Transport)?;
        if let Some(e) = approval_required(status, &body, &header_id) {
            return Err(e);
        }
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => ClientError::Api {
                status: status.as_u16(),
                code: e.code,
                message: e.message,
                request_id: e.request_id.or(header_id),
            },
            Err(_) => ClientError::Api {
                status: status.as_u16(),
                code: format!("http_{}", status.as_u16()),
                message: status
                    .canonical_reason()
                    .unwrap_or("unexpected HTTP status")
                    .to_owned(),
                request_id: header_id,
            },
        })
    }

    /// Performs the HTTP exchange; returns the body of a successful answer and its request id.
    async fn exchange<T>(
        &self,
        req: ApiRequest<T>,
    ) -> Result<(Zeroizing<Vec<u8>>, Option<String>), ClientError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| ClientError::Config("the address cannot take a path".into()))?;
            path.pop_if_empty().extend(&req.segments);
        }
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        let mut rb = self.http.request(req.method, url);
        if req.auth {
            if let Some(auth) = &self.auth {
                rb = rb.header(AUTHORIZATION, auth.clone());
            }
        }
        if let Some(body) = req.body.map_err(ClientError::Encode)? {
            rb = rb.header(CONTENT_TYPE, "application/json").body(body);
        }
        let mut resp = rb.send().await.map_err(ClientError::Transport)?;
        let status = resp.status();
        let header_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The body may hold plaintext or key material: keep it in a buffer wiped on drop.
        let mut body = Zeroizing::new(Vec::new());
        while let Some(chunk) = resp.chunk().await.map_err(ClientError::Transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(ClientError::Api {
                    status: status.as_u16(),
                    code: "response_too_large".into(),
                    message: format!("the answer is larger than {} MiB", MAX_RESPONSE >> 20),
                    request_id: header_id,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(e) = approval_required(status, &body, &header_id) {
            return Err(e);
        }
        if status.is_success() {
            return Ok((body, header_id));
        }
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => ClientError::Api {
                status: status.as_u16(),
                code: e.code,
                message: e.message,
                request_id: e.request_id.or(header_id),
            },
            Err(_) => ClientError::Api {
                status: status.as_u16(),
                code: format!("http_{}", status.as_u16()),
                message: status
                    .canonical_reason()
                    .unwrap_or("unexpected HTTP status")
                    .to_owned(),
                request_id: header_id,
            },
        })
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.send(api::health()).await
    }

    /// Submits one unseal share.
    pub async fn unseal(&self, share: &str) -> Result<UnsealResponse, ClientError> {
        self.send(api::unseal(share)).await
    }

    /// Who the token authenticates.
    pub async fn whoami(&self) -> Result<WhoAmIResponse, ClientError> {
        self.send(api::whoami()).await
    }

    /// Creates a key.
    pub async fn create_key(&self, req: &CreateKey) -> Result<KeyInfo, ClientError> {
        self.send(api::create_key(req)).await
    }

    /// Lists one page of keys.
    pub async fn list_keys(&self, req: &ListKeys) -> Result<KeyList, ClientError> {
        self.send(api::list_keys(req)).await
    }

    /// Describes a key (id, name or `alias/x`).
    pub async fn describe_key(&self, key: &str) -> Result<KeyInfo, ClientError> {
        self.send(api::describe_key(key)).await
    }

    /// Changes a key's mutable metadata.
    pub async fn update_key(&self, req: &UpdateKey) -> Result<KeyInfo, ClientError> {
        self.send(api::update_key(req)).await
    }

    /// Rotates a key now.
    pub async fn rotate_key(&self, key: &str) -> Result<KeyInfo, ClientError> {
        self.send(api::rotate_key(key)).await
    }

    /// Changes a key's life-cycle state.
    pub async fn change_state(
        &self,
        key: &str,
        change: &StateChange,
    ) -> Result<KeyInfo, ClientError> {
        self.send(api::change_state(key, change)).await
    }

    /// Gets a wrapping key for one import.
    pub async fn import_parameters(&self) -> Result<ImportParameters, ClientError> {
        self.send(api::import_parameters()).await
    }

    /// Imports wrapped key material.
    pub async fn import_key(&self, req: &ImportKey) -> Result<KeyInfo, ClientError> {
        self.send(api::import_key(req)).await
    }

    /// The public key of an asymmetric key.
    pub async fn public_key(
        &self,
        key: &str,
        version: Option<u32>,
    ) -> Result<PublicKeyResponse, ClientError> {
        self.send(api::public_key(key, version)).await
    }

    /// Encrypts a small plaintext.
    pub async fn encrypt(&self, req: &Encrypt) -> Result<EncryptResponse, ClientError> {
        self.send(api::encrypt(req)).await
    }

    /// Decrypts a ciphertext.
    pub async fn decrypt(&self, req: &Decrypt) -> Result<DecryptResponse, ClientError> {
        self.send(api::decrypt(req)).await
    }

    /// Re-encrypts a ciphertext without exposing its plaintext.
    pub async fn reencrypt(&self, req: &ReEncrypt) -> Result<ReEncryptResponse, ClientError> {
        self.send(api::reencrypt(req)).await
    }

    /// Generates a data key.
    pub async fn generate_data_key(
        &self,
        req: &GenerateDataKey,
    ) -> Result<GenerateDataKeyResponse, ClientError> {
        self.send(api::generate_data_key(req)).await
    }

    /// Signs a message or digest.
    pub async fn sign(&self, req: &Sign) -> Result<SignResponse, ClientError> {
        self.send(api::sign(req)).await
    }

    /// Verifies a signature.
    pub async fn verify(&self, req: &Verify) -> Result<VerifyResponse, ClientError> {
        self.send(api::verify(req)).await
    }

    /// Computes a MAC.
    pub async fn mac(&self, req: &GenerateMac) -> Result<MacResponse, ClientError> {
        self.send(api::mac(req)).await
    }

    /// Verifies a MAC.
    pub async fn mac_verify(&self, req: &VerifyMac) -> Result<VerifyResponse, ClientError> {
        self.send(api::mac_verify(req)).await
    }

    /// Random bytes from the server's cryptographic module.
    pub async fn random(&self, length: u32) -> Result<RandomResponse, ClientError> {
        self.send(api::random(length)).await
    }

    /// Lists aliases, optionally of one key.
    pub async fn list_aliases(&self, key: Option<&str>) -> Result<AliasList, ClientError> {
        self.send(api::list_aliases(key)).await
    }

    /// Creates an alias.
    pub async fn create_alias(&self, req: &CreateAlias) -> Result<AliasList, ClientError> {
        self.send(api::create_alias(req)).await
    }

    /// Deletes an alias.
    pub async fn delete_alias(&self, alias: &str) -> Result<(), ClientError> {
        self.send::<Empty>(api::delete_alias(alias))
            .await
            .map(|_| ())
    }

    /// Issues a token; its secret is in the answer, once.
    pub async fn create_token(&self, req: &CreateToken) -> Result<NewToken, ClientError> {
        self.send(api::create_token(req)).await
    }

    /// Lists tokens.
    pub async fn list_tokens(&self) -> Result<TokenList, ClientError> {
        self.send(api::list_tokens()).await
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, id: &TokenId) -> Result<TokenInfo, ClientError> {
        self.send(api::revoke_token(id)).await
    }

    /// Grants operations on a key to a principal.
    pub async fn create_grant(&self, req: &CreateGrant) -> Result<Grant, ClientError> {
        self.send(api::create_grant(req)).await
    }

    /// Lists grants.
    pub async fn list_grants(&self, req: &ListGrants) -> Result<GrantList, ClientError> {
        self.send(api::list_grants(req)).await
    }

    /// Revokes a grant.
    pub async fn revoke_grant(&self, id: &GrantId) -> Result<(), ClientError> {
        self.send::<Empty>(api::revoke_grant(id)).await.map(|_| ())
    }

    /// Verifies the audit chain.
    pub async fn audit_verify(&self) -> Result<AuditVerifyResponse, ClientError> {
        self.send(api::audit_verify()).await
    }

    /// Checkpoints the audit chain now.
    pub async fn audit_checkpoint(&self) -> Result<AuditCheckpointResponse, ClientError> {
        self.send(api::audit_checkpoint()).await
    }

    /// The public key that verifies checkpoints.
    pub async fn audit_checkpoint_key(&self) -> Result<AuditCheckpointKeyResponse, ClientError> {
        self.send(api::audit_checkpoint_key()).await
    }

    /// Reads one page of audit events.
    pub async fn audit_events(
        &self,
        from_seq: Option<u64>,
        limit: Option<u32>,
    ) -> Result<AuditExportResponse, ClientError> {
        self.send(api::audit_events(from_seq, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_addresses() {
        for a in [
            "not a url",
            "ftp://x",
            "https://u:p@host",
            "https://host/?q=1",
            "mailto:x@y",
        ] {
            assert!(Client::builder().address(a).build().is_err(), "{a}");
        }
        assert!(Client::builder()
            .address("https://127.0.0.1:8443")
            .build()
            .is_ok());
    }

    #[test]
    fn rejects_a_ca_file_without_certificates() {
        let e = Client::builder()
            .ca_cert_pem(b"hello".to_vec())
            .build()
            .unwrap_err();
        assert!(matches!(e, ClientError::Config(_)));
    }

    #[test]
    fn debug_hides_the_token() {
        let c = Client::builder().token("kh_very_secret").build().unwrap();
        assert!(!format!("{c:?}").contains("very_secret"));
        let b = Client::builder().token("kh_very_secret");
        assert!(!format!("{b:?}").contains("very_secret"));
    }
}
