//! Set-up over KMIP, with the client certificate of the target, and the KMIP message of each
//! operation.
//!
//! ```text
//!  AES-256, HMAC-SHA256 ─► Create (Template-Attribute: algorithm, length, usage mask) ─► Activate
//!  EC P-256, Ed25519, RSA-2048 ─► Create Key Pair ─► Activate both halves
//!  decrypt ─► Encrypt (GCM) once per key: Data, IV, Tag      verify ─► Sign once per key
//!  operations: encrypt-* ─► Encrypt, decrypt-* ─► Decrypt, sign-* ─► Sign,
//!              verify-* ─► Signature Verify (public key), mac ─► MAC,
//!              create-key ─► Create (AES-256), describe-key ─► Get Attributes (all)
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use keyhold_core::Algorithm;
use keyhold_crypto::Provider;
use keyhold_kmip::enums::{CryptographicAlgorithm, Operation};
use keyhold_kmip::{tags, Item};

use super::{in_parallel, KeyConfig, Plan, Request, MESSAGE_LEN};
use crate::kmip::{
    bytes_of, create_pair_payload, create_payload, gcm_parameters, message, text_of, uid, usage,
    KmipConn, KmipExpect, KmipRequest, KmipTarget,
};
use crate::mix::Op;
use crate::BenchError;

/// How long a set-up request may take.
const SETUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The operations the harness can send over KMIP (KMIP has no data-key operation).
pub fn supported(op: Op) -> bool {
    op != Op::DataKey
}

/// A key made over KMIP: the identifier used by every operation, and the public key's for
/// Signature Verify (the same for symmetric keys).
#[derive(Debug, Clone)]
struct KmipKey {
    uid: String,
    public_uid: String,
}

/// Sets `target` up for `ops` and builds their messages.
pub async fn prepare(
    target: &KmipTarget,
    ops: &[Op],
    keys: &KeyConfig,
) -> Result<Plan, BenchError> {
    if let Some(op) = ops.iter().find(|op| !supported(**op)) {
        return Err(BenchError::Usage(format!(
            "{op} has no KMIP equivalent; leave it out of the mix with --protocol kmip"
        )));
    }
    if keys.reuse_prefix.is_some() {
        return Err(BenchError::Usage(
            "--reuse-keys works over REST only (KMIP would have to Locate among every key)".into(),
        ));
    }
    let fail = |what: String| BenchError::Server(format!("setting up {}: {what}", target.label));
    let mut made: BTreeMap<&'static str, Vec<KmipKey>> = BTreeMap::new();
    for op in ops {
        let alg = op.key_algorithm();
        if made.contains_key(alg.as_str()) {
            continue;
        }
        let t = target.clone();
        let label = target.label.clone();
        let list = in_parallel(
            keys.count,
            || KmipConn::new(&t, SETUP_TIMEOUT),
            move |mut conn: KmipConn, _i: usize| {
                let label = label.clone();
                async move {
                    let key = make_key(&mut conn, alg).await.map_err(|e| {
                        BenchError::Server(format!("setting up {label}: a {alg} key: {e}"))
                    })?;
                    Ok((conn, key))
                }
            },
        )
        .await?;
        made.insert(alg.as_str(), list);
    }

    let crypto = Provider::aws_lc();
    let random = |n: usize| {
        crypto
            .random(n)
            .map(|r| r.as_bytes().to_vec())
            .map_err(|e| BenchError::Worker(format!("random bytes: {e}")))
    };
    let msg = random(MESSAGE_LEN)?;
    let mut plan = Plan::default();
    for &op in ops {
        let list = made
            .get(op.key_algorithm().as_str())
            .cloned()
            .ok_or_else(|| BenchError::Worker(format!("no key prepared for {op}")))?;
        let mut push = |bytes: Vec<u8>, expect: KmipExpect| {
            plan.push(op, Request::Kmip(KmipRequest { bytes, expect }));
        };
        match op {
            Op::Encrypt64 | Op::Encrypt1k | Op::Encrypt16k => {
                let data = random(op.payload_len().unwrap_or(64))?;
                for k in &list {
                    push(encrypt_message(&k.uid, &data), KmipExpect::Success);
                }
            }
            Op::Decrypt64 | Op::Decrypt1k | Op::Decrypt16k => {
                let data = Arc::new(random(op.payload_len().unwrap_or(64))?);
                let (t, d, l) = (target.clone(), data.clone(), Arc::new(list.clone()));
                let decrypts = in_parallel(
                    list.len(),
                    || KmipConn::new(&t, SETUP_TIMEOUT),
                    move |mut conn: KmipConn, i: usize| {
                        let (d, l) = (d.clone(), l.clone());
                        async move {
                            let k = &l[i];
                            let out = conn
                                .call(Operation::Encrypt, encrypt_payload(&k.uid, &d))
                                .await
                                .map_err(|e| BenchError::Server(format!("encrypting: {e}")))?;
                            let ct = bytes_of(&out, tags::DATA).map_err(BenchError::Server)?;
                            let iv = bytes_of(&out, tags::IV_COUNTER_NONCE)
                                .map_err(BenchError::Server)?;
                            let tag = bytes_of(&out, tags::AUTHENTICATED_ENCRYPTION_TAG)
                                .map_err(BenchError::Server)?;
                            let payload = vec![
                                uid(&k.uid),
                                gcm_parameters(),
                                Item::bytes(tags::DATA, ct),
                                Item::bytes(tags::IV_COUNTER_NONCE, iv),
                                Item::bytes(tags::AUTHENTICATED_ENCRYPTION_TAG, tag),
                            ];
                            Ok((conn, message(Operation::Decrypt, payload)))
                        }
                    },
                )
                .await
                .map_err(|e| fail(e.to_string()))?;
                for bytes in decrypts {
                    push(bytes, KmipExpect::Data(data.to_vec()));
                }
            }
            Op::SignP256 | Op::SignEd25519 | Op::SignRsa2048 => {
                for k in &list {
                    push(
                        message(
                            Operation::Sign,
                            vec![uid(&k.uid), Item::bytes(tags::DATA, msg.clone())],
                        ),
                        KmipExpect::Success,
                    );
                }
            }
            Op::VerifyP256 | Op::VerifyEd25519 | Op::VerifyRsa2048 => {
                let m = Arc::new(msg.clone());
                let (t, l) = (target.clone(), Arc::new(list.clone()));
                let verifies = in_parallel(
                    list.len(),
                    || KmipConn::new(&t, SETUP_TIMEOUT),
                    move |mut conn: KmipConn, i: usize| {
                        let (m, l) = (m.clone(), l.clone());
                        async move {
                            let k = &l[i];
                            let out = conn
                                .call(
                                    Operation::Sign,
                                    vec![uid(&k.uid), Item::bytes(tags::DATA, m.to_vec())],
                                )
                                .await
                                .map_err(|e| BenchError::Server(format!("signing: {e}")))?;
                            let signature =
                                bytes_of(&out, tags::SIGNATURE_DATA).map_err(BenchError::Server)?;
                            let payload = vec![
                                uid(&k.public_uid),
                                Item::bytes(tags::DATA, m.to_vec()),
                                Item::bytes(tags::SIGNATURE_DATA, signature),
                            ];
                            Ok((conn, message(Operation::SignatureVerify, payload)))
                        }
                    },
                )
                .await
                .map_err(|e| fail(e.to_string()))?;
                for bytes in verifies {
                    push(bytes, KmipExpect::Valid);
                }
            }
            Op::Mac => {
                for k in &list {
                    push(
                        message(
                            Operation::Mac,
                            vec![uid(&k.uid), Item::bytes(tags::DATA, msg.clone())],
                        ),
                        KmipExpect::Success,
                    );
                }
            }
            Op::CreateKey => push(
                message(
                    Operation::Create,
                    create_payload(
                        CryptographicAlgorithm::Aes,
                        256,
                        usage::ENCRYPT | usage::DECRYPT,
                    ),
                ),
                KmipExpect::Success,
            ),
            Op::DescribeKey => {
                for k in &list {
                    push(
                        message(Operation::GetAttributes, vec![uid(&k.uid)]),
                        KmipExpect::Success,
                    );
                }
            }
            Op::DataKey => return Err(BenchError::Usage("datakey has no KMIP equivalent".into())),
        }
    }
    Ok(plan)
}

fn encrypt_payload(key: &str, data: &[u8]) -> Vec<Item> {
    vec![
        uid(key),
        gcm_parameters(),
        Item::bytes(tags::DATA, data.to_vec()),
    ]
}

fn encrypt_message(key: &str, data: &[u8]) -> Vec<u8> {
    message(Operation::Encrypt, encrypt_payload(key, data))
}

/// Creates and activates one key of `alg`.
async fn make_key(conn: &mut KmipConn, alg: Algorithm) -> Result<KmipKey, String> {
    use CryptographicAlgorithm as C;
    let pair = match alg {
        Algorithm::Aes256 => None,
        Algorithm::HmacSha256 => None,
        Algorithm::EcP256 => Some((C::Ec, 256)),
        Algorithm::Ed25519 => Some((C::Ed25519, 256)),
        Algorithm::Rsa2048 => Some((C::Rsa, 2048)),
        other => return Err(format!("no KMIP set-up for {other} keys")),
    };
    let key = match pair {
        None => {
            let payload = if alg == Algorithm::HmacSha256 {
                create_payload(C::HmacSha256, 256, usage::MAC_GENERATE | usage::MAC_VERIFY)
            } else {
                create_payload(C::Aes, 256, usage::ENCRYPT | usage::DECRYPT)
            };
            let out = conn.call(Operation::Create, payload).await?;
            let id = text_of(&out, tags::UNIQUE_IDENTIFIER)?;
            KmipKey {
                uid: id.clone(),
                public_uid: id,
            }
        }
        Some((c, len)) => {
            let out = conn
                .call(Operation::CreateKeyPair, create_pair_payload(c, len))
                .await?;
            KmipKey {
                uid: text_of(&out, tags::PRIVATE_KEY_UNIQUE_IDENTIFIER)?,
                public_uid: text_of(&out, tags::PUBLIC_KEY_UNIQUE_IDENTIFIER)?,
            }
        }
    };
    conn.call(Operation::Activate, vec![uid(&key.uid)]).await?;
    if key.public_uid != key.uid {
        conn.call(Operation::Activate, vec![uid(&key.public_uid)])
            .await?;
    }
    Ok(key)
}
