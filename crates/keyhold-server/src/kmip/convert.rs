//! Translations between KMIP and the core: error codes to Result Reasons (the one table),
//! Keyhold objects to KMIP attributes and managed objects, and the DER re-wrappings between
//! PKCS#1 and PKCS#8 / SubjectPublicKeyInfo that KMIP key formats need.

use std::collections::BTreeMap;

use keyhold_core::lifecycle::KeyState;
use keyhold_core::model::{KeyUsage, LinkKind, ObjectKind, UsageMask};
use keyhold_core::ops::KeyInfo;
use keyhold_core::{Algorithm, ErrorCode, KmsError};
use keyhold_kmip::attributes::{name_item, Attribute};
use keyhold_kmip::enums::{CryptographicAlgorithm, ObjectType, ResultReason, State};
use keyhold_kmip::{tags, Failure, Item, ProtocolVersion};

/// Tags holding KMIP attributes that Keyhold has no field for: Object Group.
pub const TAG_GROUP: &str = "kmip:object-group";
/// Contact Information.
pub const TAG_CONTACT: &str = "kmip:contact-information";
/// Secret Data Type / Opaque Data Type / Certificate Type of a data object.
pub const TAG_DATA_TYPE: &str = "kmip:data-type";
/// The Cryptographic Algorithm and Length of a registered symmetric key of an algorithm Keyhold
/// does not implement (3DES), kept as `alg=N,len=N`: the key is stored and returned, never used.
pub const TAG_STORED_KEY: &str = "kmip:stored-key";
/// Tag holding a Split Key's parameters and its Key Block's description (see `objects.rs`).
pub const TAG_SPLIT_KEY: &str = "kmip:split-key";
/// The Key Format Type a key was registered in (its number): a Get naming no format answers
/// in it, so that the registered bytes come back exactly.
pub const TAG_KEY_FORMAT: &str = "kmip:key-format";
/// The Cryptographic Length of a registered HMAC key whose length is not its hash's.
pub const TAG_LENGTH: &str = "kmip:cryptographic-length";
/// Application Specific Information: one tag per instance, `kmip:asi:<Application Namespace>`
/// holding its Application Data (so one instance per namespace).
pub const TAG_ASI_PREFIX: &str = "kmip:asi:";
/// The attribute's name.
pub const ASI: &str = "Application Specific Information";

/// Cryptographic Usage Mask bits.
pub mod usage_mask {
    /// Sign.
    pub const SIGN: i32 = 0x1;
    /// Verify.
    pub const VERIFY: i32 = 0x2;
    /// Encrypt.
    pub const ENCRYPT: i32 = 0x4;
    /// Decrypt.
    pub const DECRYPT: i32 = 0x8;
    /// MAC Generate.
    pub const MAC_GENERATE: i32 = 0x80;
    /// MAC Verify.
    pub const MAC_VERIFY: i32 = 0x100;
    /// Wrap Key.
    pub const WRAP_KEY: i32 = 0x10;
    /// Unwrap Key.
    pub const UNWRAP_KEY: i32 = 0x20;
    /// Export.
    pub const EXPORT: i32 = 0x40;
    /// Derive Key.
    pub const DERIVE_KEY: i32 = 0x200;
}

/// The one mapping from Keyhold's errors to KMIP Result Reasons. Reasons that KMIP 1.x does not
/// define are replaced by the nearest 1.x reason for 1.x clients.
pub fn result_reason(code: ErrorCode, version: ProtocolVersion) -> ResultReason {
    use ResultReason as R;
    let v2 = version.is_2x();
    match code {
        ErrorCode::Sealed => R::GeneralFailure,
        ErrorCode::Unauthenticated => R::AuthenticationNotSuccessful,
        ErrorCode::PermissionDenied => R::PermissionDenied,
        ErrorCode::NotFound => R::ItemNotFound,
        ErrorCode::AlreadyExists => R::ObjectAlreadyExists,
        ErrorCode::InvalidRequest | ErrorCode::IdempotencyMismatch => R::InvalidField,
        ErrorCode::InvalidKeyState if v2 => R::WrongKeyLifecycleState,
        ErrorCode::InvalidKeyState => R::PermissionDenied,
        ErrorCode::WrongKeyUsage if v2 => R::IncompatibleCryptographicUsageMask,
        ErrorCode::WrongKeyUsage => R::PermissionDenied,
        ErrorCode::InvalidCiphertext => R::CryptographicFailure,
        ErrorCode::KeyVersionDisabled => R::PermissionDenied,
        ErrorCode::Conflict => R::GeneralFailure,
        // The message names the pending approval; the client re-issues once it is approved.
        ErrorCode::ApprovalRequired => R::PermissionDenied,
        ErrorCode::LimitExceeded if v2 => R::ServerLimitExceeded,
        ErrorCode::LimitExceeded => R::ResponseTooLarge,
        ErrorCode::AuditUnavailable | ErrorCode::Internal => R::GeneralFailure,
        ErrorCode::MalformedRequest => R::InvalidMessage,
        ErrorCode::PayloadTooLarge => R::InvalidMessage,
    }
}

/// A core error as a KMIP failure. A destroyed object is, to KMIP clients, an object that is
/// no longer there.
pub fn failure(e: &KmsError, version: ProtocolVersion) -> Failure {
    if let KmsError::InvalidState {
        state: KeyState::Destroyed | KeyState::DestroyedCompromised,
        ..
    } = e
    {
        return Failure::new(ResultReason::ItemNotFound, "object not found");
    }
    let reason = match e {
        KmsError::Archived(_) => ResultReason::ObjectArchived,
        KmsError::Crypto(_) | KmsError::Integrity(_) => ResultReason::CryptographicFailure,
        _ => result_reason(e.code(), version),
    };
    Failure::new(reason, e.to_string())
}

/// The KMIP state of a Keyhold state.
pub fn state(s: KeyState) -> State {
    match s {
        KeyState::PreActive => State::PreActive,
        KeyState::Active => State::Active,
        // KMIP has no Suspended state: a suspended key can neither protect nor process, which
        // KMIP clients see most faithfully as Deactivated.
        KeyState::Suspended | KeyState::Deactivated => State::Deactivated,
        KeyState::Compromised => State::Compromised,
        KeyState::Destroyed => State::Destroyed,
        KeyState::DestroyedCompromised => State::DestroyedCompromised,
    }
}

/// The KMIP object type of an object.
pub fn object_type(info: &KeyInfo) -> ObjectType {
    match info.kind {
        ObjectKind::PublicKey => ObjectType::PublicKey,
        ObjectKind::SecretData => ObjectType::SecretData,
        ObjectKind::OpaqueObject => ObjectType::OpaqueObject,
        ObjectKind::Certificate => ObjectType::Certificate,
        ObjectKind::SplitKey => ObjectType::SplitKey,
        ObjectKind::StoredKey => ObjectType::SymmetricKey,
        _ if info.algorithm.is_asymmetric() => ObjectType::PrivateKey,
        _ => ObjectType::SymmetricKey,
    }
}

/// The KMIP algorithm and length of a Keyhold algorithm.
pub fn algorithm(a: Algorithm) -> Option<(CryptographicAlgorithm, i32)> {
    use CryptographicAlgorithm as C;
    Some(match a {
        Algorithm::Aes128 => (C::Aes, 128),
        Algorithm::Aes192 => (C::Aes, 192),
        Algorithm::Aes256 => (C::Aes, 256),
        Algorithm::HmacSha256 => (C::HmacSha256, 256),
        Algorithm::HmacSha384 => (C::HmacSha384, 384),
        Algorithm::HmacSha512 => (C::HmacSha512, 512),
        Algorithm::Rsa2048 => (C::Rsa, 2048),
        Algorithm::Rsa3072 => (C::Rsa, 3072),
        Algorithm::Rsa4096 => (C::Rsa, 4096),
        Algorithm::EcP256 => (C::Ecdsa, 256),
        Algorithm::EcP384 => (C::Ecdsa, 384),
        Algorithm::EcP521 => (C::Ecdsa, 521),
        Algorithm::Ed25519 => (C::Ed25519, 255),
        Algorithm::Data => return None,
    })
}

/// The KMIP algorithm and length of an object: [`algorithm`], with the registered length of an
/// HMAC key (which may be any length from half its hash's).
pub fn algorithm_of(info: &KeyInfo) -> Option<(CryptographicAlgorithm, i32)> {
    if info.kind == ObjectKind::StoredKey {
        return stored_algorithm(info);
    }
    let (alg, len) = algorithm(info.algorithm)?;
    let registered = (info.algorithm.family() == keyhold_crypto::KeyFamily::Hmac)
        .then(|| info.tags.get(TAG_LENGTH).and_then(|l| l.parse().ok()))
        .flatten();
    Some((alg, registered.unwrap_or(len)))
}

/// The algorithm and length of a stored key (see [`TAG_STORED_KEY`]).
fn stored_algorithm(info: &KeyInfo) -> Option<(CryptographicAlgorithm, i32)> {
    let tag = info.tags.get(TAG_STORED_KEY)?;
    let (mut alg, mut len) = (None, None);
    for field in tag.split(',') {
        match field.split_once('=')? {
            ("alg", v) => alg = CryptographicAlgorithm::from_u32(v.parse().ok()?),
            ("len", v) => len = v.parse().ok(),
            _ => return None,
        }
    }
    Some((alg?, len?))
}

/// The tag describing a stored key of `alg` and `len` (see [`TAG_STORED_KEY`]).
pub fn stored_key_tag(alg: CryptographicAlgorithm, len: i32) -> String {
    format!("alg={},len={len}", alg.to_u32())
}

/// The Key Format Type an object was registered in, if it was registered over KMIP.
pub fn registered_format(info: &KeyInfo) -> Option<keyhold_kmip::enums::KeyFormatType> {
    info.tags
        .get(TAG_KEY_FORMAT)
        .and_then(|f| f.parse().ok())
        .and_then(keyhold_kmip::enums::KeyFormatType::from_u32)
}

/// The Keyhold algorithm for a KMIP algorithm and length (`len` may be absent for HMAC and
/// Ed25519).
pub fn keyhold_algorithm(
    alg: CryptographicAlgorithm,
    len: Option<i32>,
) -> Result<Algorithm, Failure> {
    use CryptographicAlgorithm as C;
    let a = match (alg, len) {
        (C::Aes, Some(128)) => Algorithm::Aes128,
        (C::Aes, Some(192)) => Algorithm::Aes192,
        (C::Aes, Some(256)) => Algorithm::Aes256,
        (C::HmacSha256, _) => Algorithm::HmacSha256,
        (C::HmacSha384, _) => Algorithm::HmacSha384,
        (C::HmacSha512, _) => Algorithm::HmacSha512,
        (C::Rsa, Some(2048)) => Algorithm::Rsa2048,
        (C::Rsa, Some(3072)) => Algorithm::Rsa3072,
        (C::Rsa, Some(4096)) => Algorithm::Rsa4096,
        (C::Ecdsa | C::Ec, Some(256)) => Algorithm::EcP256,
        (C::Ecdsa | C::Ec, Some(384)) => Algorithm::EcP384,
        (C::Ecdsa | C::Ec, Some(521)) => Algorithm::EcP521,
        (C::Ed25519, _) => Algorithm::Ed25519,
        (alg, len) => {
            return Err(Failure::new(
                ResultReason::InvalidField,
                format!(
                    "unsupported algorithm {} with length {}",
                    alg.name(),
                    len.map_or("none".to_owned(), |l| l.to_string())
                ),
            ))
        }
    };
    Ok(a)
}

/// The usage mask of an object: the one it was given, exactly, else the one its usage implies.
pub fn usage_mask_of(info: &KeyInfo) -> i32 {
    use usage_mask::*;
    if let Some(m) = info.usage_mask {
        // The Integer on the wire is the same 32 bits.
        return m.0 as i32;
    }
    match (info.usage, info.kind) {
        (KeyUsage::EncryptDecrypt, ObjectKind::PublicKey) => ENCRYPT,
        (KeyUsage::EncryptDecrypt, _) => ENCRYPT | DECRYPT,
        (KeyUsage::SignVerify, ObjectKind::PublicKey) => VERIFY,
        (KeyUsage::SignVerify, _) => SIGN | VERIFY,
        (KeyUsage::Mac, _) => MAC_GENERATE | MAC_VERIFY,
        (KeyUsage::Storage, _) => EXPORT,
        (KeyUsage::Derive, _) => DERIVE_KEY,
    }
}

/// The Cryptographic Usage Mask of a request, kept exactly by the core.
pub fn usage_mask(mask: Option<i32>) -> Option<UsageMask> {
    mask.map(|m| UsageMask(m as u32))
}

/// The Keyhold usage a usage mask asks for, given the algorithm.
pub fn usage_from_mask(mask: Option<i32>, alg: Algorithm) -> Result<Option<KeyUsage>, Failure> {
    use usage_mask::*;
    let Some(mask) = mask else { return Ok(None) };
    let default = KeyUsage::default_for(alg);
    let wanted = if mask & (SIGN | VERIFY) != 0 && alg.is_asymmetric() {
        KeyUsage::SignVerify
    } else if mask & (ENCRYPT | DECRYPT) != 0 && default != KeyUsage::Mac {
        KeyUsage::EncryptDecrypt
    } else if mask & (MAC_GENERATE | MAC_VERIFY) != 0 {
        KeyUsage::Mac
    } else if mask & DERIVE_KEY != 0 {
        KeyUsage::Derive
    } else {
        default
    };
    if !wanted.fits(alg) {
        return Ok(Some(default));
    }
    Ok(Some(wanted))
}

fn date(tag: keyhold_kmip::Tag, t: keyhold_core::clock::Timestamp) -> Item {
    Item::date_time(tag, t.millis().div_euclid(1000))
}

/// Every attribute of an object, in a stable order. `decodable_only` leaves out what PyKMIP
/// and similar clients cannot decode when they ask for all attributes.
pub fn attributes_of(info: &KeyInfo, decodable_only: bool) -> Vec<Attribute> {
    let mut out = vec![
        Attribute::standard(Item::text(tags::UNIQUE_IDENTIFIER, info.id.to_string())),
        Attribute::standard(Item::enumeration(
            tags::OBJECT_TYPE,
            object_type(info).to_u32(),
        )),
    ];
    if let Some((alg, len)) = algorithm_of(info) {
        out.push(Attribute::standard(Item::enumeration(
            tags::CRYPTOGRAPHIC_ALGORITHM,
            alg.to_u32(),
        )));
        out.push(Attribute::standard(Item::int(
            tags::CRYPTOGRAPHIC_LENGTH,
            len,
        )));
    }
    out.push(Attribute::standard(Item::int(
        tags::CRYPTOGRAPHIC_USAGE_MASK,
        usage_mask_of(info),
    )));
    out.push(Attribute::standard(Item::enumeration(
        tags::STATE,
        state(info.state).to_u32(),
    )));
    out.push(Attribute::standard(date(
        tags::INITIAL_DATE,
        info.created_at,
    )));
    let lc = &info.lifecycle;
    if let Some(t) = lc.activation_date {
        out.push(Attribute::standard(date(tags::ACTIVATION_DATE, t)));
    }
    if let Some(t) = lc.deactivation_date {
        out.push(Attribute::standard(date(tags::DEACTIVATION_DATE, t)));
    }
    if let Some(t) = lc.compromise_date {
        out.push(Attribute::standard(date(
            tags::COMPROMISE_OCCURRENCE_DATE,
            t,
        )));
        out.push(Attribute::standard(date(tags::COMPROMISE_DATE, t)));
    }
    if let Some(t) = lc.destroyed_at {
        out.push(Attribute::standard(date(tags::DESTROY_DATE, t)));
    }
    out.push(Attribute::standard(date(
        tags::LAST_CHANGE_DATE,
        lc.state_changed_at.max(info.rotated_at),
    )));
    for (i, name) in names_of(info).iter().enumerate() {
        out.push(indexed(Attribute::standard(name_item(name)), i));
    }
    if let Some(g) = info.tags.get(TAG_GROUP) {
        out.push(Attribute::standard(Item::text(
            tags::OBJECT_GROUP,
            g.clone(),
        )));
    }
    if let Some(c) = info.tags.get(TAG_CONTACT) {
        out.push(Attribute::standard(Item::text(
            tags::CONTACT_INFORMATION,
            c.clone(),
        )));
    }
    for (i, (namespace, data)) in application_infos(info).enumerate() {
        out.push(indexed(
            Attribute::standard(application_info_item(namespace, data)),
            i,
        ));
    }
    for (k, v) in &info.tags {
        if k.starts_with("x-") || k.starts_with("y-") {
            out.push(Attribute {
                name: k.clone(),
                index: None,
                value: Item::text(tags::ATTRIBUTE_VALUE, v.clone()),
            });
        }
    }
    if !decodable_only {
        for link in &info.links {
            let kind = link_type(link.kind);
            out.push(Attribute::standard(Item::structure(
                tags::LINK,
                vec![
                    Item::enumeration(tags::LINK_TYPE, kind),
                    Item::text(tags::LINKED_OBJECT_IDENTIFIER, link.target.to_string()),
                ],
            )));
        }
        if !info.description.is_empty() {
            out.push(Attribute::standard(Item::text(
                tags::DESCRIPTION,
                info.description.clone(),
            )));
        }
    }
    out
}

/// Instance `i` of a multi-instance attribute: its Attribute Index (1.x), left out for the
/// first.
pub fn indexed(mut a: Attribute, i: usize) -> Attribute {
    a.index = (i > 0).then(|| i32::try_from(i).unwrap_or(i32::MAX));
    a
}

/// The KMIP Link Type of a link.
pub fn link_type(kind: LinkKind) -> u32 {
    match kind {
        LinkKind::PublicKey => 0x0000_0102,
        LinkKind::PrivateKey => 0x0000_0103,
        LinkKind::DerivedFrom => 0x0000_0104,
        LinkKind::ReplacementObject => 0x0000_0106,
        LinkKind::ReplacedObject => 0x0000_0107,
    }
}

/// The tag and value an Application Specific Information value (a structure of Application
/// Namespace and Application Data) is kept in.
pub fn application_info(value: &Item) -> Result<(String, String), Failure> {
    let namespace = value.require(tags::APPLICATION_NAMESPACE)?.as_text()?;
    let data = value
        .child(tags::APPLICATION_DATA)
        .map(Item::as_text)
        .transpose()?
        .unwrap_or_default();
    Ok((format!("{TAG_ASI_PREFIX}{namespace}"), data.to_owned()))
}

/// The Application Specific Information of an object (namespace, data), by namespace.
pub fn application_infos(info: &KeyInfo) -> impl Iterator<Item = (&str, &str)> {
    info.tags
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(TAG_ASI_PREFIX)?, v.as_str())))
}

/// An Application Specific Information value item.
pub fn application_info_item(namespace: &str, data: &str) -> Item {
    Item::structure(
        tags::APPLICATION_SPECIFIC_INFORMATION,
        vec![
            Item::text(tags::APPLICATION_NAMESPACE, namespace),
            Item::text(tags::APPLICATION_DATA, data),
        ],
    )
}

/// The KMIP Name instances of an object, in Attribute Index order: its Keyhold name (unique
/// in the tenant; set over REST) first when it has one, then its labels (the names KMIP
/// clients give, which need not be unique).
pub fn names_of(info: &KeyInfo) -> Vec<String> {
    info.name
        .iter()
        .map(|n| n.to_string())
        .chain(info.labels.iter().cloned())
        .collect()
}

/// The labels of a request: every Name it carries, in order.
pub fn labels_from(attrs: &keyhold_kmip::Attributes) -> Result<Vec<String>, Failure> {
    attrs.all("Name").map(Attribute::name_value).collect()
}

/// Tags for the KMIP-only attributes of a request (group, contact, application specific
/// information, custom); names are labels (see [`labels_from`]).
pub fn tags_from(attrs: &keyhold_kmip::Attributes) -> Result<BTreeMap<String, String>, Failure> {
    let mut tags_out = BTreeMap::new();
    if let Some(g) = attrs.text("Object Group")? {
        tags_out.insert(TAG_GROUP.to_owned(), g);
    }
    if let Some(c) = attrs.text("Contact Information")? {
        tags_out.insert(TAG_CONTACT.to_owned(), c);
    }
    for a in attrs.all(ASI) {
        let (key, data) = application_info(&a.value)?;
        if tags_out.insert(key, data).is_some() {
            return Err(Failure::invalid(
                "one Application Specific Information per Application Namespace",
            ));
        }
    }
    for a in &attrs.0 {
        if a.name.starts_with("x-") || a.name.starts_with("y-") {
            let v = match a.value.as_text() {
                Ok(t) => t.to_owned(),
                Err(_) => {
                    return Err(Failure::invalid(format!(
                        "custom attribute {} must be text",
                        a.name
                    )))
                }
            };
            tags_out.insert(a.name.clone(), v);
        }
    }
    Ok(tags_out)
}

// ---- DER re-wrappings --------------------------------------------------------------------

const RSA_ALG_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// Reads one DER TLV at the start of `input`: (tag, body, rest).
fn der_read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// PKCS#1 RSAPrivateKey → PKCS#8 PrivateKeyInfo.
pub fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(RSA_ALG_ID);
    body.extend(der_tlv(0x04, pkcs1));
    der_tlv(0x30, &body)
}

/// PKCS#8 PrivateKeyInfo of an RSA key → PKCS#1 RSAPrivateKey.
pub fn rsa_pkcs8_to_pkcs1(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (0x30, body, _) = der_read(pkcs8)? else {
        return None;
    };
    let (0x02, _, rest) = der_read(body)? else {
        return None;
    };
    let (0x30, alg, rest) = der_read(rest)? else {
        return None;
    };
    if alg != &RSA_ALG_ID[2..] {
        return None;
    }
    let (0x04, key, _) = der_read(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

/// PKCS#1 RSAPublicKey → SubjectPublicKeyInfo.
pub fn rsa_pkcs1_to_spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut bits = vec![0x00];
    bits.extend_from_slice(pkcs1);
    let mut body = RSA_ALG_ID.to_vec();
    body.extend(der_tlv(0x03, &bits));
    der_tlv(0x30, &body)
}

/// SubjectPublicKeyInfo of an RSA key → PKCS#1 RSAPublicKey.
pub fn rsa_spki_to_pkcs1(spki: &[u8]) -> Option<Vec<u8>> {
    let (0x30, body, _) = der_read(spki)? else {
        return None;
    };
    let (0x30, alg, rest) = der_read(body)? else {
        return None;
    };
    if alg != &RSA_ALG_ID[2..] {
        return None;
    }
    let (0x03, bits, _) = der_read(rest)? else {
        return None;
    };
    let (0x00, key) = bits.split_first().map(|(a, b)| (*a, b))? else {
        return None;
    };
    Some(key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_a_reason_that_pykmip_knows_in_every_version() {
        for v in ProtocolVersion::SUPPORTED {
            for code in ErrorCode::ALL {
                let r = result_reason(code, v);
                assert!(
                    ![0x27u32, 0x31, 0x33, 0x38].contains(&r.to_u32()),
                    "{code:?} -> {r:?}"
                );
                if !v.is_2x() {
                    assert!(
                        r.to_u32() <= 0x18 || r == ResultReason::GeneralFailure,
                        "{code:?} -> {r:?} is not a 1.x reason"
                    );
                }
            }
        }
        assert_eq!(
            result_reason(ErrorCode::NotFound, ProtocolVersion::new(1, 0)),
            ResultReason::ItemNotFound
        );
        assert_eq!(
            result_reason(ErrorCode::InvalidKeyState, ProtocolVersion::new(2, 0)),
            ResultReason::WrongKeyLifecycleState
        );
    }

    #[test]
    fn application_specific_information_round_trips_through_its_tag() {
        let item = application_info_item("Testing", "Testing2");
        let (key, data) = application_info(&item).unwrap();
        assert_eq!(
            (key.as_str(), data.as_str()),
            ("kmip:asi:Testing", "Testing2")
        );
        let no_data = Item::structure(
            tags::APPLICATION_SPECIFIC_INFORMATION,
            vec![Item::text(tags::APPLICATION_NAMESPACE, "ns")],
        );
        assert_eq!(application_info(&no_data).unwrap().1, "");
        let no_namespace = Item::structure(
            tags::APPLICATION_SPECIFIC_INFORMATION,
            vec![Item::text(tags::APPLICATION_DATA, "d")],
        );
        assert!(application_info(&no_namespace).is_err());
        // Two instances of one namespace in a request are refused, not silently merged.
        let attrs = keyhold_kmip::Attributes(vec![
            Attribute::standard(item.clone()),
            Attribute::standard(application_info_item("Testing", "other")),
        ]);
        assert!(tags_from(&attrs).is_err());
        let attrs = keyhold_kmip::Attributes(vec![
            Attribute::standard(item),
            Attribute::standard(application_info_item("Testing3", "Testing4")),
        ]);
        let tags = tags_from(&attrs).unwrap();
        assert_eq!(
            tags.get("kmip:asi:Testing3").map(String::as_str),
            Some("Testing4")
        );
    }

    #[test]
    fn destroyed_objects_are_not_found() {
        let e = KmsError::InvalidState {
            state: KeyState::Destroyed,
            action: "get",
        };
        assert_eq!(
            failure(&e, ProtocolVersion::new(1, 2)).reason,
            ResultReason::ItemNotFound
        );
    }

    #[test]
    fn rsa_der_rewrappings_round_trip() {
        let p = keyhold_crypto::Provider::default();
        let m = p.generate(Algorithm::Rsa2048).unwrap();
        let pkcs8 = m.private.as_bytes();
        let pkcs1 = rsa_pkcs8_to_pkcs1(pkcs8).unwrap();
        assert_eq!(rsa_pkcs1_to_pkcs8(&pkcs1), pkcs8);
        let spki = m.public.unwrap();
        let pub1 = rsa_spki_to_pkcs1(&spki).unwrap();
        assert_eq!(rsa_pkcs1_to_spki(&pub1), spki);
        assert!(rsa_spki_to_pkcs1(b"\x30\x03\x02\x01\x00").is_none());
    }
}
