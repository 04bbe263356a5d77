//! The baseline's KMIP handler: decode the TTLV request, do only the cryptography under the key
//! in memory, encode the response. It runs behind Keyhold's own KMIP listener
//! (`keyhold_server::kmip::serve_with`: TLS accept, connection cap, timeouts, framing), with a
//! client certificate required and checked against the baseline's CA only; no authorization,
//! policy, store (but the durable row of Create) or audit.
//!
//! ```text
//!  bytes ─► ttlv::decode ─► RequestMessage ─► per batch item:
//!     Create, Create Key Pair ─► new_key (generate, wrap, group-commit one row)
//!     Activate ─► Unique Identifier (keys are active from the start)
//!     Encrypt, Decrypt (AES-GCM) · Sign, Signature Verify · MAC · Get Attributes
//!  ─► Response Message (the request's version) ─► bytes
//! ```

use std::sync::Arc;

use keyhold_core::ids::KeyId;
use keyhold_core::ops::KeySpec;
use keyhold_core::{Credential, MessageType};
use keyhold_crypto::{KeyFamily, AES_GCM_NONCE_LEN, AES_GCM_TAG_LEN};
use keyhold_kmip::enums::ResultReason;
use keyhold_kmip::enums::{BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation};
use keyhold_kmip::message::{self, ResponseBatchItem};
use keyhold_kmip::{tags, Attributes, Failure, Item, Limits, ProtocolVersion, RequestMessage};
use keyhold_server::kmip::convert;
use keyhold_server::kmip::MessageHandler;

use super::handlers::{read, write};
use super::{Held, State};

type Out = Result<Vec<Item>, Failure>;

/// The baseline's state, as a KMIP message handler.
pub(crate) struct KmipBaseline(pub(crate) Arc<State>);

impl MessageHandler for KmipBaseline {
    fn handle_message(
        &self,
        _credential: &Credential,
        _peer: Option<String>,
        request: &[u8],
        limits: &Limits,
    ) -> impl std::future::Future<Output = Vec<u8>> + Send {
        handle(self.0.clone(), request.to_vec(), *limits)
    }

    fn now_secs(&self) -> i64 {
        now_secs()
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn handle(state: Arc<State>, request: Vec<u8>, limits: Limits) -> Vec<u8> {
    let failure = |version: ProtocolVersion, f: Failure| {
        keyhold_kmip::encode(&message::response(
            version,
            now_secs(),
            &[ResponseBatchItem {
                operation: None,
                id: None,
                result: Err(f),
            }],
        ))
    };
    let item = match keyhold_kmip::decode(&request, &limits) {
        Ok(i) => i,
        Err(e) => {
            return failure(
                ProtocolVersion::new(1, 0),
                Failure::new(ResultReason::InvalidMessage, e.to_string()),
            )
        }
    };
    let msg = match RequestMessage::from_item(&item) {
        Ok(m) => m,
        Err((v, f)) => return failure(v.unwrap_or(ProtocolVersion::new(1, 0)), f),
    };
    let mut results = Vec::with_capacity(msg.items.len());
    for item in &msg.items {
        let result = execute(&state, msg.version, item.operation, &item.payload).await;
        results.push(ResponseBatchItem {
            operation: Some(item.operation),
            id: item.id.clone(),
            result,
        });
    }
    keyhold_kmip::encode(&message::response(msg.version, now_secs(), &results))
}

fn not_found() -> Failure {
    Failure::new(ResultReason::ItemNotFound, "object not found")
}

fn crypto_failure(e: keyhold_crypto::CryptoError) -> Failure {
    Failure::new(ResultReason::CryptographicFailure, e.to_string())
}

impl State {
    fn held(&self, payload: &Item) -> Result<(String, Arc<Held>), Failure> {
        let uid = payload
            .require(tags::UNIQUE_IDENTIFIER)?
            .as_text()?
            .to_owned();
        let id: KeyId = uid.parse().map_err(|_| not_found())?;
        let held = read(&self.keys).get(&id).cloned().ok_or_else(not_found)?;
        Ok((uid, held))
    }
}

fn uid_item(uid: &str) -> Item {
    Item::text(tags::UNIQUE_IDENTIFIER, uid)
}

fn bytes(payload: &Item, tag: keyhold_kmip::Tag) -> Result<Option<Vec<u8>>, Failure> {
    Ok(payload
        .child(tag)
        .map(|i| i.as_bytes().map(|b| b.as_slice().to_vec()))
        .transpose()?)
}

/// AES-GCM is the only cipher mode of the baseline.
fn check_gcm(payload: &Item) -> Result<(), Failure> {
    let mode = payload
        .child(tags::CRYPTOGRAPHIC_PARAMETERS)
        .and_then(|p| p.child(tags::BLOCK_CIPHER_MODE))
        .map(|m| m.as_enum_of::<BlockCipherMode>())
        .transpose()?;
    match mode {
        None | Some(BlockCipherMode::Gcm) => Ok(()),
        Some(_) => Err(Failure::new(
            ResultReason::InvalidField,
            "the baseline encrypts with AES-GCM only",
        )),
    }
}

async fn execute(state: &State, version: ProtocolVersion, op: Operation, payload: &Item) -> Out {
    match op {
        Operation::Create => {
            let ot: ObjectType = payload.require(tags::OBJECT_TYPE)?.as_enum_of()?;
            if ot != ObjectType::SymmetricKey {
                return Err(Failure::invalid("Create makes symmetric keys"));
            }
            let attrs = Attributes::read(payload, tags::TEMPLATE_ATTRIBUTE, tags::ATTRIBUTES)?;
            let alg = attrs
                .enum_of::<CryptographicAlgorithm>("Cryptographic Algorithm")?
                .ok_or_else(|| Failure::missing("Cryptographic Algorithm"))?;
            let algorithm = convert::keyhold_algorithm(alg, attrs.int("Cryptographic Length")?)?;
            let held = state
                .new_key(algorithm, KeySpec::default())
                .await
                .map_err(|(_, m)| Failure::new(ResultReason::GeneralFailure, m))?;
            Ok(vec![
                Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
                uid_item(&held.info.id.to_string()),
            ])
        }
        Operation::CreateKeyPair => {
            let common = Attributes::read(
                payload,
                tags::COMMON_TEMPLATE_ATTRIBUTE,
                tags::COMMON_ATTRIBUTES,
            )?;
            let alg = common
                .enum_of::<CryptographicAlgorithm>("Cryptographic Algorithm")?
                .ok_or_else(|| Failure::missing("Cryptographic Algorithm"))?;
            let algorithm = convert::keyhold_algorithm(alg, common.int("Cryptographic Length")?)?;
            let held = state
                .new_key(algorithm, KeySpec::default())
                .await
                .map_err(|(_, m)| Failure::new(ResultReason::GeneralFailure, m))?;
            // The public half: another identifier for the same key in memory.
            let public = KeyId::generate();
            write(&state.keys).insert(public, held.clone());
            Ok(vec![
                Item::text(
                    tags::PRIVATE_KEY_UNIQUE_IDENTIFIER,
                    held.info.id.to_string(),
                ),
                Item::text(tags::PUBLIC_KEY_UNIQUE_IDENTIFIER, public.to_string()),
            ])
        }
        Operation::Activate => {
            let (uid, _) = state.held(payload)?;
            Ok(vec![uid_item(&uid)])
        }
        Operation::Encrypt => {
            let (uid, held) = state.held(payload)?;
            if held.info.algorithm.family() != KeyFamily::Aes {
                return Err(Failure::new(
                    ResultReason::IncompatibleCryptographicUsageMask,
                    "the baseline encrypts with AES keys only",
                ));
            }
            check_gcm(payload)?;
            let data = payload.require(tags::DATA)?.as_bytes()?;
            let aad = bytes(payload, tags::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA)?;
            let (nonce, mut body) = state
                .crypto
                .aes_gcm_seal(
                    held.material.private.as_bytes(),
                    aad.as_deref().unwrap_or_default(),
                    data.as_slice(),
                )
                .map_err(crypto_failure)?;
            let tag = body.split_off(body.len() - AES_GCM_TAG_LEN);
            let mut out = vec![
                uid_item(&uid),
                Item::bytes(tags::DATA, body),
                Item::bytes(tags::IV_COUNTER_NONCE, nonce.to_vec()),
            ];
            if version >= ProtocolVersion::new(1, 4) {
                out.push(Item::bytes(tags::AUTHENTICATED_ENCRYPTION_TAG, tag));
            }
            Ok(out)
        }
        Operation::Decrypt => {
            let (uid, held) = state.held(payload)?;
            check_gcm(payload)?;
            let mut body = payload.require(tags::DATA)?.as_bytes()?.as_slice().to_vec();
            let nonce: [u8; AES_GCM_NONCE_LEN] = bytes(payload, tags::IV_COUNTER_NONCE)?
                .and_then(|n| n.try_into().ok())
                .ok_or_else(|| Failure::invalid("GCM needs the 12-byte nonce"))?;
            let tag = bytes(payload, tags::AUTHENTICATED_ENCRYPTION_TAG)?
                .filter(|t| t.len() == AES_GCM_TAG_LEN)
                .ok_or_else(|| Failure::invalid("GCM needs the 16-byte tag"))?;
            body.extend_from_slice(&tag);
            let aad = bytes(payload, tags::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA)?;
            let plaintext = state
                .crypto
                .aes_gcm_open(
                    held.material.private.as_bytes(),
                    &nonce,
                    aad.as_deref().unwrap_or_default(),
                    &body,
                )
                .map_err(crypto_failure)?;
            Ok(vec![
                uid_item(&uid),
                Item::bytes(tags::DATA, plaintext.as_bytes().to_vec()),
            ])
        }
        Operation::Sign => {
            let (uid, held) = state.held(payload)?;
            let alg = held
                .info
                .algorithm
                .default_signing()
                .ok_or_else(|| Failure::invalid("this key is not for signing"))?;
            let data = payload.require(tags::DATA)?.as_bytes()?;
            let signature = state
                .crypto
                .sign(
                    held.info.algorithm,
                    held.material.private.as_bytes(),
                    alg,
                    MessageType::Raw,
                    data.as_slice(),
                )
                .map_err(crypto_failure)?;
            Ok(vec![
                uid_item(&uid),
                Item::bytes(tags::SIGNATURE_DATA, signature),
            ])
        }
        Operation::SignatureVerify => {
            let (uid, held) = state.held(payload)?;
            let alg = held
                .info
                .algorithm
                .default_signing()
                .ok_or_else(|| Failure::invalid("this key is not for signing"))?;
            let public = held
                .material
                .public
                .as_deref()
                .ok_or_else(|| Failure::invalid("this key has no public key"))?;
            let data = payload.require(tags::DATA)?.as_bytes()?;
            let signature = payload.require(tags::SIGNATURE_DATA)?.as_bytes()?;
            let valid = state
                .crypto
                .verify(
                    held.info.algorithm,
                    public,
                    alg,
                    MessageType::Raw,
                    data.as_slice(),
                    signature.as_slice(),
                )
                .map_err(crypto_failure)?;
            Ok(vec![
                uid_item(&uid),
                Item::enumeration(tags::VALIDITY_INDICATOR, if valid { 1u32 } else { 2u32 }),
            ])
        }
        Operation::Mac => {
            let (uid, held) = state.held(payload)?;
            if held.info.algorithm.family() != KeyFamily::Hmac {
                return Err(Failure::new(
                    ResultReason::IncompatibleCryptographicUsageMask,
                    "this key is not for MACs",
                ));
            }
            let data = payload.require(tags::DATA)?.as_bytes()?;
            let mac = state
                .crypto
                .mac(
                    held.info.algorithm,
                    held.material.private.as_bytes(),
                    data.as_slice(),
                )
                .map_err(crypto_failure)?;
            Ok(vec![uid_item(&uid), Item::bytes(tags::MAC_DATA, mac)])
        }
        Operation::GetAttributes => {
            let (uid, held) = state.held(payload)?;
            let mut out = vec![uid_item(&uid)];
            let attrs = convert::attributes_of(&held.info, true)
                .into_iter()
                .map(|a| a.encode(version));
            if version.is_2x() {
                out.push(Item::structure(tags::ATTRIBUTES, attrs.collect()));
            } else {
                out.extend(attrs);
            }
            Ok(out)
        }
        other => Err(Failure::new(
            ResultReason::OperationNotSupported,
            format!("the baseline does not perform {}", other.name()),
        )),
    }
}
