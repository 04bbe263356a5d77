//! Client certificates: which chain authenticates whom. One decision, [`decide`], used by the
//! core's authentication (records read from the store) and by the TLS listeners' handshake
//! verifier (records held by [`ClientTrust`]), so the two cannot disagree.
//!
//! ```text
//!  chain (end entity first)
//!    ├─ SHA-256 of the end entity pinned (client_certs)?
//!    │     revoked or past its notAfter ─► refused      otherwise ─► that principal
//!    └─ else a path to a trust anchor that is not removed and not expired (rustls-webpki:
//!       signatures, validity dates, basicConstraints cA on every issuer, pathLen, clientAuth if
//!       an EKU is present) + keyUsage (checked here: keyCertSign on intermediates,
//!       digitalSignature on the end entity, when present)
//!          ─► principal = the subject's common name; roles and tenant = the anchor's
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::RwLock;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage, VerifiedPath};

use crate::clock::Timestamp;
use crate::error::KmsError;
use crate::ids::{PrincipalName, TenantId, TrustAnchorId};
use crate::model::{ClientCertRecord, Roles, TrustAnchorRecord};
use crate::store::{KeyStore, StoreError, Write};

/// The longest chain a client may present (end entity and intermediates).
pub const MAX_CHAIN: usize = 8;
/// The largest certificate accepted.
pub const MAX_CERT_BYTES: usize = 64 * 1024;

/// Signature algorithms accepted in certificate chains (aws-lc-rs).
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA256,
    webpki::aws_lc_rs::ECDSA_P521_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// What the core reads from a CA certificate offered as a trust anchor.
#[derive(Debug, Clone)]
pub struct CaCertificate {
    /// Hex SHA-256 of the DER.
    pub fingerprint: String,
    /// Hex SHA-256 of the subject and public key (see [`TrustAnchorRecord::identity`]).
    pub identity: String,
    /// The subject, RFC 4514 text.
    pub subject: String,
    /// notAfter.
    pub not_after: Timestamp,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(keyhold_crypto::Provider::aws_lc().sha256(bytes))
}

fn timestamp(t: x509_parser::time::ASN1Time) -> Timestamp {
    Timestamp::from_millis(t.timestamp().saturating_mul(1000))
}

/// Checks a CA certificate offered as a trust anchor: it parses, is a CA (basicConstraints
/// cA), may sign certificates (keyUsage keyCertSign, when present), and is valid at `now`.
pub fn inspect_ca(der: &[u8], now: Timestamp) -> Result<CaCertificate, KmsError> {
    if der.is_empty() || der.len() > MAX_CERT_BYTES {
        return Err(KmsError::invalid(
            "the CA certificate must be 1 byte to 64 KiB of DER",
        ));
    }
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| KmsError::invalid("the CA certificate is not valid X.509"))?;
    if !rest.is_empty() {
        return Err(KmsError::invalid(
            "the CA certificate has trailing bytes after its DER",
        ));
    }
    let is_ca = cert
        .basic_constraints()
        .map_err(|_| KmsError::invalid("the CA certificate's basicConstraints do not parse"))?
        .is_some_and(|bc| bc.value.ca);
    if !is_ca {
        return Err(KmsError::invalid(
            "not a CA certificate: basicConstraints cA is not set",
        ));
    }
    let ku = cert
        .key_usage()
        .map_err(|_| KmsError::invalid("the CA certificate's keyUsage does not parse"))?;
    if ku.is_some_and(|ku| !ku.value.key_cert_sign()) {
        return Err(KmsError::invalid(
            "the CA certificate's keyUsage does not allow signing certificates (keyCertSign)",
        ));
    }
    let not_before = timestamp(cert.validity().not_before);
    let not_after = timestamp(cert.validity().not_after);
    if now < not_before || now >= not_after {
        return Err(KmsError::invalid(
            "the CA certificate is not within its validity period",
        ));
    }
    Ok(CaCertificate {
        fingerprint: sha256_hex(der),
        identity: identity(der)?,
        subject: cert.subject().to_string(),
        not_after,
    })
}

/// Hex SHA-256 of the anchor's subject and public key, as path building sees them.
fn identity(der: &[u8]) -> Result<String, KmsError> {
    let der = CertificateDer::from(der);
    let anchor = webpki::anchor_from_trusted_cert(&der)
        .map_err(|_| KmsError::invalid("the CA certificate cannot serve as a trust anchor"))?;
    let mut input = Vec::with_capacity(anchor.subject.len() + anchor.subject_public_key_info.len());
    input.extend_from_slice(&(anchor.subject.len() as u64).to_be_bytes());
    input.extend_from_slice(&anchor.subject);
    input.extend_from_slice(&anchor.subject_public_key_info);
    Ok(sha256_hex(&input))
}

/// Who a certificate chain authenticates.
#[derive(Debug, Clone)]
pub enum CertPrincipal {
    /// A pinned certificate.
    Pinned(ClientCertRecord),
    /// A certificate issued under a trust anchor.
    Anchored {
        /// The anchor the path ends at.
        anchor: TrustAnchorRecord,
        /// The subject's common name.
        principal: PrincipalName,
    },
}

impl CertPrincipal {
    /// The principal's tenant.
    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::Pinned(c) => &c.tenant,
            Self::Anchored { anchor, .. } => &anchor.tenant,
        }
    }

    /// The principal.
    pub fn principal(&self) -> &PrincipalName {
        match self {
            Self::Pinned(c) => &c.principal,
            Self::Anchored { principal, .. } => principal,
        }
    }

    /// Its roles.
    pub fn roles(&self) -> Roles {
        match self {
            Self::Pinned(c) => c.roles,
            Self::Anchored { anchor, .. } => anchor.roles,
        }
    }
}

/// The SHA-256 fingerprint under which a certificate is pinned.
pub fn fingerprint(der: &[u8]) -> String {
    sha256_hex(der)
}

/// A digest of a whole presented chain (end entity and intermediates, each length-prefixed),
/// under which its authentication is cached.
pub(crate) fn chain_digest<C: AsRef<[u8]>>(chain: &[C]) -> [u8; 32] {
    let mut input = Vec::with_capacity(chain.iter().map(|c| c.as_ref().len() + 8).sum());
    for c in chain {
        input.extend_from_slice(&(c.as_ref().len() as u64).to_be_bytes());
        input.extend_from_slice(c.as_ref());
    }
    keyhold_crypto::Provider::aws_lc().sha256(&input)
}

/// Until when a decision for `chain` holds: the earliest notAfter of the certificates the
/// client presented and of the anchor or pin it was decided under. `None` if a certificate
/// does not parse (then nothing is cached).
pub(crate) fn decision_valid_until<C: AsRef<[u8]>>(
    chain: &[C],
    who: &CertPrincipal,
) -> Option<Timestamp> {
    let mut until = match who {
        CertPrincipal::Pinned(pin) => pin.not_after,
        CertPrincipal::Anchored { anchor, .. } => Some(anchor.not_after),
    };
    for c in chain {
        let (_, cert) = x509_parser::parse_x509_certificate(c.as_ref()).ok()?;
        let t = timestamp(cert.validity().not_after);
        until = Some(until.map_or(t, |u| u.min(t)));
    }
    until
}

/// Decides whether `chain` (end entity first, then intermediates) authenticates, given the pin
/// of its end entity (if any) and the trust anchors of every tenant. Disabled tenants are the
/// caller's concern. Every refusal is [`KmsError::Unauthenticated`].
pub fn decide<C: AsRef<[u8]>>(
    chain: &[C],
    pin: Option<&ClientCertRecord>,
    anchors: &[TrustAnchorRecord],
    now: Timestamp,
) -> Result<CertPrincipal, KmsError> {
    let Some(end_entity) = chain.first() else {
        return Err(KmsError::Unauthenticated);
    };
    if chain.len() > MAX_CHAIN || chain.iter().any(|c| c.as_ref().len() > MAX_CERT_BYTES) {
        return Err(KmsError::Unauthenticated);
    }
    let intermediates: Vec<&[u8]> = chain[1..].iter().map(AsRef::as_ref).collect();
    let anchor = match pin {
        Some(pin) => {
            // A pin decides within its own tenant only: a certificate issued under another
            // tenant's anchor belongs to that tenant, whatever a pin elsewhere says (a pin must
            // not capture another tenant's client).
            let foreign: Vec<TrustAnchorRecord> = anchors
                .iter()
                .filter(|a| a.tenant != pin.tenant)
                .cloned()
                .collect();
            match verify_path(end_entity.as_ref(), &intermediates, &foreign, now) {
                Some(anchor) => anchors.iter().find(|a| a.id == anchor.id),
                // An explicit revocation wins over any anchor of its own tenant.
                None if pin.revoked_at.is_none() && pin.not_after.is_none_or(|t| now < t) => {
                    return Ok(CertPrincipal::Pinned(pin.clone()));
                }
                None => return Err(KmsError::Unauthenticated),
            }
        }
        None => verify_path(end_entity.as_ref(), &intermediates, anchors, now),
    }
    .ok_or(KmsError::Unauthenticated)?;
    let principal = common_name(end_entity.as_ref())
        .and_then(|cn| cn.parse::<PrincipalName>().ok())
        .filter(|p| *p != PrincipalName::system() && *p != PrincipalName::anonymous())
        .ok_or(KmsError::Unauthenticated)?;
    Ok(CertPrincipal::Anchored {
        anchor: anchor.clone(),
        principal,
    })
}

fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    Some(cn.to_owned())
}

/// keyUsage, when present, must allow `ok`.
fn key_usage_allows(der: &[u8], ok: fn(&x509_parser::extensions::KeyUsage) -> bool) -> bool {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => match cert.key_usage() {
            Ok(None) => true,
            Ok(Some(ku)) => ok(ku.value),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

/// The live anchor among `anchors` that issued `end_entity` directly or through `intermediates`.
pub fn issuing_anchor<'a>(
    end_entity: &[u8],
    intermediates: &[&[u8]],
    anchors: &'a [TrustAnchorRecord],
    now: Timestamp,
) -> Option<&'a TrustAnchorRecord> {
    verify_path(end_entity, intermediates, anchors, now)
}

/// The anchor (not removed, not expired) that a valid client-authentication path from
/// `end_entity` through `intermediates` ends at.
fn verify_path<'a>(
    end_entity: &[u8],
    intermediates: &[&[u8]],
    anchors: &'a [TrustAnchorRecord],
    now: Timestamp,
) -> Option<&'a TrustAnchorRecord> {
    let live: Vec<&TrustAnchorRecord> = anchors
        .iter()
        .filter(|a| a.removed_at.is_none() && now < a.not_after)
        .collect();
    if live.is_empty() {
        return None;
    }
    if !key_usage_allows(end_entity, |ku| ku.digital_signature()) {
        return None;
    }
    let ders: Vec<CertificateDer<'_>> = live
        .iter()
        .map(|a| CertificateDer::from(a.certificate.as_slice()))
        .collect();
    let mut records = Vec::with_capacity(live.len());
    let mut trust: Vec<TrustAnchor<'_>> = Vec::with_capacity(live.len());
    for (record, der) in live.iter().zip(&ders) {
        if let Ok(ta) = webpki::anchor_from_trusted_cert(der) {
            records.push(*record);
            trust.push(ta);
        }
    }
    let ee_der = CertificateDer::from(end_entity);
    let ee = EndEntityCert::try_from(&ee_der).ok()?;
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(*c))
        .collect();
    let secs = u64::try_from(now.millis().div_euclid(1000)).ok()?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(secs));
    let ca_key_usage = |path: &VerifiedPath<'_>| -> Result<(), webpki::Error> {
        for c in path.intermediate_certificates() {
            if !key_usage_allows(c.der().as_ref(), |ku| ku.key_cert_sign()) {
                return Err(webpki::Error::CaUsedAsEndEntity);
            }
        }
        Ok(())
    };
    let path = ee
        .verify_for_usage(
            ALGORITHMS,
            &trust,
            &inter,
            time,
            KeyUsage::client_auth(),
            None,
            Some(&ca_key_usage),
        )
        .ok()?;
    let found = path.anchor();
    trust
        .iter()
        .position(|t| {
            t.subject == found.subject && t.subject_public_key_info == found.subject_public_key_info
        })
        .map(|i| records[i])
}

/// The pins and anchors of every tenant, held in memory for the TLS listeners' handshake
/// verifier. Kept current by every commit of this node (see [`ClientTrust::committed`]) and
/// reloaded from the store by the sweeper (changes made by other nodes).
#[derive(Debug, Default)]
pub struct ClientTrust {
    inner: RwLock<TrustSet>,
}

#[derive(Debug, Default)]
struct TrustSet {
    pins: HashMap<String, ClientCertRecord>,
    anchors: BTreeMap<TrustAnchorId, TrustAnchorRecord>,
    disabled: HashSet<TenantId>,
}

impl ClientTrust {
    /// Whether `chain` would authenticate now: the handshake check of the TLS listeners. The
    /// core decides again on every request (from its certificate cache, which every pin,
    /// anchor or tenant write of this node empties).
    pub fn accepts<C: AsRef<[u8]>>(&self, chain: &[C], now: Timestamp) -> bool {
        let Some(end_entity) = chain.first() else {
            return false;
        };
        let set = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let pin = set.pins.get(&fingerprint(end_entity.as_ref()));
        let anchors: Vec<TrustAnchorRecord> = set.anchors.values().cloned().collect();
        match decide(chain, pin, &anchors, now) {
            Ok(p) => !set.disabled.contains(p.tenant()),
            Err(_) => false,
        }
    }

    /// Replaces everything with the store's current records.
    pub async fn reload(&self, store: &dyn KeyStore) -> Result<(), StoreError> {
        let mut fresh = TrustSet::default();
        for t in store.tenants().await? {
            if t.disabled {
                fresh.disabled.insert(t.id.clone());
            }
            for c in store.client_certs(&t.id).await? {
                fresh.pins.insert(c.fingerprint.clone(), c);
            }
        }
        for a in store.trust_anchors(None).await? {
            fresh.anchors.insert(a.id, a);
        }
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Whether committing `w` changes what this set holds.
    pub(crate) fn concerns(w: &Write) -> bool {
        matches!(
            w,
            Write::InsertClientCert(_)
                | Write::UpdateClientCert { .. }
                | Write::InsertTrustAnchor(_)
                | Write::UpdateTrustAnchor { .. }
                | Write::InsertTenant(_)
                | Write::UpdateTenant { .. }
        )
    }

    /// Applies writes that were just committed (never writes that failed).
    pub(crate) fn committed(&self, writes: &[Write]) {
        if !writes.iter().any(Self::concerns) {
            return;
        }
        let mut set = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for w in writes {
            match w {
                Write::InsertClientCert(c) | Write::UpdateClientCert { record: c, .. } => {
                    set.pins.insert(c.fingerprint.clone(), c.clone());
                }
                Write::InsertTrustAnchor(a) | Write::UpdateTrustAnchor { record: a, .. } => {
                    set.anchors.insert(a.id, a.clone());
                }
                Write::InsertTenant(t) | Write::UpdateTenant { record: t, .. } => {
                    if t.disabled {
                        set.disabled.insert(t.id.clone());
                    } else {
                        set.disabled.remove(&t.id);
                    }
                }
                _ => {}
            }
        }
    }
}
