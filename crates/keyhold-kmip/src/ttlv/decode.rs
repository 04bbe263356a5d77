//! Decoding untrusted bytes into an [`Item`] tree.
//!
//! The decoder is iterative (an explicit stack of open structures), so its
//! own stack use does not grow with the nesting of the input. Every length is
//! checked against the bytes that remain in the enclosing structure before
//! anything is allocated, so memory use is bounded by the input size, which
//! [`Limits::max_message`] bounds in turn.

use super::{BigInt, Bytes, Item, ItemType, Limits, Tag, TtlvError, Value};

/// Length of an item header: tag (3), type (1), length (4).
pub const HEADER_LEN: usize = 8;

/// A parsed and length-checked item header.
struct Header {
    tag: Tag,
    ty: ItemType,
    len: u32,
}

/// A structure whose children are still being read.
struct Open {
    tag: Tag,
    len: u32,
    /// Offset just past its last child.
    end: usize,
    children: Vec<Item>,
}

/// How many bytes a whole message occupies, from its first 8 bytes.
///
/// A network reader reads the 8-byte header, calls this, then reads exactly
/// the returned number of bytes (header included) and hands them to
/// [`decode`]; it never buffers more than [`Limits::max_message`] bytes per
/// message. The header is checked as [`decode`] would check it (tag range,
/// type, length allowed for the type), so garbage is refused before the
/// reader waits for a body.
pub fn message_length(header: &[u8; HEADER_LEN], limits: &Limits) -> Result<usize, TtlvError> {
    let header = parse_header(header)?;
    let total = HEADER_LEN as u64 + padded(header.len);
    match usize::try_from(total) {
        Ok(total) if total <= limits.max_message => Ok(total),
        _ => Err(TtlvError::TooLarge {
            len: total,
            max: limits.max_message,
        }),
    }
}

/// Decodes one item (in KMIP, a whole Request or Response Message) that must
/// span `input` exactly.
///
/// Only the canonical encoding is accepted: fixed lengths as the
/// specification gives them, zero padding, Booleans 0 or 1, Structure lengths
/// that exactly cover their children, nothing after the item. Hence
/// `encode(&decode(bytes)?) == bytes` for every input that decodes.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Item, TtlvError> {
    if input.len() > limits.max_message {
        return Err(TtlvError::TooLarge {
            len: input.len() as u64,
            max: limits.max_message,
        });
    }

    let mut stack: Vec<Open> = Vec::new();
    let mut pos = 0;
    let mut items = 0usize;
    loop {
        // Where the next item must end: its parent's end, or the input's.
        let (limit, overrun) = match stack.last() {
            Some(parent) => (
                parent.end,
                TtlvError::BadLength {
                    tag: parent.tag,
                    ty: ItemType::Structure,
                    len: parent.len,
                },
            ),
            None => (input.len(), TtlvError::Truncated),
        };

        let header_end = pos + HEADER_LEN;
        let raw = match input.get(pos..header_end) {
            Some(raw) if header_end <= limit => raw,
            _ => return Err(overrun),
        };
        let header = parse_header(raw.try_into().map_err(|_| TtlvError::Truncated)?)?;

        items += 1;
        if items > limits.max_items {
            return Err(TtlvError::TooManyItems {
                max: limits.max_items,
            });
        }

        // Checked in u64 before any slicing or allocation.
        let item_end = header_end as u64 + padded(header.len);
        if item_end > limit as u64 {
            return Err(overrun);
        }
        // Cannot truncate: item_end <= limit, a usize.
        let item_end = item_end as usize;
        let value_end = header_end + header.len as usize;

        let mut done = if header.ty == ItemType::Structure {
            if stack.len() >= limits.max_depth {
                return Err(TtlvError::TooDeep {
                    max: limits.max_depth,
                });
            }
            stack.push(Open {
                tag: header.tag,
                len: header.len,
                end: item_end,
                children: Vec::new(),
            });
            pos = header_end;
            None
        } else {
            if input[value_end..item_end].iter().any(|&b| b != 0) {
                return Err(TtlvError::BadPadding { tag: header.tag });
            }
            let value = leaf_value(&header, &input[header_end..value_end])?;
            pos = item_end;
            Some(Item::new(header.tag, value))
        };

        // Attach finished items to their parents, closing every structure
        // whose last child this was (or which is empty).
        loop {
            if let Some(item) = done.take() {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(item),
                    None if pos == input.len() => return Ok(item),
                    None => {
                        return Err(TtlvError::Trailing {
                            extra: input.len() - pos,
                        })
                    }
                }
            }
            match stack.last() {
                Some(open) if open.end == pos => {
                    if let Some(open) = stack.pop() {
                        done = Some(Item::structure(open.tag, open.children));
                    }
                }
                _ => break,
            }
        }
    }
}

/// Parses a header and checks the declared length against the type.
fn parse_header(raw: &[u8; HEADER_LEN]) -> Result<Header, TtlvError> {
    let [t0, t1, t2, ty, l0, l1, l2, l3] = *raw;
    let tag = Tag::try_from(u32::from_be_bytes([0, t0, t1, t2]))?;
    let ty = ItemType::from_u8(ty).ok_or(TtlvError::BadType(ty))?;
    let len = u32::from_be_bytes([l0, l1, l2, l3]);
    let allowed = match ty.fixed_len() {
        Some(fixed) => len == fixed,
        None => match ty {
            ItemType::Structure => len % 8 == 0,
            ItemType::BigInteger => len > 0 && len % 8 == 0,
            _ => true,
        },
    };
    if !allowed {
        return Err(TtlvError::BadLength { tag, ty, len });
    }
    Ok(Header { tag, ty, len })
}

/// The value of a non-Structure item from its `len` value bytes.
fn leaf_value(header: &Header, bytes: &[u8]) -> Result<Value, TtlvError> {
    let tag = header.tag;
    Ok(match header.ty {
        ItemType::Integer => Value::Integer(i32::from_be_bytes(fixed(header, bytes)?)),
        ItemType::LongInteger => Value::LongInteger(i64::from_be_bytes(fixed(header, bytes)?)),
        ItemType::BigInteger => Value::BigInteger(BigInt::from_wire(bytes.to_vec())),
        ItemType::Enumeration => Value::Enumeration(u32::from_be_bytes(fixed(header, bytes)?)),
        ItemType::Boolean => match u64::from_be_bytes(fixed(header, bytes)?) {
            0 => Value::Boolean(false),
            1 => Value::Boolean(true),
            _ => return Err(TtlvError::BadBoolean { tag }),
        },
        ItemType::TextString => match core::str::from_utf8(bytes) {
            Ok(text) => Value::TextString(text.to_owned()),
            Err(_) => return Err(TtlvError::InvalidUtf8 { tag }),
        },
        ItemType::ByteString => Value::ByteString(Bytes::from(bytes)),
        ItemType::DateTime => Value::DateTime(i64::from_be_bytes(fixed(header, bytes)?)),
        ItemType::Interval => Value::Interval(u32::from_be_bytes(fixed(header, bytes)?)),
        ItemType::DateTimeExtended => {
            Value::DateTimeExtended(i64::from_be_bytes(fixed(header, bytes)?))
        }
        // Structures are opened by the caller, never read as a leaf.
        ItemType::Structure => {
            return Err(TtlvError::BadLength {
                tag,
                ty: header.ty,
                len: header.len,
            })
        }
    })
}

/// The bytes of a fixed-size value (whose length `parse_header` checked).
fn fixed<const N: usize>(header: &Header, bytes: &[u8]) -> Result<[u8; N], TtlvError> {
    bytes.try_into().map_err(|_| TtlvError::BadLength {
        tag: header.tag,
        ty: header.ty,
        len: header.len,
    })
}

/// Bytes a value of length `len` occupies: `len` rounded up to a multiple of 8.
pub(crate) fn padded(len: u32) -> u64 {
    (u64::from(len) + 7) & !7
}
