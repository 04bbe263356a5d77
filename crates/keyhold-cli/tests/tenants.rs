//! Tenants, trust anchors and mutual TLS against the real server: the isolation matrix (every
//! operation of tenant A on tenant B's objects answers exactly as for a missing object, over
//! REST and KMIP), a REST smoke test of the role matrix, trust anchors over REST (mTLS) and
//! KMIP, and tenant disable/enable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine;
use keyhold_kmip::enums::{CryptographicAlgorithm, ObjectType, Operation, ResultStatus};
use keyhold_kmip::{tags, Item, Limits};
use keyhold_testkit::pki::{Ca, Issued};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use support::{Server, TempDir};

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A REST call with a bearer token: (status, body).
fn call(s: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let http = s.http();
    let url = s.url(path);
    let mut req = match method {
        "GET" => http.get(url),
        "POST" => http.post(url),
        "PATCH" => http.patch(url),
        "DELETE" => http.delete(url),
        other => panic!("method {other}"),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Writes a certificate and key to files in `dir`; returns their paths.
fn write_pair(dir: &std::path::Path, name: &str, c: &Issued) -> (String, String) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &c.cert_pem).unwrap();
    std::fs::write(&key, &c.key_pem).unwrap();
    (
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
    )
}

/// The CLI authenticated by a client certificate only (no token).
fn cli_cert(s: &Server, pair: &(String, String), args: &[&str]) -> std::process::Output {
    let mut full = vec!["--client-cert", &pair.0, "--client-key", &pair.1];
    full.extend_from_slice(args);
    s.cli("", &full)
}

// ---------------------------------------------------------------------------------------------
// A small KMIP client: keyhold-kmip's TTLV over rustls, with a client certificate.

struct Kmip {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl Kmip {
    fn connect(s: &Server, client: &Issued) -> std::io::Result<Kmip> {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(client.cert_pem.as_bytes())
                .map(|c| c.unwrap())
                .collect();
        let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).unwrap();
        Ok(Kmip {
            tls: support::kmip_tls(s, chain, key)?,
        })
    }

    /// One request of one batch item; the response's batch item.
    fn send(&mut self, op: Operation, payload: Vec<Item>) -> std::io::Result<Item> {
        let request = Item::structure(
            tags::REQUEST_MESSAGE,
            vec![
                Item::structure(
                    tags::REQUEST_HEADER,
                    vec![
                        Item::structure(
                            tags::PROTOCOL_VERSION,
                            vec![
                                Item::int(tags::PROTOCOL_VERSION_MAJOR, 1),
                                Item::int(tags::PROTOCOL_VERSION_MINOR, 4),
                            ],
                        ),
                        Item::int(tags::BATCH_COUNT, 1),
                    ],
                ),
                Item::structure(
                    tags::BATCH_ITEM,
                    vec![
                        Item::enumeration(tags::OPERATION, op),
                        Item::structure(tags::REQUEST_PAYLOAD, payload),
                    ],
                ),
            ],
        );
        self.tls.write_all(&keyhold_kmip::encode(&request))?;
        self.tls.flush()?;
        let mut header = [0u8; 8];
        self.tls.read_exact(&mut header)?;
        let len = keyhold_kmip::message_length(&header, &Limits::default()).unwrap();
        let mut buf = vec![0u8; len];
        buf[..8].copy_from_slice(&header);
        self.tls.read_exact(&mut buf[8..])?;
        let message = keyhold_kmip::decode(&buf, &Limits::default()).unwrap();
        Ok(message.child(tags::BATCH_ITEM).unwrap().clone())
    }
}

/// (Result Status, Result Reason, Result Message) of a batch item.
fn outcome(item: &Item) -> (u32, Option<u32>, Option<String>) {
    (
        item.child(tags::RESULT_STATUS).unwrap().as_enum().unwrap(),
        item.child(tags::RESULT_REASON)
            .map(|r| r.as_enum().unwrap()),
        item.child(tags::RESULT_MESSAGE)
            .map(|m| m.as_text().unwrap().to_owned()),
    )
}

fn uid(id: &str) -> Item {
    Item::text(tags::UNIQUE_IDENTIFIER, id)
}

fn create_aes() -> Vec<Item> {
    let attr = |name: &str, value: Item| {
        Item::structure(
            tags::ATTRIBUTE,
            vec![Item::text(tags::ATTRIBUTE_NAME, name), value],
        )
    };
    vec![
        Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
        Item::structure(
            tags::TEMPLATE_ATTRIBUTE,
            vec![
                attr(
                    "Cryptographic Algorithm",
                    Item::enumeration(tags::ATTRIBUTE_VALUE, CryptographicAlgorithm::Aes),
                ),
                attr(
                    "Cryptographic Length",
                    Item::int(tags::ATTRIBUTE_VALUE, 256),
                ),
                attr(
                    "Cryptographic Usage Mask",
                    Item::int(tags::ATTRIBUTE_VALUE, 4 | 8),
                ),
            ],
        ),
    ]
}

fn created_uid(item: &Item) -> String {
    assert_eq!(outcome(item).0, u32::from(ResultStatus::Success), "{item}");
    item.child(tags::RESPONSE_PAYLOAD)
        .unwrap()
        .child(tags::UNIQUE_IDENTIFIER)
        .unwrap()
        .as_text()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------

/// A tenant made by the installation admin: its admin, key manager and key user tokens.
struct Tenant {
    admin: String,
    manager: String,
    user: String,
}

fn tenant(s: &Server, global: &str, id: &str) -> Tenant {
    s.ok(global, &["tenant", "create", id]);
    let admin = s
        .ok(
            global,
            &[
                "token",
                "create",
                "--tenant",
                id,
                "--principal",
                "boss",
                "--role",
                "admin",
            ],
        )
        .trim()
        .to_owned();
    Tenant {
        manager: s.token(&admin, "keeper", "key-manager"),
        user: s.token(&admin, "app", "key-user"),
        admin,
    }
}

#[test]
fn tenant_a_cannot_tell_tenant_b_objects_from_missing_ones() {
    let dir = TempDir::new("isolation");
    let s = Server::dev(&dir.0);
    let global = s.admin_token();
    let a = tenant(&s, &global, "alpha");
    let b = tenant(&s, &global, "beta");

    // Tenant B's objects.
    let key = s.json(
        &b.manager,
        &["key", "create", "--alg", "aes-256", "--name", "b-key"],
    );
    let key_id = key["id"].as_str().unwrap().to_owned();
    s.ok(
        &b.manager,
        &["key", "alias", "create", "alias/b-key", &key_id],
    );
    let grant = s.json(
        &b.manager,
        &[
            "grant",
            "create",
            &key_id,
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    let tokens = s.json(&b.admin, &["token", "list"]);
    let token_id = tokens["tokens"][0]["id"].as_str().unwrap().to_owned();
    let ca_b = Ca::root("Beta CA", now_secs());
    let ca_b_file = dir.0.join("beta-ca.pem");
    std::fs::write(&ca_b_file, &ca_b.cert.cert_pem).unwrap();
    let anchor = s.json(
        &b.admin,
        &[
            "trust-anchor",
            "add",
            "--ca",
            ca_b_file.to_str().unwrap(),
            "--role",
            "key-user",
        ],
    );
    let anchor_id = anchor["id"].as_str().unwrap().to_owned();
    let pinned = ca_b.issue("beta-device");
    let (pinned_file, _) = write_pair(&dir.0, "beta-device", &pinned);
    let cert = s.json(
        &b.admin,
        &[
            "kmip-client",
            "add",
            "--cert",
            &pinned_file,
            "--role",
            "key-user",
        ],
    );
    let fingerprint = cert["fingerprint"].as_str().unwrap().to_owned();
    let ct = s.ok(&b.user, &["encrypt", &key_id, "--plaintext", "beta secret"]);
    let ct = base64::engine::general_purpose::STANDARD
        .decode(ct.trim())
        .unwrap();
    // The same ciphertext naming a key that exists nowhere.
    let mut ct_missing = ct.clone();
    ct_missing[1..17].copy_from_slice(&[0x42; 16]);

    let missing_uuid = "0190b5e4-8f3a-7c3e-9a51-2f6d3b1c9e01";
    let missing_fp = "00".repeat(32);
    // (who, method, path for B's object, path for a missing one, body for B, body for missing)
    type Case<'a> = (
        &'a str,
        &'a str,
        String,
        String,
        Option<Value>,
        Option<Value>,
    );
    let same = |who: &'static str, m: &'static str, p: &str, q: &str, body: Option<Value>| {
        (who, m, p.to_owned(), q.to_owned(), body.clone(), body)
    };
    let enc = json!({"plaintext": b64(b"x")});
    let cases: Vec<Case> = vec![
        same(
            "manager",
            "GET",
            &format!("/v1/keys/{key_id}"),
            &format!("/v1/keys/{missing_uuid}"),
            None,
        ),
        same(
            "manager",
            "GET",
            "/v1/keys/b-key",
            "/v1/keys/no-such-key",
            None,
        ),
        same(
            "manager",
            "GET",
            "/v1/keys/alias%2Fb-key",
            "/v1/keys/alias%2Fno-such",
            None,
        ),
        same(
            "manager",
            "PATCH",
            &format!("/v1/keys/{key_id}"),
            &format!("/v1/keys/{missing_uuid}"),
            Some(json!({"description": "mine"})),
        ),
        same(
            "manager",
            "POST",
            &format!("/v1/keys/{key_id}/rotate"),
            &format!("/v1/keys/{missing_uuid}/rotate"),
            None,
        ),
        same(
            "manager",
            "POST",
            &format!("/v1/keys/{key_id}/lifecycle"),
            &format!("/v1/keys/{missing_uuid}/lifecycle"),
            Some(json!({"action": "suspend"})),
        ),
        same(
            "manager",
            "POST",
            &format!("/v1/keys/{key_id}/lifecycle"),
            &format!("/v1/keys/{missing_uuid}/lifecycle"),
            Some(json!({"action": "destroy"})),
        ),
        same(
            "user",
            "POST",
            &format!("/v1/keys/{key_id}/encrypt"),
            &format!("/v1/keys/{missing_uuid}/encrypt"),
            Some(enc.clone()),
        ),
        same(
            "user",
            "POST",
            "/v1/keys/alias%2Fb-key/encrypt",
            "/v1/keys/alias%2Fno-such/encrypt",
            Some(enc),
        ),
        same(
            "user",
            "POST",
            &format!("/v1/keys/{key_id}/datakey"),
            &format!("/v1/keys/{missing_uuid}/datakey"),
            Some(json!({})),
        ),
        same(
            "user",
            "POST",
            &format!("/v1/keys/{key_id}/mac"),
            &format!("/v1/keys/{missing_uuid}/mac"),
            Some(json!({"message": b64(b"m")})),
        ),
        same(
            "user",
            "GET",
            &format!("/v1/keys/{key_id}/public-key"),
            &format!("/v1/keys/{missing_uuid}/public-key"),
            None,
        ),
        (
            "user",
            "POST",
            "/v1/decrypt".into(),
            "/v1/decrypt".into(),
            Some(json!({"ciphertext": b64(&ct)})),
            Some(json!({"ciphertext": b64(&ct_missing)})),
        ),
        (
            "user",
            "POST",
            "/v1/reencrypt".into(),
            "/v1/reencrypt".into(),
            Some(json!({"ciphertext": b64(&ct)})),
            Some(json!({"ciphertext": b64(&ct_missing)})),
        ),
        (
            "manager",
            "POST",
            "/v1/aliases".into(),
            "/v1/aliases".into(),
            Some(json!({"alias": "alias/mine", "key": key_id})),
            Some(json!({"alias": "alias/mine", "key": missing_uuid})),
        ),
        same(
            "manager",
            "DELETE",
            "/v1/aliases/alias%2Fb-key",
            "/v1/aliases/alias%2Fno-such",
            None,
        ),
        same(
            "manager",
            "GET",
            &format!("/v1/aliases?key={key_id}"),
            &format!("/v1/aliases?key={missing_uuid}"),
            None,
        ),
        (
            "manager",
            "POST",
            "/v1/grants".into(),
            "/v1/grants".into(),
            Some(json!({"key": key_id, "grantee": "app", "operations": ["encrypt"]})),
            Some(json!({"key": missing_uuid, "grantee": "app", "operations": ["encrypt"]})),
        ),
        same(
            "manager",
            "GET",
            &format!("/v1/grants?key={key_id}"),
            &format!("/v1/grants?key={missing_uuid}"),
            None,
        ),
        same(
            "manager",
            "DELETE",
            &format!("/v1/grants/{grant_id}"),
            &format!("/v1/grants/{missing_uuid}"),
            None,
        ),
        same(
            "admin",
            "DELETE",
            &format!("/v1/tokens/{token_id}"),
            &format!("/v1/tokens/{missing_uuid}"),
            None,
        ),
        same(
            "admin",
            "DELETE",
            &format!("/v1/client-certs/{fingerprint}"),
            &format!("/v1/client-certs/{missing_fp}"),
            None,
        ),
        same(
            "admin",
            "DELETE",
            &format!("/v1/trust-anchors/{anchor_id}"),
            &format!("/v1/trust-anchors/{missing_uuid}"),
            None,
        ),
    ];
    for (who, method, foreign, missing, body_f, body_m) in cases {
        let token = match who {
            "admin" => &a.admin,
            "manager" => &a.manager,
            _ => &a.user,
        };
        let (sf, bf) = call(&s, token, method, &foreign, body_f);
        let (sm, bm) = call(&s, token, method, &missing, body_m);
        assert!(sf >= 400, "{method} {foreign} as {who} succeeded: {bf}");
        assert_eq!(
            (sf, &bf["code"], &bf["message"]),
            (sm, &bm["code"], &bm["message"]),
            "{method} {foreign} as {who} differs from a missing object"
        );
    }
    // B's objects are untouched and B's lists are not in A's.
    s.ok(&b.user, &["decrypt", &b64(&ct)]);
    let (_, listed) = call(&s, &a.manager, "GET", "/v1/keys", None);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 0, "{listed}");
    let (_, grants) = call(&s, &a.manager, "GET", "/v1/grants", None);
    assert_eq!(grants["grants"].as_array().unwrap().len(), 0);
    let (_, tokens) = call(&s, &a.admin, "GET", "/v1/tokens", None);
    assert!(tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["principal"] != "boss" || t["id"] != token_id.as_str()));
    let (_, certs) = call(&s, &a.admin, "GET", "/v1/client-certs", None);
    assert_eq!(certs["client_certs"].as_array().unwrap().len(), 0);
    let (_, anchors) = call(&s, &a.admin, "GET", "/v1/trust-anchors", None);
    assert_eq!(anchors["trust_anchors"].as_array().unwrap().len(), 0);

    // KMIP: tenant A's client (a certificate issued under A's trust anchor) on B's key.
    let ca_a = Ca::root("Alpha CA", now_secs());
    let ca_a_file = dir.0.join("alpha-ca.pem");
    std::fs::write(&ca_a_file, &ca_a.cert.cert_pem).unwrap();
    s.ok(
        &a.admin,
        &[
            "trust-anchor",
            "add",
            "--ca",
            ca_a_file.to_str().unwrap(),
            "--role",
            "key-manager",
            "--role",
            "key-user",
            "--allow-combined-duties",
        ],
    );
    let mut kmip = Kmip::connect(&s, &ca_a.issue("alpha-kmip")).unwrap();
    let own = created_uid(&kmip.send(Operation::Create, create_aes()).unwrap());
    let data = || Item::bytes(tags::DATA, b"0123456789abcdef".to_vec());
    type Payload = Box<dyn Fn(&str) -> Vec<Item>>;
    let kmip_cases: Vec<(Operation, Payload)> = vec![
        (Operation::Get, Box::new(|id| vec![uid(id)])),
        (Operation::GetAttributes, Box::new(|id| vec![uid(id)])),
        (Operation::Activate, Box::new(|id| vec![uid(id)])),
        (Operation::Destroy, Box::new(|id| vec![uid(id)])),
        (
            Operation::Encrypt,
            Box::new(move |id| vec![uid(id), data()]),
        ),
    ];
    for (op, payload) in &kmip_cases {
        let foreign = outcome(&kmip.send(*op, payload(&key_id)).unwrap());
        let missing = outcome(&kmip.send(*op, payload(missing_uuid)).unwrap());
        assert_eq!(
            foreign.0,
            u32::from(ResultStatus::OperationFailed),
            "{op:?}"
        );
        assert_eq!(
            foreign, missing,
            "KMIP {op:?} on B's key differs from a missing one"
        );
    }
    let located = kmip.send(Operation::Locate, vec![]).unwrap();
    let ids: Vec<String> = located
        .child(tags::RESPONSE_PAYLOAD)
        .unwrap()
        .children(tags::UNIQUE_IDENTIFIER)
        .map(|i| i.as_text().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![own], "Locate sees only tenant A's objects");
    s.ok(&b.user, &["decrypt", &b64(&ct)]);
}

#[test]
fn roles_are_enforced_over_rest() {
    let dir = TempDir::new("roles");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let tokens = [
        ("admin", admin.clone()),
        ("key-manager", s.token(&admin, "m", "key-manager")),
        ("key-user", s.token(&admin, "u", "key-user")),
        ("auditor", s.token(&admin, "a", "auditor")),
    ];
    let cases: Vec<(&str, &str, Option<Value>, &[&str])> = vec![
        (
            "POST",
            "/v1/keys",
            Some(json!({"algorithm": "aes-256"})),
            &["key-manager"],
        ),
        ("GET", "/v1/keys", None, &["key-manager", "key-user"]),
        (
            "POST",
            "/v1/random",
            Some(json!({"length": 8})),
            &["key-manager", "key-user"],
        ),
        ("GET", "/v1/tokens", None, &["admin"]),
        ("GET", "/v1/tenants", None, &["admin"]),
        ("GET", "/v1/trust-anchors", None, &["admin"]),
        ("GET", "/v1/client-certs", None, &["admin"]),
        ("GET", "/v1/grants", None, &["key-manager"]),
        ("GET", "/v1/audit/verify", None, &["auditor"]),
        ("GET", "/v1/audit/events", None, &["auditor"]),
    ];
    for (method, path, body, allowed) in cases {
        for (role, token) in &tokens {
            let (status, answer) = call(&s, token, method, path, body.clone());
            if allowed.contains(role) {
                assert_eq!(status, 200, "{method} {path} as {role}: {answer}");
            } else {
                assert_eq!(status, 403, "{method} {path} as {role}: {answer}");
                assert_eq!(answer["code"], "permission_denied");
            }
        }
    }
}

#[test]
fn a_certificate_from_a_registered_ca_authenticates_over_rest_and_kmip() {
    let dir = TempDir::new("anchors");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let ca = Ca::root("Ops CA", now_secs());
    let ca_file = dir.0.join("ops-ca.pem");
    std::fs::write(&ca_file, &ca.cert.cert_pem).unwrap();
    let anchor = s.json(
        &admin,
        &[
            "trust-anchor",
            "add",
            "--ca",
            ca_file.to_str().unwrap(),
            "--role",
            "key-manager",
            "--role",
            "key-user",
            "--allow-combined-duties",
        ],
    );
    let anchor_id = anchor["id"].as_str().unwrap().to_owned();
    let listed = s.ok(&admin, &["trust-anchor", "list"]);
    assert!(
        listed.contains(&anchor_id) && listed.contains("active"),
        "{listed}"
    );

    // REST with the certificate and no token.
    let svc = ca.issue("svc");
    let svc_files = write_pair(&dir.0, "svc", &svc);
    let me = cli_cert(&s, &svc_files, &["--json", "whoami"]);
    assert!(
        me.status.success(),
        "{}",
        String::from_utf8_lossy(&me.stderr)
    );
    let me: Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["principal"], "svc");
    assert_eq!(me["tenant"], "default");
    let key = cli_cert(
        &s,
        &svc_files,
        &["--json", "key", "create", "--alg", "aes-256"],
    );
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    // A bearer token still wins over the certificate on the same connection.
    let with_token = s.ok(
        &admin,
        &[
            "--client-cert",
            &svc_files.0,
            "--client-key",
            &svc_files.1,
            "whoami",
        ],
    );
    assert!(with_token.contains("admin"), "{with_token}");

    // KMIP with the certificate.
    let mut kmip = Kmip::connect(&s, &svc).unwrap();
    created_uid(&kmip.send(Operation::Create, create_aes()).unwrap());

    // An unregistered CA and an expired certificate are refused by both listeners.
    let stranger = Ca::root("Stranger CA", now_secs()).issue("svc");
    let expired = ca.issue_expired("svc");
    for (name, bad) in [("stranger", &stranger), ("expired", &expired)] {
        let files = write_pair(&dir.0, name, bad);
        let out = cli_cert(&s, &files, &["whoami"]);
        assert!(!out.status.success(), "{name} accepted over REST");
        let refused =
            Kmip::connect(&s, bad).and_then(|mut k| k.send(Operation::Create, create_aes()));
        assert!(refused.is_err(), "{name} accepted over KMIP");
    }

    // After removal: refused at the next handshake, and on a connection already open.
    s.ok(&admin, &["trust-anchor", "remove", &anchor_id]);
    let out = cli_cert(&s, &svc_files, &["whoami"]);
    assert!(
        !out.status.success(),
        "removed anchor still trusted over REST"
    );
    let after = kmip.send(Operation::Create, create_aes()).unwrap();
    let (status, reason, _) = outcome(&after);
    assert_eq!(status, u32::from(ResultStatus::OperationFailed));
    assert_eq!(
        reason,
        Some(u32::from(
            keyhold_kmip::enums::ResultReason::AuthenticationNotSuccessful
        ))
    );
    assert!(Kmip::connect(&s, &svc)
        .and_then(|mut k| k.send(Operation::Create, create_aes()))
        .is_err());
    // Every change is in the trail.
    let auditor = s.token(&admin, "audrey", "auditor");
    let events = s.ok(&auditor, &["--json", "audit", "export"]);
    for action in ["trust-anchor.add", "trust-anchor.remove"] {
        assert!(events.contains(action), "{action} not audited");
    }
}

#[test]
fn disabling_a_tenant_blocks_its_tokens_at_once_and_enabling_restores_them() {
    let dir = TempDir::new("disable");
    let s = Server::dev(&dir.0);
    let global = s.admin_token();
    let acme = tenant(&s, &global, "acme");
    let who = s.json(&acme.user, &["whoami"]);
    assert_eq!(who["tenant"], "acme");
    s.ok(&global, &["tenant", "disable", "acme"]);
    for token in [&acme.user, &acme.admin, &acme.manager] {
        let (status, body) = call(&s, token, "GET", "/v1/whoami", None);
        assert_eq!(status, 401, "{body}");
    }
    assert!(s.ok(&global, &["tenant", "list"]).contains("disabled"));
    // The installation keeps working.
    s.ok(&global, &["whoami"]);
    s.ok(&global, &["tenant", "enable", "acme"]);
    assert_eq!(s.json(&acme.user, &["whoami"])["principal"], "app");
    // Bad ids and non-admins are refused in the protocol's form.
    let (status, body) = call(
        &s,
        &global,
        "POST",
        "/v1/tenants",
        Some(json!({"id": "Bad_Id"})),
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(&s, &acme.admin, "POST", "/v1/tenants/acme/disable", None);
    assert_eq!(status, 403);
}
