//! The KMIP adapter against the real `keyhold serve --dev`, in raw TTLV over mutual TLS, in
//! KMIP 1.x and 2.0: multi-instance Name, Activation Date, Cryptographic Usage Mask, Re-key
//! links and Derive Key of Secret Data (what PyKMIP cannot send: Add Attribute, Links, 2.x
//! Current Attribute on dates…), and the request metrics of KMIP operations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use keyhold_kmip::attributes::{name_item, Attribute};
use keyhold_kmip::enums::{
    CryptographicAlgorithm, DerivationMethod, ObjectType, Operation as Op, ResultReason,
    ResultStatus, State,
};
use keyhold_kmip::{tags, Item, Limits, ProtocolVersion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::{Server, TempDir};

const V14: ProtocolVersion = ProtocolVersion::new(1, 4);
const V20: ProtocolVersion = ProtocolVersion::new(2, 0);

const ENCRYPT: i32 = 0x4;
const DECRYPT: i32 = 0x8;
const SIGN: i32 = 0x1;
const VERIFY: i32 = 0x2;
const DERIVE_KEY: i32 = 0x200;

/// A KMIP client of one version, with the dev server's client certificate.
struct Kmip {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    v: ProtocolVersion,
}

/// A failed batch item: its Result Reason and Result Message.
#[derive(Debug)]
struct Failed {
    reason: u32,
    message: String,
}

impl Kmip {
    fn connect(s: &Server, v: ProtocolVersion) -> Kmip {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(s.dir.join("kmip-client.pem"))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
        let key = PrivateKeyDer::from_pem_file(s.dir.join("kmip-client.key")).unwrap();
        let tls = support::kmip_tls(s, chain, key).unwrap();
        Kmip { tls, v }
    }

    /// One request of one batch item: its payload, or the failure.
    fn send(&mut self, op: Op, payload: Vec<Item>) -> Result<Item, Failed> {
        let request = Item::structure(
            tags::REQUEST_MESSAGE,
            vec![
                Item::structure(
                    tags::REQUEST_HEADER,
                    vec![self.v.to_item(), Item::int(tags::BATCH_COUNT, 1)],
                ),
                Item::structure(
                    tags::BATCH_ITEM,
                    vec![
                        Item::enumeration(tags::OPERATION, op),
                        Item::structure(tags::REQUEST_PAYLOAD, payload),
                    ],
                ),
            ],
        );
        self.tls.write_all(&keyhold_kmip::encode(&request)).unwrap();
        self.tls.flush().unwrap();
        let mut header = [0u8; 8];
        self.tls.read_exact(&mut header).unwrap();
        let len = keyhold_kmip::message_length(&header, &Limits::default()).unwrap();
        let mut buf = vec![0u8; len];
        buf[..8].copy_from_slice(&header);
        self.tls.read_exact(&mut buf[8..]).unwrap();
        let message = keyhold_kmip::decode(&buf, &Limits::default()).unwrap();
        let item = message.child(tags::BATCH_ITEM).unwrap();
        let status = item.child(tags::RESULT_STATUS).unwrap().as_enum().unwrap();
        if status == ResultStatus::Success.to_u32() {
            return Ok(item
                .child(tags::RESPONSE_PAYLOAD)
                .cloned()
                .unwrap_or_else(|| Item::structure(tags::RESPONSE_PAYLOAD, vec![])));
        }
        Err(Failed {
            reason: item.child(tags::RESULT_REASON).unwrap().as_enum().unwrap(),
            message: item
                .child(tags::RESULT_MESSAGE)
                .unwrap()
                .as_text()
                .unwrap()
                .to_owned(),
        })
    }

    fn ok(&mut self, op: Op, payload: Vec<Item>) -> Item {
        self.send(op, payload)
            .unwrap_or_else(|f| panic!("{op:?} in {}: {f:?}", self.v))
    }

    /// The Result Reason of a request that must fail.
    fn reason(&mut self, op: Op, payload: Vec<Item>) -> ResultReason {
        match self.send(op, payload) {
            Ok(p) => panic!("{op:?} in {} succeeded: {p}", self.v),
            Err(f) => ResultReason::from_u32(f.reason).unwrap(),
        }
    }

    /// 1.x Template-Attribute or 2.x Attributes.
    fn template(&self, attrs: &[Attribute]) -> Item {
        let (tag, items) = (
            if self.v.is_2x() {
                tags::ATTRIBUTES
            } else {
                tags::TEMPLATE_ATTRIBUTE
            },
            attrs.iter().map(|a| a.encode(self.v)).collect(),
        );
        Item::structure(tag, items)
    }

    fn create_aes(&mut self, attrs: &[Attribute]) -> String {
        let mut all = vec![
            std(Item::enumeration(
                tags::CRYPTOGRAPHIC_ALGORITHM,
                CryptographicAlgorithm::Aes,
            )),
            std(Item::int(tags::CRYPTOGRAPHIC_LENGTH, 256)),
        ];
        all.extend_from_slice(attrs);
        let p = self.ok(
            Op::Create,
            vec![
                Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
                self.template(&all),
            ],
        );
        text(&p, tags::UNIQUE_IDENTIFIER)
    }

    /// Get Attributes of `names` (all when empty).
    fn attributes(&mut self, uid: &str, names: &[&str]) -> Vec<Attribute> {
        let mut payload = vec![uid_item(uid)];
        for n in names {
            payload.push(if self.v.is_2x() {
                Item::enumeration(tags::ATTRIBUTE_REFERENCE, tags::by_name(n).unwrap().value())
            } else {
                Item::text(tags::ATTRIBUTE_NAME, *n)
            });
        }
        let p = self.ok(Op::GetAttributes, payload);
        if self.v.is_2x() {
            p.child(tags::ATTRIBUTES)
                .unwrap()
                .as_structure()
                .unwrap()
                .iter()
                .map(|i| Attribute::from_v2(i).unwrap())
                .collect()
        } else {
            p.children(tags::ATTRIBUTE)
                .map(|i| Attribute::from_v1(i).unwrap())
                .collect()
        }
    }

    /// The Name values of an object, in order.
    fn names(&mut self, uid: &str) -> Vec<String> {
        let attrs = self.attributes(uid, &["Name"]);
        if !self.v.is_2x() {
            // 1.x: instance i > 0 carries Attribute Index i.
            for (i, a) in attrs.iter().enumerate() {
                assert_eq!(a.index, (i > 0).then_some(i as i32), "{attrs:?}");
            }
        }
        attrs.iter().map(|a| a.name_value().unwrap()).collect()
    }

    fn int_attr(&mut self, uid: &str, name: &str) -> Option<i32> {
        self.attributes(uid, &[name])
            .first()
            .map(|a| a.value.as_i32().unwrap())
    }

    fn date_attr(&mut self, uid: &str, name: &str) -> Option<i64> {
        self.attributes(uid, &[name])
            .first()
            .map(|a| a.value.as_date_time().unwrap())
    }

    fn state(&mut self, uid: &str) -> State {
        self.attributes(uid, &["State"])[0].as_enum().unwrap()
    }

    /// (Link Type, Linked Object Identifier) of every Link.
    fn links(&mut self, uid: &str) -> Vec<(u32, String)> {
        self.attributes(uid, &["Link"])
            .iter()
            .map(|a| {
                (
                    a.value.child(tags::LINK_TYPE).unwrap().as_enum().unwrap(),
                    text(&a.value, tags::LINKED_OBJECT_IDENTIFIER),
                )
            })
            .collect()
    }

    /// Located Unique Identifiers of a Locate by Name.
    fn locate_name(&mut self, name: &str) -> Vec<String> {
        let attr = std(name_item(name));
        let payload = if self.v.is_2x() {
            vec![Item::structure(tags::ATTRIBUTES, vec![attr.encode(self.v)])]
        } else {
            vec![attr.encode(self.v)]
        };
        self.ok(Op::Locate, payload)
            .children(tags::UNIQUE_IDENTIFIER)
            .map(|i| i.as_text().unwrap().to_owned())
            .collect()
    }

    /// Add, Modify or Set Attribute of `attr`; `current` is the 2.x Current Attribute.
    fn change(
        &mut self,
        op: Op,
        uid: &str,
        attr: &Attribute,
        current: Option<&Attribute>,
    ) -> Result<Item, Failed> {
        let mut payload = vec![uid_item(uid)];
        if self.v.is_2x() {
            if let Some(c) = current {
                payload.push(Item::structure(
                    tags::CURRENT_ATTRIBUTE,
                    vec![c.encode(self.v)],
                ));
            }
            payload.push(Item::structure(
                tags::NEW_ATTRIBUTE,
                vec![attr.encode(self.v)],
            ));
        } else {
            payload.push(attr.encode(self.v));
        }
        self.send(op, payload)
    }

    /// Delete Attribute: 1.x by name and index; 2.x by Current Attribute, or by Attribute
    /// Reference when `current` is `None`.
    fn delete(
        &mut self,
        uid: &str,
        name: &str,
        index: Option<i32>,
        current: Option<&Attribute>,
    ) -> Result<Item, Failed> {
        let mut payload = vec![uid_item(uid)];
        if self.v.is_2x() {
            match current {
                Some(c) => payload.push(Item::structure(
                    tags::CURRENT_ATTRIBUTE,
                    vec![c.encode(self.v)],
                )),
                None => payload.push(Item::enumeration(
                    tags::ATTRIBUTE_REFERENCE,
                    tags::by_name(name).unwrap().value(),
                )),
            }
        } else {
            payload.push(Item::text(tags::ATTRIBUTE_NAME, name));
            if let Some(i) = index {
                payload.push(Item::int(tags::ATTRIBUTE_INDEX, i));
            }
        }
        self.send(Op::DeleteAttribute, payload)
    }

    /// The reason this version gives for `v2` (2.x) or `v1` (1.x).
    fn pick(&self, v2: ResultReason, v1: ResultReason) -> ResultReason {
        if self.v.is_2x() {
            v2
        } else {
            v1
        }
    }
}

fn std(value: Item) -> Attribute {
    Attribute::standard(value)
}

fn name(n: &str) -> Attribute {
    std(name_item(n))
}

fn mask(m: i32) -> Attribute {
    std(Item::int(tags::CRYPTOGRAPHIC_USAGE_MASK, m))
}

fn uid_item(uid: &str) -> Item {
    Item::text(tags::UNIQUE_IDENTIFIER, uid)
}

fn text(item: &Item, tag: keyhold_kmip::Tag) -> String {
    item.child(tag).unwrap().as_text().unwrap().to_owned()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn dev_server(tag: &str) -> (TempDir, Server) {
    let dir = TempDir::new(tag);
    let s = Server::dev(&dir.0);
    (dir, s)
}

#[test]
fn name_is_a_multi_instance_attribute() {
    let (_dir, s) = dev_server("kmip-names");
    for v in [ProtocolVersion::new(1, 0), V14, V20] {
        let mut k = Kmip::connect(&s, v);
        let (a, b, c) = (unique("a"), unique("b"), unique("c"));
        let shared = unique("shared");
        // Create with two names; another object shares one of them.
        let uid = k.create_aes(&[name(&a), name(&shared)]);
        let other = k.create_aes(&[name(&shared)]);
        assert_eq!(k.names(&uid), vec![a.clone(), shared.clone()]);
        let mut located = k.locate_name(&shared);
        located.sort();
        let mut both = vec![uid.clone(), other.clone()];
        both.sort();
        assert_eq!(located, both, "{v}: Locate by a shared Name");
        assert_eq!(k.locate_name(&a), vec![uid.clone()]);

        // Add Attribute adds an instance; 1.x answers with its index.
        let p = k.change(Op::AddAttribute, &uid, &name(&b), None).unwrap();
        if !v.is_2x() {
            let echoed = Attribute::from_v1(p.child(tags::ATTRIBUTE).unwrap()).unwrap();
            assert_eq!(echoed.index, Some(2));
            assert_eq!(echoed.name_value().unwrap(), b);
        }
        assert_eq!(k.names(&uid), vec![a.clone(), shared.clone(), b.clone()]);
        assert_eq!(k.locate_name(&b), vec![uid.clone()]);

        // Modify one instance: by index (1.x), by Current Attribute (2.x).
        let mut new = name(&c);
        if v.is_2x() {
            k.change(Op::ModifyAttribute, &uid, &new, Some(&name(&shared)))
                .unwrap();
            // Several instances: the one to change must be named.
            assert_eq!(
                k.change(Op::ModifyAttribute, &uid, &name("x"), None)
                    .unwrap_err()
                    .reason,
                ResultReason::AttributeInstanceNotFound.to_u32()
            );
            assert_eq!(
                k.change(Op::ModifyAttribute, &uid, &name("x"), Some(&name("nope")))
                    .unwrap_err()
                    .reason,
                ResultReason::AttributeInstanceNotFound.to_u32()
            );
            // Set Attribute is for single-instance attributes.
            assert_eq!(
                k.change(Op::SetAttribute, &uid, &name("x"), None)
                    .unwrap_err()
                    .reason,
                ResultReason::MultiValuedAttribute.to_u32()
            );
        } else {
            new.index = Some(1);
            let p = k.change(Op::ModifyAttribute, &uid, &new, None).unwrap();
            let echoed = Attribute::from_v1(p.child(tags::ATTRIBUTE).unwrap()).unwrap();
            assert_eq!(echoed.index, Some(1));
            let mut far = name("x");
            far.index = Some(7);
            assert_eq!(
                k.change(Op::ModifyAttribute, &uid, &far, None)
                    .unwrap_err()
                    .reason,
                ResultReason::ItemNotFound.to_u32()
            );
        }
        assert_eq!(k.names(&uid), vec![a.clone(), c.clone(), b.clone()]);
        assert_eq!(k.locate_name(&shared), vec![other.clone()]);
        assert_eq!(k.locate_name(&c), vec![uid.clone()]);

        // Delete one instance: 1.x index 0 (the first), answered with it; 2.x by value.
        if v.is_2x() {
            k.delete(&uid, "Name", None, Some(&name(&a))).unwrap();
        } else {
            let p = k.delete(&uid, "Name", Some(0), None).unwrap();
            let deleted = Attribute::from_v1(p.child(tags::ATTRIBUTE).unwrap()).unwrap();
            assert_eq!(deleted.name_value().unwrap(), a);
        }
        assert_eq!(k.names(&uid), vec![c.clone(), b.clone()]);
        assert!(k.locate_name(&a).is_empty());
        if v.is_2x() {
            // An Attribute Reference deletes every instance.
            k.delete(&uid, "Name", None, None).unwrap();
            assert!(k.names(&uid).is_empty());
            assert_eq!(
                k.delete(&uid, "Name", None, None).unwrap_err().reason,
                ResultReason::AttributeNotFound.to_u32()
            );
        } else {
            k.delete(&uid, "Name", Some(1), None).unwrap();
            k.delete(&uid, "Name", None, None).unwrap();
            assert!(k.names(&uid).is_empty());
            assert_eq!(
                k.delete(&uid, "Name", None, None).unwrap_err().reason,
                ResultReason::ItemNotFound.to_u32()
            );
        }
    }
}

#[test]
fn a_keyhold_name_is_the_first_name_and_stays_unique() {
    let (_dir, s) = dev_server("kmip-keyhold-name");
    let token = s.admin_token();
    let manager = s.token(&token, "keeper", "key-manager");
    let first = unique("billing");
    let taken = unique("taken");
    let created = s.json(
        &manager,
        &[
            "key",
            "create",
            "--alg",
            "aes-256",
            "--name",
            &first,
            "--label",
            "shared label",
        ],
    );
    s.json(
        &manager,
        &["key", "create", "--alg", "aes-256", "--name", &taken],
    );
    let uid = created["id"].as_str().unwrap().to_owned();
    for v in [V14, V20] {
        let mut k = Kmip::connect(&s, v);
        let names = k.names(&uid);
        assert_eq!(names[1], "shared label");
        // Renaming instance 0 renames the key: the core keeps Keyhold names unique.
        let (mut to_taken, current) = (name(&taken), name(&names[0]));
        to_taken.index = Some(0);
        assert_eq!(
            k.change(Op::ModifyAttribute, &uid, &to_taken, Some(&current))
                .unwrap_err()
                .reason,
            ResultReason::ObjectAlreadyExists.to_u32()
        );
        let renamed = unique("renamed");
        let mut to_new = name(&renamed);
        to_new.index = Some(0);
        k.change(Op::ModifyAttribute, &uid, &to_new, Some(&current))
            .unwrap();
        assert_eq!(k.names(&uid), vec![renamed.clone(), "shared label".into()]);
        // It is changed, never removed.
        let f = k
            .delete(&uid, "Name", Some(0), Some(&name(&renamed)))
            .unwrap_err();
        assert_eq!(
            f.reason,
            k.pick(
                ResultReason::ReadOnlyAttribute,
                ResultReason::PermissionDenied
            )
            .to_u32(),
            "{f:?}"
        );
    }
    let shown = s.json(&manager, &["key", "show", &uid]);
    assert_eq!(shown["labels"], serde_json::json!(["shared label"]));
    // Over REST and the CLI a label finds keys, but does not address one.
    let listed = s.json(&manager, &["key", "list", "--label", "shared label"]);
    let ids: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![uid.as_str()]);
    assert!(!s
        .cli(&manager, &["key", "show", "shared label"])
        .status
        .success());
    let updated = s.json(
        &manager,
        &["key", "update", &uid, "--label", "one", "--label", "two"],
    );
    assert_eq!(updated["labels"], serde_json::json!(["one", "two"]));
}

#[test]
fn activation_date_is_set_at_creation_and_while_pre_active() {
    let (_dir, s) = dev_server("kmip-activation");
    for v in [V14, V20] {
        let mut k = Kmip::connect(&s, v);
        let date = |secs: i64| std(Item::date_time(tags::ACTIVATION_DATE, secs));
        // Past or now: active at once, with that date.
        let past = now_secs() - 3600;
        let uid = k.create_aes(&[date(past)]);
        assert_eq!(k.state(&uid), State::Active);
        assert_eq!(k.date_attr(&uid, "Activation Date"), Some(past));
        let now = now_secs();
        let uid = k.create_aes(&[date(now)]);
        assert_eq!(k.state(&uid), State::Active);
        // Future: pre-active until then.
        let future = now_secs() + 86_400;
        let uid = k.create_aes(&[date(future)]);
        assert_eq!(k.state(&uid), State::PreActive);
        assert_eq!(k.date_attr(&uid, "Activation Date"), Some(future));
        // Add of a date the object has already: single-instance.
        assert_eq!(
            k.change(Op::AddAttribute, &uid, &date(future + 10), None)
                .unwrap_err()
                .reason,
            k.pick(
                ResultReason::AttributeSingleValued,
                ResultReason::IllegalOperation
            )
            .to_u32()
        );
        // Modify while pre-active moves it (2.x: the Current Attribute must match).
        k.change(
            Op::ModifyAttribute,
            &uid,
            &date(future + 60),
            Some(&date(future)),
        )
        .unwrap();
        assert_eq!(k.date_attr(&uid, "Activation Date"), Some(future + 60));
        if v.is_2x() {
            k.change(Op::SetAttribute, &uid, &date(future + 120), None)
                .unwrap();
            assert_eq!(k.date_attr(&uid, "Activation Date"), Some(future + 120));
        }
        // Moved to now: active.
        let now = now_secs();
        k.change(Op::ModifyAttribute, &uid, &date(now), None)
            .unwrap();
        assert_eq!(k.state(&uid), State::Active);
        // Once active the date no longer changes.
        assert_eq!(
            k.change(Op::ModifyAttribute, &uid, &date(now + 500), None)
                .unwrap_err()
                .reason,
            k.pick(
                ResultReason::WrongKeyLifecycleState,
                ResultReason::PermissionDenied
            )
            .to_u32()
        );
        assert_eq!(
            k.delete(&uid, "Activation Date", None, None)
                .unwrap_err()
                .reason,
            k.pick(
                ResultReason::ReadOnlyAttribute,
                ResultReason::PermissionDenied
            )
            .to_u32()
        );
        // A pre-active object without a date gets one by Add Attribute; Modify needs one.
        let undated = k.create_aes(&[]);
        assert_eq!(k.date_attr(&undated, "Activation Date"), None);
        assert_eq!(
            k.change(Op::ModifyAttribute, &undated, &date(future), None)
                .unwrap_err()
                .reason,
            k.pick(ResultReason::AttributeNotFound, ResultReason::ItemNotFound)
                .to_u32()
        );
        k.change(Op::AddAttribute, &undated, &date(future), None)
            .unwrap();
        assert_eq!(k.state(&undated), State::PreActive);
        assert_eq!(k.date_attr(&undated, "Activation Date"), Some(future));
    }
}

#[test]
fn the_usage_mask_is_kept_exactly_and_enforced() {
    let (_dir, s) = dev_server("kmip-mask");
    for v in [ProtocolVersion::new(1, 2), V14, V20] {
        let mut k = Kmip::connect(&s, v);
        // An exotic bit (Authenticate) is kept too.
        let exact = ENCRYPT | 0x0010_0000;
        let uid = k.create_aes(&[mask(exact)]);
        k.ok(Op::Activate, vec![uid_item(&uid)]);
        assert_eq!(k.int_attr(&uid, "Cryptographic Usage Mask"), Some(exact));
        k.ok(
            Op::Encrypt,
            vec![
                uid_item(&uid),
                Item::bytes(tags::DATA, b"sixteen bytes!!!".to_vec()),
            ],
        );
        let decrypt = vec![
            uid_item(&uid),
            Item::bytes(tags::DATA, vec![0; 32]),
            Item::bytes(tags::IV_COUNTER_NONCE, vec![0; 16]),
        ];
        assert_eq!(
            k.reason(Op::Decrypt, decrypt),
            k.pick(
                ResultReason::IncompatibleCryptographicUsageMask,
                ResultReason::PermissionDenied
            )
        );
        // No Encrypt bit: Encrypt is refused.
        let decrypt_only = k.create_aes(&[mask(DECRYPT)]);
        k.ok(Op::Activate, vec![uid_item(&decrypt_only)]);
        assert_eq!(
            k.reason(
                Op::Encrypt,
                vec![
                    uid_item(&decrypt_only),
                    Item::bytes(tags::DATA, vec![1; 16])
                ]
            ),
            k.pick(
                ResultReason::IncompatibleCryptographicUsageMask,
                ResultReason::PermissionDenied
            )
        );
        // The client does not change it, in any version.
        let read_only = k.pick(
            ResultReason::ReadOnlyAttribute,
            ResultReason::PermissionDenied,
        );
        let f = k
            .change(
                Op::ModifyAttribute,
                &uid,
                &mask(ENCRYPT | DECRYPT),
                Some(&mask(exact)),
            )
            .unwrap_err();
        assert_eq!(f.reason, read_only.to_u32(), "{f:?}");
        assert!(f.message.contains("Cryptographic Usage Mask"), "{f:?}");
        assert_eq!(
            k.delete(&uid, "Cryptographic Usage Mask", None, None)
                .unwrap_err()
                .reason,
            read_only.to_u32()
        );
        assert_eq!(k.int_attr(&uid, "Cryptographic Usage Mask"), Some(exact));
        // Without a mask, the usage's.
        let plain = k.create_aes(&[]);
        assert_eq!(
            k.int_attr(&plain, "Cryptographic Usage Mask"),
            Some(ENCRYPT | DECRYPT)
        );
    }
}

#[test]
fn rekey_links_the_replacement_and_moves_the_names() {
    const REPLACEMENT: u32 = 0x106;
    const REPLACED: u32 = 0x107;
    const PUBLIC: u32 = 0x102;
    const PRIVATE: u32 = 0x103;
    let (_dir, s) = dev_server("kmip-rekey");
    for v in [ProtocolVersion::new(1, 1), V14, V20] {
        let mut k = Kmip::connect(&s, v);
        let n = unique("rekeyed");
        let old = k.create_aes(&[name(&n), mask(ENCRYPT | DECRYPT)]);
        k.ok(Op::Activate, vec![uid_item(&old)]);
        let p = k.ok(Op::ReKey, vec![uid_item(&old)]);
        let new = text(&p, tags::UNIQUE_IDENTIFIER);
        assert_ne!(new, old);
        assert_eq!(k.links(&new), vec![(REPLACED, old.clone())]);
        assert_eq!(k.links(&old), vec![(REPLACEMENT, new.clone())]);
        assert_eq!(k.names(&new), vec![n.clone()]);
        assert!(k.names(&old).is_empty());
        assert_eq!(k.locate_name(&n), vec![new.clone()]);
        assert_eq!(k.state(&new), State::Active);
        assert_eq!(k.state(&old), State::Active);
        assert_eq!(
            k.int_attr(&new, "Cryptographic Usage Mask"),
            Some(ENCRYPT | DECRYPT)
        );
        // With an Offset: pre-active, active that long after now.
        let p = k.ok(
            Op::ReKey,
            vec![uid_item(&new), Item::interval(tags::OFFSET, 3600)],
        );
        let third = text(&p, tags::UNIQUE_IDENTIFIER);
        assert_eq!(k.state(&third), State::PreActive);
        let at = k.date_attr(&third, "Activation Date").unwrap();
        assert!((at - (now_secs() + 3600)).abs() < 60, "{at}");

        // Re-key Key Pair: both halves replaced, each linked to the one it replaces.
        let (pn, qn) = (unique("priv"), unique("pub"));
        let template = |tag, attrs: Vec<Attribute>| {
            let tag = if v.is_2x() {
                match tag {
                    t if t == tags::COMMON_TEMPLATE_ATTRIBUTE => tags::COMMON_ATTRIBUTES,
                    t if t == tags::PRIVATE_KEY_TEMPLATE_ATTRIBUTE => tags::PRIVATE_KEY_ATTRIBUTES,
                    _ => tags::PUBLIC_KEY_ATTRIBUTES,
                }
            } else {
                tag
            };
            Item::structure(tag, attrs.iter().map(|a| a.encode(v)).collect())
        };
        let p = k.ok(
            Op::CreateKeyPair,
            vec![
                template(
                    tags::COMMON_TEMPLATE_ATTRIBUTE,
                    vec![
                        std(Item::enumeration(
                            tags::CRYPTOGRAPHIC_ALGORITHM,
                            CryptographicAlgorithm::Ecdsa,
                        )),
                        std(Item::int(tags::CRYPTOGRAPHIC_LENGTH, 256)),
                    ],
                ),
                template(
                    tags::PRIVATE_KEY_TEMPLATE_ATTRIBUTE,
                    vec![name(&pn), mask(SIGN)],
                ),
                template(
                    tags::PUBLIC_KEY_TEMPLATE_ATTRIBUTE,
                    vec![name(&qn), mask(VERIFY)],
                ),
            ],
        );
        let (private, public) = (
            text(&p, tags::PRIVATE_KEY_UNIQUE_IDENTIFIER),
            text(&p, tags::PUBLIC_KEY_UNIQUE_IDENTIFIER),
        );
        assert_eq!(
            k.int_attr(&public, "Cryptographic Usage Mask"),
            Some(VERIFY)
        );
        assert_eq!(k.int_attr(&private, "Cryptographic Usage Mask"), Some(SIGN));
        let p = k.ok(
            Op::ReKeyKeyPair,
            vec![Item::text(tags::PRIVATE_KEY_UNIQUE_IDENTIFIER, &private)],
        );
        let (private2, public2) = (
            text(&p, tags::PRIVATE_KEY_UNIQUE_IDENTIFIER),
            text(&p, tags::PUBLIC_KEY_UNIQUE_IDENTIFIER),
        );
        let mut got = k.links(&private2);
        got.sort();
        assert_eq!(
            got,
            vec![(PUBLIC, public2.clone()), (REPLACED, private.clone())]
        );
        let mut got = k.links(&public2);
        got.sort();
        assert_eq!(
            got,
            vec![(PRIVATE, private2.clone()), (REPLACED, public.clone())]
        );
        assert!(k.links(&private).contains(&(REPLACEMENT, private2.clone())));
        assert!(k.links(&public).contains(&(REPLACEMENT, public2.clone())));
        assert_eq!(k.names(&private2), vec![pn.clone()]);
        assert_eq!(k.names(&public2), vec![qn.clone()]);
        assert_eq!(
            k.int_attr(&public2, "Cryptographic Usage Mask"),
            Some(VERIFY)
        );
    }
}

#[test]
fn derive_key_makes_secret_data() {
    let (_dir, s) = dev_server("kmip-derive-secret");
    let password = b"correct horse battery staple".to_vec();
    for v in [V14, V20] {
        let mut k = Kmip::connect(&s, v);
        let secret = Item::structure(
            tags::SECRET_DATA,
            vec![
                Item::enumeration(tags::SECRET_DATA_TYPE, 1u32),
                Item::structure(
                    tags::KEY_BLOCK,
                    vec![
                        Item::enumeration(tags::KEY_FORMAT_TYPE, 2u32),
                        Item::structure(
                            tags::KEY_VALUE,
                            vec![Item::bytes(tags::KEY_MATERIAL, password.clone())],
                        ),
                    ],
                ),
            ],
        );
        let p = k.ok(
            Op::Register,
            vec![
                Item::enumeration(tags::OBJECT_TYPE, ObjectType::SecretData),
                k.template(&[mask(DERIVE_KEY)]),
                secret,
            ],
        );
        let base = text(&p, tags::UNIQUE_IDENTIFIER);
        k.ok(Op::Activate, vec![uid_item(&base)]);
        // Derive Key of Secret Data from `base` by PBKDF2, with `template`'s attributes.
        let derive = |template: Item| {
            vec![
                Item::enumeration(tags::OBJECT_TYPE, ObjectType::SecretData),
                uid_item(&base),
                Item::enumeration(tags::DERIVATION_METHOD, DerivationMethod::Pbkdf2),
                Item::structure(
                    tags::DERIVATION_PARAMETERS,
                    vec![
                        Item::bytes(tags::SALT, b"salt".to_vec()),
                        Item::int(tags::ITERATION_COUNT, 1000),
                    ],
                ),
                template,
            ]
        };
        let n = unique("derived");
        let p = k.ok(
            Op::DeriveKey,
            derive(k.template(&[std(Item::int(tags::CRYPTOGRAPHIC_LENGTH, 320)), name(&n)])),
        );
        let derived = text(&p, tags::UNIQUE_IDENTIFIER);
        let attrs = k.attributes(&derived, &["Object Type", "Name"]);
        assert_eq!(
            attrs[0].as_enum::<ObjectType>().unwrap(),
            ObjectType::SecretData
        );
        assert_eq!(attrs[1].name_value().unwrap(), n);
        let expected = keyhold_crypto::Provider::aws_lc()
            .pbkdf2(
                keyhold_crypto::KdfHash::Sha256,
                &password,
                b"salt",
                1000,
                40,
            )
            .unwrap();
        let got = k.ok(Op::Get, vec![uid_item(&derived)]);
        assert_eq!(
            got.child(tags::OBJECT_TYPE).unwrap().as_enum().unwrap(),
            ObjectType::SecretData.to_u32()
        );
        let material = got
            .child(tags::SECRET_DATA)
            .unwrap()
            .child(tags::KEY_BLOCK)
            .unwrap()
            .child(tags::KEY_VALUE)
            .unwrap()
            .child(tags::KEY_MATERIAL)
            .unwrap()
            .as_bytes()
            .unwrap()
            .to_vec();
        assert_eq!(material, expected.as_bytes());
        // A length that is not whole bytes, or none, is refused.
        let bad = |len: Option<i32>| {
            let mut attrs = vec![];
            if let Some(l) = len {
                attrs.push(std(Item::int(tags::CRYPTOGRAPHIC_LENGTH, l)));
            }
            derive(k.template(&attrs))
        };
        let (p1, p2) = (bad(Some(12)), bad(None));
        assert_eq!(k.reason(Op::DeriveKey, p1), ResultReason::InvalidField);
        assert_eq!(k.reason(Op::DeriveKey, p2), ResultReason::MissingData);
    }
}

#[test]
fn a_3des_key_is_stored_and_returned_but_not_used() {
    let (_dir, s) = dev_server("kmip-3des");
    for v in [ProtocolVersion::new(1, 2), V20] {
        let mut k = Kmip::connect(&s, v);
        let value: Vec<u8> = (1..=24).collect();
        let key = Item::structure(
            tags::SYMMETRIC_KEY,
            vec![Item::structure(
                tags::KEY_BLOCK,
                vec![
                    Item::enumeration(tags::KEY_FORMAT_TYPE, 1u32),
                    Item::structure(
                        tags::KEY_VALUE,
                        vec![Item::bytes(tags::KEY_MATERIAL, value.clone())],
                    ),
                    Item::enumeration(
                        tags::CRYPTOGRAPHIC_ALGORITHM,
                        CryptographicAlgorithm::TripleDes,
                    ),
                    Item::int(tags::CRYPTOGRAPHIC_LENGTH, 192),
                ],
            )],
        );
        let n = unique("3des");
        let p = k.ok(
            Op::Register,
            vec![
                Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
                k.template(&[mask(ENCRYPT | DECRYPT), name(&n)]),
                key,
            ],
        );
        let uid = text(&p, tags::UNIQUE_IDENTIFIER);
        let attrs = k.attributes(
            &uid,
            &[
                "Object Type",
                "Cryptographic Algorithm",
                "Cryptographic Length",
                "Cryptographic Usage Mask",
            ],
        );
        assert_eq!(
            attrs[0].as_enum::<ObjectType>().unwrap(),
            ObjectType::SymmetricKey
        );
        assert_eq!(
            attrs[1].as_enum::<CryptographicAlgorithm>().unwrap(),
            CryptographicAlgorithm::TripleDes
        );
        assert_eq!(attrs[2].value.as_i32().unwrap(), 192);
        assert_eq!(attrs[3].value.as_i32().unwrap(), ENCRYPT | DECRYPT);
        let got = k.ok(Op::Get, vec![uid_item(&uid)]);
        let block = got
            .child(tags::SYMMETRIC_KEY)
            .unwrap()
            .child(tags::KEY_BLOCK)
            .unwrap();
        assert_eq!(
            block
                .child(tags::KEY_VALUE)
                .unwrap()
                .child(tags::KEY_MATERIAL)
                .unwrap()
                .as_bytes()
                .unwrap()
                .to_vec(),
            value
        );
        assert_eq!(
            block
                .child(tags::CRYPTOGRAPHIC_ALGORITHM)
                .unwrap()
                .as_enum()
                .unwrap(),
            CryptographicAlgorithm::TripleDes.to_u32()
        );
        // Located by its algorithm.
        let located = k.ok(
            Op::Locate,
            if v.is_2x() {
                vec![Item::structure(
                    tags::ATTRIBUTES,
                    vec![
                        Item::enumeration(
                            tags::CRYPTOGRAPHIC_ALGORITHM,
                            CryptographicAlgorithm::TripleDes,
                        ),
                        name_item(&n),
                    ],
                )]
            } else {
                vec![
                    std(Item::enumeration(
                        tags::CRYPTOGRAPHIC_ALGORITHM,
                        CryptographicAlgorithm::TripleDes,
                    ))
                    .encode(v),
                    name(&n).encode(v),
                ]
            },
        );
        assert_eq!(text(&located, tags::UNIQUE_IDENTIFIER), uid);
        // Keyhold implements no 3DES: the key is never used.
        k.ok(Op::Activate, vec![uid_item(&uid)]);
        let f = k
            .send(
                Op::Encrypt,
                vec![uid_item(&uid), Item::bytes(tags::DATA, vec![0; 8])],
            )
            .unwrap_err();
        assert_eq!(
            f.reason,
            k.pick(
                ResultReason::IncompatibleCryptographicUsageMask,
                ResultReason::PermissionDenied
            )
            .to_u32(),
            "{f:?}"
        );
        // 3DES material is 16 or 24 bytes.
        let short = Item::structure(
            tags::SYMMETRIC_KEY,
            vec![Item::structure(
                tags::KEY_BLOCK,
                vec![
                    Item::enumeration(tags::KEY_FORMAT_TYPE, 1u32),
                    Item::structure(
                        tags::KEY_VALUE,
                        vec![Item::bytes(tags::KEY_MATERIAL, vec![1; 8])],
                    ),
                    Item::enumeration(
                        tags::CRYPTOGRAPHIC_ALGORITHM,
                        CryptographicAlgorithm::TripleDes,
                    ),
                    Item::int(tags::CRYPTOGRAPHIC_LENGTH, 64),
                ],
            )],
        );
        assert_eq!(
            k.reason(
                Op::Register,
                vec![
                    Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
                    short
                ]
            ),
            ResultReason::InvalidField
        );
    }
}

/// The value of the Prometheus sample whose line starts with `series`, 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[test]
fn kmip_operations_are_counted_in_the_request_metrics() {
    let (_dir, s) = dev_server("kmip-metrics");
    let metrics = || {
        s.http()
            .get(s.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let created = r#"keyhold_requests_total{action="key.create",outcome="ok"}"#;
    let before = sample(&metrics(), created);
    let mut k = Kmip::connect(&s, V14);
    k.create_aes(&[]);
    k.create_aes(&[]);
    let missing = uuid_like();
    assert_eq!(
        k.reason(Op::Get, vec![uid_item(&missing)]),
        ResultReason::ItemNotFound
    );
    let after = metrics();
    assert_eq!(sample(&after, created), before + 2.0, "{after}");
    assert!(
        after
            .lines()
            .any(|l| l.contains(r#"outcome="not_found""#) && !l.ends_with(" 0")),
        "{after}"
    );
    assert!(
        sample(
            &after,
            r#"keyhold_request_duration_seconds_count{action="key.create"}"#
        ) >= 2.0,
        "{after}"
    );
}

/// An identifier no object has.
fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_owned()
}
