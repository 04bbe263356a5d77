//! Parity of the protocol adapters: the same operation through REST and through KMIP
//! (`POST /kmip`, same token) leaves the same audit event apart from the protocol field (and
//! what differs between any two events: sequence number, time, request id, hashes), for
//! successes, refusals and missing keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use keyhold_kmip::enums::Operation as Op;
use keyhold_kmip::{tags, Item, Limits};
use serde_json::{json, Value};
use support::{Server, TempDir};

/// One KMIP 1.4 request with one batch item, TTLV-encoded.
fn kmip_request(op: Op, payload: Vec<Item>) -> Vec<u8> {
    let version = Item::structure(
        tags::PROTOCOL_VERSION,
        vec![
            Item::int(tags::PROTOCOL_VERSION_MAJOR, 1),
            Item::int(tags::PROTOCOL_VERSION_MINOR, 4),
        ],
    );
    keyhold_kmip::encode(&Item::structure(
        tags::REQUEST_MESSAGE,
        vec![
            Item::structure(
                tags::REQUEST_HEADER,
                vec![version, Item::int(tags::BATCH_COUNT, 1)],
            ),
            Item::structure(
                tags::BATCH_ITEM,
                vec![
                    Item::enumeration(tags::OPERATION, op),
                    Item::structure(tags::REQUEST_PAYLOAD, payload),
                ],
            ),
        ],
    ))
}

/// Sends one KMIP request over `POST /kmip`; returns the response message, which must be
/// well formed whatever its result status.
fn kmip(s: &Server, token: &str, op: Op, payload: Vec<Item>) -> Item {
    let body = s
        .http()
        .post(s.url("/kmip"))
        .bearer_auth(token)
        .body(kmip_request(op, payload))
        .send()
        .unwrap();
    assert!(body.status().is_success(), "{}", body.status());
    let bytes = body.bytes().unwrap();
    // A well-formed response message, whatever its result status.
    let item = keyhold_kmip::decode(&bytes, &Limits::DEFAULT).unwrap();
    assert_eq!(item.tag, tags::RESPONSE_MESSAGE);
    item
}

fn rest(s: &Server, token: &str, path: &str, body: Value) {
    s.http()
        .post(s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .unwrap();
}

/// The last audit event, without the fields every event has of its own.
fn last_event(s: &Server, auditor: &str) -> Value {
    let out = s.ok(auditor, &["audit", "export"]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // The export itself is audited after the fact, so the last event is the operation's.
    let mut e = events
        .iter()
        .rev()
        .find(|e| e["action"] != "audit.export")
        .unwrap()
        .clone();
    let o = e.as_object_mut().unwrap();
    for f in ["seq", "time", "request_id", "prev_hash", "hash", "peer"] {
        o.remove(f);
    }
    e
}

/// Runs `via_rest` and `via_kmip`; their events must be equal once the protocol is set aside
/// (and, when they act on different keys, the key).
fn assert_parity(
    s: &Server,
    auditor: &str,
    via_rest: impl FnOnce(),
    via_kmip: impl FnOnce(),
    same_key: bool,
) -> Value {
    via_rest();
    let mut r = last_event(s, auditor);
    via_kmip();
    let mut k = last_event(s, auditor);
    assert_eq!(r["protocol"], "rest", "{r}");
    assert_eq!(k["protocol"], "kmip", "{k}");
    for e in [&mut r, &mut k] {
        let o = e.as_object_mut().unwrap();
        o.remove("protocol");
        if !same_key {
            o.remove("key");
        }
    }
    assert_eq!(r, k, "REST and KMIP audit the same operation differently");
    r
}

/// A dev server with a key manager (`ops`), a key user (`app`) and an auditor.
struct Parties {
    _dir: TempDir,
    s: Server,
    manager: String,
    user: String,
    auditor: String,
}

fn parties(tag: &str) -> Parties {
    let dir = TempDir::new(tag);
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    Parties {
        manager: s.token(&admin, "ops", "key-manager"),
        user: s.token(&admin, "app", "key-user"),
        auditor: s.token(&admin, "audit", "auditor"),
        s,
        _dir: dir,
    }
}

impl Parties {
    /// A new key (`key create` with `args`): its id.
    fn key(&self, args: &[&str]) -> String {
        let created = self
            .s
            .json(&self.manager, &[&["key", "create"], args].concat());
        created["id"].as_str().unwrap().to_owned()
    }

    /// Grants the key user `ops` (comma-separated) on `key`.
    fn grant(&self, key: &str, ops: &str) {
        self.s.ok(
            &self.manager,
            &["grant", "create", key, "--to", "app", "--ops", ops],
        );
    }
}

#[test]
fn rest_and_kmip_leave_the_same_audit_events() {
    let p = parties("parity");
    let hmac = p.key(&["--alg", "hmac-sha256"]);
    let ec = p.key(&["--alg", "ec-p256"]);
    let ungranted = p.key(&["--alg", "hmac-sha256"]);
    for k in [&hmac, &ec] {
        p.grant(k, "sign,mac");
    }
    let (a, b) = (
        p.key(&["--alg", "aes-256", "--pre-active"]),
        p.key(&["--alg", "aes-256", "--pre-active"]),
    );
    let (c, d) = (
        p.key(&["--alg", "aes-256", "--pre-active"]),
        p.key(&["--alg", "aes-256", "--pre-active"]),
    );
    let Parties {
        _dir,
        s,
        manager,
        user,
        auditor,
    } = p;
    let message = b"parity".to_vec();
    let b64 = "cGFyaXR5";

    // A MAC.
    let e = assert_parity(
        &s,
        &auditor,
        || {
            rest(
                &s,
                &user,
                &format!("/v1/keys/{hmac}/mac"),
                json!({ "message": b64 }),
            )
        },
        || {
            kmip(
                &s,
                &user,
                Op::Mac,
                vec![
                    Item::text(tags::UNIQUE_IDENTIFIER, hmac.clone()),
                    Item::bytes(tags::DATA, message.clone()),
                ],
            );
        },
        true,
    );
    assert_eq!(e["outcome"], "ok", "{e}");
    assert_eq!(e["principal"], "app");

    // A signature.
    let e = assert_parity(
        &s,
        &auditor,
        || {
            rest(
                &s,
                &user,
                &format!("/v1/keys/{ec}/sign"),
                json!({ "message": b64, "message_type": "raw" }),
            )
        },
        || {
            kmip(
                &s,
                &user,
                Op::Sign,
                vec![
                    Item::text(tags::UNIQUE_IDENTIFIER, ec.clone()),
                    Item::bytes(tags::DATA, message.clone()),
                ],
            );
        },
        true,
    );
    assert_eq!(e["outcome"], "ok", "{e}");

    // A refusal: no grant.
    let e = assert_parity(
        &s,
        &auditor,
        || {
            rest(
                &s,
                &user,
                &format!("/v1/keys/{ungranted}/mac"),
                json!({ "message": b64 }),
            )
        },
        || {
            kmip(
                &s,
                &user,
                Op::Mac,
                vec![
                    Item::text(tags::UNIQUE_IDENTIFIER, ungranted.clone()),
                    Item::bytes(tags::DATA, message.clone()),
                ],
            );
        },
        true,
    );
    assert_eq!(e["outcome"], "denied", "{e}");

    // A key that does not exist.
    let missing = "00000000-0000-4000-8000-000000000001";
    let e = assert_parity(
        &s,
        &auditor,
        || {
            rest(
                &s,
                &user,
                &format!("/v1/keys/{missing}/mac"),
                json!({ "message": b64 }),
            )
        },
        || {
            kmip(
                &s,
                &user,
                Op::Mac,
                vec![
                    Item::text(tags::UNIQUE_IDENTIFIER, missing),
                    Item::bytes(tags::DATA, message.clone()),
                ],
            );
        },
        true,
    );
    assert_eq!(e["error_code"], "not_found", "{e}");

    // A life-cycle change by a key manager, on two pre-active keys.
    let e = assert_parity(
        &s,
        &auditor,
        || {
            rest(
                &s,
                &manager,
                &format!("/v1/keys/{a}/lifecycle"),
                json!({ "action": "activate" }),
            )
        },
        || {
            kmip(
                &s,
                &manager,
                Op::Activate,
                vec![Item::text(tags::UNIQUE_IDENTIFIER, b.clone())],
            );
        },
        false,
    );
    assert_eq!(e["outcome"], "ok", "{e}");
    assert_eq!(e["principal"], "ops");

    // Setting a pre-active key's activation date: the REST life-cycle action, and KMIP
    // Modify Attribute of Activation Date.
    let at: i64 = 4_102_444_800; // 2100-01-01T00:00:00Z
    let e = assert_parity(
        &s,
        &auditor,
        || {
            rest(
                &s,
                &manager,
                &format!("/v1/keys/{c}/lifecycle"),
                json!({ "action": "set-activation-date", "at": "2100-01-01T00:00:00Z" }),
            )
        },
        || {
            kmip(
                &s,
                &manager,
                Op::AddAttribute,
                vec![
                    Item::text(tags::UNIQUE_IDENTIFIER, d.clone()),
                    Item::structure(
                        tags::ATTRIBUTE,
                        vec![
                            Item::text(tags::ATTRIBUTE_NAME, "Activation Date"),
                            Item::date_time(tags::ATTRIBUTE_VALUE, at),
                        ],
                    ),
                ],
            );
        },
        false,
    );
    assert_eq!(e["action"], "key.set-activation-date", "{e}");
    assert_eq!(e["outcome"], "ok", "{e}");
}

/// Sends one KMIP request over `POST /kmip` and returns its batch item's response payload,
/// after checking that the item succeeded.
fn kmip_ok(s: &Server, token: &str, op: Op, payload: Vec<Item>) -> Item {
    let message = kmip(s, token, op, payload);
    let item = message.child(tags::BATCH_ITEM).unwrap();
    let status: u32 = item.child(tags::RESULT_STATUS).unwrap().as_enum().unwrap();
    assert_eq!(
        status,
        u32::from(keyhold_kmip::enums::ResultStatus::Success),
        "{item}"
    );
    item.child(tags::RESPONSE_PAYLOAD).unwrap().clone()
}

/// Every audit event's action, in order, except the exports that read them.
fn actions(s: &Server, auditor: &str) -> Vec<String> {
    s.ok(auditor, &["audit", "export"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .filter(|a| a != "audit.export")
        .collect()
}

#[test]
fn kmip_encrypt_and_decrypt_without_cryptographic_parameters_use_the_keys_default_and_one_event_each(
) {
    let p = parties("kmip-default-mode");
    let aes = p.key(&["--alg", "aes-256"]);
    let rsa = p.key(&["--alg", "rsa-2048", "--usage", "encrypt-decrypt"]);
    for k in [&aes, &rsa] {
        p.grant(k, "encrypt,decrypt");
    }
    let Parties {
        _dir,
        s,
        user,
        auditor,
        ..
    } = p;
    for (key, cbc) in [(&aes, true), (&rsa, false)] {
        let before = actions(&s, &auditor).len();
        let plaintext = b"no parameters".to_vec();
        let enc = kmip_ok(
            &s,
            &user,
            Op::Encrypt,
            vec![
                Item::text(tags::UNIQUE_IDENTIFIER, key.as_str()),
                Item::bytes(tags::DATA, plaintext.clone()),
            ],
        );
        let ciphertext = enc.child(tags::DATA).unwrap().as_bytes().unwrap().to_vec();
        let iv = enc.child(tags::IV_COUNTER_NONCE);
        let tag = enc.child(tags::AUTHENTICATED_ENCRYPTION_TAG);
        // CBC with PKCS5 padding for the AES key (a random 16-byte IV, returned, and no tag:
        // what KMIP clients round-trip), OAEP for the RSA key (neither).
        assert_eq!(iv.is_some(), cbc, "{enc}");
        assert!(tag.is_none(), "{enc}");
        if let Some(iv) = iv {
            assert_eq!(iv.as_bytes().unwrap().len(), 16);
            assert_eq!(ciphertext.len(), 16, "one padded block");
        }
        let mut payload = vec![
            Item::text(tags::UNIQUE_IDENTIFIER, key.as_str()),
            Item::bytes(tags::DATA, ciphertext),
        ];
        payload.extend(iv.cloned());
        payload.extend(tag.cloned());
        let dec = kmip_ok(&s, &user, Op::Decrypt, payload);
        assert_eq!(
            dec.child(tags::DATA).unwrap().as_bytes().unwrap().to_vec(),
            plaintext
        );
        // One event per request: no lookup of the key audited on the client's behalf.
        assert_eq!(actions(&s, &auditor)[before..], ["encrypt", "decrypt"]);
    }
}

/// A request either adapter refuses before any operation runs is audited as
/// `request.rejected` under the caller, naming the endpoint or KMIP operation and never the
/// content: a REST body that does not decode, KMIP bytes that are not TTLV, a KMIP Encrypt
/// without the object it needs.
#[test]
fn refusals_before_the_core_are_audited_by_both_adapters() {
    let p = parties("rejected");
    let s = &p.s;
    let r = s
        .http()
        .post(s.url("/v1/keys/k/encrypt"))
        .bearer_auth(&p.user)
        .header("content-type", "application/json")
        .body("{\"plaintext\": ")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e = last_event(s, &p.auditor);
    assert_eq!(e["action"], "request.rejected", "{e}");
    assert_eq!(e["principal"], "app", "{e}");
    assert_eq!(e["protocol"], "rest", "{e}");
    assert_eq!(e["detail"], "POST /v1/keys/{key}/encrypt", "{e}");

    let r = s
        .http()
        .post(s.url("/kmip"))
        .bearer_auth(&p.user)
        .body(vec![0x42u8, 0x00, 0x78, 0x01, 0xff, 0xff, 0xff, 0xff])
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let e = last_event(s, &p.auditor);
    assert_eq!(e["action"], "request.rejected", "{e}");
    assert_eq!(e["principal"], "app", "{e}");
    assert_eq!(e["protocol"], "kmip", "{e}");
    assert_eq!(e["error_code"], "malformed_request", "{e}");
    assert_eq!(e["detail"], "KMIP message: Invalid Message", "{e}");

    let before = actions(s, &p.auditor).len();
    let answer = kmip(s, &p.user, Op::Encrypt, vec![]);
    let item = answer.child(tags::BATCH_ITEM).unwrap();
    assert_ne!(
        item.child(tags::RESULT_STATUS).unwrap().as_enum().unwrap(),
        u32::from(keyhold_kmip::enums::ResultStatus::Success)
    );
    let after = actions(s, &p.auditor);
    assert_eq!(after.len(), before + 1, "{after:?}");
    let e = last_event(s, &p.auditor);
    assert_eq!(e["action"], "request.rejected", "{e}");
    assert_eq!(e["principal"], "app", "{e}");
    assert!(
        e["detail"].as_str().unwrap().starts_with("KMIP Encrypt: "),
        "{e}"
    );
}

/// KMIP Query and Discover Versions, which the adapter answers from its own tables, are run
/// through the core first: the caller is authenticated, and the question is audited.
#[test]
fn kmip_questions_about_the_server_are_authenticated_and_audited() {
    let p = parties("server-info");
    let s = &p.s;
    let query = vec![Item::enumeration(
        tags::QUERY_FUNCTION,
        keyhold_kmip::enums::QueryFunction::QueryOperations,
    )];
    let answer = kmip_ok(s, &p.user, Op::Query, query.clone());
    assert!(answer.children(tags::OPERATION).count() > 10, "{answer}");
    let e = last_event(s, &p.auditor);
    assert_eq!(e["action"], "server.info", "{e}");
    assert_eq!(e["outcome"], "ok", "{e}");
    assert_eq!(e["principal"], "app", "{e}");
    assert_eq!(e["protocol"], "kmip", "{e}");
    assert_eq!(e["detail"], "capabilities", "{e}");

    let answer = kmip_ok(s, &p.manager, Op::DiscoverVersions, vec![]);
    assert!(
        answer.children(tags::PROTOCOL_VERSION).count() >= 2,
        "{answer}"
    );
    let e = last_event(s, &p.auditor);
    assert_eq!(e["action"], "server.info", "{e}");
    assert_eq!(e["principal"], "ops", "{e}");
    assert_eq!(e["detail"], "protocol versions", "{e}");

    // Without a valid credential there is no answer, and the refusal is audited too.
    let before = actions(s, &p.auditor).len();
    let answer = kmip(s, "not-a-token", Op::Query, query);
    let item = answer.child(tags::BATCH_ITEM).unwrap();
    assert_ne!(
        item.child(tags::RESULT_STATUS).unwrap().as_enum().unwrap(),
        u32::from(keyhold_kmip::enums::ResultStatus::Success)
    );
    assert!(item
        .child(tags::RESPONSE_PAYLOAD)
        .is_none_or(|p| p.children(tags::OPERATION).count() == 0));
    let after = actions(s, &p.auditor);
    assert_eq!(after.len(), before + 1, "{after:?}");
    let e = last_event(s, &p.auditor);
    assert_eq!(e["action"], "server.info", "{e}");
    assert_eq!(e["outcome"], "denied", "{e}");
}
