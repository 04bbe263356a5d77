//! Attributes, the same in every version once read: KMIP 1.x sends
//! `Attribute { Attribute Name, [Attribute Index], Attribute Value }` (inside a
//! Template-Attribute, or directly in a Locate payload); KMIP 2.x sends each attribute as an
//! item with the attribute's own tag (inside Attributes), and custom attributes as
//! Vendor Attribute. [`Attribute`] holds either form as a name and a value item tagged with the
//! attribute's tag (or Attribute Value for custom ones), and [`Attribute::encode`] writes it
//! back in the form of the version in use.

use crate::message::{Failure, ProtocolVersion};
use crate::tags;
use crate::ttlv::{Item, Tag, Value};
use crate::KmipEnum;

/// KMIP 2.x carries a custom attribute as a Vendor Attribute structure, which reuses the
/// Attribute tag.
pub const VENDOR_ATTRIBUTE: Tag = tags::ATTRIBUTE;

/// One attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The specification's name (e.g. `"Cryptographic Algorithm"`), or a custom name
    /// (`"x-…"` in 1.x).
    pub name: String,
    /// The index of a multi-valued attribute (1.x).
    pub index: Option<i32>,
    /// The value. Its tag is the attribute's tag for standard attributes.
    pub value: Item,
}

impl Attribute {
    /// A standard attribute from its value item (whose tag names it).
    pub fn standard(value: Item) -> Self {
        let name = tags::name(value.tag).unwrap_or("Unknown").to_owned();
        Self {
            name,
            index: None,
            value,
        }
    }

    /// The attribute's tag, for standard attributes.
    pub fn tag(&self) -> Option<Tag> {
        tags::by_name(&self.name)
    }

    /// Reads a 1.x `Attribute` structure.
    pub fn from_v1(item: &Item) -> Result<Self, Failure> {
        let name = item.require(tags::ATTRIBUTE_NAME)?.as_text()?.to_owned();
        let index = item
            .child(tags::ATTRIBUTE_INDEX)
            .map(Item::as_i32)
            .transpose()?;
        let raw = item
            .child(tags::ATTRIBUTE_VALUE)
            .ok_or_else(|| Failure::missing("Attribute Value"))?;
        let tag = tags::by_name(&name).unwrap_or(tags::ATTRIBUTE_VALUE);
        Ok(Self {
            name,
            index,
            value: Item::new(tag, raw.value.clone()),
        })
    }

    /// Reads one 2.x attribute item (a tagged value, or a Vendor Attribute).
    pub fn from_v2(item: &Item) -> Result<Self, Failure> {
        if item.tag == VENDOR_ATTRIBUTE {
            let vendor = item
                .child(tags::VENDOR_IDENTIFICATION)
                .map(Item::as_text)
                .transpose()?
                .unwrap_or_default();
            let name = item.require(tags::ATTRIBUTE_NAME)?.as_text()?;
            let value = item
                .child(tags::ATTRIBUTE_VALUE)
                .ok_or_else(|| Failure::missing("Attribute Value"))?;
            let name = if vendor.is_empty() || name.starts_with("x-") || name.starts_with("y-") {
                name.to_owned()
            } else {
                format!("x-{vendor}-{name}")
            };
            return Ok(Self {
                name,
                index: None,
                value: Item::new(tags::ATTRIBUTE_VALUE, value.value.clone()),
            });
        }
        let name = tags::name(item.tag)
            .ok_or_else(|| Failure::invalid(format!("unknown attribute tag {}", item.tag)))?;
        Ok(Self {
            name: name.to_owned(),
            index: None,
            value: item.clone(),
        })
    }

    /// The item that carries this attribute in `version`.
    pub fn encode(&self, version: ProtocolVersion) -> Item {
        if version.is_2x() {
            if self.tag().is_some() {
                return self.value.clone();
            }
            return Item::structure(
                VENDOR_ATTRIBUTE,
                vec![
                    Item::text(tags::VENDOR_IDENTIFICATION, "x"),
                    Item::text(tags::ATTRIBUTE_NAME, self.name.clone()),
                    Item::new(tags::ATTRIBUTE_VALUE, self.value.value.clone()),
                ],
            );
        }
        let mut children = vec![Item::text(tags::ATTRIBUTE_NAME, self.name.clone())];
        if let Some(i) = self.index {
            children.push(Item::int(tags::ATTRIBUTE_INDEX, i));
        }
        children.push(Item::new(tags::ATTRIBUTE_VALUE, self.value.value.clone()));
        Item::structure(tags::ATTRIBUTE, children)
    }

    /// The value as an enumeration of `E`.
    pub fn as_enum<E: KmipEnum>(&self) -> Result<E, Failure> {
        Ok(self.value.as_enum_of::<E>()?)
    }

    /// A Name attribute's text.
    pub fn name_value(&self) -> Result<String, Failure> {
        match &self.value.value {
            Value::Structure(_) => Ok(self.value.require(tags::NAME_VALUE)?.as_text()?.to_owned()),
            Value::TextString(s) => Ok(s.clone()),
            _ => Err(Failure::invalid(
                "Name must be a structure with a Name Value",
            )),
        }
    }
}

/// The attributes of a request, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes(pub Vec<Attribute>);

impl Attributes {
    /// Reads the attributes of `payload`: a 1.x Template-Attribute (its Name children too), or
    /// 2.x Attributes, under `template_tag` / `attributes_tag`, and 1.x `Attribute` items
    /// directly in the payload (Locate).
    pub fn read(payload: &Item, template_tag: Tag, attributes_tag: Tag) -> Result<Self, Failure> {
        let mut out = Vec::new();
        for t in payload.children(template_tag) {
            for child in t.as_structure()? {
                if child.tag == tags::ATTRIBUTE {
                    out.push(Attribute::from_v1(child)?);
                } else if child.tag == tags::NAME {
                    // A Template-Attribute may carry Names (of templates, KMIP 1.x); PyKMIP does
                    // not send them, and templates are not supported.
                    continue;
                }
            }
        }
        for a in payload.children(attributes_tag) {
            for child in a.as_structure()? {
                out.push(Attribute::from_v2(child)?);
            }
        }
        for child in payload.children(tags::ATTRIBUTE) {
            out.push(Attribute::from_v1(child)?);
        }
        Ok(Self(out))
    }

    /// The first attribute named `name`.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.0.iter().find(|a| a.name == name)
    }

    /// Every attribute named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.0.iter().filter(move |a| a.name == name)
    }

    /// An enumeration attribute.
    pub fn enum_of<E: KmipEnum>(&self, name: &str) -> Result<Option<E>, Failure> {
        self.get(name).map(Attribute::as_enum).transpose()
    }

    /// An integer attribute.
    pub fn int(&self, name: &str) -> Result<Option<i32>, Failure> {
        Ok(self.get(name).map(|a| a.value.as_i32()).transpose()?)
    }

    /// A date attribute, in seconds since the epoch.
    pub fn date(&self, name: &str) -> Result<Option<i64>, Failure> {
        Ok(self.get(name).map(|a| a.value.as_date_time()).transpose()?)
    }

    /// A text attribute.
    pub fn text(&self, name: &str) -> Result<Option<String>, Failure> {
        Ok(self
            .get(name)
            .map(|a| a.value.as_text().map(str::to_owned))
            .transpose()?)
    }

    /// Whether there is no attribute.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A Name attribute's value item.
pub fn name_item(name: &str) -> Item {
    Item::structure(
        tags::NAME,
        vec![
            Item::text(tags::NAME_VALUE, name),
            Item::enumeration(tags::NAME_TYPE, 1u32),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::CryptographicAlgorithm;

    #[test]
    fn v1_and_v2_forms_read_the_same() {
        let v1 = Item::structure(
            tags::TEMPLATE_ATTRIBUTE,
            vec![Item::structure(
                tags::ATTRIBUTE,
                vec![
                    Item::text(tags::ATTRIBUTE_NAME, "Cryptographic Algorithm"),
                    Item::enumeration(tags::ATTRIBUTE_VALUE, 3u32),
                ],
            )],
        );
        let v2 = Item::structure(
            tags::ATTRIBUTES,
            vec![Item::enumeration(tags::CRYPTOGRAPHIC_ALGORITHM, 3u32)],
        );
        for (wrapper, ver) in [
            (v1, ProtocolVersion::new(1, 2)),
            (v2, ProtocolVersion::new(2, 0)),
        ] {
            let payload = Item::structure(tags::REQUEST_PAYLOAD, vec![wrapper]);
            let attrs =
                Attributes::read(&payload, tags::TEMPLATE_ATTRIBUTE, tags::ATTRIBUTES).unwrap();
            assert_eq!(
                attrs
                    .enum_of::<CryptographicAlgorithm>("Cryptographic Algorithm")
                    .unwrap(),
                Some(CryptographicAlgorithm::Aes)
            );
            let back = attrs.0[0].encode(ver);
            let again = if ver.is_2x() {
                Attribute::from_v2(&back).unwrap()
            } else {
                Attribute::from_v1(&back).unwrap()
            };
            assert_eq!(again, attrs.0[0]);
        }
    }

    #[test]
    fn custom_attributes_survive_both_forms() {
        let a = Attribute {
            name: "x-owner".into(),
            index: None,
            value: Item::text(tags::ATTRIBUTE_VALUE, "team-a"),
        };
        for ver in [ProtocolVersion::new(1, 4), ProtocolVersion::new(2, 0)] {
            let item = a.encode(ver);
            let back = if ver.is_2x() {
                Attribute::from_v2(&item).unwrap()
            } else {
                Attribute::from_v1(&item).unwrap()
            };
            assert_eq!(back, a);
        }
        let name = Attribute::standard(name_item("k1"));
        assert_eq!(name.name_value().unwrap(), "k1");
    }
}
