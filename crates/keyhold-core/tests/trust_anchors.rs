//! Trust anchors: a certificate issued under a registered CA authenticates with the anchor's
//! roles in its tenant, through intermediates too; expired, unknown, removed or mis-issued
//! chains are refused, by the core and by the TLS check alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keyhold_core::clock::Timestamp;
use keyhold_core::ids::TrustAnchorId;
use keyhold_core::model::{Role, Roles, TrustAnchorRecord};
use keyhold_core::ops::*;
use keyhold_core::{ClientChain, Credential, ErrorCode, KmsError, Operation, Response};
use keyhold_testkit::pki::Ca;

const NOW_SECS: i64 = START / 1000;

fn add(ca: &Ca, tenant: Option<&str>, roles: &[Role]) -> Operation {
    Operation::AddTrustAnchor(AddTrustAnchor {
        certificate: ca.cert.der.clone(),
        tenant: tenant.map(|t| t.parse().unwrap()),
        roles: Roles::of(roles),
        allow_combined_duties: false,
        description: "test CA".into(),
    })
}

async fn anchor(w: &World, who: &Credential, op: Operation) -> Result<TrustAnchorRecord, KmsError> {
    match w.run(who, op).await? {
        Response::TrustAnchor(a) => Ok(*a),
        other => panic!("anchor: {other:?}"),
    }
}

/// A request to pin `der` (subject `CN=<cn>`) as `principal`, an auditor.
fn pin_as_auditor(der: &[u8], cn: &str, principal: &str) -> Operation {
    Operation::RegisterClientCert(RegisterClientCert {
        certificate: der.to_vec(),
        subject: format!("CN={cn}"),
        not_after: None,
        principal: principal.parse().unwrap(),
        roles: Roles::one(Role::Auditor),
        allow_combined_duties: false,
        description: String::new(),
    })
}

fn cert(chain: &[&[u8]]) -> Credential {
    Credential::Certificate(ClientChain::new(chain.iter().map(|c| c.to_vec()).collect()))
}

async fn whoami(w: &World, who: &Credential) -> Result<WhoAmIResponse, KmsError> {
    match w.run(who, Operation::WhoAmI(WhoAmI {})).await? {
        Response::WhoAmI(me) => Ok(me),
        other => panic!("whoami: {other:?}"),
    }
}

/// The core and the TLS listeners' check agree on `chain`; returns the core's answer.
async fn both(w: &World, chain: &[&[u8]]) -> Result<WhoAmIResponse, KmsError> {
    let core = whoami(w, &cert(chain)).await;
    assert_eq!(
        w.kms.client_trust().accepts(chain, w.kms.now()),
        core.is_ok(),
        "TLS check and core disagree: {core:?}"
    );
    core
}

fn refused(r: Result<WhoAmIResponse, KmsError>) {
    assert_eq!(r.expect_err("refused").code(), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn a_certificate_issued_under_an_anchor_authenticates_with_its_roles() {
    let w = World::new().await;
    let ca = Ca::root("Acme CA", NOW_SECS);
    let a = anchor(&w, &w.admin, add(&ca, None, &[Role::KeyUser]))
        .await
        .unwrap();
    assert_eq!(a.tenant.as_str(), "default");
    let leaf = ca.issue("billing-app");
    let me = both(&w, &[&leaf.der]).await.unwrap();
    assert_eq!(me.principal.as_str(), "billing-app");
    assert_eq!(me.roles, Roles::one(Role::KeyUser));
    // Through an intermediate the client sends along.
    let issuing = ca.intermediate("Acme Issuing CA", true);
    let leaf2 = issuing.issue("svc");
    assert_eq!(
        both(&w, &[&leaf2.der, &issuing.cert.der])
            .await
            .unwrap()
            .principal
            .as_str(),
        "svc"
    );
    refused(both(&w, &[&leaf2.der]).await);
    // An intermediate whose keyUsage forbids signing certificates vouches for nothing.
    let bad = ca.intermediate("Signing Only", false);
    refused(both(&w, &[&bad.issue("x").der, &bad.cert.der]).await);
    // Expired, unregistered, garbage.
    refused(both(&w, &[&ca.issue_expired("old").der]).await);
    let stranger = Ca::root("Stranger CA", NOW_SECS);
    refused(both(&w, &[&stranger.issue("billing-app").der]).await);
    refused(both(&w, &[b"not a certificate".as_slice()]).await);
    // The CA itself is not a client.
    refused(both(&w, &[&ca.cert.der]).await);
    // Past the leaf's notAfter, although its authentication is cached.
    assert!(w.kms.cache_sizes().certs >= 1);
    w.clock.advance_secs(91 * 86_400);
    refused(both(&w, &[&leaf.der]).await);
}

#[tokio::test]
async fn removing_an_anchor_refuses_its_certificates_at_once() {
    let w = World::new().await;
    let ca = Ca::root("Acme CA", NOW_SECS);
    let a = anchor(&w, &w.admin, add(&ca, None, &[Role::KeyManager]))
        .await
        .unwrap();
    let leaf = ca.issue("ops");
    both(&w, &[&leaf.der]).await.unwrap();
    // The second request is decided from the cache, which the removal must empty.
    both(&w, &[&leaf.der]).await.unwrap();
    assert!(w.kms.cache_sizes().certs >= 1);
    let removed = anchor(
        &w,
        &w.admin,
        Operation::RemoveTrustAnchor(RemoveTrustAnchor { id: a.id }),
    )
    .await
    .unwrap();
    assert!(removed.removed_at.is_some());
    refused(both(&w, &[&leaf.der]).await);
    // Listed as removed; the same CA may be added again afterwards.
    let Response::TrustAnchors(list) = w
        .run(
            &w.admin,
            Operation::ListTrustAnchors(ListTrustAnchors::default()),
        )
        .await
        .unwrap()
    else {
        panic!("list")
    };
    assert_eq!(list.trust_anchors.len(), 1);
    anchor(&w, &w.admin, add(&ca, None, &[Role::KeyUser]))
        .await
        .unwrap();
    assert_eq!(
        both(&w, &[&leaf.der]).await.unwrap().roles,
        Roles::one(Role::KeyUser)
    );
}

#[tokio::test]
async fn a_revoked_pin_wins_over_an_anchor() {
    let w = World::new().await;
    let ca = Ca::root("Acme CA", NOW_SECS);
    anchor(&w, &w.admin, add(&ca, None, &[Role::KeyUser]))
        .await
        .unwrap();
    let leaf = ca.issue("app");
    let Response::ClientCert(pin) = w
        .run(&w.admin, pin_as_auditor(&leaf.der, "app", "pinned-app"))
        .await
        .unwrap()
    else {
        panic!("pin")
    };
    assert_eq!(
        both(&w, &[&leaf.der]).await.unwrap().principal.as_str(),
        "pinned-app"
    );
    w.run(
        &w.admin,
        Operation::RevokeClientCert(RevokeClientCert {
            fingerprint: pin.fingerprint,
        }),
    )
    .await
    .unwrap();
    refused(both(&w, &[&leaf.der]).await);
}

#[tokio::test]
async fn anchors_are_checked_when_added_and_unique_across_tenants() {
    let w = World::new().await;
    let code = |r: Result<TrustAnchorRecord, KmsError>| r.expect_err("refused").code();
    let not_ca = Ca::not_a_ca("Leafy", NOW_SECS);
    assert_eq!(
        code(anchor(&w, &w.admin, add(&not_ca, None, &[Role::KeyUser])).await),
        ErrorCode::InvalidRequest
    );
    let ca = Ca::root("Acme CA", NOW_SECS);
    for roles in [
        &[][..],
        &[Role::Admin, Role::Auditor],
        &[Role::KeyManager, Role::KeyUser],
    ] {
        assert_eq!(
            code(anchor(&w, &w.admin, add(&ca, None, roles)).await),
            ErrorCode::InvalidRequest
        );
    }
    let mut garbage = add(&ca, None, &[Role::KeyUser]);
    if let Operation::AddTrustAnchor(a) = &mut garbage {
        a.certificate = b"junk".to_vec();
    }
    assert_eq!(
        code(anchor(&w, &w.admin, garbage).await),
        ErrorCode::InvalidRequest
    );
    // Other roles than admin cannot add anchors.
    for who in [&w.manager, &w.user, &w.auditor] {
        assert_eq!(
            code(anchor(&w, who, add(&ca, None, &[Role::KeyUser])).await),
            ErrorCode::PermissionDenied
        );
    }
    w.create_tenant("beta").await;
    // In another tenant, the installation's administrators add admin-only anchors: a key-role
    // anchor would let them name any principal there and use its keys.
    for roles in [&[Role::KeyUser][..], &[Role::Admin, Role::Auditor]] {
        assert_eq!(
            code(anchor(&w, &w.admin, add(&ca, Some("beta"), roles)).await),
            ErrorCode::PermissionDenied
        );
    }
    let first = anchor(&w, &w.admin, add(&ca, Some("beta"), &[Role::Admin]))
        .await
        .unwrap();
    assert_eq!(first.tenant.as_str(), "beta");
    // The same CA cannot also vouch for the default tenant while beta trusts it.
    assert_eq!(
        code(anchor(&w, &w.admin, add(&ca, None, &[Role::KeyUser])).await),
        ErrorCode::AlreadyExists
    );
    let leaf = ca.issue("beta-app");
    assert_eq!(
        both(&w, &[&leaf.der]).await.unwrap().tenant.as_str(),
        "beta"
    );
    // A disabled tenant's certificates are refused by both checks.
    w.run(
        &w.admin,
        Operation::UpdateTenant(UpdateTenant {
            id: "beta".parse().unwrap(),
            disabled: true,
        }),
    )
    .await
    .unwrap();
    refused(both(&w, &[&leaf.der]).await);
    // An expired CA is refused when added.
    let later = Ca::root("Later CA", NOW_SECS - 2 * 365 * 86_400);
    assert_eq!(
        code(anchor(&w, &w.admin, add(&later, None, &[Role::KeyUser])).await),
        ErrorCode::InvalidRequest
    );
}

#[tokio::test]
async fn the_installation_admins_changes_to_a_tenants_anchors_name_that_tenant() {
    let w = World::new().await;
    w.create_tenant("acme").await;
    let ca = Ca::root("Acme admins CA", NOW_SECS);
    let added = anchor(&w, &w.admin, add(&ca, Some("acme"), &[Role::Admin]))
        .await
        .unwrap();
    w.run(
        &w.admin,
        Operation::ListTrustAnchors(ListTrustAnchors {
            tenant: Some("acme".parse().unwrap()),
        }),
    )
    .await
    .unwrap();
    w.run(
        &w.admin,
        Operation::RemoveTrustAnchor(RemoveTrustAnchor { id: added.id }),
    )
    .await
    .unwrap();
    // Its own anchors name no other tenant.
    anchor(
        &w,
        &w.admin,
        add(&Ca::root("Home CA", NOW_SECS), None, &[Role::Auditor]),
    )
    .await
    .unwrap();
    let all = w.audit_export(&w.auditor).await;
    let targets: Vec<(&str, Option<&str>)> = all
        .events
        .iter()
        .filter(|e| e.action.starts_with("trust-anchor."))
        .map(|e| {
            (
                e.action.as_str(),
                e.target_tenant.as_ref().map(|t| t.as_str()),
            )
        })
        .collect();
    assert_eq!(targets.len(), 4, "{targets:?}");
    assert!(
        targets[..3].iter().all(|(_, t)| *t == Some("acme")),
        "{targets:?}"
    );
    assert_eq!(targets[3].1, None, "{targets:?}");
}

#[tokio::test]
async fn a_tenant_admin_cannot_touch_another_tenants_anchors() {
    let w = World::new().await;
    let ca = Ca::root("Home CA", NOW_SECS);
    let home = anchor(&w, &w.admin, add(&ca, None, &[Role::KeyUser]))
        .await
        .unwrap();
    w.create_tenant("acme").await;
    let Response::CreatedToken(t) = w
        .run(
            &w.admin,
            Operation::CreateToken(CreateToken {
                principal: "boss".parse().unwrap(),
                role: Role::Admin,
                ttl_secs: None,
                description: String::new(),
                tenant: Some("acme".parse().unwrap()),
            }),
        )
        .await
        .unwrap()
    else {
        panic!("token")
    };
    let acme_admin = Credential::Bearer(t.token.0);
    let remove = |id| Operation::RemoveTrustAnchor(RemoveTrustAnchor { id });
    let foreign = w.run(&acme_admin, remove(home.id)).await.unwrap_err();
    let missing = w
        .run(&acme_admin, remove(TrustAnchorId::generate()))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), ErrorCode::NotFound);
    assert_eq!(foreign.to_string(), missing.to_string());
    let Response::TrustAnchors(list) = w
        .run(
            &acme_admin,
            Operation::ListTrustAnchors(ListTrustAnchors::default()),
        )
        .await
        .unwrap()
    else {
        panic!("list")
    };
    assert!(list.trust_anchors.is_empty());
    for named in ["default", "nowhere"] {
        let e = w
            .run(
                &acme_admin,
                Operation::ListTrustAnchors(ListTrustAnchors {
                    tenant: Some(named.parse().unwrap()),
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied, "{named}");
    }
    // Its own anchor makes principals of its own tenant.
    let acme_ca = Ca::root("Acme CA", NOW_SECS);
    anchor(&w, &acme_admin, add(&acme_ca, None, &[Role::Auditor]))
        .await
        .unwrap();
    let eve = acme_ca.issue("eve");
    let me = both(&w, &[&eve.der]).await.unwrap();
    assert_eq!(me.tenant.as_str(), "acme");
    // Another tenant's administrator cannot capture it by pinning it.
    let pin = |principal: &str| pin_as_auditor(&eve.der, "eve", principal);
    let e = w.run(&w.admin, pin("captured")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    // Its own tenant may pin it (to name it, or to revoke it).
    w.run(&acme_admin, pin("eve-pinned")).await.unwrap();
    let me = both(&w, &[&eve.der]).await.unwrap();
    assert_eq!(
        (me.tenant.as_str(), me.principal.as_str()),
        ("acme", "eve-pinned")
    );
    let _ = Timestamp::from_millis(0);
}

#[tokio::test]
async fn disabling_a_tenant_refuses_its_cached_certificates_at_once() {
    let w = World::new().await;
    w.create_tenant("acme").await;
    let ca = Ca::root("Acme CA", NOW_SECS);
    anchor(&w, &w.admin, add(&ca, Some("acme"), &[Role::Admin]))
        .await
        .unwrap();
    let leaf = ca.issue("acme-boss");
    for _ in 0..2 {
        assert_eq!(
            whoami(&w, &cert(&[&leaf.der]))
                .await
                .unwrap()
                .tenant
                .as_str(),
            "acme"
        );
    }
    assert!(w.kms.cache_sizes().certs >= 1);
    let set = |disabled| {
        Operation::UpdateTenant(UpdateTenant {
            id: "acme".parse().unwrap(),
            disabled,
        })
    };
    w.run(&w.admin, set(true)).await.unwrap();
    refused(whoami(&w, &cert(&[&leaf.der])).await);
    w.run(&w.admin, set(false)).await.unwrap();
    whoami(&w, &cert(&[&leaf.der])).await.unwrap();
}

/// A pin decides within its own tenant only: once another tenant trusts the certificate's
/// issuer, the certificate authenticates there, whatever a pin made earlier elsewhere says.
#[tokio::test]
async fn a_pin_does_not_capture_another_tenants_certificate() {
    let w = World::new().await;
    let ca = Ca::root("Acme CA", NOW_SECS);
    let leaf = ca.issue("app");
    // Pinned in the default tenant while nobody trusts its issuer.
    w.run(&w.admin, pin_as_auditor(&leaf.der, "app", "pinned-app"))
        .await
        .unwrap();
    assert_eq!(
        both(&w, &[&leaf.der]).await.unwrap().tenant.as_str(),
        "default"
    );
    w.create_tenant("acme").await;
    anchor(&w, &w.admin, add(&ca, Some("acme"), &[Role::Admin]))
        .await
        .unwrap();
    let me = both(&w, &[&leaf.der]).await.unwrap();
    assert_eq!((me.tenant.as_str(), me.principal.as_str()), ("acme", "app"));
}
