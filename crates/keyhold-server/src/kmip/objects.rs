//! KMIP managed objects (Key Block, Secret Data, Opaque Object, Certificate) to and from the
//! core's objects, and Locate's attribute filter.

use keyhold_core::model::ObjectKind;
use keyhold_core::ops::{ExportedKey, KeyInfo, ListKeys, WrapMode, WrappedBy};
use keyhold_core::SecretBytes;
use keyhold_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, KeyFormatType, ObjectType, ResultReason, State,
};
use keyhold_kmip::{tags, Attributes, Failure, Item};

use super::convert::{
    self, TAG_DATA_TYPE, TAG_KEY_FORMAT, TAG_LENGTH, TAG_SPLIT_KEY, TAG_STORED_KEY,
};
use super::ops::Decoded;

fn key_block(obj: &Item) -> Result<&Item, Failure> {
    Ok(obj.require(tags::KEY_BLOCK)?)
}

/// The raw key bytes of a Key Block: Key Value is a Structure holding Key Material (bytes, or a
/// Transparent Symmetric Key structure), or in a few clients the bytes themselves.
fn key_material(block: &Item) -> Result<Vec<u8>, Failure> {
    let value = block.require(tags::KEY_VALUE)?;
    let material = match value.as_bytes() {
        Ok(b) => return Ok(b.to_vec()),
        Err(_) => value.require(tags::KEY_MATERIAL)?,
    };
    match material.as_bytes() {
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Ok(material.require(tags::KEY)?.as_bytes()?.to_vec()),
    }
}

/// Decodes the object of a Register request.
pub fn decode(ot: ObjectType, payload: &Item) -> Result<Decoded, Failure> {
    let unsupported = || {
        Failure::new(
            ResultReason::InvalidField,
            format!("registering {} objects is not supported", ot.name()),
        )
    };
    let (tag, kind) = match ot {
        ObjectType::SymmetricKey => (tags::SYMMETRIC_KEY, ObjectKind::Key),
        ObjectType::PrivateKey => (tags::PRIVATE_KEY, ObjectKind::Key),
        ObjectType::PublicKey => (tags::PUBLIC_KEY, ObjectKind::PublicKey),
        ObjectType::SecretData => (tags::SECRET_DATA, ObjectKind::SecretData),
        ObjectType::OpaqueObject => (tags::OPAQUE_OBJECT, ObjectKind::OpaqueObject),
        ObjectType::Certificate => (tags::CERTIFICATE, ObjectKind::Certificate),
        ObjectType::SplitKey => (tags::SPLIT_KEY, ObjectKind::SplitKey),
        _ => return Err(unsupported()),
    };
    let obj = payload
        .child(tag)
        .ok_or_else(|| Failure::missing(ot.name()))?;
    match ot {
        ObjectType::OpaqueObject => {
            let t = obj.require(tags::OPAQUE_DATA_TYPE)?.as_enum()?;
            let v = obj.require(tags::OPAQUE_DATA_VALUE)?.as_bytes()?.to_vec();
            Ok((kind, None, SecretBytes::new(v), data_type_tag(t)))
        }
        ObjectType::Certificate => {
            let t = obj.require(tags::CERTIFICATE_TYPE)?.as_enum()?;
            let v = obj.require(tags::CERTIFICATE_VALUE)?.as_bytes()?.to_vec();
            Ok((kind, None, SecretBytes::new(v), data_type_tag(t)))
        }
        ObjectType::SecretData => {
            let t = obj.require(tags::SECRET_DATA_TYPE)?.as_enum()?;
            let block = key_block(obj)?;
            Ok((
                kind,
                None,
                SecretBytes::new(key_material(block)?),
                data_type_tag(t),
            ))
        }
        ObjectType::SplitKey => {
            let (split, material) = SplitKey::decode(obj)?;
            Ok((
                kind,
                None,
                SecretBytes::new(material),
                vec![(TAG_SPLIT_KEY, split.to_tag())],
            ))
        }
        _ => {
            let block = key_block(obj)?;
            if block.child(tags::KEY_WRAPPING_DATA).is_some() {
                return Err(Failure::new(
                    ResultReason::FeatureNotSupported,
                    "registering wrapped keys is not supported",
                ));
            }
            let format: KeyFormatType = block.require(tags::KEY_FORMAT_TYPE)?.as_enum_of()?;
            let alg: CryptographicAlgorithm =
                block.require(tags::CRYPTOGRAPHIC_ALGORITHM)?.as_enum_of()?;
            let len = block
                .child(tags::CRYPTOGRAPHIC_LENGTH)
                .map(Item::as_i32)
                .transpose()?;
            let bytes = key_material(block)?;
            if ot == ObjectType::SymmetricKey && alg == CryptographicAlgorithm::TripleDes {
                return stored_key(format, alg, len, bytes);
            }
            let len = match (ot, len) {
                (ObjectType::SymmetricKey, _) if alg == CryptographicAlgorithm::Aes => {
                    Some(i32::try_from(bytes.len() * 8).unwrap_or(0))
                }
                (_, l) => l,
            };
            let algorithm = convert::keyhold_algorithm(alg, len)?;
            let family = algorithm.family();
            // What a Get naming no format answers in: the registered format (Raw RSA keys are
            // PKCS#1), so the registered bytes come back exactly.
            let mut described = vec![(
                TAG_KEY_FORMAT,
                match (format, family) {
                    (KeyFormatType::Raw, keyhold_crypto::KeyFamily::Rsa) => KeyFormatType::Pkcs1,
                    (f, _) => f,
                }
                .to_u32()
                .to_string(),
            )];
            if family == keyhold_crypto::KeyFamily::Hmac && Some(bytes.len()) != algorithm.key_len()
            {
                described.push((TAG_LENGTH, (bytes.len() * 8).to_string()));
            }
            let material = match (ot, format, family) {
                (
                    ObjectType::SymmetricKey,
                    KeyFormatType::Raw | KeyFormatType::TransparentSymmetricKey,
                    _,
                ) => bytes,
                (ObjectType::PrivateKey, KeyFormatType::Pkcs8, _) => bytes,
                (
                    ObjectType::PrivateKey,
                    KeyFormatType::Pkcs1 | KeyFormatType::Raw,
                    keyhold_crypto::KeyFamily::Rsa,
                ) => convert::rsa_pkcs1_to_pkcs8(&bytes),
                (ObjectType::PublicKey, KeyFormatType::X509, _) => bytes,
                (
                    ObjectType::PublicKey,
                    KeyFormatType::Pkcs1 | KeyFormatType::Raw,
                    keyhold_crypto::KeyFamily::Rsa,
                ) => convert::rsa_pkcs1_to_spki(&bytes),
                _ => {
                    return Err(Failure::new(
                        ResultReason::KeyFormatTypeNotSupported,
                        format!(
                            "{} keys in format {} are not supported",
                            ot.name(),
                            format.name()
                        ),
                    ))
                }
            };
            Ok((kind, Some(algorithm), SecretBytes::new(material), described))
        }
    }
}

/// A 3DES key: Keyhold implements no 3DES, so the key is kept as a stored key (algorithm
/// `data`, never used) with its algorithm, length and format, and returned exactly. Two- and
/// three-key 3DES: 16 or 24 bytes (parity bits included), Raw or Transparent Symmetric Key.
fn stored_key(
    format: KeyFormatType,
    alg: CryptographicAlgorithm,
    len: Option<i32>,
    bytes: Vec<u8>,
) -> Result<Decoded, Failure> {
    if !matches!(
        format,
        KeyFormatType::Raw | KeyFormatType::TransparentSymmetricKey
    ) {
        return Err(Failure::new(
            ResultReason::KeyFormatTypeNotSupported,
            format!("3DES keys in format {} are not supported", format.name()),
        ));
    }
    if !matches!(bytes.len(), 16 | 24) {
        return Err(Failure::invalid(
            "a 3DES key is 16 or 24 bytes (two or three keys, parity bits included)",
        ));
    }
    let len = len.unwrap_or(i32::try_from(bytes.len() * 8).unwrap_or(0));
    Ok((
        ObjectKind::StoredKey,
        None,
        SecretBytes::new(bytes),
        vec![
            (TAG_KEY_FORMAT, format.to_u32().to_string()),
            (TAG_STORED_KEY, convert::stored_key_tag(alg, len)),
        ],
    ))
}

fn block(
    format: KeyFormatType,
    material: Vec<u8>,
    alg: Option<(CryptographicAlgorithm, i32)>,
) -> Item {
    let mut children = vec![
        Item::enumeration(tags::KEY_FORMAT_TYPE, format.to_u32()),
        Item::structure(
            tags::KEY_VALUE,
            vec![Item::bytes(tags::KEY_MATERIAL, material)],
        ),
    ];
    if let Some((a, l)) = alg {
        children.push(Item::enumeration(tags::CRYPTOGRAPHIC_ALGORITHM, a.to_u32()));
        children.push(Item::int(tags::CRYPTOGRAPHIC_LENGTH, l));
    }
    Item::structure(tags::KEY_BLOCK, children)
}

fn data_type_tag(t: u32) -> Vec<(&'static str, String)> {
    vec![(TAG_DATA_TYPE, t.to_string())]
}

/// What a Split Key says about itself beyond its bytes, kept in the tag `kmip:split-key` as
/// `parts=N,id=N,threshold=N,method=N,format=N[,alg=N,len=N][,prime=HEX]`. A part is stored
/// and returned exactly, never used as a key (joining parts is the client's business).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SplitKey {
    parts: i32,
    id: i32,
    threshold: i32,
    method: u32,
    format: u32,
    alg: Option<(u32, Option<i32>)>,
    prime: Option<Vec<u8>>,
}

impl SplitKey {
    fn decode(obj: &Item) -> Result<(SplitKey, Vec<u8>), Failure> {
        let int = |tag| -> Result<i32, Failure> { Ok(obj.require(tag)?.as_i32()?) };
        let (parts, id, threshold) = (
            int(tags::SPLIT_KEY_PARTS)?,
            int(tags::KEY_PART_IDENTIFIER)?,
            int(tags::SPLIT_KEY_THRESHOLD)?,
        );
        if !(1..=parts).contains(&threshold) || !(1..=parts).contains(&id) {
            return Err(Failure::invalid(
                "Split Key: need 1 <= threshold <= parts and 1 <= key part identifier <= parts",
            ));
        }
        let method = obj.require(tags::SPLIT_KEY_METHOD)?.as_enum()?;
        let prime = obj
            .child(tags::PRIME_FIELD_SIZE)
            .map(|p| p.as_big_int().map(|b| b.as_be_bytes().to_vec()))
            .transpose()?;
        let block = key_block(obj)?;
        if block.child(tags::KEY_WRAPPING_DATA).is_some() {
            return Err(Failure::new(
                ResultReason::FeatureNotSupported,
                "registering wrapped keys is not supported",
            ));
        }
        let format = block.require(tags::KEY_FORMAT_TYPE)?.as_enum()?;
        let alg = block
            .child(tags::CRYPTOGRAPHIC_ALGORITHM)
            .map(Item::as_enum)
            .transpose()?;
        let len = block
            .child(tags::CRYPTOGRAPHIC_LENGTH)
            .map(Item::as_i32)
            .transpose()?;
        let split = SplitKey {
            parts,
            id,
            threshold,
            method,
            format,
            alg: alg.map(|a| (a, len)),
            prime,
        };
        Ok((split, key_material(block)?))
    }

    fn to_tag(&self) -> String {
        let mut s = format!(
            "parts={},id={},threshold={},method={},format={}",
            self.parts, self.id, self.threshold, self.method, self.format
        );
        if let Some((a, len)) = self.alg {
            s.push_str(&format!(",alg={a}"));
            if let Some(l) = len {
                s.push_str(&format!(",len={l}"));
            }
        }
        if let Some(p) = &self.prime {
            s.push_str(&format!(",prime={}", hex::encode(p)));
        }
        s
    }

    fn from_tags(tags: &std::collections::BTreeMap<String, String>) -> Result<SplitKey, Failure> {
        let corrupt = || Failure::new(ResultReason::GeneralFailure, "split key description");
        let tag = tags.get(TAG_SPLIT_KEY).ok_or_else(corrupt)?;
        let mut split = SplitKey {
            parts: 0,
            id: 0,
            threshold: 0,
            method: 0,
            format: 0,
            alg: None,
            prime: None,
        };
        let mut len = None;
        for field in tag.split(',') {
            let (k, v) = field.split_once('=').ok_or_else(corrupt)?;
            let n = || v.parse::<i64>().map_err(|_| corrupt());
            let u = || n().and_then(|x| u32::try_from(x).map_err(|_| corrupt()));
            let i = || n().and_then(|x| i32::try_from(x).map_err(|_| corrupt()));
            match k {
                "parts" => split.parts = i()?,
                "id" => split.id = i()?,
                "threshold" => split.threshold = i()?,
                "method" => split.method = u()?,
                "format" => split.format = u()?,
                "alg" => split.alg = Some((u()?, None)),
                "len" => len = Some(i()?),
                "prime" => split.prime = Some(hex::decode(v).map_err(|_| corrupt())?),
                _ => return Err(corrupt()),
            }
        }
        if let Some((_, l)) = split.alg.as_mut() {
            *l = len;
        }
        Ok(split)
    }

    fn encode(&self, material: Vec<u8>) -> Item {
        let mut block = vec![
            Item::enumeration(tags::KEY_FORMAT_TYPE, self.format),
            Item::structure(
                tags::KEY_VALUE,
                vec![Item::bytes(tags::KEY_MATERIAL, material)],
            ),
        ];
        if let Some((a, len)) = self.alg {
            block.push(Item::enumeration(tags::CRYPTOGRAPHIC_ALGORITHM, a));
            if let Some(l) = len {
                block.push(Item::int(tags::CRYPTOGRAPHIC_LENGTH, l));
            }
        }
        let mut children = vec![
            Item::int(tags::SPLIT_KEY_PARTS, self.parts),
            Item::int(tags::KEY_PART_IDENTIFIER, self.id),
            Item::int(tags::SPLIT_KEY_THRESHOLD, self.threshold),
            Item::enumeration(tags::SPLIT_KEY_METHOD, self.method),
        ];
        if let Some(p) = &self.prime {
            children.push(Item::big_int(
                tags::PRIME_FIELD_SIZE,
                keyhold_kmip::BigInt::from_signed_be(p),
            ));
        }
        children.push(Item::structure(tags::KEY_BLOCK, block));
        Item::structure(tags::SPLIT_KEY, children)
    }
}

fn data_type(info: &KeyInfo, default: u32) -> u32 {
    info.tags
        .get(TAG_DATA_TYPE)
        .and_then(|t| t.parse().ok())
        .unwrap_or(default)
}

/// The managed object of a Get response, in the requested key format (or the usual default).
pub fn encode(
    e: &ExportedKey,
    format: Option<KeyFormatType>,
) -> Result<(ObjectType, Item), Failure> {
    if let Some(w) = &e.wrapped_by {
        return encode_wrapped(e, format, w);
    }
    let info = &e.key;
    let ot = convert::object_type(info);
    let bytes = e.material.0.as_bytes().to_vec();
    let rsa = info.algorithm.family() == keyhold_crypto::KeyFamily::Rsa;
    // No format asked for: the one the key was registered in (if it is one this object can be
    // returned in), else the usual default.
    let format = format.or_else(|| {
        convert::registered_format(info).filter(|f| match (ot, f) {
            (
                ObjectType::SymmetricKey,
                KeyFormatType::Raw | KeyFormatType::TransparentSymmetricKey,
            )
            | (ObjectType::PrivateKey, KeyFormatType::Pkcs8)
            | (ObjectType::PublicKey, KeyFormatType::X509) => true,
            (ObjectType::PrivateKey | ObjectType::PublicKey, KeyFormatType::Pkcs1) => rsa,
            _ => false,
        })
    });
    let alg = match convert::algorithm_of(info) {
        // An HMAC key is as long as its material.
        Some((a, _)) if info.algorithm.family() == keyhold_crypto::KeyFamily::Hmac => {
            Some((a, i32::try_from(bytes.len() * 8).unwrap_or(i32::MAX)))
        }
        other => other,
    };
    let bad = |f: KeyFormatType| {
        Failure::new(
            ResultReason::KeyFormatTypeNotSupported,
            format!("{} objects cannot be returned as {}", ot.name(), f.name()),
        )
    };
    let item = match ot {
        ObjectType::SymmetricKey => {
            let f = format.unwrap_or(KeyFormatType::Raw);
            let b = match f {
                KeyFormatType::Raw => block(f, bytes, alg),
                KeyFormatType::TransparentSymmetricKey => Item::structure(
                    tags::KEY_BLOCK,
                    vec![
                        Item::enumeration(tags::KEY_FORMAT_TYPE, f.to_u32()),
                        Item::structure(
                            tags::KEY_VALUE,
                            vec![Item::structure(
                                tags::KEY_MATERIAL,
                                vec![Item::bytes(tags::KEY, bytes)],
                            )],
                        ),
                    ]
                    .into_iter()
                    .chain(alg.into_iter().flat_map(|(a, l)| {
                        [
                            Item::enumeration(tags::CRYPTOGRAPHIC_ALGORITHM, a.to_u32()),
                            Item::int(tags::CRYPTOGRAPHIC_LENGTH, l),
                        ]
                    }))
                    .collect(),
                ),
                f => return Err(bad(f)),
            };
            Item::structure(tags::SYMMETRIC_KEY, vec![b])
        }
        ObjectType::PrivateKey => {
            let f = format.unwrap_or(KeyFormatType::Pkcs8);
            let material = match f {
                KeyFormatType::Pkcs8 => bytes,
                KeyFormatType::Pkcs1 if rsa => {
                    convert::rsa_pkcs8_to_pkcs1(&bytes).ok_or_else(|| {
                        Failure::new(ResultReason::GeneralFailure, "stored key is not RSA PKCS#8")
                    })?
                }
                f => return Err(bad(f)),
            };
            Item::structure(tags::PRIVATE_KEY, vec![block(f, material, alg)])
        }
        ObjectType::PublicKey => {
            let f = format.unwrap_or(if rsa {
                KeyFormatType::Pkcs1
            } else {
                KeyFormatType::X509
            });
            let material = match f {
                KeyFormatType::X509 => bytes,
                KeyFormatType::Pkcs1 if rsa => {
                    convert::rsa_spki_to_pkcs1(&bytes).ok_or_else(|| {
                        Failure::new(
                            ResultReason::GeneralFailure,
                            "stored key is not an RSA SubjectPublicKeyInfo",
                        )
                    })?
                }
                f => return Err(bad(f)),
            };
            Item::structure(tags::PUBLIC_KEY, vec![block(f, material, alg)])
        }
        ObjectType::SecretData => Item::structure(
            tags::SECRET_DATA,
            vec![
                Item::enumeration(tags::SECRET_DATA_TYPE, data_type(info, 1)),
                block(KeyFormatType::Opaque, bytes, None),
            ],
        ),
        ObjectType::OpaqueObject => Item::structure(
            tags::OPAQUE_OBJECT,
            vec![
                Item::enumeration(tags::OPAQUE_DATA_TYPE, data_type(info, 0x8000_0000)),
                Item::bytes(tags::OPAQUE_DATA_VALUE, bytes),
            ],
        ),
        ObjectType::SplitKey => SplitKey::from_tags(&info.tags)?.encode(bytes),
        ObjectType::Certificate => Item::structure(
            tags::CERTIFICATE,
            vec![
                Item::enumeration(tags::CERTIFICATE_TYPE, data_type(info, 1)),
                Item::bytes(tags::CERTIFICATE_VALUE, bytes),
            ],
        ),
        other => {
            return Err(Failure::new(
                ResultReason::GeneralFailure,
                format!("cannot return {} objects", other.name()),
            ))
        }
    };
    Ok((ot, item))
}

/// A key or secret data whose material the core returned wrapped: with Encoding Option "No
/// Encoding" the Key Value structure stays and its Key Material is the wrapped bytes, described
/// by Key Wrapping Data. Only
/// the stored format can be wrapped, since the wrapping happens where the material is.
fn encode_wrapped(
    e: &ExportedKey,
    format: Option<KeyFormatType>,
    w: &WrappedBy,
) -> Result<(ObjectType, Item), Failure> {
    const ENCRYPT: u32 = 1;
    const NO_ENCODING: u32 = 1;
    let info = &e.key;
    let ot = convert::object_type(info);
    let (tag, natural) = match ot {
        ObjectType::SymmetricKey => (tags::SYMMETRIC_KEY, KeyFormatType::Raw),
        ObjectType::PrivateKey => (tags::PRIVATE_KEY, KeyFormatType::Pkcs8),
        ObjectType::SecretData => (tags::SECRET_DATA, KeyFormatType::Opaque),
        other => {
            return Err(Failure::new(
                ResultReason::FeatureNotSupported,
                format!("{} objects are not returned wrapped", other.name()),
            ))
        }
    };
    if let Some(f) = format.filter(|f| *f != natural) {
        return Err(Failure::new(
            ResultReason::KeyFormatTypeNotSupported,
            format!(
                "a wrapped {} is returned as {} only, not {}",
                ot.name(),
                natural.name(),
                f.name()
            ),
        ));
    }
    let mode = match w.mode {
        WrapMode::AesKeyWrap => BlockCipherMode::NistKeyWrap,
        WrapMode::AesKeyWrapPad => BlockCipherMode::AesKeyWrapPadding,
    };
    let mut children = vec![
        Item::enumeration(tags::KEY_FORMAT_TYPE, natural.to_u32()),
        Item::structure(
            tags::KEY_VALUE,
            vec![Item::bytes(
                tags::KEY_MATERIAL,
                e.material.0.as_bytes().to_vec(),
            )],
        ),
    ];
    if let Some((a, l)) = convert::algorithm_of(info) {
        children.push(Item::enumeration(tags::CRYPTOGRAPHIC_ALGORITHM, a.to_u32()));
        children.push(Item::int(tags::CRYPTOGRAPHIC_LENGTH, l));
    }
    children.push(Item::structure(
        tags::KEY_WRAPPING_DATA,
        vec![
            Item::enumeration(tags::WRAPPING_METHOD, ENCRYPT),
            Item::structure(
                tags::ENCRYPTION_KEY_INFORMATION,
                vec![
                    Item::text(tags::UNIQUE_IDENTIFIER, w.key_id.to_string()),
                    Item::structure(
                        tags::CRYPTOGRAPHIC_PARAMETERS,
                        vec![Item::enumeration(tags::BLOCK_CIPHER_MODE, mode.to_u32())],
                    ),
                ],
            ),
            Item::enumeration(tags::ENCODING_OPTION, NO_ENCODING),
        ],
    ));
    let block = Item::structure(tags::KEY_BLOCK, children);
    let object = if ot == ObjectType::SecretData {
        vec![
            Item::enumeration(tags::SECRET_DATA_TYPE, data_type(info, 1)),
            block,
        ]
    } else {
        vec![block]
    };
    Ok((ot, Item::structure(tag, object)))
}

/// Listings of the store that together hold every key matching `attrs`, narrowed by indexed
/// attributes: a Name (the Keyhold name, or one of the labels, since KMIP names need not be
/// unique), an Object Group or a custom attribute, and a Cryptographic Algorithm that
/// names one Keyhold algorithm (with its Cryptographic Length where it needs one). `None` when
/// there is none: then every key is listed. Whatever is listed is still checked with
/// [`matches`].
pub fn indexed_filters(attrs: &Attributes) -> Result<Option<Vec<ListKeys>>, Failure> {
    let algorithm = match attrs.get("Cryptographic Algorithm") {
        Some(a) => {
            let len = attrs
                .get("Cryptographic Length")
                .map(|l| l.value.as_i32())
                .transpose()?;
            // A length the algorithm does not have matches nothing; `matches` says so.
            convert::keyhold_algorithm(a.as_enum()?, len).ok()
        }
        None => None,
    };
    let list = |name_prefix: Option<String>, tag: Option<String>| ListKeys {
        algorithm,
        name_prefix,
        tag,
        ..ListKeys::default()
    };
    let tag = |name: &str, value: &str| list(None, Some(format!("{name}={value}")));
    if let Some(a) = attrs.get("Name") {
        let name = a.name_value()?;
        return Ok(Some(vec![
            list(Some(name.clone()), None),
            ListKeys {
                label: Some(name),
                ..list(None, None)
            },
        ]));
    }
    if let Some(a) = attrs.get("Object Group") {
        return Ok(Some(vec![tag(convert::TAG_GROUP, a.value.as_text()?)]));
    }
    if let Some(a) = attrs
        .0
        .iter()
        .find(|a| a.name.starts_with("x-") || a.name.starts_with("y-"))
    {
        if let Ok(value) = a.value.as_text() {
            return Ok(Some(vec![tag(&a.name, value)]));
        }
    }
    Ok(algorithm.map(|_| vec![list(None, None)]))
}

/// Whether `k` has every attribute Locate asked for. Attributes Keyhold does not keep match
/// nothing, so an unknown filter never returns everything by accident. A Name matches any of
/// the object's names.
pub fn matches(k: &KeyInfo, attrs: &Attributes) -> Result<bool, Failure> {
    for a in &attrs.0 {
        let ok = match a.name.as_str() {
            "Object Type" => convert::object_type(k) == a.as_enum::<ObjectType>()?,
            "Cryptographic Algorithm" => {
                convert::algorithm_of(k).map(|x| x.0) == Some(a.as_enum()?)
            }
            "Cryptographic Length" => {
                convert::algorithm_of(k).map(|x| x.1) == Some(a.value.as_i32()?)
            }
            "State" => convert::state(k.state) == a.as_enum::<State>()?,
            "Name" => convert::names_of(k).contains(&a.name_value()?),
            "Object Group" => {
                k.tags.get(convert::TAG_GROUP).map(String::as_str) == Some(a.value.as_text()?)
            }
            "Contact Information" => {
                k.tags.get(convert::TAG_CONTACT).map(String::as_str) == Some(a.value.as_text()?)
            }
            "Unique Identifier" => k.id.to_string() == a.value.as_text()?,
            convert::ASI => {
                let (key, data) = convert::application_info(&a.value)?;
                k.tags.get(&key) == Some(&data)
            }
            "Cryptographic Usage Mask" => {
                let want = a.value.as_i32()?;
                convert::usage_mask_of(k) & want == want
            }
            n if n.starts_with("x-") || n.starts_with("y-") => {
                k.tags.get(n).map(String::as_str) == a.value.as_text().ok()
            }
            _ => false,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_lists_by_an_indexed_attribute_when_there_is_one() {
        use keyhold_kmip::Attribute;
        let text = |name: &str, value: &str| Attribute {
            name: name.into(),
            index: None,
            value: Item::text(tags::by_name(name).unwrap_or(tags::ATTRIBUTE_VALUE), value),
        };
        let state = Attribute::standard(Item::enumeration(tags::STATE, 2u32));
        let filters = |attrs: Vec<Attribute>| {
            indexed_filters(&Attributes(attrs)).unwrap().map(|f| {
                f.into_iter()
                    .map(|l| (l.name_prefix, l.tag))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            indexed_filters(&Attributes(vec![state.clone(), text("Name", "payroll")]))
                .unwrap()
                .map(|f| {
                    f.into_iter()
                        .map(|l| (l.name_prefix, l.label))
                        .collect::<Vec<_>>()
                }),
            Some(vec![
                (Some("payroll".into()), None),
                (None, Some("payroll".into())),
            ]),
            "the Keyhold name, and the labels"
        );
        assert_eq!(
            filters(vec![text("Object Group", "g=1")]),
            Some(vec![(None, Some("kmip:object-group=g=1".into()))])
        );
        assert_eq!(
            filters(vec![text("x-owner", "ops")]),
            Some(vec![(None, Some("x-owner=ops".into()))])
        );
        assert_eq!(
            filters(vec![state.clone()]),
            None,
            "the whole tenant is listed"
        );
        let alg = |alg: CryptographicAlgorithm, len: Option<i32>| {
            let mut attrs = vec![
                state.clone(),
                Attribute::standard(Item::enumeration(
                    tags::CRYPTOGRAPHIC_ALGORITHM,
                    alg.to_u32(),
                )),
            ];
            attrs
                .extend(len.map(|l| Attribute::standard(Item::int(tags::CRYPTOGRAPHIC_LENGTH, l))));
            indexed_filters(&Attributes(attrs))
                .unwrap()
                .map(|f| f.into_iter().map(|l| l.algorithm).collect::<Vec<_>>())
        };
        assert_eq!(
            alg(CryptographicAlgorithm::Aes, Some(256)),
            Some(vec![Some(keyhold_core::Algorithm::Aes256)])
        );
        assert_eq!(
            alg(CryptographicAlgorithm::HmacSha384, None),
            Some(vec![Some(keyhold_core::Algorithm::HmacSha384)])
        );
        assert_eq!(
            alg(CryptographicAlgorithm::Aes, None),
            None,
            "AES of any length"
        );
        assert_eq!(
            alg(CryptographicAlgorithm::Aes, Some(100)),
            None,
            "matches nothing"
        );
    }

    #[test]
    fn register_remembers_the_key_format_and_an_hmac_keys_own_length() {
        use keyhold_core::Algorithm;
        let payload = |tag, f: KeyFormatType, a: CryptographicAlgorithm, len, bytes: Vec<u8>| {
            Item::structure(
                tags::REQUEST_PAYLOAD,
                vec![Item::structure(tag, vec![block(f, bytes, Some((a, len)))])],
            )
        };
        let described = |ot, p: &Item| {
            let (_, alg, material, described) = decode(ot, p).unwrap();
            let described: Vec<(String, String)> = described
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            (alg, material.as_bytes().to_vec(), described)
        };
        let tag = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let hmac = CryptographicAlgorithm::HmacSha256;
        let (alg, material, d) = described(
            ObjectType::SymmetricKey,
            &payload(
                tags::SYMMETRIC_KEY,
                KeyFormatType::Raw,
                hmac,
                512,
                vec![7; 64],
            ),
        );
        assert_eq!(alg, Some(Algorithm::HmacSha256));
        assert_eq!(material, vec![7; 64]);
        assert_eq!(d, vec![tag(TAG_KEY_FORMAT, "1"), tag(TAG_LENGTH, "512")]);
        let (_, _, d) = described(
            ObjectType::SymmetricKey,
            &payload(
                tags::SYMMETRIC_KEY,
                KeyFormatType::Raw,
                hmac,
                256,
                vec![7; 32],
            ),
        );
        assert_eq!(
            d,
            vec![tag(TAG_KEY_FORMAT, "1")],
            "the usual length is not kept"
        );
        // RSA keys: stored as PKCS#8 / SubjectPublicKeyInfo, returned as registered (Raw RSA
        // material is PKCS#1).
        let rsa = CryptographicAlgorithm::Rsa;
        for (ot, t, f, kept) in [
            (
                ObjectType::PrivateKey,
                tags::PRIVATE_KEY,
                KeyFormatType::Pkcs1,
                "3",
            ),
            (
                ObjectType::PrivateKey,
                tags::PRIVATE_KEY,
                KeyFormatType::Raw,
                "3",
            ),
            (
                ObjectType::PrivateKey,
                tags::PRIVATE_KEY,
                KeyFormatType::Pkcs8,
                "4",
            ),
            (
                ObjectType::PublicKey,
                tags::PUBLIC_KEY,
                KeyFormatType::X509,
                "5",
            ),
            (
                ObjectType::PublicKey,
                tags::PUBLIC_KEY,
                KeyFormatType::Pkcs1,
                "3",
            ),
        ] {
            let (_, _, d) = described(ot, &payload(t, f, rsa, 2048, vec![0x30, 0]));
            assert_eq!(d, vec![tag(TAG_KEY_FORMAT, kept)], "{f:?}");
        }
    }

    #[test]
    fn a_3des_key_is_decoded_as_a_stored_key_with_its_algorithm_and_length() {
        let payload = |len: usize, format: KeyFormatType| {
            Item::structure(
                tags::REQUEST_PAYLOAD,
                vec![Item::structure(
                    tags::SYMMETRIC_KEY,
                    vec![block(
                        format,
                        vec![3; len],
                        Some((CryptographicAlgorithm::TripleDes, (len * 8) as i32)),
                    )],
                )],
            )
        };
        let (kind, alg, material, described) =
            decode(ObjectType::SymmetricKey, &payload(24, KeyFormatType::Raw)).unwrap();
        assert_eq!((kind, alg), (ObjectKind::StoredKey, None));
        assert_eq!(material.as_bytes(), &[3; 24][..]);
        assert_eq!(
            described,
            vec![
                (TAG_KEY_FORMAT, "1".to_owned()),
                (TAG_STORED_KEY, "alg=2,len=192".to_owned())
            ]
        );
        assert!(decode(ObjectType::SymmetricKey, &payload(16, KeyFormatType::Raw)).is_ok());
        let bad = decode(ObjectType::SymmetricKey, &payload(8, KeyFormatType::Raw)).unwrap_err();
        assert_eq!(bad.reason, ResultReason::InvalidField);
        let bad = decode(ObjectType::SymmetricKey, &payload(24, KeyFormatType::Pkcs8)).unwrap_err();
        assert_eq!(bad.reason, ResultReason::KeyFormatTypeNotSupported);
    }

    #[test]
    fn split_key_description_round_trips_through_its_tag() {
        let split = SplitKey {
            parts: 5,
            id: 2,
            threshold: 3,
            method: 3,
            format: 1,
            alg: Some((3, Some(128))),
            prime: Some(vec![0, 0, 0, 0, 0, 1, 0, 1]),
        };
        let item = split.encode(vec![7; 16]);
        let (decoded, material) = SplitKey::decode(&item).unwrap();
        assert_eq!(decoded, split);
        assert_eq!(material, vec![7; 16]);
        let tags = [(TAG_SPLIT_KEY.to_owned(), split.to_tag())].into();
        assert_eq!(SplitKey::from_tags(&tags).unwrap(), split);
        let bad = [(TAG_SPLIT_KEY.to_owned(), "parts=x".to_owned())].into();
        assert!(SplitKey::from_tags(&bad).is_err());
        let mut item = split.encode(vec![7; 16]);
        if let keyhold_kmip::Value::Structure(children) = &mut item.value {
            children[2] = Item::int(tags::SPLIT_KEY_THRESHOLD, 6);
        }
        assert!(SplitKey::decode(&item).is_err(), "threshold above parts");
    }
}
