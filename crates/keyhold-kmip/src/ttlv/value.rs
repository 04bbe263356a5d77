//! Item values, and the two byte containers that may carry key material.

use core::fmt;
use core::ops::Deref;

use zeroize::Zeroize;

use super::{Item, ItemType};

/// The value of a TTLV item, one variant per item type.
///
/// Byte Strings and Big Integers are the types that carry key material (Key
/// Material, Transparent key fields, Secret Data), so they live in [`Bytes`]
/// and [`BigInt`], which are wiped on drop and print only their length. Text
/// Strings print in full and are not wiped: the one secret KMIP sends as text
/// is a Credential's Password, which the server should wipe and never log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Child items, in order.
    Structure(Vec<Item>),
    /// Signed 32-bit integer.
    Integer(i32),
    /// Signed 64-bit integer.
    LongInteger(i64),
    /// Arbitrary-precision integer, kept as its big-endian two's-complement encoding.
    BigInteger(BigInt),
    /// Enumeration value; see [`crate::enums`] for the typed enumerations.
    Enumeration(u32),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 text.
    TextString(String),
    /// Opaque bytes.
    ByteString(Bytes),
    /// Seconds since 1970-01-01T00:00:00Z.
    DateTime(i64),
    /// A duration in seconds.
    Interval(u32),
    /// Microseconds since 1970-01-01T00:00:00Z (KMIP 2.0+).
    DateTimeExtended(i64),
}

impl Value {
    /// The item type this value is encoded as.
    pub fn item_type(&self) -> ItemType {
        match self {
            Value::Structure(_) => ItemType::Structure,
            Value::Integer(_) => ItemType::Integer,
            Value::LongInteger(_) => ItemType::LongInteger,
            Value::BigInteger(_) => ItemType::BigInteger,
            Value::Enumeration(_) => ItemType::Enumeration,
            Value::Boolean(_) => ItemType::Boolean,
            Value::TextString(_) => ItemType::TextString,
            Value::ByteString(_) => ItemType::ByteString,
            Value::DateTime(_) => ItemType::DateTime,
            Value::Interval(_) => ItemType::Interval,
            Value::DateTimeExtended(_) => ItemType::DateTimeExtended,
        }
    }
}

/// The value of a Byte String: zeroized on drop, printed by `Debug` as its
/// length only.
///
/// Equality is ordinary (not constant-time) byte comparison: compare MACs and
/// other secrets with a constant-time function, not with `==`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(Vec<u8>);

impl Bytes {
    /// Takes ownership of `bytes`; the buffer is wiped when the value is dropped.
    pub fn new(bytes: Vec<u8>) -> Bytes {
        Bytes(bytes)
    }

    /// Borrows the bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Hands the buffer over without copying it. The caller becomes
    /// responsible for wiping it (e.g. by wrapping it in a zeroizing type).
    pub fn into_vec(mut self) -> Vec<u8> {
        core::mem::take(&mut self.0)
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Bytes {
        Bytes(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes(bytes.to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for Bytes {
    fn from(bytes: [u8; N]) -> Bytes {
        Bytes(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Bytes {
    fn from(bytes: &[u8; N]) -> Bytes {
        Bytes(bytes.to_vec())
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes(<{} bytes>)", self.0.len())
    }
}

/// The value of a Big Integer: big-endian two's complement, sign-extended to a
/// positive multiple of 8 bytes, exactly as on the wire.
///
/// The encoding is kept as received, so that decoding and re-encoding is the
/// identity; equality therefore compares encodings (a value padded to 16 bytes
/// is not equal to the same value in 8). The constructors produce the shortest
/// encoding. Like [`Bytes`], it is zeroized on drop and `Debug` prints only its
/// length, because Big Integers carry private-key fields (Private Exponent,
/// Prime P, …).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt(Vec<u8>);

impl BigInt {
    /// The integer whose two's-complement big-endian encoding is `bytes`
    /// (any length; an empty slice is zero).
    pub fn from_signed_be(bytes: &[u8]) -> BigInt {
        let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
        let sign = if negative { 0xFF } else { 0x00 };
        // Drop sign bytes that the next byte already implies.
        let mut start = 0;
        while start + 1 < bytes.len()
            && bytes[start] == sign
            && (bytes[start + 1] & 0x80 != 0) == negative
        {
            start += 1;
        }
        BigInt::sign_extended(&bytes[start..], sign)
    }

    /// The non-negative integer whose big-endian magnitude is `magnitude`
    /// (leading zeros allowed; an empty slice is zero). This is how RSA moduli
    /// and exponents are usually held.
    pub fn from_unsigned_be(magnitude: &[u8]) -> BigInt {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let digits = &magnitude[start..];
        if digits.first().is_some_and(|b| b & 0x80 != 0) {
            // A leading zero byte keeps the top bit from reading as a sign.
            let mut with_sign = Vec::with_capacity(digits.len() + 1);
            with_sign.push(0);
            with_sign.extend_from_slice(digits);
            let value = BigInt::sign_extended(&with_sign, 0x00);
            with_sign.zeroize();
            value
        } else {
            BigInt::sign_extended(digits, 0x00)
        }
    }

    /// The integer `value`.
    pub fn from_i128(value: i128) -> BigInt {
        BigInt::from_signed_be(&value.to_be_bytes())
    }

    /// Wraps bytes read from the wire, whose length the decoder has checked.
    pub(crate) fn from_wire(bytes: Vec<u8>) -> BigInt {
        debug_assert!(!bytes.is_empty() && bytes.len() % 8 == 0);
        BigInt(bytes)
    }

    /// Left-pads `digits` with `sign` to a positive multiple of 8 bytes.
    fn sign_extended(digits: &[u8], sign: u8) -> BigInt {
        let len = digits.len().div_ceil(8).max(1) * 8;
        let mut bytes = Vec::with_capacity(len);
        bytes.resize(len - digits.len(), sign);
        bytes.extend_from_slice(digits);
        BigInt(bytes)
    }

    /// The encoding: big-endian two's complement, a positive multiple of 8 bytes.
    pub fn as_be_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.0.first().is_some_and(|b| b & 0x80 != 0)
    }

    /// The big-endian magnitude without leading zeros (empty for zero), or
    /// `None` for a negative value. Borrowed, so no copy of a secret is made.
    pub fn magnitude(&self) -> Option<&[u8]> {
        if self.is_negative() {
            return None;
        }
        let start = self.0.iter().position(|&b| b != 0).unwrap_or(self.0.len());
        Some(&self.0[start..])
    }

    /// The value as an `i128`, or `None` if it does not fit.
    pub fn to_i128(&self) -> Option<i128> {
        let sign = if self.is_negative() { 0xFF } else { 0x00 };
        let mut buf = [sign; 16];
        let significant = match self.0.len().checked_sub(16) {
            Some(extra) => {
                let (high, low) = self.0.split_at(extra);
                // The dropped bytes must be pure sign extension, and so must be
                // the sign bit of what remains.
                if high.iter().any(|&b| b != sign) || (low[0] & 0x80 != 0) != (sign == 0xFF) {
                    return None;
                }
                low
            }
            None => &self.0,
        };
        buf[16 - significant.len()..].copy_from_slice(significant);
        Some(i128::from_be_bytes(buf))
    }
}

impl Drop for BigInt {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt(<{} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_int_constructors_give_the_shortest_encoding() {
        assert_eq!(BigInt::from_i128(0).as_be_bytes(), [0; 8]);
        assert_eq!(BigInt::from_i128(1).as_be_bytes(), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(BigInt::from_i128(-1).as_be_bytes(), [0xFF; 8]);
        assert_eq!(
            BigInt::from_i128(i64::MAX as i128).as_be_bytes(),
            i64::MAX.to_be_bytes()
        );
        // One past i64::MAX needs a sign byte, hence 16 bytes.
        let big = BigInt::from_i128(i64::MAX as i128 + 1);
        assert_eq!(big.as_be_bytes().len(), 16);
        assert_eq!(BigInt::from_i128(i64::MIN as i128).as_be_bytes().len(), 8);
        assert_eq!(
            BigInt::from_i128(i64::MIN as i128 - 1).as_be_bytes().len(),
            16
        );
        assert_eq!(BigInt::from_signed_be(&[]).as_be_bytes(), [0; 8]);
    }

    #[test]
    fn big_int_i128_round_trip() {
        for v in [
            0,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            255,
            256,
            i64::MAX as i128,
            i64::MIN as i128,
            i128::MAX,
            i128::MIN,
            1_234_567_890_000_000_000_000_000_000,
        ] {
            let b = BigInt::from_i128(v);
            assert_eq!(b.to_i128(), Some(v), "{v}");
            assert_eq!(b.is_negative(), v < 0);
            assert_eq!(b.as_be_bytes().len() % 8, 0);
        }
    }

    #[test]
    fn big_int_to_i128_handles_padding_and_overflow() {
        // 24 bytes of sign extension around a small value still fit.
        let mut padded = vec![0xFF; 23];
        padded.push(0xFE);
        assert_eq!(BigInt::from_wire(padded).to_i128(), Some(-2));
        // 2^127 does not fit in an i128.
        let mut too_big = vec![0u8; 8];
        too_big.push(0x80);
        too_big.extend_from_slice(&[0; 15]);
        assert_eq!(BigInt::from_wire(too_big).to_i128(), None);
    }

    #[test]
    fn big_int_unsigned_magnitude() {
        let modulus = [0xC0, 0x01, 0x02];
        let b = BigInt::from_unsigned_be(&[0, 0, 0xC0, 0x01, 0x02]);
        assert_eq!(b.as_be_bytes(), [0, 0, 0, 0, 0, 0xC0, 0x01, 0x02]);
        assert!(!b.is_negative());
        assert_eq!(b.magnitude(), Some(&modulus[..]));
        // Eight significant bytes with the top bit set need a ninth, zero byte.
        let b = BigInt::from_unsigned_be(&[0xFF; 8]);
        assert_eq!(b.as_be_bytes().len(), 16);
        assert_eq!(b.magnitude(), Some(&[0xFF; 8][..]));
        assert_eq!(BigInt::from_unsigned_be(&[]).magnitude(), Some(&[][..]));
        assert_eq!(BigInt::from_i128(-5).magnitude(), None);
    }

    #[test]
    fn secrets_do_not_print() {
        let b = Bytes::from(vec![0xAA; 16]);
        assert_eq!(format!("{b:?}"), "Bytes(<16 bytes>)");
        let n = BigInt::from_i128(0x1234);
        assert_eq!(format!("{n:?}"), "BigInt(<8 bytes>)");
    }

    #[test]
    fn bytes_into_vec_hands_over_the_buffer() {
        let b = Bytes::from(&[1u8, 2, 3]);
        assert_eq!(&*b, &[1, 2, 3]);
        assert_eq!(b.into_vec(), vec![1, 2, 3]);
    }
}
