//! KMIP operations, each decoded into one of the core's operations and encoded back. No
//! business rule lives here: authorization, life cycle and cryptography are the core's.

use keyhold_core::clock::Timestamp;
use keyhold_core::ids::KeyRef;
use keyhold_core::lifecycle::{KeyState, RevocationReason};
use keyhold_core::model::ObjectKind;
use keyhold_core::ops::{
    ChangeState, CipherDecrypt, CipherEncrypt, CipherMode, CreateKey, CreateKeyPair, Derivation,
    DeriveKey, DescribeKey, ExportKey, GenerateMac, InfoAsked, KeyInfo, KeyPairInfo, KeySpec,
    ListKeys, Random, RegisterKey, ReplaceKey, SecretData, ServerInfo, Sign, StateChange, Verify,
    VerifyMac, WrapMode, WrapSpec,
};
use keyhold_core::{
    Algorithm, Credential, ErrorCode, MessageType, Operation, RequestMeta, Response,
    SigningAlgorithm,
};
use keyhold_kmip::attributes::Attribute;
use keyhold_kmip::enums::{
    BlockCipherMode, CryptographicAlgorithm, DerivationMethod, HashingAlgorithm, KeyFormatType,
    ObjectType, Operation as Op, PaddingMethod, QueryFunction, ResultReason,
};
use keyhold_kmip::{tags, Attributes, Failure, Item, ProtocolVersion};

use super::convert;
use crate::app::App;

/// What one request needs to run its batch items.
pub struct Session<'a> {
    pub app: &'a App,
    pub credential: &'a Credential,
    pub meta: RequestMeta,
    pub version: ProtocolVersion,
    /// The ID placeholder: the Unique Identifier of the last object a batch item made or used.
    pub placeholder: Option<String>,
    /// Operations run through the core so far: a batch item that fails without one was
    /// refused by the adapter, and is audited as such (see `kmip::handle`).
    pub core_calls: std::sync::atomic::AtomicU32,
}

/// The operations this server performs (Query lists them).
pub const SUPPORTED: &[Op] = &[
    Op::Create,
    Op::CreateKeyPair,
    Op::Register,
    Op::ReKey,
    Op::Locate,
    Op::Check,
    Op::Get,
    Op::GetAttributes,
    Op::GetAttributeList,
    Op::AddAttribute,
    Op::ModifyAttribute,
    Op::DeleteAttribute,
    Op::Activate,
    Op::Revoke,
    Op::Destroy,
    Op::Query,
    Op::DiscoverVersions,
    Op::Encrypt,
    Op::Decrypt,
    Op::Sign,
    Op::SignatureVerify,
    Op::Mac,
    Op::MacVerify,
    Op::RngRetrieve,
    Op::SetAttribute,
    Op::Archive,
    Op::Recover,
    Op::ReKeyKeyPair,
    Op::DeriveKey,
];

pub(super) type Out = Result<Vec<Item>, Failure>;

/// Secret Data Type Seed: what derived secret data is.
const SECRET_DATA_SEED: u32 = 2;

impl Session<'_> {
    pub(super) async fn run(&self, op: Operation) -> Result<Response, Failure> {
        let mut meta = self.meta.clone();
        meta.request_id = keyhold_core::ids::RequestId::generate();
        self.core_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.app
            .run(&meta, self.credential, op)
            .await
            .map_err(|e| convert::failure(&e, self.version))
    }

    /// Authenticates and audits a question about the server (Query, Discover Versions),
    /// which the adapter answers itself.
    async fn server_info(&self, asked: InfoAsked) -> Result<(), Failure> {
        self.run(Operation::ServerInfo(ServerInfo { asked }))
            .await
            .map(|_| ())
    }

    pub(super) fn uid(&self, payload: &Item) -> Result<String, Failure> {
        match payload.child(tags::UNIQUE_IDENTIFIER) {
            Some(i) => Ok(i.as_text()?.to_owned()),
            None => self
                .placeholder
                .clone()
                .ok_or_else(|| Failure::missing("Unique Identifier")),
        }
    }

    /// The answer of an operation on `uid`: its Unique Identifier, then `rest`; `uid` becomes
    /// the ID placeholder of the next batch item.
    pub(super) fn answer(&mut self, uid: String, rest: impl IntoIterator<Item = Item>) -> Out {
        let mut out = vec![Self::uid_item(&uid)];
        out.extend(rest);
        self.placeholder = Some(uid);
        Ok(out)
    }

    pub(super) fn uid_item(uid: &str) -> Item {
        Item::text(tags::UNIQUE_IDENTIFIER, uid)
    }

    pub(super) async fn describe(&self, uid: &str) -> Result<KeyInfo, Failure> {
        match self
            .run(Operation::DescribeKey(DescribeKey {
                key: KeyRef(uid.to_owned()),
            }))
            .await?
        {
            Response::Key(info) if !info.state.is_destroyed() => Ok(*info),
            Response::Key(_) => Err(Failure::new(ResultReason::ItemNotFound, "object not found")),
            _ => Err(internal()),
        }
    }

    /// Runs one batch item.
    pub async fn execute(&mut self, op: Op, payload: &Item) -> Out {
        let v = self.version;
        match op {
            Op::Create => self.create(payload).await,
            Op::CreateKeyPair => self.create_key_pair(payload).await,
            Op::Register => self.register(payload).await,
            Op::ReKey => self.rekey(payload).await,
            Op::ReKeyKeyPair => self.rekey_key_pair(payload).await,
            Op::DeriveKey => self.derive_key(payload).await,
            Op::Locate => self.locate(payload).await,
            Op::Check => self.check(payload).await,
            Op::Get => self.get(payload).await,
            Op::GetAttributes => self.get_attributes(payload).await,
            Op::GetAttributeList => {
                let uid = self.uid(payload)?;
                let info = self.describe(&uid).await?;
                let mut out = vec![Self::uid_item(&uid)];
                let mut names: Vec<Attribute> = convert::attributes_of(&info, false);
                names.sort_by(|a, b| a.name.cmp(&b.name));
                names.dedup_by(|a, b| a.name == b.name);
                for a in names {
                    if v.is_2x() {
                        match a.tag() {
                            Some(t) => {
                                out.push(Item::enumeration(tags::ATTRIBUTE_REFERENCE, t.value()))
                            }
                            None => out.push(Item::structure(
                                tags::ATTRIBUTE_REFERENCE,
                                vec![
                                    Item::text(tags::VENDOR_IDENTIFICATION, "x"),
                                    Item::text(tags::ATTRIBUTE_NAME, a.name.clone()),
                                ],
                            )),
                        }
                    } else {
                        out.push(Item::text(tags::ATTRIBUTE_NAME, a.name.clone()));
                    }
                }
                self.placeholder = Some(uid);
                Ok(out)
            }
            Op::AddAttribute | Op::ModifyAttribute | Op::SetAttribute => {
                self.set_attribute(op, payload).await
            }
            Op::DeleteAttribute => self.delete_attribute(payload).await,
            Op::Activate => self.change(payload, StateChange::Activate).await,
            Op::Revoke => {
                let reason = payload
                    .child(tags::REVOCATION_REASON)
                    .and_then(|r| r.child(tags::REVOCATION_REASON_CODE))
                    .map(Item::as_enum)
                    .transpose()?
                    .unwrap_or(1);
                let reason = match reason {
                    2 => RevocationReason::KeyCompromise,
                    3 => RevocationReason::CaCompromise,
                    4 => RevocationReason::AffiliationChanged,
                    5 => RevocationReason::Superseded,
                    6 => RevocationReason::CessationOfOperation,
                    7 => RevocationReason::PrivilegeWithdrawn,
                    _ => RevocationReason::Unspecified,
                };
                self.change(payload, StateChange::Revoke { reason }).await
            }
            Op::Destroy => self.change(payload, StateChange::Destroy).await,
            Op::Archive => self.change(payload, StateChange::Archive).await,
            Op::Recover => self.change(payload, StateChange::Recover).await,
            Op::Query => {
                self.server_info(InfoAsked::Capabilities).await?;
                Ok(self.query(payload)?)
            }
            Op::DiscoverVersions => {
                let asked: Vec<ProtocolVersion> = payload
                    .children(tags::PROTOCOL_VERSION)
                    .map(ProtocolVersion::from_item)
                    .collect::<Result<_, _>>()?;
                self.server_info(InfoAsked::ProtocolVersions).await?;
                Ok(ProtocolVersion::SUPPORTED
                    .into_iter()
                    .filter(|v| asked.is_empty() || asked.contains(v))
                    .map(ProtocolVersion::to_item)
                    .collect())
            }
            Op::Encrypt => self.encrypt(payload).await,
            Op::Decrypt => self.decrypt(payload).await,
            Op::Sign => self.sign(payload).await,
            Op::SignatureVerify => self.verify(payload).await,
            Op::Mac => self.mac(payload).await,
            Op::MacVerify => self.mac_verify(payload).await,
            Op::RngRetrieve => {
                let len = payload.require(tags::DATA_LENGTH)?.as_i32()?;
                let length = u32::try_from(len)
                    .map_err(|_| Failure::invalid("Data Length must be positive"))?;
                match self.run(Operation::Random(Random { length })).await? {
                    Response::Random(r) => Ok(vec![Item::bytes(tags::DATA, r.random)]),
                    _ => Err(internal()),
                }
            }
            other => Err(Failure::new(
                ResultReason::OperationNotSupported,
                format!("{} is not supported", other.name()),
            )),
        }
    }

    fn attributes(&self, payload: &Item) -> Result<Attributes, Failure> {
        Attributes::read(payload, tags::TEMPLATE_ATTRIBUTE, tags::ATTRIBUTES)
    }

    /// The attributes of a new object of `algorithm`: names (labels), KMIP-only attributes
    /// (tags), the Cryptographic Usage Mask (kept exactly, with the Keyhold usage it implies)
    /// and the Activation and Deactivation Dates. Without an Activation Date the object is
    /// Pre-Active; with one that is not in the future it is Active at once.
    fn spec(&self, attrs: &Attributes, algorithm: Algorithm) -> Result<KeySpec, Failure> {
        let mask = attrs.int("Cryptographic Usage Mask")?;
        let mut spec = KeySpec {
            tags: convert::tags_from(attrs)?,
            labels: convert::labels_from(attrs)?,
            usage: convert::usage_from_mask(mask, algorithm)?,
            usage_mask: convert::usage_mask(mask),
            pre_active: true,
            ..KeySpec::default()
        };
        if let Some(t) = attrs.date("Activation Date")? {
            spec.activation_date = Some(Timestamp::from_unix_secs(t));
        }
        if let Some(t) = attrs.date("Deactivation Date")? {
            spec.deactivation_date = Some(Timestamp::from_unix_secs(t));
        }
        Ok(spec)
    }

    /// KMIP Check: whether the object may be used as the request says. A Cryptographic Usage
    /// Mask must be within the object's; Keyhold keeps no Usage Limits or lease on objects, so
    /// a Usage Limits Count or Lease Time asks that the object be usable now (Active), without
    /// a count limit, and a lease may not run past its Deactivation Date. Success answers the
    /// Unique Identifier; a failure answers it too, with the attribute that failed, in its
    /// Response Payload (as the specification says, and as PyKMIP's client reads it).
    async fn check(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let v = self.version;
        let fail = |f: Failure, attribute: Option<&Item>| {
            let mut out = vec![Self::uid_item(&uid)];
            out.extend(attribute.cloned());
            f.with_payload(out)
        };
        let info = self.describe(&uid).await.map_err(|f| fail(f, None))?;
        let mask_item = payload.child(tags::CRYPTOGRAPHIC_USAGE_MASK);
        let count_item = payload.child(tags::USAGE_LIMITS_COUNT);
        let lease_item = payload.child(tags::LEASE_TIME);
        if let Some(item) = mask_item {
            let mask = item.as_i32().map_err(|e| fail(e.into(), None))?;
            let allowed = convert::usage_mask_of(&info);
            if mask & !allowed != 0 {
                return Err(fail(
                    Failure::new(
                        convert::result_reason(ErrorCode::WrongKeyUsage, v),
                        format!(
                            "Cryptographic Usage Mask: {mask:#x} is not within the object's \
                             {allowed:#x}"
                        ),
                    ),
                    Some(item),
                ));
            }
        }
        let count = count_item
            .map(Item::as_i64)
            .transpose()
            .map_err(|e| fail(e.into(), None))?;
        let lease = lease_item
            .map(Item::as_interval)
            .transpose()
            .map_err(|e| fail(e.into(), None))?;
        if count.is_some_and(|c| c <= 0) {
            return Err(fail(
                Failure::invalid("Usage Limits Count must be positive"),
                count_item,
            ));
        }
        if (count.is_some() || lease.is_some()) && info.state != KeyState::Active {
            let (attribute, item) = match count_item {
                Some(i) => ("Usage Limits Count", Some(i)),
                None => ("Lease Time", lease_item),
            };
            return Err(fail(
                Failure::new(
                    convert::result_reason(ErrorCode::InvalidKeyState, v),
                    format!("{attribute}: the object is not active"),
                ),
                item,
            ));
        }
        if let (Some(lease), Some(end)) = (lease, info.lifecycle.deactivation_date) {
            let until = (self.app.kms.now().millis()).saturating_add(i64::from(lease) * 1000);
            if until > end.millis() {
                return Err(fail(
                    Failure::new(
                        ResultReason::PermissionDenied,
                        "Lease Time: the lease would run past the object's Deactivation Date",
                    ),
                    lease_item,
                ));
            }
        }
        self.answer(uid, [])
    }

    async fn create(&mut self, payload: &Item) -> Out {
        let ot: ObjectType = payload.require(tags::OBJECT_TYPE)?.as_enum_of()?;
        if ot != ObjectType::SymmetricKey {
            return Err(Failure::new(
                ResultReason::InvalidField,
                "Create makes symmetric keys; use Create Key Pair or Register",
            ));
        }
        let attrs = self.attributes(payload)?;
        let alg = attrs
            .enum_of::<CryptographicAlgorithm>("Cryptographic Algorithm")?
            .ok_or_else(|| Failure::missing("Cryptographic Algorithm"))?;
        let algorithm = convert::keyhold_algorithm(alg, attrs.int("Cryptographic Length")?)?;
        let spec = self.spec(&attrs, algorithm)?;
        let info = match self
            .run(Operation::CreateKey(CreateKey {
                algorithm,
                spec,
                idempotency_token: None,
            }))
            .await?
        {
            Response::Key(k) => k,
            _ => return Err(internal()),
        };
        let uid = info.id.to_string();
        self.placeholder = Some(uid.clone());
        Ok(vec![
            Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey.to_u32()),
            Self::uid_item(&uid),
        ])
    }

    /// KMIP Re-key: a replacement object with a new identifier (Keyhold's own rotation keeps
    /// the identifier and adds a version: see `RotateKey`), made by the core's `ReplaceKey`
    /// with the old key's attributes; it takes over the old key's names and the two are linked
    /// (Replacement Object / Replaced Object). An Offset sets the activation that long after
    /// now; an Activation or Deactivation Date in the request's attributes sets that date.
    async fn rekey(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let old = self.describe(&uid).await?;
        if old.kind != ObjectKind::Key || old.algorithm.is_asymmetric() {
            return Err(Failure::new(
                ResultReason::InvalidField,
                "Re-key replaces symmetric keys",
            ));
        }
        let request = self.replacement(payload, &old, &[tags::TEMPLATE_ATTRIBUTE])?;
        let info = match self.run(Operation::ReplaceKey(request)).await? {
            Response::Key(k) => k,
            _ => return Err(internal()),
        };
        self.answer(info.id.to_string(), [])
    }

    /// KMIP Re-key Key Pair, like Re-key: a new pair replacing the private key and its public
    /// key, each linked to the one it replaces.
    async fn rekey_key_pair(&mut self, payload: &Item) -> Out {
        let uid = match payload.child(tags::PRIVATE_KEY_UNIQUE_IDENTIFIER) {
            Some(i) => i.as_text()?.to_owned(),
            None => self
                .placeholder
                .clone()
                .ok_or_else(|| Failure::missing("Private Key Unique Identifier"))?,
        };
        let old = self.describe(&uid).await?;
        if old.kind != ObjectKind::Key || !old.algorithm.is_asymmetric() {
            return Err(Failure::new(
                ResultReason::InvalidField,
                "Re-key Key Pair replaces private keys",
            ));
        }
        let request = self.replacement(
            payload,
            &old,
            &[
                tags::COMMON_TEMPLATE_ATTRIBUTE,
                tags::PRIVATE_KEY_TEMPLATE_ATTRIBUTE,
            ],
        )?;
        let pair = match self.run(Operation::ReplaceKey(request)).await? {
            Response::KeyPair(p) => p,
            _ => return Err(internal()),
        };
        self.pair_answer(&pair)
    }

    /// The `ReplaceKey` request of a Re-key (Key Pair): the Offset, and the Activation and
    /// Deactivation Dates of the templates (1.x, and what PyKMIP sends in 2.0 too) or of the
    /// 2.x attribute structures.
    fn replacement(
        &self,
        payload: &Item,
        old: &KeyInfo,
        templates: &[keyhold_kmip::Tag],
    ) -> Result<ReplaceKey, Failure> {
        let mut attrs = Attributes::default();
        for t in templates {
            let v2 = if *t == tags::COMMON_TEMPLATE_ATTRIBUTE {
                tags::COMMON_ATTRIBUTES
            } else if *t == tags::PRIVATE_KEY_TEMPLATE_ATTRIBUTE {
                tags::PRIVATE_KEY_ATTRIBUTES
            } else {
                tags::ATTRIBUTES
            };
            attrs.0.extend(Attributes::read(payload, *t, v2)?.0);
        }
        let date = |name: &str| -> Result<Option<Timestamp>, Failure> {
            Ok(attrs.date(name)?.map(Timestamp::from_unix_secs))
        };
        // A registered HMAC key's own length does not carry over to generated material.
        let mut tags_new = old.tags.clone();
        tags_new.remove(convert::TAG_LENGTH);
        Ok(ReplaceKey {
            key: KeyRef(old.id.to_string()),
            offset_secs: payload
                .child(tags::OFFSET)
                .map(Item::as_interval)
                .transpose()?
                .map(u64::from),
            activation_date: date("Activation Date")?,
            deactivation_date: date("Deactivation Date")?,
            tags: Some(tags_new),
        })
    }

    async fn new_pair(&mut self, request: CreateKeyPair) -> Out {
        let pair = match self.run(Operation::CreateKeyPair(request)).await? {
            Response::KeyPair(p) => p,
            _ => return Err(internal()),
        };
        self.pair_answer(&pair)
    }

    /// The answer of Create Key Pair and Re-key Key Pair; the private key becomes the ID
    /// placeholder.
    fn pair_answer(&mut self, pair: &KeyPairInfo) -> Out {
        let private_id = pair.private_key.id.to_string();
        self.placeholder = Some(private_id.clone());
        Ok(vec![
            Item::text(tags::PRIVATE_KEY_UNIQUE_IDENTIFIER, private_id),
            Item::text(
                tags::PUBLIC_KEY_UNIQUE_IDENTIFIER,
                pair.public_key.id.to_string(),
            ),
        ])
    }

    /// KMIP Derive Key: PBKDF2 (from secret data or a key), HMAC (HKDF, RFC 5869) and
    /// NIST800-108-C (counter mode, HMAC PRF, fixed input = Derivation Data), making a
    /// symmetric key or secret data (of the Cryptographic Length asked for, a multiple of 8
    /// bits; Secret Data Type Seed).
    async fn derive_key(&mut self, payload: &Item) -> Out {
        let ot: ObjectType = payload.require(tags::OBJECT_TYPE)?.as_enum_of()?;
        if !matches!(ot, ObjectType::SymmetricKey | ObjectType::SecretData) {
            return Err(Failure::new(
                ResultReason::InvalidField,
                "Derive Key makes symmetric keys and secret data",
            ));
        }
        let bases: Vec<&Item> = payload.children(tags::UNIQUE_IDENTIFIER).collect();
        let base = match bases.as_slice() {
            [one] => one.as_text()?.to_owned(),
            [] => self
                .placeholder
                .clone()
                .ok_or_else(|| Failure::missing("Unique Identifier"))?,
            _ => {
                return Err(Failure::new(
                    ResultReason::FeatureNotSupported,
                    "derivation from more than one object is not supported",
                ))
            }
        };
        let method: DerivationMethod = payload.require(tags::DERIVATION_METHOD)?.as_enum_of()?;
        let params = payload.require(tags::DERIVATION_PARAMETERS)?;
        let bytes = |tag| -> Result<Vec<u8>, Failure> {
            Ok(params
                .child(tag)
                .map(Item::as_bytes)
                .transpose()?
                .map(|b| b.to_vec())
                .unwrap_or_default())
        };
        let hash = match params
            .child(tags::CRYPTOGRAPHIC_PARAMETERS)
            .and_then(|p| p.child(tags::HASHING_ALGORITHM))
            .map(|h| h.as_enum_of::<HashingAlgorithm>())
            .transpose()?
        {
            // SHA-1 only inside PBKDF2 and HKDF (the core refuses it for SP 800-108).
            Some(HashingAlgorithm::Sha1) => keyhold_crypto::KdfHash::Sha1,
            None | Some(HashingAlgorithm::Sha256) => keyhold_crypto::KdfHash::Sha256,
            Some(HashingAlgorithm::Sha384) => keyhold_crypto::KdfHash::Sha384,
            Some(HashingAlgorithm::Sha512) => keyhold_crypto::KdfHash::Sha512,
            Some(h) => {
                return Err(Failure::new(
                    ResultReason::CryptographicFailure,
                    format!(
                        "hashing algorithm {} is not supported for derivation",
                        h.name()
                    ),
                ))
            }
        };
        let derivation = match method {
            DerivationMethod::Pbkdf2 => Derivation::Pbkdf2 {
                hash,
                salt: bytes(tags::SALT)?,
                iterations: params
                    .require(tags::ITERATION_COUNT)?
                    .as_i32()?
                    .try_into()
                    .map_err(|_| Failure::invalid("Iteration Count must be positive"))?,
            },
            DerivationMethod::Hmac => Derivation::Hkdf {
                hash,
                salt: bytes(tags::SALT)?,
                info: bytes(tags::DERIVATION_DATA)?,
            },
            // Derivation Data is the whole fixed input (as PyKMIP's server and the NIST CAVP
            // vectors take it): nothing is appended.
            DerivationMethod::Nist800108C => Derivation::Sp800108Counter {
                hash,
                context: bytes(tags::DERIVATION_DATA)?,
                fixed_input: true,
            },
            m => {
                return Err(Failure::new(
                    ResultReason::FeatureNotSupported,
                    format!("derivation method {} is not supported", m.name()),
                ))
            }
        };
        let attrs = self.attributes(payload)?;
        let (algorithm, kind, length) = if ot == ObjectType::SecretData {
            let bits = attrs
                .int("Cryptographic Length")?
                .ok_or_else(|| Failure::missing("Cryptographic Length"))?;
            let bytes = u32::try_from(bits)
                .ok()
                .filter(|b| b % 8 == 0)
                .map(|b| b / 8)
                .ok_or_else(|| {
                    Failure::invalid("Cryptographic Length must be a positive multiple of 8")
                })?;
            (Algorithm::Data, ObjectKind::SecretData, Some(bytes))
        } else {
            let alg = attrs
                .enum_of::<CryptographicAlgorithm>("Cryptographic Algorithm")?
                .ok_or_else(|| Failure::missing("Cryptographic Algorithm"))?;
            let algorithm = convert::keyhold_algorithm(alg, attrs.int("Cryptographic Length")?)?;
            (algorithm, ObjectKind::Key, None)
        };
        let mut spec = self.spec(&attrs, algorithm)?;
        if kind == ObjectKind::SecretData {
            spec.tags.insert(
                convert::TAG_DATA_TYPE.to_owned(),
                SECRET_DATA_SEED.to_string(),
            );
        }
        let info = match self
            .run(Operation::DeriveKey(DeriveKey {
                base: KeyRef(base),
                derivation,
                algorithm,
                kind,
                length,
                spec,
            }))
            .await?
        {
            Response::Key(k) => k,
            _ => return Err(internal()),
        };
        self.answer(info.id.to_string(), [])
    }

    async fn create_key_pair(&mut self, payload: &Item) -> Out {
        let common = Attributes::read(
            payload,
            tags::COMMON_TEMPLATE_ATTRIBUTE,
            tags::COMMON_ATTRIBUTES,
        )?;
        let private = Attributes::read(
            payload,
            tags::PRIVATE_KEY_TEMPLATE_ATTRIBUTE,
            tags::PRIVATE_KEY_ATTRIBUTES,
        )?;
        let public = Attributes::read(
            payload,
            tags::PUBLIC_KEY_TEMPLATE_ATTRIBUTE,
            tags::PUBLIC_KEY_ATTRIBUTES,
        )?;
        let pick =
            |name: &str| -> Option<&Attribute> { private.get(name).or_else(|| common.get(name)) };
        let alg = pick("Cryptographic Algorithm")
            .or_else(|| public.get("Cryptographic Algorithm"))
            .ok_or_else(|| Failure::missing("Cryptographic Algorithm"))?
            .as_enum::<CryptographicAlgorithm>()?;
        let len = pick("Cryptographic Length")
            .or_else(|| public.get("Cryptographic Length"))
            .map(|a| a.value.as_i32())
            .transpose()?;
        let algorithm = convert::keyhold_algorithm(alg, len)?;
        // Each half takes the common attributes and its own; its own win (a usage mask given
        // for one half and in common applies to the other half as given in common).
        let merged = |own: &Attributes| {
            let mut all = own.clone();
            all.0.extend(
                common
                    .0
                    .iter()
                    .filter(|c| c.name == "Name" || own.get(&c.name).is_none())
                    .cloned(),
            );
            all
        };
        let spec = self.spec(&merged(&private), algorithm)?;
        let public_all = merged(&public);
        let public_mask = public_all.int("Cryptographic Usage Mask")?;
        self.new_pair(CreateKeyPair {
            algorithm,
            spec,
            public_tags: convert::tags_from(&public_all)?,
            public_labels: convert::labels_from(&public_all)?,
            public_usage_mask: convert::usage_mask(public_mask),
        })
        .await
    }

    async fn register(&mut self, payload: &Item) -> Out {
        let ot: ObjectType = payload.require(tags::OBJECT_TYPE)?.as_enum_of()?;
        let attrs = self.attributes(payload)?;
        let (kind, algorithm, material, described) = super::objects::decode(ot, payload)?;
        let mut spec = self.spec(&attrs, algorithm.unwrap_or(Algorithm::Data))?;
        for (tag, value) in described {
            spec.tags.insert(tag.to_owned(), value);
        }
        let info = match self
            .run(Operation::RegisterKey(RegisterKey {
                algorithm,
                material: SecretData(material),
                kind,
                spec,
            }))
            .await?
        {
            Response::Key(k) => k,
            _ => return Err(internal()),
        };
        let uid = info.id.to_string();
        self.answer(uid, [])
    }

    async fn locate(&mut self, payload: &Item) -> Out {
        let attrs = self.attributes(payload)?;
        let max = payload
            .child(tags::MAXIMUM_ITEMS)
            .map(Item::as_i32)
            .transpose()?;
        let offset = payload
            .child(tags::OFFSET_ITEMS)
            .map(Item::as_i32)
            .transpose()?
            .unwrap_or(0)
            .max(0) as usize;
        // The store narrows the listing by an indexed attribute when the request has one; every
        // attribute is then checked here.
        let listings = match super::objects::indexed_filters(&attrs)? {
            Some(filters) => filters,
            None => vec![ListKeys::default()],
        };
        let mut all: Vec<KeyInfo> = Vec::new();
        // A key can be in two listings (a Name that is both its name and its KMIP name).
        let mut seen = std::collections::HashSet::new();
        for filter in listings {
            for k in self.list_all(filter).await? {
                if !k.state.is_destroyed()
                    && super::objects::matches(&k, &attrs)?
                    && seen.insert(k.id)
                {
                    all.push(k);
                }
            }
        }
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = all.len();
        let take = max.map_or(usize::MAX, |m| m.max(0) as usize);
        let ids: Vec<String> = all
            .into_iter()
            .skip(offset)
            .take(take)
            .map(|k| k.id.to_string())
            .collect();
        let mut out = Vec::new();
        if self.version >= ProtocolVersion::new(1, 3) {
            out.push(Item::int(
                tags::LOCATED_ITEMS,
                i32::try_from(total).unwrap_or(i32::MAX),
            ));
        }
        if let Some(first) = ids.first() {
            self.placeholder = Some(first.clone());
        }
        out.extend(ids.iter().map(|id| Self::uid_item(id)));
        Ok(out)
    }

    /// Every key of the caller's tenant that `filter` lists, page after page.
    async fn list_all(&mut self, filter: ListKeys) -> Result<Vec<KeyInfo>, Failure> {
        let mut all = Vec::new();
        let mut page_token = None;
        loop {
            let page = match self
                .run(Operation::ListKeys(ListKeys {
                    limit: Some(1000),
                    page_token,
                    ..filter.clone()
                }))
                .await?
            {
                Response::Keys(k) => k,
                _ => return Err(internal()),
            };
            all.extend(page.keys);
            match page.next_page {
                Some(t) => page_token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn get(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let wrap = payload
            .child(tags::KEY_WRAPPING_SPECIFICATION)
            .map(wrap_spec)
            .transpose()?;
        let format = payload
            .child(tags::KEY_FORMAT_TYPE)
            .map(|i| i.as_enum_of::<KeyFormatType>())
            .transpose()?;
        let exported = match self
            .run(Operation::ExportKey(ExportKey {
                key: KeyRef(uid.clone()),
                key_version: None,
                wrap,
            }))
            .await?
        {
            Response::Exported(e) => e,
            _ => return Err(internal()),
        };
        let (ot, object) = super::objects::encode(&exported, format)?;
        self.placeholder = Some(uid.clone());
        Ok(vec![
            Item::enumeration(tags::OBJECT_TYPE, ot.to_u32()),
            Self::uid_item(&uid),
            object,
        ])
    }

    async fn get_attributes(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let info = self.describe(&uid).await?;
        let v = self.version;
        let wanted: Vec<String> = if v.is_2x() {
            payload
                .children(tags::ATTRIBUTE_REFERENCE)
                .filter_map(|r| match r.as_enum() {
                    Ok(t) => keyhold_kmip::Tag::new(t)
                        .and_then(tags::name)
                        .map(str::to_owned),
                    Err(_) => r
                        .child(tags::ATTRIBUTE_NAME)
                        .and_then(|n| n.as_text().ok())
                        .map(str::to_owned),
                })
                .collect()
        } else {
            payload
                .children(tags::ATTRIBUTE_NAME)
                .map(|n| n.as_text().map(str::to_owned))
                .collect::<Result<_, _>>()?
        };
        let attrs = convert::attributes_of(&info, wanted.is_empty());
        let selected = attrs
            .into_iter()
            .filter(|a| wanted.is_empty() || wanted.contains(&a.name));
        let mut out = vec![Self::uid_item(&uid)];
        if v.is_2x() {
            out.push(Item::structure(
                tags::ATTRIBUTES,
                selected.map(|a| a.encode(v)).collect(),
            ));
        } else {
            out.extend(selected.map(|a| a.encode(v)));
        }
        self.placeholder = Some(uid);
        Ok(out)
    }

    async fn change(&mut self, payload: &Item, change: StateChange) -> Out {
        let uid = self.uid(payload)?;
        self.run(Operation::ChangeState(ChangeState {
            key: KeyRef(uid.clone()),
            change,
        }))
        .await?;
        self.answer(uid, [])
    }

    fn query(&self, payload: &Item) -> Out {
        let functions: Vec<QueryFunction> = payload
            .children(tags::QUERY_FUNCTION)
            .filter_map(|f| f.as_enum_of().ok())
            .collect();
        let mut out = Vec::new();
        if functions.contains(&QueryFunction::QueryOperations) {
            for op in SUPPORTED {
                if op.to_u32() <= 0x35 {
                    out.push(Item::enumeration(tags::OPERATION, op.to_u32()));
                }
            }
        }
        if functions.contains(&QueryFunction::QueryObjects) {
            for ot in [
                ObjectType::Certificate,
                ObjectType::SymmetricKey,
                ObjectType::PublicKey,
                ObjectType::PrivateKey,
                ObjectType::SplitKey,
                ObjectType::SecretData,
                ObjectType::OpaqueObject,
            ] {
                out.push(Item::enumeration(tags::OBJECT_TYPE, ot.to_u32()));
            }
        }
        if functions.contains(&QueryFunction::QueryServerInformation) {
            out.push(Item::text(tags::VENDOR_IDENTIFICATION, "Keyhold"));
            out.push(Item::structure(
                tags::SERVER_INFORMATION,
                vec![Item::text(
                    tags::VENDOR_IDENTIFICATION,
                    format!("Keyhold {}", env!("CARGO_PKG_VERSION")),
                )],
            ));
        }
        Ok(out)
    }

    async fn encrypt(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let data = payload.require(tags::DATA)?.as_bytes()?.to_vec();
        let (mode, pkcs7) = self.cipher_params(&uid, payload).await?;
        let iv = opt_bytes(payload, tags::IV_COUNTER_NONCE)?;
        let aad = opt_bytes(payload, tags::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA)?;
        let r = match self
            .run(Operation::CipherEncrypt(CipherEncrypt {
                key: KeyRef(uid.clone()),
                mode,
                pkcs7_padding: pkcs7,
                iv,
                aad,
                plaintext: SecretData(keyhold_core::SecretBytes::new(data)),
            }))
            .await?
        {
            Response::CipherEncrypt(r) => r,
            _ => return Err(internal()),
        };
        let mut rest = vec![Item::bytes(tags::DATA, r.ciphertext)];
        if let Some(iv) = r.iv {
            rest.push(Item::bytes(tags::IV_COUNTER_NONCE, iv));
        }
        if let Some(tag) = r.tag {
            if self.version >= ProtocolVersion::new(1, 4) {
                rest.push(Item::bytes(tags::AUTHENTICATED_ENCRYPTION_TAG, tag));
            }
        }
        self.answer(uid, rest)
    }

    async fn decrypt(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let data = payload.require(tags::DATA)?.as_bytes()?.to_vec();
        let (mode, pkcs7) = self.cipher_params(&uid, payload).await?;
        let r = match self
            .run(Operation::CipherDecrypt(CipherDecrypt {
                key: KeyRef(uid.clone()),
                mode,
                pkcs7_padding: pkcs7,
                iv: opt_bytes(payload, tags::IV_COUNTER_NONCE)?,
                aad: opt_bytes(payload, tags::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA)?,
                tag: opt_bytes(payload, tags::AUTHENTICATED_ENCRYPTION_TAG)?,
                ciphertext: data,
            }))
            .await?
        {
            Response::CipherDecrypt(r) => r,
            _ => return Err(internal()),
        };
        self.answer(
            uid,
            [Item::bytes(tags::DATA, r.plaintext.0.as_bytes().to_vec())],
        )
    }

    /// The cipher mode and padding of Cryptographic Parameters. A symmetric key with no Block
    /// Cipher Mode named gets CBC, padded with PKCS5 unless a Padding Method says otherwise, and
    /// a random IV (returned), so that encrypt and decrypt round-trip with the same defaults;
    /// GCM only when asked for. Without parameters, `None`: the core applies the key's default
    /// (the same CBC with PKCS5 for AES keys, OAEP-SHA256 for RSA keys), without a lookup here
    /// that would be audited as a request of its own.
    async fn cipher_params(
        &self,
        uid: &str,
        payload: &Item,
    ) -> Result<(Option<CipherMode>, bool), Failure> {
        let params = payload.child(tags::CRYPTOGRAPHIC_PARAMETERS);
        let mode = params
            .and_then(|p| p.child(tags::BLOCK_CIPHER_MODE))
            .map(|m| m.as_enum_of::<BlockCipherMode>())
            .transpose()?;
        let padding = params
            .and_then(|p| p.child(tags::PADDING_METHOD))
            .map(|m| m.as_enum_of::<PaddingMethod>())
            .transpose()?;
        let alg = params
            .and_then(|p| p.child(tags::CRYPTOGRAPHIC_ALGORITHM))
            .map(|m| m.as_enum_of::<CryptographicAlgorithm>())
            .transpose()?;
        let hash = params
            .and_then(|p| p.child(tags::HASHING_ALGORITHM))
            .map(|m| m.as_enum_of::<HashingAlgorithm>())
            .transpose()?;
        let rsa = match alg {
            Some(a) => a == CryptographicAlgorithm::Rsa,
            None if mode.is_some() => false,
            None if padding.is_none() && hash.is_none() => return Ok((None, false)),
            // Padding or hashing named without an algorithm: checked against the key's family.
            None => self.describe(uid).await?.algorithm.family() == keyhold_crypto::KeyFamily::Rsa,
        };
        if rsa {
            return match (padding, hash) {
                (None | Some(PaddingMethod::Oaep), None | Some(HashingAlgorithm::Sha256)) => {
                    Ok((Some(CipherMode::RsaOaepSha256), false))
                }
                _ => Err(Failure::new(
                    ResultReason::InvalidField,
                    "RSA encryption supports OAEP with SHA-256 only",
                )),
            };
        }
        let pkcs7 = match padding {
            // KMIP clients' default for a block cipher: CBC with PKCS5 padding.
            None => mode.is_none(),
            Some(PaddingMethod::None) => false,
            Some(PaddingMethod::Pkcs5) => true,
            Some(other) => {
                return Err(Failure::new(
                    ResultReason::InvalidField,
                    format!("padding method {} is not supported", other.name()),
                ))
            }
        };
        let mode = match mode {
            None | Some(BlockCipherMode::Cbc) => CipherMode::Cbc,
            Some(BlockCipherMode::Gcm) => CipherMode::Gcm,
            Some(BlockCipherMode::Ecb) => CipherMode::Ecb,
            Some(BlockCipherMode::Ctr) => CipherMode::Ctr,
            Some(other) => {
                return Err(Failure::new(
                    ResultReason::InvalidField,
                    format!("block cipher mode {} is not supported", other.name()),
                ))
            }
        };
        Ok((Some(mode), pkcs7))
    }

    fn signing_params(&self, payload: &Item) -> Result<Option<SigningAlgorithm>, Failure> {
        let Some(p) = payload.child(tags::CRYPTOGRAPHIC_PARAMETERS) else {
            return Ok(None);
        };
        if let Some(dsa) = p.child(tags::DIGITAL_SIGNATURE_ALGORITHM) {
            use SigningAlgorithm as S;
            return match dsa.as_enum()? {
                5 => Ok(Some(S::RsaPkcs1Sha256)),
                6 => Ok(Some(S::RsaPkcs1Sha384)),
                7 => Ok(Some(S::RsaPkcs1Sha512)),
                8 => Ok(Some(S::RsaPssSha256)),
                14 => Ok(Some(S::EcdsaSha256)),
                15 => Ok(Some(S::EcdsaSha384)),
                16 => Ok(Some(S::EcdsaSha512)),
                other => Err(Failure::new(
                    ResultReason::InvalidField,
                    format!("digital signature algorithm {other} is not supported"),
                )),
            };
        }
        let alg = p
            .child(tags::CRYPTOGRAPHIC_ALGORITHM)
            .map(|i| i.as_enum_of::<CryptographicAlgorithm>())
            .transpose()?;
        let hash = p
            .child(tags::HASHING_ALGORITHM)
            .map(|i| i.as_enum_of::<HashingAlgorithm>())
            .transpose()?;
        let padding = p
            .child(tags::PADDING_METHOD)
            .map(|i| i.as_enum_of::<PaddingMethod>())
            .transpose()?;
        use SigningAlgorithm as S;
        let s = match (alg, padding, hash) {
            (Some(CryptographicAlgorithm::Ed25519), _, _) => S::Ed25519,
            (_, Some(PaddingMethod::Pss), Some(HashingAlgorithm::Sha256)) => S::RsaPssSha256,
            (_, Some(PaddingMethod::Pss), Some(HashingAlgorithm::Sha384)) => S::RsaPssSha384,
            (_, Some(PaddingMethod::Pss), Some(HashingAlgorithm::Sha512)) => S::RsaPssSha512,
            (_, Some(PaddingMethod::Pkcs1V15), Some(HashingAlgorithm::Sha256)) => S::RsaPkcs1Sha256,
            (_, Some(PaddingMethod::Pkcs1V15), Some(HashingAlgorithm::Sha384)) => S::RsaPkcs1Sha384,
            (_, Some(PaddingMethod::Pkcs1V15), Some(HashingAlgorithm::Sha512)) => S::RsaPkcs1Sha512,
            (
                Some(CryptographicAlgorithm::Ecdsa | CryptographicAlgorithm::Ec),
                _,
                Some(HashingAlgorithm::Sha256),
            ) => S::EcdsaSha256,
            (
                Some(CryptographicAlgorithm::Ecdsa | CryptographicAlgorithm::Ec),
                _,
                Some(HashingAlgorithm::Sha384),
            ) => S::EcdsaSha384,
            (
                Some(CryptographicAlgorithm::Ecdsa | CryptographicAlgorithm::Ec),
                _,
                Some(HashingAlgorithm::Sha512),
            ) => S::EcdsaSha512,
            (_, None, None) => return Ok(None),
            _ => {
                return Err(Failure::new(
                    ResultReason::InvalidField,
                    "unsupported combination of signature parameters",
                ))
            }
        };
        Ok(Some(s))
    }

    fn message(payload: &Item) -> Result<(Vec<u8>, MessageType), Failure> {
        if let Some(d) = payload.child(tags::DATA) {
            return Ok((d.as_bytes()?.to_vec(), MessageType::Raw));
        }
        if let Some(d) = payload.child(tags::DIGESTED_DATA) {
            return Ok((d.as_bytes()?.to_vec(), MessageType::Digest));
        }
        Err(Failure::missing("Data"))
    }

    async fn sign(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let (message, message_type) = Self::message(payload)?;
        let algorithm = self.signing_params(payload)?;
        let r = match self
            .run(Operation::Sign(Sign {
                key: KeyRef(uid.clone()),
                message,
                message_type: Some(message_type),
                algorithm,
            }))
            .await?
        {
            Response::Sign(r) => r,
            _ => return Err(internal()),
        };
        self.answer(uid, [Item::bytes(tags::SIGNATURE_DATA, r.signature)])
    }

    async fn verify(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let (message, message_type) = Self::message(payload)?;
        let signature = payload.require(tags::SIGNATURE_DATA)?.as_bytes()?.to_vec();
        let algorithm = self.signing_params(payload)?;
        let r = match self
            .run(Operation::Verify(Verify {
                key: KeyRef(uid.clone()),
                message,
                signature,
                message_type: Some(message_type),
                algorithm,
                key_version: None,
            }))
            .await?
        {
            Response::Verify(r) => r,
            _ => return Err(internal()),
        };
        self.answer(uid, [validity(r.valid)])
    }

    async fn mac(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let message = payload.require(tags::DATA)?.as_bytes()?.to_vec();
        let r = match self
            .run(Operation::GenerateMac(GenerateMac {
                key: KeyRef(uid.clone()),
                message,
            }))
            .await?
        {
            Response::Mac(r) => r,
            _ => return Err(internal()),
        };
        self.answer(uid, [Item::bytes(tags::MAC_DATA, r.mac)])
    }

    async fn mac_verify(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let message = payload.require(tags::DATA)?.as_bytes()?.to_vec();
        let mac = payload.require(tags::MAC_DATA)?.as_bytes()?.to_vec();
        let r = match self
            .run(Operation::VerifyMac(VerifyMac {
                key: KeyRef(uid.clone()),
                message,
                mac,
                key_version: None,
            }))
            .await?
        {
            Response::Verify(r) => r,
            _ => return Err(internal()),
        };
        self.answer(uid, [validity(r.valid)])
    }
}

/// Validity Indicator: Valid (1) or Invalid (2).
fn validity(valid: bool) -> Item {
    Item::enumeration(tags::VALIDITY_INDICATOR, if valid { 1u32 } else { 2u32 })
}

fn opt_bytes(payload: &Item, tag: keyhold_kmip::Tag) -> Result<Option<Vec<u8>>, Failure> {
    Ok(payload
        .child(tag)
        .map(|i| i.as_bytes().map(|b| b.to_vec()))
        .transpose()?)
}

pub(super) fn internal() -> Failure {
    Failure::new(
        ResultReason::GeneralFailure,
        "unexpected response from the core",
    )
}

/// The kind, algorithm, material and the KMIP-only description (tags) of a Register request's
/// object.
pub type Decoded = (
    ObjectKind,
    Option<Algorithm>,
    keyhold_core::SecretBytes,
    Vec<(&'static str, String)>,
);

/// The Key Wrapping Specification of a Get: encryption with an AES key of the tenant, by
/// NIST key wrap (RFC 3394) or AES key wrap with padding (RFC 5649), returning the wrapped
/// Key Material bytes (Encoding Option "No Encoding"). TTLV-encoded wrapping and MAC/signature
/// wrapping are not supported and say so.
fn wrap_spec(spec: &Item) -> Result<WrapSpec, Failure> {
    const ENCRYPT: u32 = 1;
    const NO_ENCODING: u32 = 1;
    let unsupported = |what: &str| Failure::new(ResultReason::FeatureNotSupported, what);
    if spec.require(tags::WRAPPING_METHOD)?.as_enum()? != ENCRYPT {
        return Err(unsupported("only the Encrypt wrapping method is supported"));
    }
    if spec.child(tags::MAC_SIGNATURE_KEY_INFORMATION).is_some()
        || spec.child(tags::ATTRIBUTE_NAME).is_some()
    {
        return Err(unsupported(
            "wrapping with a MAC or signature, or of attributes, is not supported",
        ));
    }
    match spec
        .child(tags::ENCODING_OPTION)
        .map(Item::as_enum)
        .transpose()?
    {
        Some(NO_ENCODING) => {}
        _ => {
            return Err(Failure::new(
                ResultReason::EncodingOptionError,
                "only the No Encoding option is supported: the wrapped value is the Key Material",
            ))
        }
    }
    let info = spec.require(tags::ENCRYPTION_KEY_INFORMATION)?;
    let key = info.require(tags::UNIQUE_IDENTIFIER)?.as_text()?.to_owned();
    let mode = match info
        .child(tags::CRYPTOGRAPHIC_PARAMETERS)
        .and_then(|p| p.child(tags::BLOCK_CIPHER_MODE))
        .map(|m| m.as_enum_of::<BlockCipherMode>())
        .transpose()?
    {
        None | Some(BlockCipherMode::NistKeyWrap) => WrapMode::AesKeyWrap,
        Some(BlockCipherMode::AesKeyWrapPadding) => WrapMode::AesKeyWrapPad,
        Some(m) => {
            return Err(unsupported(&format!(
                "block cipher mode {} is not a key wrap",
                m.name()
            )))
        }
    };
    Ok(WrapSpec {
        key: KeyRef(key),
        mode,
    })
}
