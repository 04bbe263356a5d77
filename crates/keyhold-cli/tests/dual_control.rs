//! Dual control and policy history through the CLI and raw HTTPS against a real dev server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::{Server, TempDir};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_dual_controlled_destroy_runs_after_two_approvals() {
    let dir = TempDir::new("dual-control");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let alice = s.token(&admin, "alice", "key-manager");
    let bob = s.token(&admin, "bob", "key-manager");
    let carol = s.token(&admin, "carol", "key-manager");
    let user = s.token(&admin, "app", "key-user");
    let auditor = s.token(&admin, "audrey", "auditor");

    let policy = s.json(
        &admin,
        &[
            "approval",
            "policy",
            "set",
            "--action",
            "key.destroy,key.schedule-destroy",
            "--approvals",
            "2",
            "--approver",
            "bob",
            "--approver",
            "carol",
            "--approver",
            "dave",
            "--ttl",
            "12h",
        ],
    );
    assert_eq!(policy["version"], 1);
    assert_eq!(policy["policy"]["rules"][0]["ttl_secs"], 43_200);

    s.ok(
        &alice,
        &["key", "create", "--alg", "aes-256", "--name", "doomed"],
    );
    s.ok(&alice, &["key", "deactivate", "doomed"]);

    // The request is held: exit code 3, the approval id on stdout.
    let held = s.cli(&alice, &["key", "destroy", "doomed"]);
    assert_eq!(held.status.code(), Some(3), "{}", stderr(&held));
    let id = String::from_utf8_lossy(&held.stdout).trim().to_owned();
    assert_eq!(id.len(), 36, "an approval id: {id}");
    assert!(
        stderr(&held).contains("approval required"),
        "{}",
        stderr(&held)
    );
    assert!(stderr(&held).contains("2 approval"), "{}", stderr(&held));

    // Over HTTPS the identical request answers 202 with the same pending approval.
    let resp = s
        .http()
        .post(s.url("/v1/keys/doomed/lifecycle"))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"action": "destroy"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["code"], "approval_required");
    assert_eq!(body["approval_id"], id.as_str());

    assert_eq!(
        s.json(&alice, &["key", "show", "doomed"])["state"],
        "deactivated"
    );

    // One approval: still pending, nothing destroyed.
    let first = s.json(&bob, &["approval", "approve", &id, "--comment", "checked"]);
    assert_eq!(first["status"], "pending");
    assert_eq!(first["approvals"].as_array().unwrap().len(), 1);
    // Bob again counts once; alice cannot approve her own request; a key user is not eligible.
    let again = s.json(&bob, &["approval", "approve", &id]);
    assert_eq!(again["approvals"].as_array().unwrap().len(), 1);
    let own = s.cli(&alice, &["approval", "approve", &id]);
    assert!(!own.status.success());
    assert!(stderr(&own).contains("own request"), "{}", stderr(&own));
    assert!(!s.cli(&user, &["approval", "approve", &id]).status.success());
    assert_eq!(
        s.json(&alice, &["key", "show", "doomed"])["state"],
        "deactivated"
    );
    let pending = s.ok(&carol, &["approval", "list", "--status", "pending"]);
    assert!(pending.contains(&id), "{pending}");

    // The second approval runs the destruction, as alice, once.
    let done = s.json(&carol, &["approval", "approve", &id]);
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["result"]["state"], "destroyed");
    assert_eq!(
        s.json(&alice, &["key", "show", "doomed"])["state"],
        "destroyed"
    );
    let shown = s.ok(&alice, &["approval", "show", &id]);
    assert!(shown.contains("executed"), "{shown}");
    assert!(!s.cli(&bob, &["approval", "approve", &id]).status.success());

    // Every step is in the audit trail, which still verifies.
    let out = s.ok(&auditor, &["audit", "export"]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |action: &str, principal: &str| {
        events
            .iter()
            .filter(|e| {
                e["action"] == action && e["principal"] == principal && e["outcome"] == "ok"
            })
            .count()
    };
    assert_eq!(count("approval.request", "alice"), 1);
    assert_eq!(count("approval.approve", "bob"), 2);
    assert_eq!(count("approval.approve", "carol"), 1);
    assert_eq!(count("key.destroy", "alice"), 1);
    s.ok(&auditor, &["audit", "verify"]);

    // The approval policy has a history and can be reverted.
    s.ok(
        &admin,
        &["approval", "policy", "remove", "--action", "key.destroy"],
    );
    let history = s.ok(&admin, &["approval", "policy", "history"]);
    assert!(history.lines().count() >= 3, "{history}");
    let reverted = s.json(&admin, &["approval", "policy", "revert", "--to", "1"]);
    assert_eq!(reverted["version"], 3);
    assert_eq!(
        reverted["policy"]["rules"][0]["actions"],
        serde_json::json!(["key.destroy", "key.schedule-destroy"])
    );
}

#[test]
fn key_policy_conditions_history_and_revert_through_the_cli() {
    let dir = TempDir::new("key-policy");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let manager = s.token(&admin, "alice", "key-manager");
    let app = s.token(&admin, "app", "key-user");
    s.ok(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", "k"],
    );
    let grant = s.json(
        &manager,
        &[
            "grant",
            "create",
            "k",
            "--to-role",
            "key-user",
            "--ops",
            "encrypt,decrypt",
            "--require-context",
            "app=billing",
            "--max-uses",
            "2",
        ],
    );
    assert_eq!(grant["grantee"], serde_json::json!({"role": "key-user"}));
    let refused = s.cli(&app, &["encrypt", "k", "--plaintext", "x"]);
    assert!(
        stderr(&refused).contains("encryption-context"),
        "{}",
        stderr(&refused)
    );
    s.ok(
        &app,
        &[
            "encrypt",
            "k",
            "--plaintext",
            "x",
            "--context",
            "app=billing",
        ],
    );
    s.ok(
        &app,
        &[
            "encrypt",
            "k",
            "--plaintext",
            "x",
            "--context",
            "app=billing",
        ],
    );
    let spent = s.cli(
        &app,
        &[
            "encrypt",
            "k",
            "--plaintext",
            "x",
            "--context",
            "app=billing",
        ],
    );
    assert!(stderr(&spent).contains("exhausted"), "{}", stderr(&spent));

    let id = grant["id"].as_str().unwrap();
    s.ok(&manager, &["grant", "revoke", id]);
    let history = s.json(&manager, &["policy", "history", "k"]);
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["changed_by"], "alice");
    let reverted = s.json(&manager, &["policy", "revert", "k", "--to", "1"]);
    assert_eq!(reverted["grants"][0]["id"], id);
    // The reverted grant keeps its count: its uses stay spent.
    let still = s.cli(
        &app,
        &[
            "encrypt",
            "k",
            "--plaintext",
            "x",
            "--context",
            "app=billing",
        ],
    );
    assert!(stderr(&still).contains("exhausted"), "{}", stderr(&still));
    let text = s.ok(&manager, &["policy", "history", "k"]);
    assert!(text.contains("revert to version 1"), "{text}");

    // The duties setting: only administrators, versioned.
    assert!(!s
        .cli(
            &manager,
            &["duties", "set", "--allow-combined-duties", "false"]
        )
        .status
        .success());
    let d = s.json(&admin, &["duties", "show"]);
    assert_eq!(d["allow_combined_duties"], true, "serve --dev allows them");
    s.ok(
        &admin,
        &["duties", "set", "--allow-combined-duties", "false"],
    );
    assert_eq!(s.json(&admin, &["duties", "show"])["version"], 2);
}

#[test]
fn a_request_not_approved_in_time_expires() {
    let dir = TempDir::new("dual-control-expiry");
    let s = Server::dev(&dir.0);
    let admin = s.admin_token();
    let alice = s.token(&admin, "alice", "key-manager");
    let bob = s.token(&admin, "bob", "key-manager");
    s.ok(
        &admin,
        &[
            "approval",
            "policy",
            "set",
            "--action",
            "key.destroy",
            "--approvals",
            "1",
            "--approver",
            "bob",
            "--ttl",
            "2s",
        ],
    );
    s.ok(
        &alice,
        &["key", "create", "--alg", "aes-256", "--name", "slow"],
    );
    s.ok(&alice, &["key", "deactivate", "slow"]);
    let held = s.cli(&alice, &["key", "destroy", "slow"]);
    assert_eq!(held.status.code(), Some(3), "{}", stderr(&held));
    let id = String::from_utf8_lossy(&held.stdout).trim().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let late = s.cli(&bob, &["approval", "approve", &id]);
    assert!(!late.status.success());
    assert!(stderr(&late).contains("expired"), "{}", stderr(&late));
    let shown = s.json(&bob, &["approval", "show", &id]);
    assert_eq!(shown["status"], "expired", "{shown}");
    let key = s.json(&alice, &["key", "show", "slow"]);
    assert_eq!(key["state"], "deactivated", "nothing ran: {key}");
}
