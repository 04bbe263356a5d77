//! The README's five-minute tour, end to end through the CLI against a real dev server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Server, TempDir};

#[test]
fn five_minute_tour() {
    let dir = TempDir::new("tour");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    assert_eq!(
        s.json(&admin, &["whoami"])["roles"],
        serde_json::json!(["admin"])
    );

    // Separated duties: a key manager and a key user.
    let manager = s.token(&admin, "alice", "key-manager");
    let user = s.token(&admin, "app", "key-user");
    let auditor = s.token(&admin, "audrey", "auditor");

    // Create, name, alias, grant.
    let key = s.json(
        &manager,
        &[
            "key", "create", "--alg", "aes-256", "--name", "billing", "--tag", "team=pay",
        ],
    );
    let id = key["id"].as_str().unwrap().to_owned();
    assert_eq!(key["state"], "active");
    s.ok(&manager, &["key", "alias", "create", "alias/billing", &id]);
    s.ok(
        &manager,
        &[
            "grant",
            "create",
            "alias/billing",
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt,re-encrypt,generate-data-key",
        ],
    );

    // Encrypt and decrypt through the alias, with a context.
    let ct = s.ok(
        &user,
        &[
            "encrypt",
            "alias/billing",
            "--plaintext",
            "card 4111",
            "--context",
            "order=42",
        ],
    );
    let ct = ct.trim();
    let pt = s.ok(&user, &["decrypt", ct, "--context", "order=42"]);
    assert_eq!(pt, "card 4111");
    let wrong = s.cli(&user, &["decrypt", ct, "--context", "order=43"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("invalid_ciphertext"));

    // The manager cannot decrypt; the user cannot destroy.
    assert!(!s
        .cli(&manager, &["decrypt", ct, "--context", "order=42"])
        .status
        .success());
    assert!(!s
        .cli(&user, &["key", "schedule-destroy", "billing"])
        .status
        .success());

    // Rotate; old ciphertext still decrypts; re-encrypt moves it to version 2.
    let rotated = s.json(&manager, &["key", "rotate", "billing"]);
    assert_eq!(rotated["current_version"], 2);
    assert_eq!(
        s.ok(&user, &["decrypt", ct, "--context", "order=42"]),
        "card 4111"
    );
    let re = s.json(&user, &["reencrypt", ct, "--context", "order=42"]);
    assert_eq!(re["key_version"], 2);
    s.ok(
        &manager,
        &["key", "update", "billing", "--min-decrypt-version", "2"],
    );
    assert!(!s
        .cli(&user, &["decrypt", ct, "--context", "order=42"])
        .status
        .success());
    let re_ct = re["ciphertext"].as_str().unwrap();
    assert_eq!(
        s.ok(&user, &["decrypt", re_ct, "--context", "order=42"]),
        "card 4111"
    );

    // Data keys.
    let dk = s.json(&user, &["datakey", "billing"]);
    assert!(dk["plaintext"].is_string() && dk["ciphertext"].is_string());

    // Signing and MACs.
    let ec = s.json(
        &manager,
        &["key", "create", "--alg", "ec-p256", "--name", "signer"],
    );
    let hm = s.json(
        &manager,
        &["key", "create", "--alg", "hmac-sha256", "--name", "macer"],
    );
    for k in [&ec, &hm] {
        s.ok(
            &manager,
            &[
                "grant",
                "create",
                k["id"].as_str().unwrap(),
                "--to",
                "app",
                "--ops",
                "sign,verify,mac,mac-verify,get-public-key",
            ],
        );
    }
    let sig = s.ok(&user, &["sign", "signer", "--message", "release 1.0"]);
    assert!(s
        .cli(
            &user,
            &[
                "verify",
                "signer",
                "--message",
                "release 1.0",
                "--signature",
                sig.trim()
            ]
        )
        .status
        .success());
    assert!(!s
        .cli(
            &user,
            &[
                "verify",
                "signer",
                "--message",
                "release 1.1",
                "--signature",
                sig.trim()
            ]
        )
        .status
        .success());
    let pem = s.ok(&user, &["key", "public-key", "signer"]);
    assert!(pem.contains("BEGIN PUBLIC KEY"));
    let mac = s.ok(&user, &["mac", "macer", "--message", "hello"]);
    assert!(s
        .cli(
            &user,
            &[
                "mac-verify",
                "macer",
                "--message",
                "hello",
                "--mac",
                mac.trim()
            ]
        )
        .status
        .success());
    let rnd = s.ok(&user, &["random", "--bytes", "16", "--hex"]);
    assert_eq!(rnd.trim().len(), 32);

    // Envelope encryption of a file larger than one chunk.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let plain = dir.0.join("big.bin");
    let sealed = dir.0.join("big.khenv");
    let back = dir.0.join("big.out");
    std::fs::write(&plain, &big).unwrap();
    s.ok(
        &user,
        &[
            "encrypt-file",
            "billing",
            "--in",
            plain.to_str().unwrap(),
            "--out",
            sealed.to_str().unwrap(),
        ],
    );
    s.ok(
        &user,
        &[
            "decrypt-file",
            "--in",
            sealed.to_str().unwrap(),
            "--out",
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&back).unwrap(), big);

    // List and show.
    let list = s.json(&manager, &["key", "list", "--tag", "team=pay"]);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    let shown = s.json(&manager, &["key", "show", "alias/billing"]);
    assert_eq!(shown["id"], id.as_str());

    // Life cycle.
    assert_eq!(
        s.json(&manager, &["key", "suspend", "signer"])["state"],
        "suspended"
    );
    assert!(!s
        .cli(&user, &["sign", "signer", "--message", "x"])
        .status
        .success());
    assert_eq!(
        s.json(&manager, &["key", "resume", "signer"])["state"],
        "active"
    );
    assert_eq!(
        s.json(&manager, &["key", "deactivate", "signer"])["state"],
        "deactivated"
    );
    assert!(s
        .cli(
            &user,
            &[
                "verify",
                "signer",
                "--message",
                "release 1.0",
                "--signature",
                sig.trim()
            ]
        )
        .status
        .success());
    let sched = s.json(
        &manager,
        &["key", "schedule-destroy", "signer", "--days", "7"],
    );
    assert!(sched["lifecycle"]["destroy_at"].is_string());
    s.ok(&manager, &["key", "cancel-destroy", "signer"]);
    assert_eq!(
        s.json(
            &manager,
            &["key", "revoke", "macer", "--reason", "key-compromise"]
        )["state"],
        "compromised"
    );
    let v = s.json(
        &user,
        &[
            "mac-verify",
            "macer",
            "--message",
            "hello",
            "--mac",
            mac.trim(),
        ],
    );
    assert_eq!(v["key_compromised"], true);
    assert_eq!(
        s.json(&manager, &["key", "destroy", "macer"])["state"],
        "destroyed-compromised"
    );

    // Audit: verify and export.
    let out = s.cli(&auditor, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = dir.0.join("audit.jsonl");
    s.ok(
        &auditor,
        &["audit", "export", "--out", export.to_str().unwrap()],
    );
    let lines = std::fs::read_to_string(&export).unwrap();
    assert!(lines.lines().count() > 30);
    assert!(lines.contains("\"action\":\"decrypt\""));
    assert!(
        !lines.contains("card 4111"),
        "no plaintext in the audit trail"
    );
    assert!(!lines.contains(&user), "no tokens in the audit trail");

    // Tokens: list and revoke.
    let tokens = s.json(&admin, &["token", "list"]);
    let app_token = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["principal"] == "app")
        .unwrap();
    s.ok(
        &admin,
        &["token", "revoke", app_token["id"].as_str().unwrap()],
    );
    let denied = s.cli(&user, &["whoami"]);
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("unauthenticated"));
}

#[test]
fn import_bring_your_own_key_never_stores_the_bytes_in_clear() {
    let dir = TempDir::new("import");
    let mut s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "alice", "key-manager");
    let user = s.token(&admin, "app", "key-user");
    // A recognizable 32-byte key.
    let material: Vec<u8> = b"IMPORTED-KEY-MATERIAL-0123456789".to_vec();
    let file = dir.0.join("key.bin");
    std::fs::write(&file, &material).unwrap();
    let key = s.json(
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
    assert_eq!(key["origin"], "imported");
    s.ok(
        &manager,
        &[
            "grant",
            "create",
            "byok",
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    let ct = s.ok(&user, &["encrypt", "byok", "--plaintext", "hi"]);
    assert_eq!(s.ok(&user, &["decrypt", ct.trim()]), "hi");
    s.stop();
    let hex = hex_of(&material);
    for name in ["keyhold.db", "keyhold.db-wal"] {
        let path = dir.0.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        assert!(
            !contains(&bytes, &material),
            "{name} contains the imported key bytes"
        );
        assert!(
            !contains(&bytes, hex.as_bytes()),
            "{name} contains the imported key in hex"
        );
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn import_private_keys_in_pkcs8() {
    let dir = TempDir::new("pkcs8");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "alice", "key-manager");
    let user = s.token(&admin, "app", "key-user");
    let crypto = keyhold_crypto::Provider::aws_lc();
    for (alg, name) in [
        ("ec-p384", "ec-imported"),
        ("ed25519", "ed-imported"),
        ("rsa-2048", "rsa-imported"),
    ] {
        let material = crypto.generate(alg.parse().unwrap()).unwrap();
        let file = dir.0.join(format!("{name}.der"));
        std::fs::write(&file, material.private.as_bytes()).unwrap();
        let key = s.json(
            &manager,
            &[
                "key",
                "import",
                "--alg",
                alg,
                "--material",
                file.to_str().unwrap(),
                "--format",
                "pkcs8-der",
                "--name",
                name,
            ],
        );
        assert_eq!(key["origin"], "imported");
        s.ok(
            &manager,
            &[
                "grant",
                "create",
                name,
                "--to",
                "app",
                "--ops",
                "sign,verify,get-public-key",
            ],
        );
        // The server holds exactly this key: its public half matches ours.
        let pem = s.ok(&user, &["key", "public-key", name]);
        let expected = crypto.public_key_pem(material.public.as_deref().unwrap());
        assert_eq!(pem.trim(), expected.trim(), "{alg}");
        let sig = s.ok(&user, &["sign", name, "--message", "imported"]);
        assert!(s
            .cli(
                &user,
                &[
                    "verify",
                    name,
                    "--message",
                    "imported",
                    "--signature",
                    sig.trim()
                ]
            )
            .status
            .success());
    }
    // Material that does not match the declared algorithm is refused with a clear error.
    let p256 = crypto.generate("ec-p256".parse().unwrap()).unwrap();
    let file = dir.0.join("p256.der");
    std::fs::write(&file, p256.private.as_bytes()).unwrap();
    let out = s.cli(
        &manager,
        &[
            "key",
            "import",
            "--alg",
            "ec-p384",
            "--material",
            file.to_str().unwrap(),
            "--format",
            "pkcs8-der",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_request"));
}
