//! Production start-up, sealing across restarts, crash safety and tamper detection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::{Server, TempDir, BIN};

fn init(dir: &std::path::Path, shares: u8, threshold: u8) -> Value {
    let out = Command::new(BIN)
        .args([
            "init",
            "--data-dir",
            dir.to_str().unwrap(),
            "--shares",
            &shares.to_string(),
            "--threshold",
            &threshold.to_string(),
            "--json",
        ])
        .env("KEYHOLD_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn unseal(s: &Server, share: &str) -> std::process::Output {
    s.cli("", &["unseal", "--share", share])
}

#[test]
fn sealed_after_restart_until_unsealed() {
    let dir = TempDir::new("seal");
    let init = init(&dir.0, 3, 2);
    let shares: Vec<String> = init["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let admin = init["admin_token"].as_str().unwrap().to_owned();
    assert_eq!(shares.len(), 3);

    let mut s = Server::sealed(&dir.0);
    let http = s.http();
    let health: Value = http
        .get(s.url("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["sealed"], true);
    assert_eq!(health["unseal"]["threshold"], 2);
    // Everything but health and unseal answers "sealed".
    let r = http
        .get(s.url("/v1/whoami"))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().unwrap();
    assert_eq!(body["code"], "sealed");
    assert!(body["request_id"].is_string());

    // A bad share is refused; one good share is not enough; two are.
    assert!(!unseal(&s, "khs1-01-00-0000").status.success());
    assert!(unseal(&s, &shares[2]).status.success());
    assert_eq!(s.json(&admin, &["status"])["sealed"], true);
    assert!(unseal(&s, &shares[0]).status.success());
    assert_eq!(s.json(&admin, &["status"])["sealed"], false);

    // The refused share is in the audit trail, as is the unseal.
    let auditor = s.token(&admin, "a", "auditor");
    let trail = dir.0.join("trail.jsonl");
    s.ok(
        &auditor,
        &["audit", "export", "--out", trail.to_str().unwrap()],
    );
    let events: Vec<Value> = std::fs::read_to_string(&trail)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events
        .iter()
        .any(|e| e["action"] == "system.unseal" && e["outcome"] == "error"));
    assert!(events
        .iter()
        .any(|e| e["action"] == "system.unseal" && e["outcome"] == "ok"));

    let manager = s.token(&admin, "m", "key-manager");
    let user = s.token(&admin, "u", "key-user");
    s.ok(
        &manager,
        &["key", "create", "--alg", "aes-128", "--name", "k"],
    );
    s.ok(
        &manager,
        &[
            "grant",
            "create",
            "k",
            "--to",
            "u",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    let ct = s.ok(&user, &["encrypt", "k", "--plaintext", "persisted"]);

    s.restart();
    assert_eq!(s.json(&admin, &["status"])["sealed"], true);
    assert!(!s.cli(&user, &["decrypt", ct.trim()]).status.success());
    assert!(unseal(&s, &shares[1]).status.success());
    assert!(unseal(&s, &shares[2]).status.success());
    assert_eq!(s.ok(&user, &["decrypt", ct.trim()]), "persisted");
}

#[test]
fn kill_9_during_a_burst_loses_nothing_acknowledged() {
    let dir = TempDir::new("kill");
    let mut s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "m", "key-manager");
    let http = s.http();
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (http, url, token, acked, stop) = (
            http.clone(),
            s.url(""),
            manager.clone(),
            acked.clone(),
            stop.clone(),
        );
        workers.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let Ok(r) = http
                    .post(format!("{url}/v1/keys"))
                    .bearer_auth(&token)
                    .json(&json!({"algorithm": "aes-256", "name": format!("w{w}-{i}")}))
                    .send()
                else {
                    break;
                };
                if !r.status().is_success() {
                    break;
                }
                let Ok(k) = r.json::<Value>() else { break };
                let id = k["id"].as_str().unwrap().to_owned();
                acked.lock().unwrap().push((id.clone(), 1));
                if i % 2 == 0 {
                    let Ok(r) = http
                        .post(format!("{url}/v1/keys/{id}/rotate"))
                        .bearer_auth(&token)
                        .send()
                    else {
                        break;
                    };
                    if r.status().is_success() {
                        acked.lock().unwrap().push((id, 2));
                    }
                }
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 5,
        "the burst made too few keys to mean anything: {}",
        acked.len()
    );

    s.restart();
    let http = s.http();
    for (id, version) in &acked {
        let r = http
            .get(s.url(&format!("/v1/keys/{id}")))
            .bearer_auth(&manager)
            .send()
            .unwrap();
        assert!(
            r.status().is_success(),
            "acknowledged key {id} is missing after the crash"
        );
        let k: Value = r.json().unwrap();
        assert!(
            k["current_version"].as_u64().unwrap() >= *version,
            "{id} lost version {version}"
        );
        assert_eq!(k["state"], "active");
    }
    let auditor = s.token(&admin, "a", "auditor");
    let v = s.json(&auditor, &["audit", "verify"]);
    assert_eq!(v["ok"], true, "{v}");
}

#[test]
fn tampering_with_an_audit_row_is_detected() {
    let (dir, mut s, auditor) = server_with_a_key("tamper");
    assert_eq!(s.json(&auditor, &["audit", "verify"])["ok"], true);
    s.stop();

    // Rewrite one event in place, as someone with access to the database file would.
    let db = dir.0.join("keyhold.db");
    tamper(
        &db,
        "UPDATE audit SET doc = CAST(replace(CAST(doc AS TEXT), 'key.create', 'key.cre8te') AS BLOB) \
         WHERE doc LIKE '%key.create%'",
    );
    s.restart();
    let text = failed_verification(&s, &auditor);
    assert!(text.contains("modified"), "{text}");

    // Removing an event is detected too.
    s.stop();
    tamper(&db, "DELETE FROM audit WHERE seq = 2");
    s.restart();
    let text = failed_verification(&s, &auditor);
    assert!(text.contains("removed or reordered"), "{text}");
}

/// A dev server in a new directory tagged `tag`, with one key created (so that the chain has a
/// `key.create` event); returns an auditor's token.
fn server_with_a_key(tag: &str) -> (TempDir, Server, String) {
    let dir = TempDir::new(tag);
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let auditor = s.token(&admin, "a", "auditor");
    let manager = s.token(&admin, "m", "key-manager");
    s.ok(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "x"],
    );
    (dir, s, auditor)
}

/// Renames the `key.create` event and recomputes every hash, as someone with write access to
/// the trail can: the hash chain alone then verifies.
fn rewrite_consistently(events: &mut [keyhold_core::audit::AuditEvent]) {
    let target = events
        .iter()
        .position(|e| e.action == "key.create")
        .unwrap();
    events[target].action = "key.cre8te".into();
    let mut prev = keyhold_core::audit::GENESIS_HASH.to_owned();
    for e in events.iter_mut() {
        e.prev_hash = prev;
        e.hash = String::new();
        e.hash = keyhold_core::audit::event_hash(e);
        prev = e.hash.clone();
    }
    assert_eq!(
        keyhold_core::audit::verify_chain(events.iter()),
        Ok(events.len() as u64)
    );
}

#[test]
fn a_consistent_rewrite_of_the_chain_is_found_by_its_signed_checkpoints() {
    let (dir, mut s, auditor) = server_with_a_key("rewrite");
    let made = s.json(&auditor, &["audit", "checkpoint"]);
    let attested = made["seq"].as_u64().unwrap();
    let v = s.json(&auditor, &["audit", "verify"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["last_checkpoint"], attested, "{v}");
    s.stop();

    // Someone with write access to the database changes an event before the checkpoint and
    // recomputes every hash after it, so that the hash chain alone verifies.
    let db = dir.0.join("keyhold.db");
    let mut events = read_chain(&db);
    assert!(events
        .iter()
        .any(|e| e.action == "key.create" && e.seq <= attested));
    rewrite_consistently(&mut events);
    write_chain(&db, &events);

    s.restart();
    let text = failed_verification(&s, &auditor);
    assert!(text.contains("was rewritten"), "{text}");
}

#[test]
fn events_cut_from_the_end_of_the_chain_are_found_while_the_server_runs() {
    let dir = TempDir::new("truncate");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let auditor = s.token(&admin, "a", "auditor");
    let made = s.json(&auditor, &["audit", "checkpoint"]);
    let attested = made["seq"].as_u64().unwrap();
    assert_eq!(s.json(&auditor, &["audit", "verify"])["ok"], true);

    // The checkpoint event and everything after it go; what is left still links.
    let db = dir.0.join("keyhold.db");
    let events = read_chain(&db);
    let kept: Vec<_> = events.into_iter().filter(|e| e.seq <= attested).collect();
    write_chain(&db, &kept);
    assert!(keyhold_core::audit::verify_chain(&kept).is_ok());

    let text = failed_verification(&s, &auditor);
    assert!(text.contains("removed from its end"), "{text}");
}

#[test]
fn events_cut_after_the_last_checkpoint_leave_a_gap_that_verify_reports() {
    let dir = TempDir::new("cut-tail");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let auditor = s.token(&admin, "a", "auditor");
    s.ok(&auditor, &["audit", "checkpoint"]);
    for _ in 0..3 {
        s.ok(&auditor, &["whoami"]);
    }
    // The newest two events go; no checkpoint attested them.
    let db = dir.0.join("keyhold.db");
    let events = read_chain(&db);
    let last = events.last().unwrap().seq;
    let kept: Vec<_> = events.into_iter().filter(|e| e.seq + 2 <= last).collect();
    write_chain(&db, &kept);
    assert!(keyhold_core::audit::verify_chain(&kept).is_ok());

    // The server goes on after the head it committed: the deleted numbers are not reused, and
    // the gap shows.
    s.ok(&auditor, &["whoami"]);
    let text = failed_verification(&s, &auditor);
    assert!(text.contains("events were removed or reordered"), "{text}");
    let after = read_chain(&db);
    assert!(after.last().unwrap().seq > last, "{text}");
}

#[test]
fn an_exported_trail_is_verified_offline_with_the_checkpoint_public_key() {
    let (dir, s, auditor) = server_with_a_key("offline");
    s.ok(&auditor, &["audit", "checkpoint"]);
    let trail = dir.0.join("trail.jsonl");
    let key = dir.0.join("checkpoint.pem");
    s.ok(
        &auditor,
        &["audit", "checkpoint-key", "--out", key.to_str().unwrap()],
    );
    s.ok(
        &auditor,
        &["audit", "export", "--out", trail.to_str().unwrap()],
    );
    let offline = |file: &std::path::Path, with_key: bool| {
        let mut args = vec!["--json", "audit", "verify-file", file.to_str().unwrap()];
        if with_key {
            args.extend(["--public-key", key.to_str().unwrap()]);
        }
        // No server is needed: the address points nowhere.
        let out = Command::new(BIN)
            .args(&args)
            .env("KEYHOLD_ADDR", "https://127.0.0.1:9")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), text)
    };
    let (code, text) = offline(&trail, true);
    assert_eq!(code, Some(0), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["checkpoints"].as_u64().unwrap() >= 2,
        "start-up and request: {v}"
    );

    // A copy rewritten with recomputed hashes passes the chain alone, not the checkpoints.
    let mut events: Vec<keyhold_core::audit::AuditEvent> = std::fs::read_to_string(&trail)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rewrite_consistently(&mut events);
    let forged = dir.0.join("forged.jsonl");
    let lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    std::fs::write(&forged, lines.join("\n")).unwrap();
    assert_eq!(
        offline(&forged, false).0,
        Some(0),
        "the hash chain alone is fooled"
    );
    let (code, text) = offline(&forged, true);
    assert_eq!(code, Some(2), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["problem"]["problem"], "checkpoint-mismatch", "{v}");

    // A line removed breaks the chain itself.
    let exported = std::fs::read_to_string(&trail).unwrap();
    let mut cut: Vec<&str> = exported.lines().collect();
    cut.remove(1);
    std::fs::write(&forged, cut.join("\n")).unwrap();
    let (code, text) = offline(&forged, false);
    assert_eq!(code, Some(2), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["problem"]["problem"], "unlinked", "{v}");
}

/// Every audit event of the database, in order.
fn read_chain(db: &std::path::Path) -> Vec<keyhold_core::audit::AuditEvent> {
    with_db(db, async |c| {
        use sqlx::Row;
        let rows = sqlx::query("SELECT doc FROM audit ORDER BY seq")
            .fetch_all(c)
            .await
            .unwrap();
        rows.iter()
            .map(|r| serde_json::from_slice(&r.get::<Vec<u8>, _>(0)).unwrap())
            .collect()
    })
}

/// Replaces the audit table of the database with `events`, in one transaction.
fn write_chain(db: &std::path::Path, events: &[keyhold_core::audit::AuditEvent]) {
    with_db(db, async |c| {
        use sqlx::Connection;
        let mut tx = c.begin().await.unwrap();
        sqlx::query("DELETE FROM audit")
            .execute(&mut *tx)
            .await
            .unwrap();
        for e in events {
            sqlx::query("INSERT INTO audit (seq, doc) VALUES ($1, $2)")
                .bind(i64::try_from(e.seq).unwrap())
                .bind(serde_json::to_vec(e).unwrap())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    });
}

/// Runs one statement that must change exactly one row of the (stopped) server's database.
fn tamper(db: &std::path::Path, sql: &'static str) {
    let n = with_db(db, async |c| {
        sqlx::query(sql).execute(c).await.unwrap().rows_affected()
    });
    assert_eq!(n, 1, "{sql}");
}

/// Runs `f` on a connection of its own to the database file at `db`, as someone with access to
/// the file would.
fn with_db<T>(
    db: &std::path::Path,
    f: impl AsyncFnOnce(&mut sqlx::sqlite::SqliteConnection) -> T,
) -> T {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", db.display());
        let mut c = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
        let out = f(&mut c).await;
        c.close().await.unwrap();
        out
    })
}

/// `keyhold audit verify` must fail; returns what it printed.
fn failed_verification(s: &Server, auditor: &str) -> String {
    let out = s.cli(auditor, &["audit", "verify"]);
    assert!(
        !out.status.success(),
        "a tampered trail must fail verification"
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn root_rotation_and_unseal_rekey_survive_a_restart() {
    let dir = TempDir::new("rekey");
    let init = init(&dir.0, 3, 2);
    let old_shares: Vec<String> = init["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let admin = init["admin_token"].as_str().unwrap().to_owned();
    let mut s = Server::sealed(&dir.0);
    assert!(unseal(&s, &old_shares[0]).status.success());
    assert!(unseal(&s, &old_shares[1]).status.success());
    let manager = s.token(&admin, "m", "key-manager");
    let user = s.token(&admin, "u", "key-user");
    s.ok(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "k"],
    );
    s.ok(
        &manager,
        &[
            "grant",
            "create",
            "k",
            "--to",
            "u",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    let ct = s.ok(&user, &["encrypt", "k", "--plaintext", "before"]);

    // Only the installation's administrators rotate; the answer counts the rewrapped KEKs.
    assert!(!s.cli(&manager, &["root", "rotate"]).status.success());
    let rotated = s.json(&admin, &["root", "rotate"]);
    assert_eq!(rotated["tenants"], 1, "{rotated}");
    assert_eq!(s.ok(&user, &["decrypt", ct.trim()]).trim(), "before");

    // New shares, a new threshold.
    let rekeyed = s.json(
        &admin,
        &["root", "rekey", "--shares", "5", "--threshold", "3"],
    );
    let new_shares: Vec<String> = rekeyed["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        (new_shares.len(), rekeyed["threshold"].as_u64()),
        (5, Some(3))
    );
    let ct2 = s.ok(&user, &["encrypt", "k", "--plaintext", "after"]);

    // After a restart the new threshold applies, the old shares are refused once there are
    // enough of them to try, and three new ones unseal.
    s.restart();
    assert_eq!(s.json(&admin, &["status"])["unseal"]["threshold"], 3);
    assert!(unseal(&s, &old_shares[0]).status.success());
    assert!(unseal(&s, &old_shares[1]).status.success());
    assert!(
        !unseal(&s, &old_shares[2]).status.success(),
        "old shares must not unseal after a rekey"
    );
    assert_eq!(s.json(&admin, &["status"])["sealed"], true);
    for share in &new_shares[1..4] {
        assert!(unseal(&s, share).status.success());
    }
    assert_eq!(s.json(&admin, &["status"])["sealed"], false);
    assert_eq!(s.ok(&user, &["decrypt", ct.trim()]).trim(), "before");
    assert_eq!(s.ok(&user, &["decrypt", ct2.trim()]).trim(), "after");
    let auditor = s.token(&admin, "a", "auditor");
    let out = s.ok(&auditor, &["audit", "export"]);
    for action in ["root.rotate", "unseal.rekey"] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("\"action\":\"{action}\""))),
            "{action} audited"
        );
    }
    assert!(
        !out.contains(&new_shares[0]),
        "a share must never reach the audit trail"
    );
}
