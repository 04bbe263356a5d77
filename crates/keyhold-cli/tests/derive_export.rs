//! Derive Key and export over REST, from the CLI. The results are checked against the same
//! functions computed here on known material.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keyhold_crypto::{KdfHash, Provider};
use serde_json::Value;
use support::{Server, TempDir};

const BASE: [u8; 32] = [7; 32];
const KEK: [u8; 32] = [9; 32];

#[test]
fn a_key_derived_and_exported_over_rest_is_the_one_computed_from_its_base() {
    let dir = TempDir::new("derive");
    let s = Server::dev(&dir.0);
    // The dev server's client certificate holds key-manager and key-user (combined duties), as
    // deriving needs: a key manager's role and a `derive` grant.
    let cert = dir.0.join("kmip-client.pem");
    let key = dir.0.join("kmip-client.key");
    let run = |args: &[&str]| {
        let mut full = vec![
            "--json",
            "--client-cert",
            cert.to_str().unwrap(),
            "--client-key",
            key.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        s.cli("", &full)
    };
    let ok = |args: &[&str]| -> Value {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    // A key manager without the key-user role imports the two keys, so the client holds no
    // grant on them until one is made below. (What a client with combined duties imports or
    // creates, it holds the owner grant on.)
    let manager = s.token(&s.admin_token(), "importer", "key-manager");
    let import = |name: &str, material: &[u8], extra: &[&str]| {
        let path = file(&format!("{name}.bin"), material);
        let args = [
            "key",
            "import",
            "--alg",
            "aes-256",
            "--material",
            &path,
            "--name",
            name,
        ];
        s.json(&manager, &[args.as_slice(), extra].concat())
    };
    import("base", &BASE, &["--usage", "derive"]);
    import("kek", &KEK, &[]);
    let salt = STANDARD.encode("salt");
    let info = STANDARD.encode("info");
    let derive = [
        "key", "derive", "base", "--alg", "aes-256", "--method", "hkdf", "--salt", &salt, "--info",
        &info, "--name", "derived",
    ];
    let refused = run(&derive);
    assert!(!refused.status.success(), "no derive grant yet");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("permission"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    ok(&[
        "grant",
        "create",
        "base",
        "--to",
        "kmip-client",
        "--ops",
        "derive",
    ]);
    let derived = ok(&derive);
    assert_eq!(derived["algorithm"], "aes-256");
    let expected = Provider::aws_lc()
        .hkdf(KdfHash::Sha256, &BASE, b"salt", b"info", 32)
        .unwrap();

    // In the clear: the client derived the key, so it holds the owner grant on it.
    let clear = ok(&["key", "export", "derived"]);
    assert!(clear["wrapped_by"].is_null(), "{clear}");
    let material = STANDARD
        .decode(clear["material"].as_str().unwrap())
        .unwrap();
    assert_eq!(material, expected.as_bytes());

    // Wrapped under the other key, which needs an encrypt grant on it.
    let wrap = [
        "key",
        "export",
        "derived",
        "--wrap-key",
        "kek",
        "--wrap-mode",
        "aes-key-wrap",
    ];
    assert!(!run(&wrap).status.success(), "no encrypt grant on the KEK");
    ok(&[
        "grant",
        "create",
        "kek",
        "--to",
        "kmip-client",
        "--ops",
        "encrypt",
    ]);
    let wrapped = ok(&wrap);
    assert_eq!(wrapped["wrapped_by"]["mode"], "aes-key-wrap", "{wrapped}");
    let bytes = STANDARD
        .decode(wrapped["material"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 40);
    let unwrapped = Provider::aws_lc().aes_kw_unwrap(&KEK, &bytes).unwrap();
    assert_eq!(unwrapped.as_bytes(), expected.as_bytes());

    // To a file readable by its owner only.
    let out = dir.0.join("derived.bin");
    let shown = ok(&["key", "export", "derived", "--out", out.to_str().unwrap()]);
    assert!(shown.get("material").is_none(), "only in the file: {shown}");
    assert_eq!(std::fs::read(&out).unwrap(), expected.as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
