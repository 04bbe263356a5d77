//! The one error type of the TTLV layer.

use thiserror::Error;

use super::{ItemType, Tag};

/// Why a TTLV message could not be decoded, or an item is not what the caller
/// asked for.
///
/// Decoding never panics: every malformed input maps to one of these. A KMIP
/// server answers the decoding variants with Result Reason *Invalid Message*
/// (and, in KMIP 2.x, may use *Codec Error*), and the accessor variants
/// ([`WrongType`](TtlvError::WrongType), [`Missing`](TtlvError::Missing),
/// [`UnknownEnumeration`](TtlvError::UnknownEnumeration)) with *Invalid Field*,
/// *Missing Data* or *Unknown Enumeration*.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TtlvError {
    /// The input ends before the item it started does.
    #[error("TTLV input is truncated")]
    Truncated,
    /// An item declares a length its type does not allow (a fixed-size type
    /// with the wrong size, a Big Integer that is not a positive multiple of 8,
    /// a Structure that is not a multiple of 8 or does not exactly hold its
    /// children).
    #[error("{tag}: invalid length {len} for type {ty}")]
    BadLength {
        /// The item with the bad length.
        tag: Tag,
        /// Its type.
        ty: ItemType,
        /// The length it declared.
        len: u32,
    },
    /// The type byte is not one the specification defines.
    #[error("unknown TTLV item type 0x{0:02X}")]
    BadType(u8),
    /// The tag is outside the KMIP (`0x42xxxx`) and extension (`0x54xxxx`) ranges.
    #[error("tag 0x{0:06X} is outside the KMIP and extension ranges")]
    BadTag(u32),
    /// A padding byte is not zero.
    #[error("{tag}: padding bytes are not zero")]
    BadPadding {
        /// The padded item.
        tag: Tag,
    },
    /// Structures are nested deeper than [`Limits::max_depth`](super::Limits::max_depth).
    #[error("structures are nested deeper than {max} levels")]
    TooDeep {
        /// The limit in force.
        max: usize,
    },
    /// The message is longer than [`Limits::max_message`](super::Limits::max_message).
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The length of the input or the length its header announces.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The message holds more than [`Limits::max_items`](super::Limits::max_items) items.
    #[error("message holds more than {max} items")]
    TooManyItems {
        /// The limit in force.
        max: usize,
    },
    /// A Text String is not valid UTF-8.
    #[error("{tag}: text string is not valid UTF-8")]
    InvalidUtf8 {
        /// The text item.
        tag: Tag,
    },
    /// A Boolean holds a value other than 0 or 1.
    #[error("{tag}: boolean is neither 0 nor 1")]
    BadBoolean {
        /// The boolean item.
        tag: Tag,
    },
    /// Bytes follow the end of the top-level item.
    #[error("{extra} bytes follow the end of the message")]
    Trailing {
        /// How many.
        extra: usize,
    },
    /// An item has another type than the one asked for.
    #[error("{tag}: expected type {expected}, found {found}")]
    WrongType {
        /// The item.
        tag: Tag,
        /// The type the caller asked for.
        expected: ItemType,
        /// The type it has.
        found: ItemType,
    },
    /// A structure lacks a required child.
    #[error("{parent} has no {tag}")]
    Missing {
        /// The structure.
        parent: Tag,
        /// The child that was required.
        tag: Tag,
    },
    /// An Enumeration holds a value the expected enumeration does not define.
    #[error("{tag}: 0x{value:08X} is not a known {kind}")]
    UnknownEnumeration {
        /// The enumeration item.
        tag: Tag,
        /// The enumeration's name in the specification, e.g. `"Operation"`.
        kind: &'static str,
        /// The value found.
        value: u32,
    },
}

impl TtlvError {
    /// Whether the error says the bytes are not well-formed TTLV (as opposed to
    /// well-formed TTLV that does not have the expected shape).
    pub fn is_malformed(&self) -> bool {
        !matches!(
            self,
            TtlvError::WrongType { .. }
                | TtlvError::Missing { .. }
                | TtlvError::UnknownEnumeration { .. }
        )
    }
}
