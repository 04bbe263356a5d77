//! Backup, restore, Recover Key, archive and scheduled backups, through the real CLI against
//! real servers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use keyhold_crypto::{Algorithm, Provider};
use serde_json::Value;
use support::{Server, TempDir, BIN};

/// A recognizable 32-byte key to import.
const IMPORTED: &[u8; 32] = b"BACKUP-TEST-IMPORTED-KEY-0123456";

/// What was made before the backup, to check after the restore.
struct Population {
    manager: String,
    user: String,
    /// (ciphertext, plaintext, made with the context `order=7`) made before the backup.
    ciphertexts: Vec<(String, String, bool)>,
    /// (key, message, signature).
    signatures: Vec<(String, String, String)>,
    /// Key ids.
    ids: Vec<String>,
    archived: String,
    archived_ct: String,
}

fn populate(s: &Server, dir: &Path) -> Population {
    let admin = s.admin_token();
    let manager = s.token(&admin, "mgr", "key-manager");
    let user = s.token(&admin, "app", "key-user");
    let create = |args: &[&str]| -> String {
        let mut full = vec!["key", "create"];
        full.extend_from_slice(args);
        s.json(&manager, &full)["id"].as_str().unwrap().to_owned()
    };
    let grant = |key: &str, ops: &str| {
        s.ok(
            &manager,
            &["grant", "create", key, "--to", "app", "--ops", ops],
        );
    };
    let mut ids = Vec::new();
    let mut ciphertexts = Vec::new();
    let mut signatures = Vec::new();
    for alg in Algorithm::ALL {
        let name = format!("k-{}", alg.as_str());
        ids.push(create(&[
            "--alg",
            alg.as_str(),
            "--name",
            &name,
            "--tag",
            "team=backup",
        ]));
    }
    // Several versions, ciphertexts under each.
    for aes in ["k-aes-128", "k-aes-192", "k-aes-256"] {
        grant(aes, "encrypt,decrypt");
        for round in 0..3 {
            let text = format!("{aes} round {round}");
            let ct = s.ok(
                &user,
                &["encrypt", aes, "--plaintext", &text, "--context", "order=7"],
            );
            ciphertexts.push((ct.trim().to_owned(), text, true));
            if round < 2 {
                s.ok(&manager, &["key", "rotate", aes]);
            }
        }
    }
    ids.push(create(&[
        "--alg",
        "rsa-2048",
        "--usage",
        "encrypt-decrypt",
        "--name",
        "rsa-enc",
    ]));
    grant("rsa-enc", "encrypt,decrypt");
    let ct = s.ok(&user, &["encrypt", "rsa-enc", "--plaintext", "rsa secret"]);
    ciphertexts.push((ct.trim().to_owned(), "rsa secret".into(), false));
    for sig_key in ["k-ec-p256", "k-ed25519", "k-rsa-3072"] {
        grant(sig_key, "sign,verify");
        let msg = format!("release of {sig_key}");
        let sig = s.ok(&user, &["sign", sig_key, "--message", &msg]);
        signatures.push((sig_key.to_owned(), msg, sig.trim().to_owned()));
    }
    // An imported key.
    let file = dir.join("imported.bin");
    std::fs::write(&file, IMPORTED).unwrap();
    let imported = s.json(
        &manager,
        &[
            "key",
            "import",
            "--alg",
            "aes-256",
            "--material",
            file.to_str().unwrap(),
            "--format",
            "raw",
            "--name",
            "byok",
        ],
    );
    ids.push(imported["id"].as_str().unwrap().to_owned());
    grant("byok", "encrypt,decrypt");
    let ct = s.ok(&user, &["encrypt", "byok", "--plaintext", "imported"]);
    ciphertexts.push((ct.trim().to_owned(), "imported".into(), false));
    s.ok(
        &manager,
        &["key", "alias", "create", "alias/billing", "k-aes-256"],
    );
    s.ok(&manager, &["key", "alias", "create", "alias/byok", "byok"]);

    // Every state.
    ids.push(create(&[
        "--alg",
        "aes-256",
        "--name",
        "s-pre",
        "--pre-active",
    ]));
    let suspended = create(&["--alg", "aes-256", "--name", "s-suspended"]);
    s.ok(&manager, &["key", "suspend", &suspended]);
    let deactivated = create(&["--alg", "aes-256", "--name", "s-deactivated"]);
    grant(&deactivated, "encrypt,decrypt");
    let ct = s.ok(
        &user,
        &[
            "encrypt",
            &deactivated,
            "--plaintext",
            "before deactivation",
        ],
    );
    ciphertexts.push((ct.trim().to_owned(), "before deactivation".into(), false));
    s.ok(&manager, &["key", "deactivate", &deactivated]);
    let compromised = create(&["--alg", "aes-128", "--name", "s-compromised"]);
    s.ok(
        &manager,
        &["key", "revoke", &compromised, "--reason", "key-compromise"],
    );
    let destroyed = create(&["--alg", "aes-128", "--name", "s-destroyed"]);
    s.ok(&manager, &["key", "deactivate", &destroyed]);
    s.ok(&manager, &["key", "destroy", &destroyed]);
    let destroyed_c = create(&["--alg", "hmac-sha256", "--name", "s-destroyed-compromised"]);
    s.ok(
        &manager,
        &["key", "revoke", &destroyed_c, "--reason", "key-compromise"],
    );
    s.ok(&manager, &["key", "destroy", &destroyed_c]);
    let pending = create(&["--alg", "aes-256", "--name", "s-pending"]);
    s.ok(
        &manager,
        &["key", "schedule-destroy", &pending, "--days", "7"],
    );
    let archived = create(&["--alg", "aes-256", "--name", "s-archived"]);
    grant(&archived, "encrypt,decrypt");
    let archived_ct = s.ok(
        &user,
        &["encrypt", &archived, "--plaintext", "archived data"],
    );
    s.ok(&manager, &["key", "rotate", &archived]);
    s.ok(&manager, &["key", "deactivate", &archived]);
    s.ok(&manager, &["key", "archive", &archived]);
    ids.extend([
        suspended,
        deactivated,
        compromised,
        destroyed,
        destroyed_c,
        pending,
        archived.clone(),
    ]);
    Population {
        manager,
        user,
        ciphertexts,
        signatures,
        ids,
        archived,
        archived_ct: archived_ct.trim().to_owned(),
    }
}

/// `backup create` with shares; returns (key backup, KEK backup, shares).
fn backup_with_shares(s: &Server, out: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let admin = s.admin_token();
    let j = s.json(
        &admin,
        &[
            "backup",
            "create",
            "--out",
            out.to_str().unwrap(),
            "--shares",
            "3",
            "--threshold",
            "2",
        ],
    );
    let shares = j["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    (
        PathBuf::from(j["key_backup"].as_str().unwrap()),
        PathBuf::from(j["kek_backup"].as_str().unwrap()),
        shares,
    )
}

fn pair_args<'a>(keys: &'a Path, keks: &'a Path, shares: &'a [String]) -> Vec<&'a str> {
    let mut v = vec![
        "--key-backup",
        keys.to_str().unwrap(),
        "--kek-backup",
        keks.to_str().unwrap(),
    ];
    for sh in shares {
        v.push("--share");
        v.push(sh);
    }
    v
}

/// Every key's description, grants and aliases, as the server reports them.
fn inventory(s: &Server, manager: &str, ids: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for id in ids {
        out.insert(id.clone(), s.json(manager, &["key", "show", id]));
    }
    out.insert("grants".into(), s.json(manager, &["grant", "list"]));
    out.insert("aliases".into(), s.json(manager, &["key", "alias", "list"]));
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn round_trip_restores_every_object_and_old_ciphertexts_decrypt() {
    let dir = TempDir::new("bk-roundtrip");
    let src_dir = dir.0.join("src");
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = Server::dev(&src_dir);
    let p = populate(&src, &dir.0);
    let before = inventory(&src, &p.manager, &p.ids);
    let (keys, keks, shares) = backup_with_shares(&src, &dir.0.join("out"));
    let two = &shares[1..];

    // Verify without and with the shares. Without them only the headers are checked, which is
    // not a pass (exit code 2).
    let admin = src.admin_token();
    let out = src.cli(
        &admin,
        &[
            "--json",
            "backup",
            "verify",
            "--key-backup",
            keys.to_str().unwrap(),
            "--kek-backup",
            keks.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let structural: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(structural["contents_verified"], false);
    let mut args = vec!["backup", "verify"];
    args.extend(pair_args(&keys, &keks, two));
    let report = src.json(&admin, &args);
    assert_eq!(report["contents_verified"], true);
    assert_eq!(
        report["counts"]["keys"].as_u64().unwrap(),
        p.ids.len() as u64
    );
    assert_eq!(report["archived_keys"], 1);
    let states = &report["keys_by_tenant_state"]["default"];
    for st in [
        "pre-active",
        "active",
        "suspended",
        "deactivated",
        "compromised",
        "destroyed",
        "destroyed-compromised",
    ] {
        assert!(
            states[st].as_u64().unwrap_or(0) >= 1,
            "no {st} key in {report}"
        );
    }
    assert_eq!(report["keys_by_algorithm"].as_object().unwrap().len(), 13);

    // Restore into a fresh server.
    let dst_dir = dir.0.join("dst");
    std::fs::create_dir_all(&dst_dir).unwrap();
    let dst = Server::dev(&dst_dir);
    let mut args = vec!["backup", "restore"];
    args.extend(pair_args(&keys, &keks, two));
    dst.json(&dst.admin_token(), &args);
    // Tokens came back: the source's manager and user work on the new server.
    let after = inventory(&dst, &p.manager, &p.ids);
    assert_eq!(before, after, "every object is reproduced exactly");
    for (ct, text, context) in &p.ciphertexts {
        let plain = if *context {
            dst.ok(&p.user, &["decrypt", ct, "--context", "order=7"])
        } else {
            dst.ok(&p.user, &["decrypt", ct])
        };
        assert_eq!(&plain, text);
    }
    for (key, msg, sig) in &p.signatures {
        dst.ok(
            &p.user,
            &["verify", key, "--message", msg, "--signature", sig],
        );
    }
    // The archived key stays archived until recovered, then decrypts its old data.
    assert!(!dst
        .cli(&p.user, &["decrypt", &p.archived_ct])
        .status
        .success());
    dst.ok(&p.manager, &["key", "recover", &p.archived]);
    assert_eq!(
        dst.ok(&p.user, &["decrypt", &p.archived_ct]),
        "archived data"
    );

    // A second restore into the now non-empty server is refused.
    let mut args = vec!["backup", "restore"];
    args.extend(pair_args(&keys, &keks, two));
    assert!(!dst.cli(&dst.admin_token(), &args).status.success());
    // Only administrators back up.
    assert!(!src
        .cli(
            &p.manager,
            &[
                "backup",
                "create",
                "--out",
                dir.0.join("x").to_str().unwrap()
            ]
        )
        .status
        .success());

    // The audit trail of the target names the restore and is intact.
    let auditor = dst.token(&dst.admin_token(), "aud", "auditor");
    assert_eq!(dst.json(&auditor, &["audit", "verify"])["ok"], true);
}

#[test]
fn either_artifact_alone_reveals_and_restores_nothing() {
    let dir = TempDir::new("bk-leak");
    let src = Server::dev(&dir.0.join("src").tap_mkdir());
    let admin = src.admin_token();
    let manager = src.token(&admin, "mgr", "key-manager");
    let file = dir.0.join("imported.bin");
    std::fs::write(&file, IMPORTED).unwrap();
    src.ok(
        &manager,
        &[
            "key",
            "import",
            "--alg",
            "aes-256",
            "--material",
            file.to_str().unwrap(),
            "--format",
            "raw",
            "--name",
            "byok",
        ],
    );
    let (keys_a, keks_a, shares_a) = backup_with_shares(&src, &dir.0.join("a"));
    let (keys_b, keks_b, _) = backup_with_shares(&src, &dir.0.join("b"));
    let hex: String = IMPORTED.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64_of(IMPORTED);
    for f in [&keys_a, &keks_a, &keys_b, &keks_b] {
        let bytes = std::fs::read(f).unwrap();
        for needle in [&IMPORTED[..], hex.as_bytes(), b64.as_bytes()] {
            assert!(
                !contains(&bytes, needle),
                "{} reveals the imported key",
                f.display()
            );
        }
    }
    // A key backup with another backup's KEK backup: refused by verify and restore.
    let dst = Server::dev(&dir.0.join("dst").tap_mkdir());
    for (keys, keks) in [(&keys_a, &keks_b), (&keys_b, &keks_a)] {
        let mut args = vec!["backup", "verify"];
        args.extend(pair_args(keys, keks, &shares_a[..2]));
        assert!(!dst.cli(&admin, &args).status.success());
        let mut args = vec!["backup", "restore"];
        args.extend(pair_args(keys, keks, &shares_a[..2]));
        assert!(!dst.cli(&dst.admin_token(), &args).status.success());
    }
    // The KEK backup given as both, or the key backup as both: refused.
    let mut args = vec!["backup", "verify"];
    args.extend(pair_args(&keks_a, &keks_a, &shares_a[..2]));
    assert!(!dst.cli(&admin, &args).status.success());
    let mut args = vec!["backup", "verify"];
    args.extend(pair_args(&keys_a, &keys_a, &shares_a[..2]));
    assert!(!dst.cli(&admin, &args).status.success());
    // One share is not enough.
    let mut args = vec!["backup", "verify"];
    args.extend(pair_args(&keys_a, &keks_a, &shares_a[..1]));
    assert!(!dst.cli(&admin, &args).status.success());
    let list = dst.json(
        &dst.token(&dst.admin_token(), "m", "key-manager"),
        &["key", "list"],
    );
    assert_eq!(
        list["keys"].as_array().unwrap().len(),
        0,
        "nothing was restored"
    );
}

#[test]
fn a_flipped_byte_anywhere_is_detected_and_refused() {
    let dir = TempDir::new("bk-flip");
    let src = Server::dev(&dir.0.join("src").tap_mkdir());
    let admin = src.admin_token();
    let manager = src.token(&admin, "mgr", "key-manager");
    for i in 0..40 {
        src.ok(
            &manager,
            &[
                "key",
                "create",
                "--alg",
                "aes-256",
                "--name",
                &format!("k{i}"),
            ],
        );
    }
    let (keys, keks, shares) = backup_with_shares(&src, &dir.0.join("out"));
    let dst = Server::dev(&dir.0.join("dst").tap_mkdir());
    let dst_admin = dst.admin_token();
    let dst_manager = dst.token(&dst_admin, "m", "key-manager");
    for (target, other) in [(&keys, &keks), (&keks, &keys)] {
        let original = std::fs::read(target).unwrap();
        let n = original.len();
        for pos in [0, 8, 11, 30, n / 3, n / 2, n - 17, n - 1] {
            let mut bytes = original.clone();
            bytes[pos] ^= 0x01;
            let flipped = dir.0.join(format!("flipped-{pos}"));
            std::fs::write(&flipped, &bytes).unwrap();
            let (k, e) = if target == &keys {
                (&flipped, other)
            } else {
                (other, &flipped)
            };
            let mut args = vec!["backup", "verify"];
            args.extend(pair_args(k, e, &shares[..2]));
            let out = dst.cli(&dst_admin, &args);
            assert!(
                !out.status.success(),
                "verify accepted a flip at {pos} of {}",
                target.display()
            );
            let mut args = vec!["backup", "restore"];
            args.extend(pair_args(k, e, &shares[..2]));
            assert!(
                !dst.cli(&dst_admin, &args).status.success(),
                "restore accepted a flip at {pos}"
            );
        }
    }
    // Truncated by one byte, or with a byte appended.
    let original = std::fs::read(&keys).unwrap();
    for bytes in [
        original[..original.len() - 1].to_vec(),
        [original.clone(), vec![0]].concat(),
    ] {
        let f = dir.0.join("cut");
        std::fs::write(&f, &bytes).unwrap();
        let mut args = vec!["backup", "verify"];
        args.extend(pair_args(&f, &keks, &shares[..2]));
        assert!(!dst.cli(&dst_admin, &args).status.success());
    }
    let list = dst.json(&dst_manager, &["key", "list"]);
    assert_eq!(
        list["keys"].as_array().unwrap().len(),
        0,
        "nothing was restored"
    );
    // The intact pair still restores.
    let mut args = vec!["backup", "restore"];
    args.extend(pair_args(&keys, &keks, &shares[..2]));
    dst.ok(&dst_admin, &args);
}

#[test]
fn recover_key_restores_a_missing_key_and_refuses_existing_or_destroyed_ones() {
    let dir = TempDir::new("bk-recover");
    let src = Server::dev(&dir.0.join("src").tap_mkdir());
    let admin = src.admin_token();
    let manager = src.token(&admin, "mgr", "key-manager");
    let user = src.token(&admin, "app", "key-user");
    let id = src.json(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "lost"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    src.ok(
        &manager,
        &[
            "grant",
            "create",
            "lost",
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    src.ok(&manager, &["key", "alias", "create", "alias/lost", "lost"]);
    let ct = src
        .ok(&user, &["encrypt", "lost", "--plaintext", "recover me"])
        .trim()
        .to_owned();
    let other = src.json(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "gone"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (keys, keks, shares) = backup_with_shares(&src, &dir.0.join("out"));
    let recover = |s: &Server, key: &str| {
        let mut args = vec!["backup", "recover-key", key];
        args.extend(pair_args(&keys, &keks, &shares[..2]));
        s.cli(&s.admin_token(), &args)
    };
    // Exists: refused.
    assert!(!recover(&src, &id).status.success());
    // Destroyed since the backup: refused, stays destroyed.
    src.ok(&manager, &["key", "deactivate", &other]);
    src.ok(&manager, &["key", "destroy", &other]);
    let out = recover(&src, &other);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("destroyed"));
    assert_eq!(
        src.json(&manager, &["key", "show", &other])["state"],
        "destroyed"
    );
    // Missing on another server (different KEK): recovered, re-wrapped, usable with its grant.
    let dst = Server::dev(&dir.0.join("dst").tap_mkdir());
    let dst_admin = dst.admin_token();
    let out = recover(&dst, &id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dst_user = dst.token(&dst_admin, "app", "key-user");
    assert_eq!(dst.ok(&dst_user, &["decrypt", &ct]), "recover me");
    let dst_manager = dst.token(&dst_admin, "mgr", "key-manager");
    assert_eq!(
        dst.json(&dst_manager, &["key", "show", "alias/lost"])["id"],
        id.as_str()
    );
    // Not in the backup.
    assert!(!recover(&dst, "01900000-0000-7000-8000-000000000000")
        .status
        .success());
}

#[test]
fn killing_the_backup_or_the_server_never_leaves_a_pair_that_does_not_restore() {
    let dir = TempDir::new("bk-kill");
    let mut src = Server::dev(&dir.0.join("src").tap_mkdir());
    let admin = src.admin_token();
    let manager = src.token(&admin, "mgr", "key-manager");
    let (public_pem, private_pem) = recipient_pair();
    let recipient = dir.0.join("recipient.pem");
    std::fs::write(&recipient, &public_pem).unwrap();
    let private = dir.0.join("private.pem");
    std::fs::write(&private, &private_pem).unwrap();
    // Enough keys for a backup to take a moment.
    let http = src.http();
    for i in 0..400 {
        let r = http
            .post(src.url("/v1/keys"))
            .bearer_auth(&manager)
            .json(&serde_json::json!({"algorithm": "aes-256", "name": format!("k{i}")}))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    let count_before = src.json(&manager, &["key", "list", "--all"])["keys"]
        .as_array()
        .unwrap()
        .len();
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for round in 0..8 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(rng % 400);
        let mut child = Command::new(BIN)
            .args([
                "backup",
                "create",
                "--out",
                out.to_str().unwrap(),
                "--recipient",
                recipient.to_str().unwrap(),
            ])
            .env("KEYHOLD_ADDR", &src.addr)
            .env("KEYHOLD_CACERT", &src.ca)
            .env("KEYHOLD_TOKEN", &admin)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if round % 3 == 2 {
            // Kill the server instead, mid-backup; the client must keep nothing.
            src.kill9();
            let _ = child.wait();
            src.restart();
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    // Every complete pair on disk verifies and restores; no key backup is half written.
    let mut pairs = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_prefix("keyhold-backup-")
            .and_then(|n| n.strip_suffix(".keks"))
        else {
            continue;
        };
        let keys = out.join(format!("keyhold-backup-{id}.keys"));
        assert!(keys.exists(), "a KEK backup without its key backup");
        let args = [
            "backup",
            "verify",
            "--key-backup",
            keys.to_str().unwrap(),
            "--kek-backup",
            path.to_str().unwrap(),
            "--private-key",
            private.to_str().unwrap(),
        ];
        src.ok(&admin, &args);
        pairs += 1;
    }
    // Whatever is left over is a temporary file or a key backup without a KEK backup, which
    // verify refuses: check one finished backup restores.
    let j = src.json(
        &admin,
        &[
            "backup",
            "create",
            "--out",
            out.to_str().unwrap(),
            "--recipient",
            recipient.to_str().unwrap(),
        ],
    );
    let dst = Server::dev(&dir.0.join("dst").tap_mkdir());
    dst.ok(
        &dst.admin_token(),
        &[
            "backup",
            "restore",
            "--key-backup",
            j["key_backup"].as_str().unwrap(),
            "--kek-backup",
            j["kek_backup"].as_str().unwrap(),
            "--private-key",
            private.to_str().unwrap(),
        ],
    );
    assert_eq!(
        dst.json(&manager, &["key", "list", "--all"])["keys"]
            .as_array()
            .unwrap()
            .len(),
        count_before
    );
    // The source is intact after the kills.
    assert_eq!(
        src.json(&manager, &["key", "list", "--all"])["keys"]
            .as_array()
            .unwrap()
            .len(),
        count_before
    );
    let auditor = src.token(&admin, "aud", "auditor");
    assert_eq!(src.json(&auditor, &["audit", "verify"])["ok"], true);
    eprintln!("{pairs} complete pairs survived the kills");
}

/// `keyhold init` (production path) in `dir`: (admin token, unseal shares).
fn init_sealed(dir: &Path) -> (String, Vec<String>) {
    let out = Command::new(BIN)
        .args([
            "init",
            "--data-dir",
            dir.to_str().unwrap(),
            "--shares",
            "3",
            "--threshold",
            "2",
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
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let shares = v["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    (v["admin_token"].as_str().unwrap().to_owned(), shares)
}

/// Submits two unseal shares.
fn unseal_with(s: &Server, shares: &[String]) {
    for share in &shares[..2] {
        s.ok("", &["unseal", "--share", share]);
    }
}

/// Counts the keys and restore markers in the database file at `db` (beside the running
/// server, or after it), until `until` says stop; returns the last counts.
fn watch_db(db: &Path, mut until: impl FnMut(i64, i64) -> bool) -> (i64, i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::{Connection, Row};
        let url = format!("sqlite://{}", db.display());
        let mut c = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
        loop {
            let keys: i64 = sqlx::query("SELECT count(*) FROM keys")
                .fetch_one(&mut c)
                .await
                .unwrap()
                .get(0);
            let markers: i64 =
                sqlx::query("SELECT count(*) FROM system WHERE name = 'restore-in-progress'")
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
                    .get(0);
            if until(keys, markers) {
                c.close().await.unwrap();
                return (keys, markers);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
}

#[test]
fn a_restore_killed_part_way_is_finished_by_running_it_again() {
    let dir = TempDir::new("bk-resume");
    let src = Server::dev(&dir.0.join("src").tap_mkdir());
    let admin = src.admin_token();
    let manager = src.token(&admin, "mgr", "key-manager");
    let user = src.token(&admin, "app", "key-user");
    // Data encrypted before the backup, under keys with several versions.
    let mut ciphertexts = Vec::new();
    for i in 0..3 {
        let name = format!("data-{i}");
        src.ok(
            &manager,
            &["key", "create", "--alg", "aes-256", "--name", &name],
        );
        src.ok(
            &manager,
            &[
                "grant",
                "create",
                &name,
                "--to",
                "app",
                "--ops",
                "encrypt,decrypt",
            ],
        );
        for round in 0..2 {
            let text = format!("{name} round {round}");
            let ct = src.ok(&user, &["encrypt", &name, "--plaintext", &text]);
            ciphertexts.push((ct.trim().to_owned(), text));
            src.ok(&manager, &["key", "rotate", &name]);
        }
    }
    // Enough keys for many restore batches (500 writes each: a key and its version are two).
    let keys_per_thread = 600;
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (src, manager) = (&src, &manager);
            scope.spawn(move || {
                let http = src.http();
                for i in 0..keys_per_thread {
                    let r = http
                        .post(src.url("/v1/keys"))
                        .bearer_auth(manager)
                        .json(&serde_json::json!({"algorithm": "aes-256", "name": format!("k{t}-{i}")}))
                        .send()
                        .unwrap();
                    assert!(r.status().is_success());
                }
            });
        }
    });
    let total = src.json(&manager, &["key", "list", "--all"])["keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(total, 3 + 4 * keys_per_thread);
    let (keys, keks, shares) = backup_with_shares(&src, &dir.0.join("out"));
    let mut restore_args = vec!["backup", "restore"];
    restore_args.extend(pair_args(&keys, &keks, &shares[..2]));

    // Restore into a sealed production server and kill it (-9) once some batches are in. A
    // restore that finished before the kill landed proves nothing: try again on a new server.
    let mut attempt = 0;
    let (mut dst, dst_admin, dst_shares, dst_dir) = loop {
        attempt += 1;
        assert!(attempt <= 4, "every restore finished before the kill");
        let dst_dir = dir.0.join(format!("dst{attempt}")).tap_mkdir();
        let (dst_admin, dst_shares) = init_sealed(&dst_dir);
        let mut dst = Server::sealed(&dst_dir);
        unseal_with(&dst, &dst_shares);
        let mut child = Command::new(BIN)
            .args(&restore_args)
            .env("KEYHOLD_ADDR", &dst.addr)
            .env("KEYHOLD_CACERT", &dst.ca)
            .env("KEYHOLD_TOKEN", &dst_admin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let db = dst_dir.join("keyhold.db");
        let (written, markers) = watch_db(&db, |keys, markers| {
            keys > 0 || (markers == 0 && matches!(child.try_wait(), Ok(Some(_))))
        });
        dst.kill9();
        let status = child.wait_with_output().unwrap();
        if written == 0 && markers == 0 {
            panic!(
                "the restore failed before writing: {}",
                String::from_utf8_lossy(&status.stderr)
            );
        }
        let (written, markers) = watch_db(&db, |_, _| true);
        if markers == 1 && (written as usize) < total {
            assert!(!status.status.success(), "the restore was killed");
            break (dst, dst_admin, dst_shares, dst_dir);
        }
        eprintln!("attempt {attempt}: the restore finished before the kill ({written} keys)");
    };

    // Restarted: sealed, then unsealed; health says a restore is interrupted.
    dst.restart();
    unseal_with(&dst, &dst_shares);
    let health: Value = dst
        .http()
        .get(dst.url("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["restore"]["state"], "interrupted", "{health}");
    let status = dst.ok(&dst_admin, &["status"]);
    assert!(
        status.contains("interrupted") && status.contains("keyhold backup restore"),
        "{status}"
    );

    // The same command again finishes it.
    let report = dst.json(&dst_admin, &restore_args);
    assert_eq!(report["counts"]["keys"].as_u64().unwrap(), total as u64);
    assert_eq!(
        dst.json(&manager, &["key", "list", "--all"])["keys"]
            .as_array()
            .unwrap()
            .len(),
        total
    );
    for (ct, text) in &ciphertexts {
        assert_eq!(&dst.ok(&user, &["decrypt", ct]), text);
    }
    // Keys restored before and after the kill both work.
    dst.ok(
        &manager,
        &[
            "grant",
            "create",
            "k0-0",
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    dst.ok(
        &manager,
        &[
            "grant",
            "create",
            "k3-599",
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    for k in ["k0-0", "k3-599"] {
        let ct = dst.ok(&user, &["encrypt", k, "--plaintext", "after"]);
        assert_eq!(dst.ok(&user, &["decrypt", ct.trim()]), "after");
    }
    let health: Value = dst
        .http()
        .get(dst.url("/v1/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health.get("restore").is_none(), "{health}");
    // Finished: a second restore is refused as into any server that holds keys.
    let out = dst.cli(&dst_admin, &restore_args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds keys"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The trail names the resume and verifies.
    let auditor = dst.token(&dst_admin, "aud", "auditor");
    assert_eq!(dst.json(&auditor, &["audit", "verify"])["ok"], true);
    let trail = dst_dir.join("trail.jsonl");
    dst.ok(
        &auditor,
        &["audit", "export", "--out", trail.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&trail).unwrap();
    assert!(text
        .lines()
        .any(|l| l.contains("\"backup.restore\"") && l.contains("resumed")));
}

#[test]
fn scheduled_backups_run_keep_the_newest_and_report_failures() {
    let dir = TempDir::new("bk-sched");
    let data = dir.0.join("src").tap_mkdir();
    let dest = dir.0.join("dest").tap_mkdir();
    let (public_pem, private_pem) = recipient_pair();
    std::fs::write(dir.0.join("recipient.pem"), &public_pem).unwrap();
    std::fs::write(dir.0.join("private.pem"), &private_pem).unwrap();
    std::fs::write(
        data.join("keyhold.toml"),
        format!(
            "[backup]\ninterval = \"1s\"\ndir = \"{}\"\nretain = 2\nrecipient = \"{}\"\n",
            dest.display(),
            dir.0.join("recipient.pem").display()
        ),
    )
    .unwrap();
    let s = Server::dev(&data);
    let admin = s.admin_token();
    let manager = s.token(&admin, "mgr", "key-manager");
    s.ok(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "k"],
    );
    let health = |s: &Server| -> Value {
        s.http()
            .get(s.url("/v1/health"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let mut ok = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let pairs = std::fs::read_dir(&dest)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "keks")
            })
            .count();
        if health(&s)["backup"]["status"] == "ok" && pairs >= 1 {
            ok = true;
            break;
        }
    }
    assert!(ok, "no scheduled backup: {}", health(&s));
    std::thread::sleep(Duration::from_millis(3500));
    let keks: Vec<PathBuf> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "keks"))
        .collect();
    assert!(keks.len() <= 2, "retention keeps 2, found {}", keks.len());
    let keys = keks[0].with_extension("keys");
    s.ok(
        &admin,
        &[
            "backup",
            "verify",
            "--key-backup",
            keys.to_str().unwrap(),
            "--kek-backup",
            keks[0].to_str().unwrap(),
            "--private-key",
            dir.0.join("private.pem").to_str().unwrap(),
        ],
    );
    // The destination disappears: the next backups fail, visibly.
    std::fs::remove_dir_all(&dest).unwrap();
    let mut failing = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        if health(&s)["backup"]["status"] == "failing" {
            failing = true;
            break;
        }
    }
    assert!(failing, "{}", health(&s));
    // The failure shows at the top of health and in `keyhold status`.
    assert_eq!(health(&s)["status"], "degraded");
    let status = s.ok(&admin, &["status"]);
    assert!(
        status.contains("degraded") && status.contains("failing"),
        "{status}"
    );
    let metrics = s
        .http()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("keyhold_backup_failing 1"), "{metrics}");
    let auditor = s.token(&admin, "aud", "auditor");
    let trail = dir.0.join("trail.jsonl");
    s.ok(
        &auditor,
        &["audit", "export", "--out", trail.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&trail).unwrap();
    assert!(text
        .lines()
        .any(|l| l.contains("\"backup.scheduled\"") && l.contains("\"error\"")));
    assert!(text
        .lines()
        .any(|l| l.contains("\"backup.scheduled\"") && l.contains("\"ok\"")));
}

/// An RSA-3072 recipient key pair: (public PEM, private PKCS#8 PEM).
fn recipient_pair() -> (String, String) {
    let p = Provider::aws_lc();
    let m = p.generate(Algorithm::Rsa3072).unwrap();
    let public = p.public_key_pem(m.public.as_ref().unwrap());
    let b64 = base64_of(m.private.as_bytes());
    let mut private = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        private.push_str(std::str::from_utf8(line).unwrap());
        private.push('\n');
    }
    private.push_str("-----END PRIVATE KEY-----\n");
    (public, private)
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

trait TapMkdir {
    fn tap_mkdir(self) -> PathBuf;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
