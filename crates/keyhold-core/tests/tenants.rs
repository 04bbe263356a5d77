//! Tenants as walls: created by the installation's administrator with their own KEK, their own
//! principals, keys and audit view; disabled and enabled at once; never readable from outside.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_core::audit::Outcome;
use keyhold_core::ids::{KeyRef, TenantId};
use keyhold_core::model::Role;
use keyhold_core::ops::*;
use keyhold_core::{Algorithm, Credential, ErrorCode, KmsError, Operation, Response};

fn tenant(s: &str) -> TenantId {
    s.parse().unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, KmsError>) -> ErrorCode {
    r.expect_err("expected a refusal").code()
}

async fn token_in(
    w: &World,
    who: &Credential,
    tenant: Option<&str>,
    name: &str,
    role: Role,
) -> Result<Credential, KmsError> {
    match w
        .run(
            who,
            Operation::CreateToken(CreateToken {
                principal: name.parse().unwrap(),
                role,
                ttl_secs: None,
                description: String::new(),
                tenant: tenant.map(|t| t.parse().unwrap()),
            }),
        )
        .await?
    {
        Response::CreatedToken(t) => Ok(Credential::Bearer(t.token.0)),
        other => panic!("token: {other:?}"),
    }
}

/// A tenant with an admin, a key manager, a key user and an auditor, and one AES key the user
/// may use.
struct Tenant {
    admin: Credential,
    manager: Credential,
    user: Credential,
    auditor: Credential,
    key: KeyInfo,
}

async fn populated(w: &World, id: &str) -> Tenant {
    w.create_tenant(id).await;
    let admin = token_in(w, &w.admin, Some(id), "boss", Role::Admin)
        .await
        .unwrap();
    let manager = token_in(w, &admin, None, "keeper", Role::KeyManager)
        .await
        .unwrap();
    let user = token_in(w, &admin, None, "app", Role::KeyUser)
        .await
        .unwrap();
    let auditor = token_in(w, &admin, None, "eve", Role::Auditor)
        .await
        .unwrap();
    let key = key_info(
        w.run(
            &manager,
            Operation::CreateKey(CreateKey {
                algorithm: Algorithm::Aes256,
                spec: KeySpec::default(),
                idempotency_token: None,
            }),
        )
        .await
        .unwrap(),
    );
    w.run(
        &manager,
        Operation::CreateGrant(CreateGrant {
            key: key.id.into(),
            grantee: keyhold_core::ids::PrincipalName::try_from("app".to_owned())
                .unwrap()
                .into(),
            operations: [keyhold_core::model::KeyOp::Encrypt].into(),
            conditions: Default::default(),
        }),
    )
    .await
    .unwrap();
    Tenant {
        admin,
        manager,
        user,
        auditor,
        key,
    }
}

fn encrypt(key: &KeyInfo) -> Operation {
    Operation::Encrypt(Encrypt {
        key: KeyRef::from(key.id),
        plaintext: Some(SecretData(keyhold_core::SecretBytes::new(b"x".to_vec()))),
        context: Default::default(),
    })
}

#[tokio::test]
async fn a_new_tenant_gets_its_own_principals_and_keys() {
    let w = World::new().await;
    let acme = populated(&w, "acme").await;
    w.run(&acme.user, encrypt(&acme.key)).await.unwrap();
    let Response::WhoAmI(me) = w
        .run(&acme.user, Operation::WhoAmI(WhoAmI {}))
        .await
        .unwrap()
    else {
        panic!("whoami")
    };
    assert_eq!(me.tenant, tenant("acme"));
    // The new tenant's KEK is its own: the default tenant's key cannot be used from acme, and
    // acme's from the default tenant.
    let home = w.key(Algorithm::Aes256, |_| {}).await;
    assert_eq!(
        code(w.run(&acme.user, encrypt(&home)).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(w.run(&w.user, encrypt(&acme.key)).await),
        ErrorCode::NotFound
    );
    let Response::Tenants(list) = w
        .run(&w.admin, Operation::ListTenants(ListTenants {}))
        .await
        .unwrap()
    else {
        panic!("tenants")
    };
    let ids: Vec<String> = list.tenants.iter().map(|t| t.id.to_string()).collect();
    assert_eq!(ids, ["acme", "default"]);
    // A second node unwraps the tenant's KEK from the store when it first needs it.
    let other = w.other_node().await;
    other
        .run(&meta(), &acme.user, encrypt(&acme.key))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_installation_admin_manages_tenants_but_never_reads_their_keys() {
    let w = World::new().await;
    let acme = populated(&w, "acme").await;
    // Neither by id, nor by listing, nor by use.
    let describe = Operation::DescribeKey(DescribeKey {
        key: acme.key.id.into(),
    });
    assert_eq!(
        code(w.run(&w.admin, describe.clone()).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(w.run(&w.admin, encrypt(&acme.key)).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            w.run(&w.admin, Operation::ListKeys(ListKeys::default()))
                .await
        ),
        ErrorCode::PermissionDenied
    );
    // Its tokens for another tenant are admin tokens only.
    for role in [Role::KeyManager, Role::KeyUser, Role::Auditor] {
        assert_eq!(
            code(token_in(&w, &w.admin, Some("acme"), "sneaky", role).await),
            ErrorCode::PermissionDenied
        );
    }
    assert_eq!(
        code(token_in(&w, &w.admin, Some("nowhere"), "x", Role::Admin).await),
        ErrorCode::NotFound
    );
    // The tenant's own admin cannot read keys either.
    assert_eq!(
        code(w.run(&acme.admin, describe).await),
        ErrorCode::PermissionDenied
    );
}

#[tokio::test]
async fn only_the_installation_admin_creates_and_disables_tenants() {
    let w = World::new().await;
    let acme = populated(&w, "acme").await;
    let beta = populated(&w, "beta").await;
    for who in [&w.manager, &w.user, &w.auditor, &acme.admin, &acme.manager] {
        assert_eq!(
            code(
                w.run(
                    who,
                    Operation::CreateTenant(CreateTenant { id: tenant("x") })
                )
                .await
            ),
            ErrorCode::PermissionDenied
        );
        assert_eq!(
            code(w.run(who, Operation::ListTenants(ListTenants {})).await),
            ErrorCode::PermissionDenied
        );
        assert_eq!(
            code(
                w.run(
                    who,
                    Operation::UpdateTenant(UpdateTenant {
                        id: tenant("beta"),
                        disabled: true
                    })
                )
                .await
            ),
            ErrorCode::PermissionDenied
        );
    }
    // A tenant admin naming another tenant is refused alike whether that tenant exists or not.
    for other in ["beta", "nowhere"] {
        assert_eq!(
            code(token_in(&w, &acme.admin, Some(other), "x", Role::Admin).await),
            ErrorCode::PermissionDenied
        );
    }
    w.run(&beta.user, encrypt(&beta.key)).await.unwrap();
    assert_eq!(
        code(
            w.run(
                &w.admin,
                Operation::CreateTenant(CreateTenant { id: tenant("acme") })
            )
            .await
        ),
        ErrorCode::AlreadyExists
    );
    assert_eq!(
        code(
            w.run(
                &w.admin,
                Operation::UpdateTenant(UpdateTenant {
                    id: tenant("default"),
                    disabled: true
                })
            )
            .await
        ),
        ErrorCode::InvalidRequest
    );
}

#[tokio::test]
async fn disabling_a_tenant_refuses_its_tokens_at_once_and_enabling_restores_them() {
    let w = World::new().await;
    let acme = populated(&w, "acme").await;
    // The token is in the cache now.
    w.run(&acme.user, encrypt(&acme.key)).await.unwrap();
    let set = |disabled| {
        Operation::UpdateTenant(UpdateTenant {
            id: tenant("acme"),
            disabled,
        })
    };
    let Response::Tenant(t) = w.run(&w.admin, set(true)).await.unwrap() else {
        panic!("tenant")
    };
    assert!(t.disabled);
    for who in [&acme.user, &acme.admin, &acme.manager, &acme.auditor] {
        assert_eq!(
            code(w.run(who, Operation::WhoAmI(WhoAmI {})).await),
            ErrorCode::Unauthenticated
        );
    }
    // Other tenants go on.
    w.run(&w.manager, Operation::ListKeys(ListKeys::default()))
        .await
        .unwrap();
    w.run(&w.admin, set(false)).await.unwrap();
    w.run(&acme.user, encrypt(&acme.key)).await.unwrap();
    // Both changes are in the trail.
    let all = w.audit_export(&w.auditor).await;
    let actions: Vec<&str> = all
        .events
        .iter()
        .filter(|e| e.outcome == Outcome::Ok)
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("tenant."))
        .collect();
    assert_eq!(
        actions,
        ["tenant.create", "tenant.disable", "tenant.enable"]
    );
}

#[tokio::test]
async fn a_tenant_auditor_sees_only_its_tenant_events() {
    let w = World::new().await;
    let acme = populated(&w, "acme").await;
    let beta = populated(&w, "beta").await;
    w.run(&beta.user, encrypt(&beta.key)).await.unwrap();
    w.run(&acme.user, encrypt(&acme.key)).await.unwrap();
    let w = &w;
    let export = |who: Credential, limit| async move {
        let Response::AuditExport(page) = w
            .run(
                &who,
                Operation::AuditExport(AuditExport {
                    from_seq: None,
                    limit,
                }),
            )
            .await
            .unwrap()
        else {
            panic!("export")
        };
        page
    };
    let page = export(acme.auditor.clone(), None).await;
    assert!(!page.events.is_empty());
    assert!(page.events.iter().all(|e| e.concerns(&tenant("acme"))));
    assert!(page.events.iter().all(|e| !e.concerns(&tenant("beta"))));
    assert!(page.events.iter().any(|e| e.action == "encrypt"));
    assert_eq!(page.next_seq, None);
    // Paging by the tenant's events.
    let first = export(acme.auditor.clone(), Some(2)).await;
    assert_eq!(first.events.len(), 2);
    assert!(first.next_seq.is_some());
    let everything = export(w.auditor.clone(), None).await;
    assert!(everything
        .events
        .iter()
        .any(|e| e.tenant == Some(tenant("beta"))));
    let Response::AuditVerify(v) = w
        .run(&acme.auditor, Operation::AuditVerify(AuditVerify {}))
        .await
        .unwrap()
    else {
        panic!("verify")
    };
    assert!(v.ok);
    assert_eq!(v.events, page.events.len() as u64 + 2, "+ the two exports");
    let _ = (
        acme.admin,
        acme.manager,
        beta.admin,
        beta.manager,
        beta.auditor,
    );
}

#[tokio::test]
async fn a_tenant_auditor_sees_what_the_installation_admin_did_to_the_tenant() {
    let w = World::new().await;
    let acme = populated(&w, "acme").await;
    let _beta = populated(&w, "beta").await;
    let set = |disabled| {
        Operation::UpdateTenant(UpdateTenant {
            id: tenant("acme"),
            disabled,
        })
    };
    w.run(&w.admin, set(true)).await.unwrap();
    w.run(&w.admin, set(false)).await.unwrap();
    // A refused attempt on the tenant is in its view too.
    let refused = token_in(&w, &w.admin, Some("acme"), "mallory", Role::KeyUser).await;
    assert_eq!(code(refused), ErrorCode::PermissionDenied);
    // An installation admin's work in its own tenant is not in acme's view.
    token_in(&w, &w.admin, None, "ops", Role::Auditor)
        .await
        .unwrap();
    let page = w.audit_export(&acme.auditor).await;
    let by_installation: Vec<(&str, Outcome)> = page
        .events
        .iter()
        .filter(|e| e.tenant == Some(TenantId::default_tenant()))
        .map(|e| {
            assert_eq!(e.target_tenant, Some(tenant("acme")), "{e:?}");
            (e.action.as_str(), e.outcome)
        })
        .collect();
    assert_eq!(
        by_installation,
        [
            ("tenant.create", Outcome::Ok),
            ("token.create", Outcome::Ok),
            ("tenant.disable", Outcome::Ok),
            ("tenant.enable", Outcome::Ok),
            ("token.create", Outcome::Denied),
        ]
    );
    // The installation's auditor sees the same events in the whole trail.
    let all = w.audit_export(&w.auditor).await;
    let targets = |t: &str| {
        all.events
            .iter()
            .filter(|e| e.target_tenant == Some(tenant(t)))
            .count()
    };
    assert_eq!(targets("acme"), 5);
    assert_eq!(targets("beta"), 2);
    // A tenant's own principals never name a target: nothing of theirs reaches another view.
    assert!(all
        .events
        .iter()
        .filter(|e| e.tenant != Some(TenantId::default_tenant()))
        .all(|e| e.target_tenant.is_none()));
}

#[tokio::test]
async fn tenant_ids_are_validated() {
    for bad in ["", "Acme", "a_b", "a.b", &"x".repeat(64)] {
        assert!(bad.parse::<TenantId>().is_err(), "{bad}");
    }
    let w = World::new().await;
    let r: Result<CreateTenant, _> = serde_json::from_str(r#"{"id":"Not Valid"}"#);
    assert!(r.is_err());
    w.create_tenant("a-1").await;
}
