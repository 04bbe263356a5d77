//! keyhold-kmip: the KMIP wire protocol, with no knowledge of Keyhold itself.
//!
//! This crate is pure protocol: it depends on no other Keyhold crate, so the
//! KMIP adapter in `keyhold-server` is the only place where KMIP meets the
//! core. It holds
//!
//! - [`ttlv`]: the Tag-Type-Length-Value data model of KMIP 1.0–2.1 and its
//!   binary codec, hardened for untrusted input (size, depth and item limits,
//!   lengths checked before any allocation, canonical encoding only);
//! - [`tags`]: the numbers of every KMIP 1.0–2.0 tag and a name table;
//! - [`enums`]: the KMIP enumerations a server needs (operations, object types,
//!   result status and reasons, algorithms, formats, states, …).
//!
//! ```text
//!  socket ─► 8-byte header ─► ttlv::message_length ─► read exactly that many bytes
//!        ─► ttlv::decode (limits) ─► Item tree ─► typed request (next layer)
//!  typed response ─► Item tree ─► ttlv::encode ─► socket
//! ```

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod attributes;
pub mod enums;
pub mod message;
pub mod tags;
pub mod ttlv;

pub use attributes::{Attribute, Attributes};
pub use enums::KmipEnum;
pub use message::{Failure, ProtocolVersion, RequestMessage, ResponseBatchItem};
pub use ttlv::{
    decode, encode, message_length, BigInt, Bytes, Item, ItemType, Limits, Tag, TtlvError, Value,
};
