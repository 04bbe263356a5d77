//! Tags and item types: the first four bytes of every TTLV item.

use core::fmt;

use super::TtlvError;

/// A KMIP tag: three bytes on the wire, `0x42xxxx` for the tags defined by the
/// specification and `0x54xxxx` for extensions.
///
/// A `Tag` is always in one of those two ranges (every other value is reserved
/// by the specification), so encoding one can never fail. Constants for the
/// defined tags are in [`crate::tags`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

/// High byte of the tags defined by the KMIP specification.
const KMIP_RANGE: u32 = 0x42_0000;
/// High byte of the tags reserved for extensions.
const EXTENSION_RANGE: u32 = 0x54_0000;

impl Tag {
    /// The tag `0x42xxxx` with `low` as its two low bytes.
    pub const fn kmip(low: u16) -> Tag {
        Tag(KMIP_RANGE | low as u32)
    }

    /// The extension tag `0x54xxxx` with `low` as its two low bytes.
    pub const fn extension(low: u16) -> Tag {
        Tag(EXTENSION_RANGE | low as u32)
    }

    /// Parses a tag number; `None` outside the KMIP and extension ranges.
    pub const fn new(value: u32) -> Option<Tag> {
        match value & 0xFF_FF_00_00 {
            KMIP_RANGE | EXTENSION_RANGE => Some(Tag(value)),
            _ => None,
        }
    }

    /// A tag from a number known at compile time; a bad number fails the build
    /// (the panic is evaluated in a `const` initializer).
    pub(crate) const fn known(value: u32) -> Tag {
        match Tag::new(value) {
            Some(tag) => tag,
            None => panic!("tag outside the KMIP and extension ranges"),
        }
    }

    /// The tag number, e.g. `0x420078`.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// Whether this is an extension tag (`0x54xxxx`).
    pub const fn is_extension(self) -> bool {
        self.0 & 0xFF_00_00 == EXTENSION_RANGE
    }

    /// The specification's name of this tag, if it is one we know.
    pub fn name(self) -> Option<&'static str> {
        crate::tags::name(self)
    }

    /// The three bytes of the tag as sent on the wire.
    pub(crate) const fn to_be_bytes(self) -> [u8; 3] {
        let [_, a, b, c] = self.0.to_be_bytes();
        [a, b, c]
    }
}

impl TryFrom<u32> for Tag {
    type Error = TtlvError;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Tag::new(value).ok_or(TtlvError::BadTag(value))
    }
}

impl From<Tag> for u32 {
    fn from(tag: Tag) -> u32 {
        tag.0
    }
}

impl fmt::Display for Tag {
    /// `Request Message (0x420078)`, or only the number for an unknown tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:06X})", self.0),
            None => write!(f, "0x{:06X}", self.0),
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

/// The type byte of a TTLV item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ItemType {
    /// A sequence of items; the value is the concatenation of its children.
    Structure = 0x01,
    /// Signed 32-bit integer (length 4, padded to 8).
    Integer = 0x02,
    /// Signed 64-bit integer (length 8).
    LongInteger = 0x03,
    /// Two's-complement big-endian integer (length a positive multiple of 8).
    BigInteger = 0x04,
    /// Unsigned 32-bit enumeration value (length 4, padded to 8).
    Enumeration = 0x05,
    /// 0 or 1 as a 64-bit integer (length 8).
    Boolean = 0x06,
    /// UTF-8 text, without terminator.
    TextString = 0x07,
    /// Opaque bytes.
    ByteString = 0x08,
    /// Seconds since the Unix epoch, signed 64-bit (length 8).
    DateTime = 0x09,
    /// Seconds, unsigned 32-bit (length 4, padded to 8).
    Interval = 0x0A,
    /// Microseconds since the Unix epoch, signed 64-bit (length 8). KMIP 2.0+.
    DateTimeExtended = 0x0B,
}

impl ItemType {
    /// Parses a type byte; `None` for a value the specification does not define.
    pub const fn from_u8(byte: u8) -> Option<ItemType> {
        Some(match byte {
            0x01 => ItemType::Structure,
            0x02 => ItemType::Integer,
            0x03 => ItemType::LongInteger,
            0x04 => ItemType::BigInteger,
            0x05 => ItemType::Enumeration,
            0x06 => ItemType::Boolean,
            0x07 => ItemType::TextString,
            0x08 => ItemType::ByteString,
            0x09 => ItemType::DateTime,
            0x0A => ItemType::Interval,
            0x0B => ItemType::DateTimeExtended,
            _ => return None,
        })
    }

    /// The type byte.
    pub const fn to_u8(self) -> u8 {
        self as u8
    }

    /// The length every item of this type must declare, for fixed-size types.
    pub const fn fixed_len(self) -> Option<u32> {
        match self {
            ItemType::Integer | ItemType::Enumeration | ItemType::Interval => Some(4),
            ItemType::LongInteger
            | ItemType::Boolean
            | ItemType::DateTime
            | ItemType::DateTimeExtended => Some(8),
            ItemType::Structure
            | ItemType::BigInteger
            | ItemType::TextString
            | ItemType::ByteString => None,
        }
    }

    /// The specification's name of the type, e.g. `"Text String"`.
    pub const fn name(self) -> &'static str {
        match self {
            ItemType::Structure => "Structure",
            ItemType::Integer => "Integer",
            ItemType::LongInteger => "Long Integer",
            ItemType::BigInteger => "Big Integer",
            ItemType::Enumeration => "Enumeration",
            ItemType::Boolean => "Boolean",
            ItemType::TextString => "Text String",
            ItemType::ByteString => "Byte String",
            ItemType::DateTime => "Date-Time",
            ItemType::Interval => "Interval",
            ItemType::DateTimeExtended => "Date-Time Extended",
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_outside_the_two_ranges_are_refused() {
        assert_eq!(Tag::new(0x42_0078), Some(Tag::kmip(0x0078)));
        assert_eq!(Tag::new(0x54_0001), Some(Tag::extension(0x0001)));
        for bad in [
            0,
            0x41_FFFF,
            0x43_0000,
            0x53_FFFF,
            0x55_0000,
            0x0142_0001,
            u32::MAX,
        ] {
            assert_eq!(Tag::new(bad), None, "{bad:#x}");
            assert_eq!(Tag::try_from(bad), Err(TtlvError::BadTag(bad)));
        }
    }

    #[test]
    fn tag_bytes_and_display() {
        let tag = Tag::kmip(0x0078);
        assert_eq!(tag.to_be_bytes(), [0x42, 0x00, 0x78]);
        assert_eq!(tag.to_string(), "Request Message (0x420078)");
        assert_eq!(Tag::extension(0x1234).to_string(), "0x541234");
        assert!(Tag::extension(0x1234).is_extension());
        assert!(!tag.is_extension());
    }

    #[test]
    fn item_type_bytes_round_trip() {
        for byte in 0..=u8::MAX {
            match ItemType::from_u8(byte) {
                Some(ty) => assert_eq!(ty.to_u8(), byte),
                None => assert!(byte == 0 || byte > 0x0B, "{byte:#x}"),
            }
        }
    }
}
