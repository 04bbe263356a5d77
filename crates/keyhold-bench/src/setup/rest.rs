//! Set-up over Keyhold's REST API, and the HTTPS requests of each operation.
//!
//! ```text
//!  admin token ─► key-manager token, key-user token          POST /v1/tokens
//!  manager     ─► N keys per algorithm the mix needs          POST /v1/keys  (or found by name)
//!              ─► grants of the user's operations             POST /v1/grants
//!  user        ─► ciphertexts for decrypt, signatures for verify (one per key, made once)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyhold_client::{Client, ClientError};
use keyhold_core::ids::{KeyId, KeyName, KeyRef, PrincipalName, RequestId};
use keyhold_core::model::{KeyOp, Role};
use keyhold_core::ops::{CreateGrant, CreateKey, CreateToken, Encrypt, KeySpec, SecretData, Sign};
use keyhold_core::{Algorithm, ErrorCode, SecretBytes};
use keyhold_crypto::Provider;
use reqwest::header::HeaderValue;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::{in_parallel, KeyConfig, Plan, Request, DESCRIPTION, MESSAGE_LEN};
use crate::mix::Op;
use crate::target::Target;
use crate::BenchError;

/// Lifetime of the benchmark's tokens.
const TOKEN_TTL_SECS: u64 = 86_400;

/// What a successful answer must contain, beyond a 2xx status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Any 2xx answer.
    Success,
    /// `"valid": true` (verify).
    Valid,
    /// `"plaintext"` equal to this base64 text (decrypt).
    Plaintext(String),
}

impl Expect {
    /// Whether `body` is a right answer.
    pub fn accepts(&self, body: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Answer<'a> {
            #[serde(default)]
            valid: Option<bool>,
            #[serde(default, borrow)]
            plaintext: Option<&'a str>,
        }
        match self {
            Expect::Success => true,
            Expect::Valid => {
                serde_json::from_slice::<Answer<'_>>(body).is_ok_and(|a| a.valid == Some(true))
            }
            Expect::Plaintext(want) => serde_json::from_slice::<Answer<'_>>(body)
                .is_ok_and(|a| a.plaintext == Some(want.as_str())),
        }
    }
}

/// One REST operation as it goes on the wire, built once and sent many times.
#[derive(Debug)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: Method,
    /// Absolute URL.
    pub url: Url,
    /// JSON body, if any (shared by the requests of one operation on every key).
    pub body: Option<Arc<Vec<u8>>>,
    /// `Bearer …` (marked sensitive).
    pub authorization: HeaderValue,
    /// What a right answer is.
    pub expect: Expect,
}

/// Sets `target` up for `ops` and builds their requests.
pub async fn prepare(target: &Target, ops: &[Op], keys: &KeyConfig) -> Result<Plan, BenchError> {
    let admin = client(target, &target.setup_token)?;
    let run_id: String = RequestId::generate().0.chars().take(12).collect();
    let prefix = keys
        .reuse_prefix
        .clone()
        .unwrap_or_else(|| format!("bench-{run_id}"));
    let manager_name = principal(&format!("{prefix}-manager"))?;
    let manager_token = admin
        .create_token(&CreateToken {
            principal: manager_name,
            role: Role::KeyManager,
            ttl_secs: Some(TOKEN_TTL_SECS),
            description: DESCRIPTION.into(),
            tenant: None,
        })
        .await
        .map_err(step(target, "creating the key-manager token"))?;
    let manager_secret = Zeroizing::new(manager_token.token.expose().to_owned());
    let manager = client(target, &manager_secret)?;

    let user_ops: Vec<Op> = ops.iter().copied().filter(|op| uses_user(*op)).collect();
    let user_name = principal(&format!("{prefix}-user"))?;
    let user_secret = if user_ops.is_empty() {
        None
    } else {
        let t = admin
            .create_token(&CreateToken {
                principal: user_name.clone(),
                role: Role::KeyUser,
                ttl_secs: Some(TOKEN_TTL_SECS),
                description: DESCRIPTION.into(),
                tenant: None,
            })
            .await
            .map_err(step(target, "creating the key-user token"))?;
        Some(Zeroizing::new(t.token.expose().to_owned()))
    };

    // N keys per algorithm the mix needs, and the user's grants on each. Keys found by name
    // (--reuse-keys) were granted every operation of their algorithm when they were made.
    let mut key_ids: BTreeMap<&'static str, Vec<KeyId>> = BTreeMap::new();
    for op in ops {
        let alg = op.key_algorithm();
        if key_ids.contains_key(alg.as_str()) {
            continue;
        }
        let granted: &[Op] = if keys.reuse_prefix.is_some() {
            &Op::ALL
        } else {
            &user_ops
        };
        let operations: BTreeSet<KeyOp> = granted
            .iter()
            .filter(|o| uses_user(**o) && o.key_algorithm() == alg)
            .flat_map(|o| key_ops(*o).iter().copied())
            .collect();
        let job = Arc::new(KeyJob {
            target: target.clone(),
            algorithm: alg,
            operations,
            grantee: user_name.clone(),
            prefix: keys.reuse_prefix.clone(),
        });
        let ids = in_parallel(
            keys.count,
            || manager.clone(),
            move |manager: Client, i: usize| {
                let job = job.clone();
                async move {
                    let id = job.key(&manager, i).await?;
                    Ok((manager, id))
                }
            },
        )
        .await?;
        key_ids.insert(alg.as_str(), ids);
    }

    let user = match &user_secret {
        Some(secret) => Some(client(target, secret)?),
        None => None,
    };
    let crypto = Provider::aws_lc();
    let random = |n: usize| {
        crypto
            .random(n)
            .map_err(|e| BenchError::Worker(format!("random bytes: {e}")))
    };
    let message = Arc::new(random(MESSAGE_LEN)?.as_bytes().to_vec());
    let json_body = |v: serde_json::Value| {
        serde_json::to_vec(&v)
            .map(Arc::new)
            .map_err(|e| BenchError::Worker(format!("encoding a request body: {e}")))
    };
    let manager_auth = bearer(&manager_secret)?;
    let user_auth = user_secret.as_deref().map(|s| bearer(s)).transpose()?;

    let mut plan = Plan::default();
    for &op in ops {
        let ids = key_ids
            .get(op.key_algorithm().as_str())
            .cloned()
            .ok_or_else(|| BenchError::Worker(format!("no key prepared for {op}")))?;
        let key_url =
            |key: &KeyId, suffix: &str| target.endpoint(&format!("/v1/keys/{key}{suffix}"));
        let user_auth = || {
            user_auth
                .clone()
                .ok_or_else(|| BenchError::Worker(format!("no key-user token for {op}")))
        };
        let push = |plan: &mut Plan, method, url, body, authorization, expect| {
            plan.push(
                op,
                Request::Http(HttpRequest {
                    method,
                    url,
                    body,
                    authorization,
                    expect,
                }),
            );
        };
        match op {
            Op::CreateKey => {
                let body = json_body(json!({"algorithm": "aes-256", "description": DESCRIPTION}))?;
                let url = target.endpoint("/v1/keys")?;
                // A new key each time: the request names none, so one request serves.
                push(
                    &mut plan,
                    Method::POST,
                    url,
                    Some(body),
                    manager_auth.clone(),
                    Expect::Success,
                );
            }
            Op::DescribeKey => {
                for id in &ids {
                    push(
                        &mut plan,
                        Method::GET,
                        key_url(id, "")?,
                        None,
                        manager_auth.clone(),
                        Expect::Success,
                    );
                }
            }
            Op::Encrypt64 | Op::Encrypt1k | Op::Encrypt16k => {
                let plaintext = random(op.payload_len().unwrap_or(64))?;
                let body = json_body(json!({"plaintext": STANDARD.encode(plaintext.as_bytes())}))?;
                for id in &ids {
                    push(
                        &mut plan,
                        Method::POST,
                        key_url(id, "/encrypt")?,
                        Some(body.clone()),
                        user_auth()?,
                        Expect::Success,
                    );
                }
            }
            Op::Decrypt64 | Op::Decrypt1k | Op::Decrypt16k => {
                let plaintext =
                    Arc::new(random(op.payload_len().unwrap_or(64))?.as_bytes().to_vec());
                let Some(user) = &user else {
                    return Err(BenchError::Worker(format!("no key-user token for {op}")));
                };
                let (t, p) = (target.clone(), plaintext.clone());
                let ids_for_setup = Arc::new(ids.clone());
                let ciphertexts = in_parallel(
                    ids.len(),
                    || user.clone(),
                    move |user: Client, i: usize| {
                        let (t, p, ids) = (t.clone(), p.clone(), ids_for_setup.clone());
                        async move {
                            let ct = user
                                .encrypt(&Encrypt {
                                    key: KeyRef(ids[i].to_string()),
                                    plaintext: Some(SecretData(SecretBytes::new(p.to_vec()))),
                                    context: Default::default(),
                                })
                                .await
                                .map_err(step(&t, &format!("encrypting the input of {op}")))?;
                            Ok((user, ct.ciphertext))
                        }
                    },
                )
                .await?;
                let want = STANDARD.encode(plaintext.as_slice());
                let url = target.endpoint("/v1/decrypt")?;
                for ct in ciphertexts {
                    let body = json_body(json!({"ciphertext": STANDARD.encode(&ct)}))?;
                    push(
                        &mut plan,
                        Method::POST,
                        url.clone(),
                        Some(body),
                        user_auth()?,
                        Expect::Plaintext(want.clone()),
                    );
                }
            }
            Op::DataKey => {
                let body = json_body(json!({}))?;
                for id in &ids {
                    push(
                        &mut plan,
                        Method::POST,
                        key_url(id, "/datakey")?,
                        Some(body.clone()),
                        user_auth()?,
                        Expect::Success,
                    );
                }
            }
            Op::SignP256 | Op::SignEd25519 | Op::SignRsa2048 => {
                let body = json_body(json!({"message": STANDARD.encode(message.as_slice())}))?;
                for id in &ids {
                    push(
                        &mut plan,
                        Method::POST,
                        key_url(id, "/sign")?,
                        Some(body.clone()),
                        user_auth()?,
                        Expect::Success,
                    );
                }
            }
            Op::VerifyP256 | Op::VerifyEd25519 | Op::VerifyRsa2048 => {
                let Some(user) = &user else {
                    return Err(BenchError::Worker(format!("no key-user token for {op}")));
                };
                let (t, m) = (target.clone(), message.clone());
                let ids_for_setup = Arc::new(ids.clone());
                let signatures = in_parallel(
                    ids.len(),
                    || user.clone(),
                    move |user: Client, i: usize| {
                        let (t, m, ids) = (t.clone(), m.clone(), ids_for_setup.clone());
                        async move {
                            let signed = user
                                .sign(&Sign {
                                    key: KeyRef(ids[i].to_string()),
                                    message: m.to_vec(),
                                    message_type: None,
                                    algorithm: None,
                                })
                                .await
                                .map_err(step(&t, &format!("signing the input of {op}")))?;
                            Ok((user, signed.signature))
                        }
                    },
                )
                .await?;
                for (id, signature) in ids.iter().zip(signatures) {
                    let body = json_body(json!({
                        "message": STANDARD.encode(message.as_slice()),
                        "signature": STANDARD.encode(&signature),
                    }))?;
                    push(
                        &mut plan,
                        Method::POST,
                        key_url(id, "/verify")?,
                        Some(body),
                        user_auth()?,
                        Expect::Valid,
                    );
                }
            }
            Op::Mac => {
                let body = json_body(json!({"message": STANDARD.encode(message.as_slice())}))?;
                for id in &ids {
                    push(
                        &mut plan,
                        Method::POST,
                        key_url(id, "/mac")?,
                        Some(body.clone()),
                        user_auth()?,
                        Expect::Success,
                    );
                }
            }
        }
    }
    Ok(plan)
}

/// Making (or finding) the keys of one algorithm.
struct KeyJob {
    target: Target,
    algorithm: Algorithm,
    operations: BTreeSet<KeyOp>,
    grantee: PrincipalName,
    prefix: Option<String>,
}

impl KeyJob {
    /// Key number `i`: found by its name (with a prefix) or created, then granted.
    async fn key(&self, manager: &Client, i: usize) -> Result<KeyId, BenchError> {
        let alg = self.algorithm;
        let name = match &self.prefix {
            Some(prefix) => {
                let name = format!("{prefix}-{alg}-{i:07}");
                match manager.describe_key(&name).await {
                    Ok(info) if info.algorithm == alg => return Ok(info.id),
                    Ok(info) => {
                        return Err(BenchError::Usage(format!(
                            "key {name} exists with algorithm {}, not {alg}",
                            info.algorithm
                        )))
                    }
                    Err(e) if e.error_code() == Some(ErrorCode::NotFound) => {}
                    Err(e) => return Err(step(&self.target, &format!("finding key {name}"))(e)),
                }
                Some(
                    KeyName::try_from(name.clone())
                        .map_err(|e| BenchError::Usage(format!("key name {name}: {e}")))?,
                )
            }
            None => None,
        };
        let info = manager
            .create_key(&CreateKey {
                algorithm: alg,
                spec: KeySpec {
                    name,
                    description: DESCRIPTION.into(),
                    ..KeySpec::default()
                },
                idempotency_token: None,
            })
            .await
            .map_err(step(&self.target, &format!("creating a {alg} key")))?;
        if !self.operations.is_empty() {
            manager
                .create_grant(&CreateGrant {
                    key: KeyRef(info.id.to_string()),
                    grantee: self.grantee.clone().into(),
                    operations: self.operations.clone(),
                    conditions: Default::default(),
                })
                .await
                .map_err(step(
                    &self.target,
                    &format!("granting the use of the {alg} key"),
                ))?;
        }
        Ok(info.id)
    }
}

fn step(target: &Target, what: &str) -> impl FnOnce(ClientError) -> BenchError {
    let target = target.label.clone();
    let what = what.to_owned();
    move |source: ClientError| BenchError::Setup {
        target,
        step: what,
        source: Box::new(source),
    }
}

/// Operations performed with the key-user token (all but key management).
fn uses_user(op: Op) -> bool {
    !matches!(op, Op::CreateKey | Op::DescribeKey)
}

/// The operations the key user needs granted for an operation: the operation itself, and what
/// the set-up does as the key user to prepare it (decrypt sends ciphertexts the key user made,
/// verify signatures it made).
fn key_ops(op: Op) -> &'static [KeyOp] {
    match op {
        Op::Encrypt64 | Op::Encrypt1k | Op::Encrypt16k => &[KeyOp::Encrypt],
        Op::Decrypt64 | Op::Decrypt1k | Op::Decrypt16k => &[KeyOp::Decrypt, KeyOp::Encrypt],
        Op::DataKey => &[KeyOp::GenerateDataKey],
        Op::SignP256 | Op::SignEd25519 | Op::SignRsa2048 => &[KeyOp::Sign],
        Op::VerifyP256 | Op::VerifyEd25519 | Op::VerifyRsa2048 => &[KeyOp::Verify, KeyOp::Sign],
        Op::Mac => &[KeyOp::Mac],
        Op::CreateKey | Op::DescribeKey => &[],
    }
}

fn principal(name: &str) -> Result<PrincipalName, BenchError> {
    PrincipalName::try_from(name.to_owned())
        .map_err(|e| BenchError::Usage(format!("principal name {name}: {e}")))
}

fn client(target: &Target, token: &str) -> Result<Client, BenchError> {
    Client::builder()
        .address(target.url.as_str())
        .token(token)
        .ca_cert_pem(target.ca_pem.clone())
        .build()
        .map_err(|source| BenchError::Setup {
            target: target.label.clone(),
            step: "building the client".into(),
            source: Box::new(source),
        })
}

fn bearer(token: &str) -> Result<HeaderValue, BenchError> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| BenchError::Usage("the token cannot be sent in a header".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_check_the_answer() {
        assert!(Expect::Valid.accepts(br#"{"valid":true,"key_id":"x"}"#));
        assert!(!Expect::Valid.accepts(br#"{"valid":false}"#));
        assert!(!Expect::Valid.accepts(b"not json"));
        let p = Expect::Plaintext("AAEC".into());
        assert!(p.accepts(br#"{"plaintext":"AAEC","key_version":1}"#));
        assert!(!p.accepts(br#"{"plaintext":"AAED"}"#));
        assert!(Expect::Success.accepts(b""));
    }

    #[test]
    fn every_user_op_has_a_grant() {
        for op in Op::ALL {
            assert_eq!(uses_user(op), !key_ops(op).is_empty(), "{op}");
        }
    }
}
