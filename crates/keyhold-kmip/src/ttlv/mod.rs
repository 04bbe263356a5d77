//! TTLV: the binary encoding of every KMIP message.
//!
//! Each item is a header of 8 bytes followed by its value:
//!
//! ```text
//!  tag (3 bytes, 0x42xxxx or 0x54xxxx) | type (1) | length (4, big-endian) | value, zero-padded to 8
//! ```
//!
//! A Structure's value is the concatenation of its child items, so its length
//! is a multiple of 8. Integers, Enumerations and Intervals are 4 bytes padded
//! to 8; Long Integers, Booleans, Date-Times and Date-Time Extendeds are 8;
//! Big Integers are a positive multiple of 8; Text and Byte Strings have any
//! length and are padded.
//!
//! [`decode`] turns untrusted bytes into an [`Item`] tree under [`Limits`];
//! [`encode`] does the reverse. Both are exact inverses on every input that
//! decodes.

mod decode;
mod encode;
mod error;
mod item;
mod tag;
mod value;

pub use decode::{decode, message_length, HEADER_LEN};
pub use encode::{encode, encode_into, encoded_len};
pub use error::TtlvError;
pub use item::Item;
pub use tag::{ItemType, Tag};
pub use value::{BigInt, Bytes, Value};

/// Bounds on what [`decode`] and [`message_length`] accept from a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, in bytes, header included.
    pub max_message: usize,
    /// Deepest nesting of Structures: the top-level Structure is at depth 1.
    /// KMIP messages need about 8.
    pub max_depth: usize,
    /// Most items in one message, counting every Structure and leaf.
    pub max_items: usize,
}

impl Limits {
    /// 1 MiB, 32 levels, 100 000 items.
    pub const DEFAULT: Limits = Limits {
        max_message: 1 << 20,
        max_depth: 32,
        max_items: 100_000,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
