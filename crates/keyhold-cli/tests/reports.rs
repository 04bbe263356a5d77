//! `keyhold report …` against a real server: JSON and readable output, auditors only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Server, TempDir};

#[test]
fn auditors_get_compliance_reports_from_the_cli() {
    let dir = TempDir::new("reports");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "ops", "key-manager");
    let user = s.token(&admin, "app", "key-user");
    let auditor = s.token(&admin, "audit", "auditor");
    s.ok(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "billing"],
    );
    s.ok(
        &manager,
        &[
            "grant",
            "create",
            "billing",
            "--to",
            "app",
            "--ops",
            "encrypt,decrypt",
        ],
    );
    s.ok(&user, &["encrypt", "billing", "--plaintext", "hello"]);

    let keys = s.json(&auditor, &["report", "keys"]);
    assert_eq!(keys["report"], "keys", "{keys}");
    assert_eq!(keys["total"], 1);
    assert_eq!(keys["by_algorithm"]["aes-256"], 1);

    let access = s.ok(&auditor, &["report", "access"]);
    assert!(
        access.contains("billing") && access.contains("app"),
        "{access}"
    );
    assert!(access.contains("encrypt,decrypt"), "{access}");

    let usage = s.json(&auditor, &["report", "usage"]);
    assert_eq!(usage["by_principal"]["app"]["encrypt"], 1, "{usage}");
    let readable = s.ok(
        &auditor,
        &["report", "usage", "--from", "2020-01-01T00:00:00Z"],
    );
    assert!(readable.contains("events"), "{readable}");

    let approvals = s.ok(&auditor, &["report", "approvals"]);
    assert!(approvals.contains("pending: 0"), "{approvals}");

    let refused = s.cli(&user, &["report", "keys"]);
    assert!(!refused.status.success());
    assert!(!s.cli(&auditor, &["report", "everything"]).status.success());
}
