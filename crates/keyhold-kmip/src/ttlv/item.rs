//! Items: building them and reading them back with typed accessors.

use core::fmt;

use super::{BigInt, Bytes, ItemType, Tag, TtlvError, Value};
use crate::enums::KmipEnum;

/// One TTLV item: a tag and a value. A Structure's value holds its children.
///
/// Message code builds items with the constructors ([`Item::structure`],
/// [`Item::int`], [`Item::enumeration`], …) and reads them with the accessors
/// ([`Item::child`], [`Item::require`], [`Item::as_text`], …), which return
/// [`TtlvError::WrongType`] rather than panicking when the peer sent another
/// type than the specification says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The tag.
    pub tag: Tag,
    /// The value.
    pub value: Value,
}

impl Item {
    /// An item from its parts.
    pub fn new(tag: Tag, value: Value) -> Item {
        Item { tag, value }
    }

    /// A Structure holding `children` in order.
    pub fn structure(tag: Tag, children: Vec<Item>) -> Item {
        Item::new(tag, Value::Structure(children))
    }

    /// An Integer.
    pub fn int(tag: Tag, value: i32) -> Item {
        Item::new(tag, Value::Integer(value))
    }

    /// A Long Integer.
    pub fn long(tag: Tag, value: i64) -> Item {
        Item::new(tag, Value::LongInteger(value))
    }

    /// A Big Integer.
    pub fn big_int(tag: Tag, value: BigInt) -> Item {
        Item::new(tag, Value::BigInteger(value))
    }

    /// An Enumeration, from a raw value or a typed enumeration
    /// (`Item::enumeration(tags::OPERATION, Operation::Create)`).
    pub fn enumeration(tag: Tag, value: impl Into<u32>) -> Item {
        Item::new(tag, Value::Enumeration(value.into()))
    }

    /// A Boolean.
    pub fn boolean(tag: Tag, value: bool) -> Item {
        Item::new(tag, Value::Boolean(value))
    }

    /// A Text String.
    pub fn text(tag: Tag, value: impl Into<String>) -> Item {
        Item::new(tag, Value::TextString(value.into()))
    }

    /// A Byte String.
    pub fn bytes(tag: Tag, value: impl Into<Bytes>) -> Item {
        Item::new(tag, Value::ByteString(value.into()))
    }

    /// A Date-Time, in seconds since the Unix epoch.
    pub fn date_time(tag: Tag, seconds: i64) -> Item {
        Item::new(tag, Value::DateTime(seconds))
    }

    /// An Interval, in seconds.
    pub fn interval(tag: Tag, seconds: u32) -> Item {
        Item::new(tag, Value::Interval(seconds))
    }

    /// A Date-Time Extended, in microseconds since the Unix epoch (KMIP 2.0+).
    pub fn date_time_extended(tag: Tag, micros: i64) -> Item {
        Item::new(tag, Value::DateTimeExtended(micros))
    }

    /// The item's type.
    pub fn item_type(&self) -> ItemType {
        self.value.item_type()
    }

    fn wrong_type(&self, expected: ItemType) -> TtlvError {
        TtlvError::WrongType {
            tag: self.tag,
            expected,
            found: self.item_type(),
        }
    }

    /// The children of a Structure.
    pub fn as_structure(&self) -> Result<&[Item], TtlvError> {
        match &self.value {
            Value::Structure(children) => Ok(children),
            _ => Err(self.wrong_type(ItemType::Structure)),
        }
    }

    /// Takes the children out of a Structure.
    pub fn into_structure(self) -> Result<Vec<Item>, TtlvError> {
        match self.value {
            Value::Structure(children) => Ok(children),
            _ => Err(self.wrong_type(ItemType::Structure)),
        }
    }

    /// Appends a child to a Structure.
    pub fn push(&mut self, child: Item) -> Result<(), TtlvError> {
        match &mut self.value {
            Value::Structure(children) => {
                children.push(child);
                Ok(())
            }
            _ => Err(self.wrong_type(ItemType::Structure)),
        }
    }

    /// The first child with `tag`; `None` if there is none or this is not a
    /// Structure.
    pub fn child(&self, tag: Tag) -> Option<&Item> {
        self.children(tag).next()
    }

    /// Every child with `tag`, in order (empty if this is not a Structure).
    pub fn children(&self, tag: Tag) -> impl Iterator<Item = &Item> + '_ {
        let all: &[Item] = match &self.value {
            Value::Structure(children) => children,
            _ => &[],
        };
        all.iter().filter(move |child| child.tag == tag)
    }

    /// The first child with `tag`, which the caller requires:
    /// [`TtlvError::Missing`] if there is none.
    pub fn require(&self, tag: Tag) -> Result<&Item, TtlvError> {
        self.as_structure()?
            .iter()
            .find(|child| child.tag == tag)
            .ok_or(TtlvError::Missing {
                parent: self.tag,
                tag,
            })
    }

    /// The value of an Integer.
    pub fn as_i32(&self) -> Result<i32, TtlvError> {
        match self.value {
            Value::Integer(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::Integer)),
        }
    }

    /// The value of a Long Integer.
    pub fn as_i64(&self) -> Result<i64, TtlvError> {
        match self.value {
            Value::LongInteger(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::LongInteger)),
        }
    }

    /// The value of a Big Integer.
    pub fn as_big_int(&self) -> Result<&BigInt, TtlvError> {
        match &self.value {
            Value::BigInteger(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::BigInteger)),
        }
    }

    /// The raw value of an Enumeration.
    pub fn as_enum(&self) -> Result<u32, TtlvError> {
        match self.value {
            Value::Enumeration(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::Enumeration)),
        }
    }

    /// The value of an Enumeration as the typed enumeration `E`;
    /// [`TtlvError::UnknownEnumeration`] for a value `E` does not define.
    pub fn as_enum_of<E: KmipEnum>(&self) -> Result<E, TtlvError> {
        let value = self.as_enum()?;
        E::from_u32(value).ok_or(TtlvError::UnknownEnumeration {
            tag: self.tag,
            kind: E::KIND,
            value,
        })
    }

    /// The value of a Boolean.
    pub fn as_bool(&self) -> Result<bool, TtlvError> {
        match self.value {
            Value::Boolean(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::Boolean)),
        }
    }

    /// The value of a Text String.
    pub fn as_text(&self) -> Result<&str, TtlvError> {
        match &self.value {
            Value::TextString(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::TextString)),
        }
    }

    /// The value of a Byte String.
    pub fn as_bytes(&self) -> Result<&Bytes, TtlvError> {
        match &self.value {
            Value::ByteString(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::ByteString)),
        }
    }

    /// The value of a Date-Time, in seconds since the Unix epoch.
    pub fn as_date_time(&self) -> Result<i64, TtlvError> {
        match self.value {
            Value::DateTime(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::DateTime)),
        }
    }

    /// The value of an Interval, in seconds.
    pub fn as_interval(&self) -> Result<u32, TtlvError> {
        match self.value {
            Value::Interval(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::Interval)),
        }
    }

    /// The value of a Date-Time Extended, in microseconds since the Unix epoch.
    pub fn as_date_time_extended(&self) -> Result<i64, TtlvError> {
        match self.value {
            Value::DateTimeExtended(v) => Ok(v),
            _ => Err(self.wrong_type(ItemType::DateTimeExtended)),
        }
    }
}

impl fmt::Display for Item {
    /// An indented tree, one item per line, with tag names: for logs and test
    /// failures. Byte Strings and Big Integers show their length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(f, self, 0)
    }
}

fn write_tree(f: &mut fmt::Formatter<'_>, item: &Item, depth: usize) -> fmt::Result {
    write!(f, "{:indent$}{}: ", "", item.tag, indent = depth * 2)?;
    match &item.value {
        Value::Structure(children) => {
            write!(f, "Structure")?;
            for child in children {
                writeln!(f)?;
                write_tree(f, child, depth + 1)?;
            }
            Ok(())
        }
        Value::Integer(v) => write!(f, "Integer {v}"),
        Value::LongInteger(v) => write!(f, "Long Integer {v}"),
        Value::BigInteger(v) => write!(f, "Big Integer <{} bytes>", v.as_be_bytes().len()),
        Value::Enumeration(v) => write!(f, "Enumeration 0x{v:08X}"),
        Value::Boolean(v) => write!(f, "Boolean {v}"),
        Value::TextString(v) => write!(f, "Text String {v:?}"),
        Value::ByteString(v) => write!(f, "Byte String <{} bytes>", v.len()),
        Value::DateTime(v) => write!(f, "Date-Time {v}"),
        Value::Interval(v) => write!(f, "Interval {v}"),
        Value::DateTimeExtended(v) => write!(f, "Date-Time Extended {v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::Operation;
    use crate::tags;

    fn batch_item() -> Item {
        Item::structure(
            tags::BATCH_ITEM,
            vec![
                Item::enumeration(tags::OPERATION, Operation::Get),
                Item::text(tags::UNIQUE_IDENTIFIER, "a"),
                Item::text(tags::UNIQUE_IDENTIFIER, "b"),
            ],
        )
    }

    #[test]
    fn accessors_find_children_by_tag() {
        let item = batch_item();
        assert_eq!(
            item.child(tags::OPERATION)
                .unwrap()
                .as_enum_of::<Operation>(),
            Ok(Operation::Get)
        );
        let ids: Vec<&str> = item
            .children(tags::UNIQUE_IDENTIFIER)
            .map(|c| c.as_text().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(
            item.require(tags::UNIQUE_IDENTIFIER).unwrap().as_text(),
            Ok("a")
        );
        assert!(item.child(tags::REQUEST_PAYLOAD).is_none());
        assert_eq!(
            item.require(tags::REQUEST_PAYLOAD),
            Err(TtlvError::Missing {
                parent: tags::BATCH_ITEM,
                tag: tags::REQUEST_PAYLOAD
            })
        );
    }

    #[test]
    fn accessors_report_the_wrong_type() {
        let item = Item::text(tags::UNIQUE_IDENTIFIER, "x");
        assert_eq!(
            item.as_i32(),
            Err(TtlvError::WrongType {
                tag: tags::UNIQUE_IDENTIFIER,
                expected: ItemType::Integer,
                found: ItemType::TextString,
            })
        );
        assert!(item.as_structure().is_err());
        assert!(item.child(tags::OPERATION).is_none());
        assert_eq!(item.children(tags::OPERATION).count(), 0);
        assert!(matches!(
            item.require(tags::OPERATION),
            Err(TtlvError::WrongType { .. })
        ));
    }

    #[test]
    fn unknown_enumeration_values_are_reported() {
        let item = Item::enumeration(tags::OPERATION, 0x8000_0001u32);
        assert_eq!(
            item.as_enum_of::<Operation>(),
            Err(TtlvError::UnknownEnumeration {
                tag: tags::OPERATION,
                kind: "Operation",
                value: 0x8000_0001
            })
        );
    }

    #[test]
    fn display_is_an_indented_tree_without_secrets() {
        let item = Item::structure(
            tags::KEY_VALUE,
            vec![Item::bytes(tags::KEY_MATERIAL, vec![0x42; 16])],
        );
        assert_eq!(
            item.to_string(),
            "Key Value (0x420045): Structure\n  Key Material (0x420043): Byte String <16 bytes>"
        );
    }

    #[test]
    fn push_appends_to_structures_only() {
        let mut item = batch_item();
        item.push(Item::int(tags::MAXIMUM_ITEMS, 1)).unwrap();
        assert_eq!(item.as_structure().unwrap().len(), 4);
        let mut leaf = Item::int(tags::MAXIMUM_ITEMS, 1);
        assert!(leaf.push(Item::int(tags::MAXIMUM_ITEMS, 2)).is_err());
    }
}
