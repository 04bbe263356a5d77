//! Encoding an [`Item`] tree into bytes.

use super::decode::{padded, HEADER_LEN};
use super::{Item, Value};

/// The largest value length a TTLV header can express.
const MAX_LEN: u64 = u32::MAX as u64;

/// The number of bytes [`encode`] produces for `item`, header and padding
/// included. A server can compare it with a client's Maximum Response Size
/// before encoding anything.
pub fn encoded_len(item: &Item) -> u64 {
    (HEADER_LEN as u64).saturating_add(value_len(&item.value))
}

/// The length of a value after its header, padding included.
fn value_len(value: &Value) -> u64 {
    match value {
        Value::Structure(children) => children
            .iter()
            .fold(0, |sum, child| sum.saturating_add(encoded_len(child))),
        // Four-byte values are padded to eight.
        Value::Integer(_)
        | Value::Enumeration(_)
        | Value::Interval(_)
        | Value::LongInteger(_)
        | Value::Boolean(_)
        | Value::DateTime(_)
        | Value::DateTimeExtended(_) => 8,
        Value::BigInteger(v) => v.as_be_bytes().len() as u64,
        Value::TextString(v) => padded_len(v.len()),
        Value::ByteString(v) => padded_len(v.len()),
    }
}

/// `len` rounded up to a multiple of 8; `u64::MAX` for a length no header can
/// express, so that [`encode`] refuses it.
fn padded_len(len: usize) -> u64 {
    u32::try_from(len).map_or(u64::MAX, padded)
}

/// Encodes `item` into a new buffer of exactly [`encoded_len`] bytes.
///
/// The buffer is allocated once, so no partial copy of the (possibly secret)
/// content is left behind by a reallocation; the caller should wipe it once it
/// has been sent if it may hold key material.
///
/// # Panics
///
/// If the item is longer than TTLV can express (a value of more than
/// 4 GiB − 1 bytes), like `Vec` panics on a capacity overflow. Callers that
/// build items from unbounded input check [`encoded_len`] first.
pub fn encode(item: &Item) -> Vec<u8> {
    let len = encoded_len(item);
    assert!(
        len - HEADER_LEN as u64 <= MAX_LEN,
        "TTLV item of {len} bytes is longer than a TTLV length can express"
    );
    // Cannot truncate: len <= 8 + u32::MAX, and the assert above holds.
    let mut out = Vec::with_capacity(len as usize);
    write_item(item, &mut out);
    out
}

/// Appends the encoding of `item` to `out`; same contract as [`encode`].
pub fn encode_into(item: &Item, out: &mut Vec<u8>) {
    let len = encoded_len(item);
    assert!(
        len - HEADER_LEN as u64 <= MAX_LEN,
        "TTLV item of {len} bytes is longer than a TTLV length can express"
    );
    out.reserve(len as usize);
    write_item(item, out);
}

/// Writes one item. Every nested length is below the top-level length, which
/// the callers checked fits in a `u32`.
fn write_item(item: &Item, out: &mut Vec<u8>) {
    out.extend_from_slice(&item.tag.to_be_bytes());
    out.push(item.item_type().to_u8());
    match &item.value {
        Value::Structure(children) => {
            let len_at = out.len();
            out.extend_from_slice(&[0; 4]);
            for child in children {
                write_item(child, out);
            }
            let len = length_field(out.len() - len_at - 4);
            out[len_at..len_at + 4].copy_from_slice(&len);
        }
        Value::Integer(v) => write_value(out, &v.to_be_bytes()),
        Value::LongInteger(v) => write_value(out, &v.to_be_bytes()),
        Value::BigInteger(v) => write_value(out, v.as_be_bytes()),
        Value::Enumeration(v) => write_value(out, &v.to_be_bytes()),
        Value::Boolean(v) => write_value(out, &u64::from(*v).to_be_bytes()),
        Value::TextString(v) => write_value(out, v.as_bytes()),
        Value::ByteString(v) => write_value(out, v),
        Value::DateTime(v) => write_value(out, &v.to_be_bytes()),
        Value::Interval(v) => write_value(out, &v.to_be_bytes()),
        Value::DateTimeExtended(v) => write_value(out, &v.to_be_bytes()),
    }
}

/// Writes a length, the value bytes and their zero padding.
fn write_value(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&length_field(bytes.len()));
    out.extend_from_slice(bytes);
    let pad = (8 - bytes.len() % 8) % 8;
    out.extend_from_slice(&[0; 8][..pad]);
}

/// A length as the four header bytes. Lengths were bounded by the caller's
/// check of the whole item, so saturation never happens.
fn length_field(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}
