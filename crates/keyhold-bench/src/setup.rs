//! Prepares a server for a mix, through the REST API only, and turns each operation into a
//! ready-to-send request.
//!
//! ```text
//!  admin token ─► key-manager token, key-user token          POST /v1/tokens
//!  manager     ─► one key per algorithm the mix needs        POST /v1/keys
//!              ─► grants of the user's operations            POST /v1/grants
//!  user        ─► ciphertexts for decrypt, signatures for verify (precomputed once)
//!  ─► Plan: per operation, method + URL + JSON body + Authorization + what a right answer is
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keyhold_client::{Client, ClientError};
use keyhold_core::ids::{KeyId, KeyRef, PrincipalName, RequestId};
use keyhold_core::model::{KeyOp, Role};
use keyhold_core::ops::{CreateGrant, CreateKey, CreateToken, Encrypt, KeySpec, SecretData, Sign};
use keyhold_core::{Algorithm, SecretBytes};
use keyhold_crypto::Provider;
use reqwest::header::HeaderValue;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::mix::Op;
use crate::target::Target;
use crate::BenchError;

/// Size of the messages signed, verified and MACed.
const MESSAGE_LEN: usize = 64;

/// Lifetime of the benchmark's tokens.
const TOKEN_TTL_SECS: u64 = 86_400;

/// Description of everything the harness creates, so it can be found afterwards.
const DESCRIPTION: &str = "keyhold-bench";

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

/// One operation as it goes on the wire, built once and sent many times.
#[derive(Debug)]
pub struct Request {
    /// GET or POST.
    pub method: Method,
    /// Absolute URL.
    pub url: Url,
    /// JSON body, if any.
    pub body: Option<Vec<u8>>,
    /// `Bearer …` (marked sensitive).
    pub authorization: HeaderValue,
    /// What a right answer is.
    pub expect: Expect,
}

/// The requests of every operation of a mix on one server.
#[derive(Debug, Default)]
pub struct Plan {
    requests: BTreeMap<Op, Arc<Request>>,
}

impl Plan {
    /// The request of `op`, if it was prepared.
    pub fn request(&self, op: Op) -> Option<Arc<Request>> {
        self.requests.get(&op).cloned()
    }
}

/// Sets `target` up for `ops` and builds their requests.
pub async fn prepare(target: &Target, ops: &[Op]) -> Result<Plan, BenchError> {
    let step = |what: &str| {
        let target = target.label.clone();
        let what = what.to_owned();
        move |source: ClientError| BenchError::Setup {
            target,
            step: what,
            source: Box::new(source),
        }
    };
    let admin = client(target, &target.setup_token)?;
    let run_id: String = RequestId::generate().0.chars().take(12).collect();

    let manager_name = principal(&format!("bench-manager-{run_id}"))?;
    let manager_token = admin
        .create_token(&CreateToken {
            principal: manager_name,
            role: Role::KeyManager,
            ttl_secs: Some(TOKEN_TTL_SECS),
            description: DESCRIPTION.into(),
            tenant: None,
        })
        .await
        .map_err(step("creating the key-manager token"))?;
    let manager_secret = Zeroizing::new(manager_token.token.expose().to_owned());
    let manager = client(target, &manager_secret)?;

    let user_ops: Vec<Op> = ops.iter().copied().filter(|op| uses_user(*op)).collect();
    let user_name = principal(&format!("bench-user-{run_id}"))?;
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
            .map_err(step("creating the key-user token"))?;
        Some(Zeroizing::new(t.token.expose().to_owned()))
    };

    // One key per algorithm the mix needs, and the user's grants on it.
    let mut keys: BTreeMap<&'static str, KeyId> = BTreeMap::new();
    for op in ops {
        let alg = op.key_algorithm();
        if keys.contains_key(alg.as_str()) {
            continue;
        }
        let info = manager
            .create_key(&create_key_request(alg))
            .await
            .map_err(step(&format!("creating a {alg} key")))?;
        keys.insert(alg.as_str(), info.id);
        let operations: BTreeSet<KeyOp> = user_ops
            .iter()
            .filter(|o| o.key_algorithm() == alg)
            .filter_map(|o| key_op(*o))
            .collect();
        if !operations.is_empty() {
            manager
                .create_grant(&CreateGrant {
                    key: KeyRef(info.id.to_string()),
                    grantee: user_name.clone().into(),
                    operations,
                    conditions: Default::default(),
                })
                .await
                .map_err(step(&format!("granting the use of the {alg} key")))?;
        }
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
    let message = random(MESSAGE_LEN)?;

    let mut plan = Plan::default();
    for &op in ops {
        let key = keys
            .get(op.key_algorithm().as_str())
            .copied()
            .ok_or_else(|| BenchError::Worker(format!("no key prepared for {op}")))?;
        let key_path = |suffix: &str| target.endpoint(&format!("/v1/keys/{key}{suffix}"));
        let (secret, method, url, body, expect) = match op {
            Op::CreateKey => (
                &manager_secret,
                Method::POST,
                target.endpoint("/v1/keys")?,
                Some(json!({"algorithm": "aes-256", "description": DESCRIPTION})),
                Expect::Success,
            ),
            Op::DescribeKey => (
                &manager_secret,
                Method::GET,
                key_path("")?,
                None,
                Expect::Success,
            ),
            _ => {
                let (Some(user), Some(secret)) = (&user, &user_secret) else {
                    return Err(BenchError::Worker(format!("no key-user token for {op}")));
                };
                let (url, body, expect) = match op {
                    Op::Encrypt64 | Op::Encrypt1k | Op::Encrypt16k => {
                        let plaintext = random(op.payload_len().unwrap_or(64))?;
                        (
                            key_path("/encrypt")?,
                            json!({"plaintext": STANDARD.encode(plaintext.as_bytes())}),
                            Expect::Success,
                        )
                    }
                    Op::Decrypt64 | Op::Decrypt1k | Op::Decrypt16k => {
                        let plaintext = random(op.payload_len().unwrap_or(64))?;
                        let ct = user
                            .encrypt(&Encrypt {
                                key: KeyRef(key.to_string()),
                                plaintext: Some(SecretData(SecretBytes::new(
                                    plaintext.as_bytes().to_vec(),
                                ))),
                                context: Default::default(),
                            })
                            .await
                            .map_err(step(&format!("encrypting the input of {op}")))?;
                        (
                            target.endpoint("/v1/decrypt")?,
                            json!({"ciphertext": STANDARD.encode(&ct.ciphertext)}),
                            Expect::Plaintext(STANDARD.encode(plaintext.as_bytes())),
                        )
                    }
                    Op::DataKey => (key_path("/datakey")?, json!({}), Expect::Success),
                    Op::SignP256 | Op::SignEd25519 | Op::SignRsa2048 => (
                        key_path("/sign")?,
                        json!({"message": STANDARD.encode(message.as_bytes())}),
                        Expect::Success,
                    ),
                    Op::VerifyP256 | Op::VerifyEd25519 | Op::VerifyRsa2048 => {
                        let signed = user
                            .sign(&Sign {
                                key: KeyRef(key.to_string()),
                                message: message.as_bytes().to_vec(),
                                message_type: None,
                                algorithm: None,
                            })
                            .await
                            .map_err(step(&format!("signing the input of {op}")))?;
                        (
                            key_path("/verify")?,
                            json!({
                                "message": STANDARD.encode(message.as_bytes()),
                                "signature": STANDARD.encode(&signed.signature),
                            }),
                            Expect::Valid,
                        )
                    }
                    Op::Mac => (
                        key_path("/mac")?,
                        json!({"message": STANDARD.encode(message.as_bytes())}),
                        Expect::Success,
                    ),
                    Op::CreateKey | Op::DescribeKey => {
                        return Err(BenchError::Worker(format!("{op} has no user request")))
                    }
                };
                (secret, Method::POST, url, Some(body), expect)
            }
        };
        let body = body
            .map(|b| serde_json::to_vec(&b))
            .transpose()
            .map_err(|e| BenchError::Worker(format!("encoding the body of {op}: {e}")))?;
        plan.requests.insert(
            op,
            Arc::new(Request {
                method,
                url,
                body,
                authorization: bearer(secret)?,
                expect,
            }),
        );
    }
    Ok(plan)
}

/// Operations performed with the key-user token (all but key management).
fn uses_user(op: Op) -> bool {
    !matches!(op, Op::CreateKey | Op::DescribeKey)
}

/// The grant an operation needs.
fn key_op(op: Op) -> Option<KeyOp> {
    Some(match op {
        Op::Encrypt64 | Op::Encrypt1k | Op::Encrypt16k => KeyOp::Encrypt,
        Op::Decrypt64 | Op::Decrypt1k | Op::Decrypt16k => KeyOp::Decrypt,
        Op::DataKey => KeyOp::GenerateDataKey,
        Op::SignP256 | Op::SignEd25519 | Op::SignRsa2048 => KeyOp::Sign,
        Op::VerifyP256 | Op::VerifyEd25519 | Op::VerifyRsa2048 => KeyOp::Verify,
        Op::Mac => KeyOp::Mac,
        Op::CreateKey | Op::DescribeKey => return None,
    })
}

fn create_key_request(algorithm: Algorithm) -> CreateKey {
    CreateKey {
        algorithm,
        spec: KeySpec {
            description: DESCRIPTION.into(),
            ..KeySpec::default()
        },
        idempotency_token: None,
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
            assert_eq!(uses_user(op), key_op(op).is_some(), "{op}");
        }
    }
}
