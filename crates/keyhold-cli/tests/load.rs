//! Correctness under concurrent load, against the real binary (issue 6):
//!
//! - while clients encrypt without pause, keys are rotated, suspended, resumed and revoked, a
//!   grant and a token are revoked; no request that began after a change was acknowledged
//!   succeeds in a way the change forbids, and every ciphertext produced decrypts;
//! - kill -9 while clients encrypt, create and describe keys: after restart, every request that
//!   was answered with success has its audit event (matched by request id), and the chain
//!   verifies.
//!
//! Requests are timed with the monotonic clock of this process: a request "began after" an
//! acknowledgement when it was sent after the acknowledgement's answer was read. No assertion is
//! on speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{Server, TempDir};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One HTTPS call: status, body and the server's request id.
fn call(
    http: &Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> Result<(u16, Value, String), reqwest::Error> {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send()?;
    let status = r.status().as_u16();
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = r.json().unwrap_or(Value::Null);
    Ok((status, body, id))
}

/// Like [`call`], requiring success.
fn must(
    http: &Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let (status, body, _) = call(http, method.clone(), url, token, body).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {url}: {status} {body}"
    );
    body
}

/// A token for `principal` with `role`: (secret, id).
fn token(s: &Server, http: &Client, admin: &str, principal: &str, role: &str) -> (String, String) {
    let t = must(
        http,
        reqwest::Method::POST,
        &s.url("/v1/tokens"),
        admin,
        Some(json!({"principal": principal, "role": role})),
    );
    (
        t["token"].as_str().unwrap().to_owned(),
        t["id"].as_str().unwrap().to_owned(),
    )
}

fn grant(s: &Server, http: &Client, manager: &str, key: &str, ops: &[&str]) -> String {
    let g = must(
        http,
        reqwest::Method::POST,
        &s.url("/v1/grants"),
        manager,
        Some(json!({"key": key, "grantee": "app", "operations": ops})),
    );
    g["id"].as_str().unwrap().to_owned()
}

/// One encryption attempt by a worker.
struct Attempt {
    key: usize,
    /// Index into the tokens the workers use.
    token: usize,
    sent: Instant,
    answered: Instant,
    ok: Option<(String, u64)>,
    plaintext: String,
}

/// One acknowledged change.
#[derive(Debug, Clone, Copy)]
struct Change {
    sent: Instant,
    acked: Instant,
}

#[test]
fn acknowledged_changes_are_never_overtaken_under_load() {
    let dir = TempDir::new("load-changes");
    let s = Server::dev(&dir.0);
    let http = s.http();
    let admin = s.admin_token();
    let manager = s.token(&admin, "m", "key-manager");
    let (app_a, _) = token(&s, &http, &admin, "app", "key-user");
    let (app_b, app_b_id) = token(&s, &http, &admin, "app", "key-user");
    let post = reqwest::Method::POST;

    // K0 is rotated, K1 suspended and resumed, K2 loses its encrypt grant, K3 is revoked.
    let mut keys = Vec::new();
    let mut encrypt_grants = Vec::new();
    for i in 0..4 {
        let k = must(
            &http,
            post.clone(),
            &s.url("/v1/keys"),
            &manager,
            Some(json!({"algorithm": "aes-256", "name": format!("load-{i}")})),
        );
        let id = k["id"].as_str().unwrap().to_owned();
        encrypt_grants.push(grant(&s, &http, &manager, &id, &["encrypt"]));
        grant(&s, &http, &manager, &id, &["decrypt"]);
        keys.push(id);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::new(Mutex::new(Vec::new()));
    let tokens = [app_a.clone(), app_b.clone()];
    let mut workers = Vec::new();
    for w in 0..8usize {
        let (http, stop, attempts, keys, tokens) = (
            s.http(),
            stop.clone(),
            attempts.clone(),
            keys.clone(),
            tokens.clone(),
        );
        let base = s.url("");
        workers.push(thread::spawn(move || {
            let mut i = 0usize;
            let t = usize::from(w >= 6);
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let k = (w + i) % keys.len();
                let plaintext = format!("w{w}-{i}");
                let sent = Instant::now();
                let r = call(
                    &http,
                    reqwest::Method::POST,
                    &format!("{base}/v1/keys/{}/encrypt", keys[k]),
                    &tokens[t],
                    Some(json!({"plaintext": B64.encode(&plaintext)})),
                );
                let answered = Instant::now();
                let ok = match r {
                    Ok((200, body, _)) => Some((
                        body["ciphertext"].as_str().unwrap().to_owned(),
                        body["key_version"].as_u64().unwrap(),
                    )),
                    Ok(_) => None,
                    Err(e) => panic!("transport error under load: {e}"),
                };
                attempts.lock().unwrap().push(Attempt {
                    key: k,
                    token: t,
                    sent,
                    answered,
                    ok,
                    plaintext,
                });
            }
        }));
    }

    let change = |method: reqwest::Method, path: String, token: &str, body: Option<Value>| {
        thread::sleep(Duration::from_millis(120));
        let sent = Instant::now();
        must(&http, method, &s.url(&path), token, body);
        Change {
            sent,
            acked: Instant::now(),
        }
    };
    let lifecycle = |key: &str, action: &str, extra: Value| {
        let mut body = json!({"action": action});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        (format!("/v1/keys/{key}/lifecycle"), Some(body))
    };
    let rotate = |key: &str| format!("/v1/keys/{key}/rotate");

    let mut rotations = Vec::new(); // (change, version it made current)
    let mut suspensions = Vec::new(); // (suspend, resume)
    rotations.push((change(post.clone(), rotate(&keys[0]), &manager, None), 2));
    let (p, b) = lifecycle(&keys[1], "suspend", json!({}));
    let suspend1 = change(post.clone(), p, &manager, b);
    let grant_revoked = change(
        reqwest::Method::DELETE,
        format!("/v1/grants/{}", encrypt_grants[2]),
        &manager,
        None,
    );
    rotations.push((change(post.clone(), rotate(&keys[0]), &manager, None), 3));
    let (p, b) = lifecycle(&keys[1], "resume", json!({}));
    suspensions.push((suspend1, change(post.clone(), p, &manager, b)));
    let (p, b) = lifecycle(&keys[3], "revoke", json!({"reason": "superseded"}));
    let key_revoked = change(post.clone(), p, &manager, b);
    let (p, b) = lifecycle(&keys[1], "suspend", json!({}));
    let suspend2 = change(post.clone(), p, &manager, b);
    let token_revoked = change(
        reqwest::Method::DELETE,
        format!("/v1/tokens/{app_b_id}"),
        &admin,
        None,
    );
    rotations.push((change(post.clone(), rotate(&keys[0]), &manager, None), 4));
    let (p, b) = lifecycle(&keys[1], "resume", json!({}));
    suspensions.push((suspend2, change(post.clone(), p, &manager, b)));
    thread::sleep(Duration::from_millis(150));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let attempts = std::mem::take(&mut *attempts.lock().unwrap());

    // Every change must have had requests to overtake, or the test proves nothing.
    let after = |a: &Attempt, c: &Change| a.sent > c.acked;
    let mut checked = 0;
    let mut violations = Vec::new();
    for a in &attempts {
        let Some((_, version)) = &a.ok else { continue };
        if a.key == 0 {
            for (c, v) in &rotations {
                if after(a, c) {
                    checked += 1;
                    if version < v {
                        violations.push(format!("K0 version {version} used after rotation to {v}"));
                    }
                }
            }
        }
        if a.key == 1 {
            for (suspend, resume) in &suspensions {
                // Certainly suspended from the acknowledgement until the resume was sent.
                if after(a, suspend) && a.answered < resume.sent {
                    violations.push("K1 encrypted while suspended".into());
                }
            }
        }
        if a.key == 2 && after(a, &grant_revoked) {
            violations.push("K2 encrypted after its grant was revoked".into());
        }
        if a.key == 3 && after(a, &key_revoked) {
            violations.push("K3 encrypted after it was revoked".into());
        }
        if a.token == 1 && after(a, &token_revoked) {
            violations.push("a revoked token was accepted".into());
        }
    }
    assert!(
        violations.is_empty(),
        "{} violations: {:?}",
        violations.len(),
        &violations[..violations.len().min(10)]
    );
    assert!(checked > 0, "no encryption under K0 after a rotation");
    // The refusals the changes must cause did happen (the workers did overtake each change).
    let refused_after = |key: Option<usize>, token: Option<usize>, c: &Change| {
        attempts.iter().any(|a| {
            a.ok.is_none()
                && after(a, c)
                && key.is_none_or(|k| a.key == k)
                && token.is_none_or(|t| a.token == t)
        })
    };
    assert!(refused_after(Some(2), None, &grant_revoked));
    assert!(refused_after(Some(3), None, &key_revoked));
    assert!(refused_after(None, Some(1), &token_revoked));
    assert!(refused_after(Some(1), None, &suspensions[0].0));

    // Every ciphertext decrypts to its plaintext (K1 was resumed, K3 deactivated: both decrypt).
    let produced: Vec<(String, String)> = attempts
        .into_iter()
        .filter_map(|a| a.ok.map(|(ct, _)| (ct, a.plaintext)))
        .collect();
    assert!(
        produced.len() > 50,
        "too few encryptions: {}",
        produced.len()
    );
    let produced = Arc::new(produced);
    let next = Arc::new(AtomicUsize::new(0));
    let mut checkers = Vec::new();
    for _ in 0..4 {
        let (http, produced, next, url, token) = (
            s.http(),
            produced.clone(),
            next.clone(),
            s.url("/v1/decrypt"),
            app_a.clone(),
        );
        checkers.push(thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((ct, pt)) = produced.get(i) else {
                break;
            };
            let (status, body, _) = call(
                &http,
                reqwest::Method::POST,
                &url,
                &token,
                Some(json!({"ciphertext": ct})),
            )
            .unwrap();
            assert_eq!(status, 200, "ciphertext {i} does not decrypt: {body}");
            let got = B64.decode(body["plaintext"].as_str().unwrap()).unwrap();
            assert_eq!(got, pt.as_bytes());
        }));
    }
    for c in checkers {
        c.join().unwrap();
    }
}

#[test]
fn kill_9_under_load_keeps_the_audit_event_of_every_acknowledged_request() {
    let dir = TempDir::new("load-kill");
    let mut s = Server::dev(&dir.0);
    let http = s.http();
    let admin = s.admin_token();
    let manager = s.token(&admin, "m", "key-manager");
    let (app, _) = token(&s, &http, &admin, "app", "key-user");
    let key = must(
        &http,
        reqwest::Method::POST,
        &s.url("/v1/keys"),
        &manager,
        Some(json!({"algorithm": "aes-256"})),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    grant(&s, &http, &manager, &key, &["encrypt"]);

    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..12usize {
        let (http, base, acked, stop, key) = (
            s.http(),
            s.url(""),
            acked.clone(),
            stop.clone(),
            key.clone(),
        );
        let (app, manager) = (app.clone(), manager.clone());
        workers.push(thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = match (w + i) % 4 {
                    0 => call(
                        &http,
                        reqwest::Method::POST,
                        &format!("{base}/v1/keys"),
                        &manager,
                        Some(json!({"algorithm": "aes-256"})),
                    ),
                    1 => call(
                        &http,
                        reqwest::Method::GET,
                        &format!("{base}/v1/keys/{key}"),
                        &manager,
                        None,
                    ),
                    _ => call(
                        &http,
                        reqwest::Method::POST,
                        &format!("{base}/v1/keys/{key}/encrypt"),
                        &app,
                        Some(json!({"plaintext": B64.encode(b"kill -9")})),
                    ),
                };
                match r {
                    Ok((status, _, id)) if (200..300).contains(&status) => {
                        assert!(!id.is_empty(), "a success without x-request-id");
                        acked.lock().unwrap().push(id);
                    }
                    Ok((status, body, _)) => panic!("refused before the kill: {status} {body}"),
                    // The kill: connections reset, answers lost. Those were not acknowledged.
                    Err(_) => break,
                }
            }
        }));
    }
    thread::sleep(Duration::from_millis(1500));
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() > 50,
        "too few requests before the kill: {}",
        acked.len()
    );

    s.restart();
    let http = s.http();
    let (auditor, _) = token(&s, &http, &admin, "aud", "auditor");
    let mut audited = HashSet::new();
    let mut from = 1u64;
    loop {
        let page = must(
            &http,
            reqwest::Method::GET,
            &s.url(&format!("/v1/audit/events?from_seq={from}&limit=1000")),
            &auditor,
            None,
        );
        let events = page["events"].as_array().unwrap();
        for e in events {
            audited.insert(e["request_id"].as_str().unwrap().to_owned());
            from = e["seq"].as_u64().unwrap() + 1;
        }
        if events.is_empty() || page["next_seq"].is_null() {
            break;
        }
    }
    let missing: Vec<&String> = acked.iter().filter(|id| !audited.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged requests have no audit event, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    let v = s.json(&auditor, &["audit", "verify"]);
    assert_eq!(v["ok"], true, "{v}");
}
