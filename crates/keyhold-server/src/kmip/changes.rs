//! Add, Modify, Set and Delete Attribute: which attributes a client changes, and how each
//! maps onto one core operation. The rules (uniqueness of names, life-cycle conditions, limits)
//! are the core's; what is here is KMIP's attribute model: which attributes a client may
//! change at all, single- versus multi-instance attributes, how an instance is addressed (1.x
//! Attribute Index, 2.x Current Attribute) and the Result Reasons of each version.
//!
//! | attribute | kept as | changed by |
//! |---|---|---|
//! | Name (multi-instance) | the Keyhold name (instance 0, when set), then the labels | Add/Modify/Delete of a label → `UpdateKey { labels }`; Modify of the Keyhold name → `UpdateKey { name }` (unique in the tenant); the Keyhold name is not deleted |
//! | Application Specific Information (multi-instance, one per namespace) | tag `kmip:asi:<namespace>` | `UpdateKey { tags }` |
//! | Object Group, Contact Information, `x-`/`y-` | tags | `UpdateKey { tags }` |
//! | Activation Date | the life cycle | `ChangeState { SetActivationDate }` (while Pre-Active); not deleted |
//! | Deactivation Date | the life cycle | `UpdateKey { deactivation_date }` (in the future); not deleted |
//! | everything else (Cryptographic Usage Mask, Link, State…) | | read-only |

use std::collections::BTreeMap;

use keyhold_core::clock::Timestamp;
use keyhold_core::ids::{KeyName, KeyRef};
use keyhold_core::ops::{ChangeState, KeyInfo, StateChange, UpdateKey};
use keyhold_core::Operation;
use keyhold_kmip::attributes::Attribute;
use keyhold_kmip::enums::{Operation as Op, ResultReason};
use keyhold_kmip::{tags, Failure, Item, ProtocolVersion};

use super::convert;
use super::ops::{Out, Session};

/// What a client-changeable attribute is kept as.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Name: the Keyhold name (when set, instance 0), then the labels.
    Name,
    /// Application Specific Information: one tag per namespace.
    Asi,
    /// A single-instance KMIP-only attribute kept as this tag.
    Tag(String),
    /// Activation Date: the life cycle's, changed while Pre-Active.
    ActivationDate,
    /// Deactivation Date: the life cycle's.
    DeactivationDate,
}

impl Kind {
    fn multi(&self) -> bool {
        matches!(self, Self::Name | Self::Asi)
    }
}

/// One change of a key, run as one core operation.
enum Change {
    Tags(BTreeMap<String, String>),
    Labels(Vec<String>),
    Rename(String),
    Activation(Timestamp),
    Deactivation(Timestamp),
}

/// The Result Reasons of attribute changes, by version: KMIP 2.x has reasons of its own for
/// attributes; 1.x clients get the nearest 1.x reason.
struct Reasons(ProtocolVersion);

impl Reasons {
    fn pick(&self, v2: ResultReason, v1: ResultReason) -> ResultReason {
        if self.0.is_2x() {
            v2
        } else {
            v1
        }
    }

    /// The client may not change (or delete) the attribute.
    fn read_only(&self, what: impl Into<String>) -> Failure {
        Failure::new(
            self.pick(
                ResultReason::ReadOnlyAttribute,
                ResultReason::PermissionDenied,
            ),
            what,
        )
    }

    /// The object has no value of the attribute.
    fn not_set(&self, name: &str) -> Failure {
        Failure::new(
            self.pick(ResultReason::AttributeNotFound, ResultReason::ItemNotFound),
            format!("{name} is not set"),
        )
    }

    /// The object has no such instance of the attribute.
    fn no_instance(&self, what: impl Into<String>) -> Failure {
        Failure::new(
            self.pick(
                ResultReason::AttributeInstanceNotFound,
                ResultReason::ItemNotFound,
            ),
            what,
        )
    }

    /// A 2.x Current Attribute that is not the object's value.
    fn not_that(&self, name: &str) -> Failure {
        self.no_instance(format!("the object's {name} is not that"))
    }

    /// The checks of Add and Modify on a single-instance attribute whose value is `old`: Add
    /// needs it unset, Modify needs it set, and a Modify's Current Attribute must be that
    /// value (`same`).
    fn single<T>(
        &self,
        op: Op,
        name: &str,
        old: Option<T>,
        current: Option<&Attribute>,
        same: impl Fn(&Attribute, &T) -> Result<bool, Failure>,
    ) -> Result<(), Failure> {
        match (op, old) {
            (Op::AddAttribute, Some(_)) => Err(self.already_set(name)),
            (Op::ModifyAttribute, None) => Err(self.not_set(name)),
            (Op::ModifyAttribute, Some(old)) => match current {
                Some(c) if !same(c, &old)? => Err(self.not_that(name)),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Add of a single-instance attribute the object already has.
    fn already_set(&self, name: &str) -> Failure {
        Failure::new(
            self.pick(
                ResultReason::AttributeSingleValued,
                ResultReason::IllegalOperation,
            ),
            format!("{name} is already set; modify it instead"),
        )
    }
}

/// The kind of a client-changeable attribute, or the refusal for a read-only one.
fn kind_of(name: &str, reasons: &Reasons) -> Result<Kind, Failure> {
    Ok(match name {
        "Name" => Kind::Name,
        convert::ASI => Kind::Asi,
        "Object Group" => Kind::Tag(convert::TAG_GROUP.to_owned()),
        "Contact Information" => Kind::Tag(convert::TAG_CONTACT.to_owned()),
        "Activation Date" => Kind::ActivationDate,
        "Deactivation Date" => Kind::DeactivationDate,
        n if n.starts_with("x-") || n.starts_with("y-") => Kind::Tag(n.to_owned()),
        n => return Err(reasons.read_only(format!("{n} cannot be changed by the client"))),
    })
}

/// The value of a text attribute.
fn text(attr: &Attribute) -> Result<String, Failure> {
    Ok(attr
        .value
        .as_text()
        .map_err(|_| Failure::invalid(format!("{} must be text", attr.name)))?
        .to_owned())
}

/// The value of a date attribute.
fn date(attr: &Attribute) -> Result<Timestamp, Failure> {
    let secs = attr
        .value
        .as_date_time()
        .map_err(|_| Failure::invalid(format!("{} must be a Date-Time", attr.name)))?;
    Ok(Timestamp::from_unix_secs(secs))
}

/// The first attribute of a 2.x New/Current Attribute structure.
fn inner(holder: &Item) -> Result<Attribute, Failure> {
    let item = holder
        .as_structure()?
        .first()
        .ok_or_else(|| Failure::missing("attribute"))?;
    Attribute::from_v2(item)
}

/// The position of the instance an operation addresses among `values`: the 2.x Current
/// Attribute's value, or the 1.x Attribute Index (0 when absent). A 2.x request without a
/// Current Attribute addresses the only instance, when there is exactly one.
fn instance(
    reasons: &Reasons,
    name: &str,
    values: &[String],
    current: Option<&str>,
    index: Option<i32>,
) -> Result<usize, Failure> {
    if values.is_empty() {
        return Err(reasons.not_set(name));
    }
    if reasons.0.is_2x() {
        return match current {
            Some(c) => values.iter().position(|v| v == c).ok_or_else(|| {
                reasons.no_instance(format!("the object has no {name} with that value"))
            }),
            None if values.len() == 1 => Ok(0),
            None => Err(reasons.no_instance(format!(
                "{name} has several instances: name the one to change in Current Attribute"
            ))),
        };
    }
    let i = index.unwrap_or(0);
    usize::try_from(i)
        .ok()
        .filter(|i| *i < values.len())
        .ok_or_else(|| {
            reasons.no_instance(format!(
                "the object has no {name} at Attribute Index {i} (it has {})",
                values.len()
            ))
        })
}

/// The Application Specific Information tags of an object, in Get Attributes order.
fn asi_keys(info: &KeyInfo) -> Vec<String> {
    convert::application_infos(info)
        .map(|(namespace, _)| format!("{}{namespace}", convert::TAG_ASI_PREFIX))
        .collect()
}

/// An Application Specific Information value's tag, as text for [`instance`].
fn asi_key(attr: &Attribute) -> Result<String, Failure> {
    Ok(convert::application_info(&attr.value)?.0)
}

/// The Attribute Index of instance `i` (absent for the first).
fn index_of(i: usize) -> Option<i32> {
    (i > 0).then(|| i32::try_from(i).unwrap_or(i32::MAX))
}

impl Session<'_> {
    /// Add, Modify and Set Attribute (Set: KMIP 2.x, single-instance attributes only). 1.x
    /// answers with the attribute as set, with the Attribute Index of its instance.
    pub(super) async fn set_attribute(&mut self, op: Op, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let v = self.version;
        let reasons = Reasons(v);
        let attr = if v.is_2x() {
            inner(
                payload
                    .child(tags::NEW_ATTRIBUTE)
                    .ok_or_else(|| Failure::missing("New Attribute"))?,
            )?
        } else {
            Attribute::from_v1(payload.require(tags::ATTRIBUTE)?)?
        };
        let current = match payload.child(tags::CURRENT_ATTRIBUTE) {
            Some(c) if v.is_2x() && op == Op::ModifyAttribute => Some(inner(c)?),
            _ => None,
        };
        if current.as_ref().is_some_and(|c| c.name != attr.name) {
            return Err(Failure::invalid(
                "Current Attribute and New Attribute must be the same attribute",
            ));
        }
        let kind = kind_of(&attr.name, &reasons)?;
        if op == Op::SetAttribute && kind.multi() {
            return Err(Failure::new(
                ResultReason::MultiValuedAttribute,
                format!(
                    "{} has several instances: use Add, Modify or Delete Attribute",
                    attr.name
                ),
            ));
        }
        let info = self.describe(&uid).await?;
        let name = attr.name.as_str();
        let (change, at) = match kind {
            Kind::Name => {
                let value = attr.name_value()?;
                let names = convert::names_of(&info);
                let own = usize::from(info.name.is_some());
                let mut labels = info.labels.clone();
                if op == Op::AddAttribute {
                    labels.push(value);
                    (Change::Labels(labels), names.len())
                } else {
                    let current = current.as_ref().map(Attribute::name_value).transpose()?;
                    let i = instance(&reasons, name, &names, current.as_deref(), attr.index)?;
                    if i < own && names[i] == value {
                        // Renamed to its own name: nothing changes.
                        (Change::Labels(labels), i)
                    } else if i < own {
                        (Change::Rename(value), i)
                    } else {
                        labels[i - own] = value;
                        (Change::Labels(labels), i)
                    }
                }
            }
            Kind::Asi => {
                let (key, data) = convert::application_info(&attr.value)?;
                let keys = asi_keys(&info);
                let mut tags_new = info.tags.clone();
                if op == Op::AddAttribute {
                    if tags_new.contains_key(&key) {
                        return Err(Failure::new(
                            ResultReason::IllegalOperation,
                            "one Application Specific Information per Application Namespace",
                        ));
                    }
                    tags_new.insert(key.clone(), data);
                } else {
                    let current = current.as_ref().map(asi_key).transpose()?;
                    let i = instance(&reasons, name, &keys, current.as_deref(), attr.index)?;
                    tags_new.remove(&keys[i]);
                    tags_new.insert(key.clone(), data);
                }
                let at = tags_new
                    .keys()
                    .filter(|k| k.starts_with(convert::TAG_ASI_PREFIX))
                    .position(|k| *k == key)
                    .unwrap_or(0);
                (Change::Tags(tags_new), at)
            }
            Kind::Tag(key) => {
                let value = text(&attr)?;
                let old = info.tags.get(&key);
                reasons.single(op, name, old, current.as_ref(), |c, old| {
                    Ok(text(c)? == **old)
                })?;
                let mut tags_new = info.tags.clone();
                tags_new.insert(key, value);
                (Change::Tags(tags_new), 0)
            }
            Kind::ActivationDate | Kind::DeactivationDate => {
                let lc = &info.lifecycle;
                let (old, change): (_, fn(Timestamp) -> Change) = if kind == Kind::ActivationDate {
                    (lc.activation_date, Change::Activation)
                } else {
                    (lc.deactivation_date, Change::Deactivation)
                };
                reasons.single(op, name, old, current.as_ref(), |c, old| {
                    Ok(date(c)?.millis().div_euclid(1000) == old.millis().div_euclid(1000))
                })?;
                (change(date(&attr)?), 0)
            }
        };
        self.apply(&uid, change).await?;
        let echo = (!v.is_2x() && op != Op::SetAttribute).then(|| {
            Attribute {
                index: index_of(at),
                ..attr
            }
            .encode(v)
        });
        self.answer(uid, echo)
    }

    /// Delete Attribute: 1.x by Attribute Name and Attribute Index (0 when absent), answered
    /// with the deleted attribute; 2.x by Current Attribute (that instance) or Attribute
    /// Reference (every instance).
    pub(super) async fn delete_attribute(&mut self, payload: &Item) -> Out {
        let uid = self.uid(payload)?;
        let v = self.version;
        let reasons = Reasons(v);
        let current = match payload.child(tags::CURRENT_ATTRIBUTE) {
            Some(c) if v.is_2x() => Some(inner(c)?),
            _ => None,
        };
        let name = match &current {
            Some(c) => c.name.clone(),
            None if v.is_2x() => {
                let r = payload.require(tags::ATTRIBUTE_REFERENCE)?;
                match r.as_enum() {
                    Ok(t) => keyhold_kmip::Tag::new(t)
                        .and_then(tags::name)
                        .ok_or_else(|| Failure::invalid("unknown attribute reference"))?
                        .to_owned(),
                    Err(_) => r.require(tags::ATTRIBUTE_NAME)?.as_text()?.to_owned(),
                }
            }
            None => payload.require(tags::ATTRIBUTE_NAME)?.as_text()?.to_owned(),
        };
        // Every instance (2.x Attribute Reference), or one.
        let every = v.is_2x() && current.is_none();
        let index = payload
            .child(tags::ATTRIBUTE_INDEX)
            .map(Item::as_i32)
            .transpose()?;
        let kind = kind_of(&name, &reasons)?;
        let info = self.describe(&uid).await?;
        let (change, deleted) = match kind {
            Kind::Name => {
                let names = convert::names_of(&info);
                let own = usize::from(info.name.is_some());
                let kept_name = || {
                    reasons.read_only(
                        "the key's Keyhold name (Name instance 0) can be changed, not removed",
                    )
                };
                if every {
                    if info.labels.is_empty() {
                        return Err(if own > 0 {
                            kept_name()
                        } else {
                            reasons.not_set(&name)
                        });
                    }
                    (Change::Labels(Vec::new()), None)
                } else {
                    let current = current.as_ref().map(Attribute::name_value).transpose()?;
                    let i = instance(&reasons, &name, &names, current.as_deref(), index)?;
                    if i < own {
                        return Err(kept_name());
                    }
                    let mut labels = info.labels.clone();
                    let old = labels.remove(i - own);
                    (
                        Change::Labels(labels),
                        Some((keyhold_kmip::attributes::name_item(&old), i)),
                    )
                }
            }
            Kind::Asi => {
                let keys = asi_keys(&info);
                let mut tags_new = info.tags.clone();
                if every {
                    if keys.is_empty() {
                        return Err(reasons.not_set(&name));
                    }
                    tags_new.retain(|k, _| !k.starts_with(convert::TAG_ASI_PREFIX));
                    (Change::Tags(tags_new), None)
                } else {
                    let current = current.as_ref().map(asi_key).transpose()?;
                    let i = instance(&reasons, &name, &keys, current.as_deref(), index)?;
                    let key = &keys[i];
                    let data = tags_new.remove(key).unwrap_or_default();
                    let namespace = key
                        .strip_prefix(convert::TAG_ASI_PREFIX)
                        .unwrap_or_default();
                    (
                        Change::Tags(tags_new),
                        Some((convert::application_info_item(namespace, &data), i)),
                    )
                }
            }
            Kind::Tag(key) => {
                let mut tags_new = info.tags.clone();
                let Some(old) = tags_new.remove(&key) else {
                    return Err(reasons.not_set(&name));
                };
                if let Some(c) = &current {
                    if text(c)? != old {
                        return Err(reasons.not_that(&name));
                    }
                }
                (
                    Change::Tags(tags_new),
                    Some((Item::text(tags::ATTRIBUTE_VALUE, old), 0)),
                )
            }
            Kind::ActivationDate | Kind::DeactivationDate => {
                return Err(reasons.read_only(format!("{name} cannot be deleted")))
            }
        };
        self.apply(&uid, change).await?;
        let echo = match deleted {
            Some((value, i)) if !v.is_2x() => {
                let tag = tags::by_name(&name).unwrap_or(tags::ATTRIBUTE_VALUE);
                Some(
                    Attribute {
                        name,
                        index: index_of(i),
                        value: Item::new(tag, value.value),
                    }
                    .encode(v),
                )
            }
            _ => None,
        };
        self.answer(uid, echo)
    }

    /// Runs a change as its core operation.
    async fn apply(&self, uid: &str, change: Change) -> Result<(), Failure> {
        let key = KeyRef(uid.to_owned());
        let op = match change {
            Change::Activation(at) => Operation::ChangeState(ChangeState {
                key,
                change: StateChange::SetActivationDate { at },
            }),
            change => {
                let mut update = UpdateKey {
                    key,
                    ..UpdateKey::default()
                };
                match change {
                    Change::Tags(t) => update.tags = Some(t),
                    Change::Labels(l) => update.labels = Some(l),
                    Change::Rename(n) => {
                        update.name =
                            Some(KeyName::try_from(n).map_err(|e| {
                                Failure::new(ResultReason::InvalidField, e.to_string())
                            })?)
                    }
                    Change::Deactivation(at) => update.deactivation_date = Some(at),
                    Change::Activation(_) => {}
                }
                Operation::UpdateKey(update)
            }
        };
        self.run(op).await.map(|_| ())
    }
}
