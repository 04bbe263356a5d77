//! Property tests: encoding then decoding is the identity on every item tree,
//! and decoding is canonical on every byte string it accepts.

use keyhold_kmip::ttlv::encoded_len;
use keyhold_kmip::{decode, encode, BigInt, Item, Limits, Tag, Value};
use proptest::collection::vec;
use proptest::prelude::*;

mod common;
use common::create_request;

fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        4 => any::<u16>().prop_map(Tag::kmip),
        1 => any::<u16>().prop_map(Tag::extension),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::Integer),
        any::<i64>().prop_map(Value::LongInteger),
        vec(any::<u8>(), 0..40).prop_map(|b| Value::BigInteger(BigInt::from_signed_be(&b))),
        any::<u32>().prop_map(Value::Enumeration),
        any::<bool>().prop_map(Value::Boolean),
        any::<String>().prop_map(Value::TextString),
        vec(any::<u8>(), 0..48).prop_map(|b| Value::ByteString(b.into())),
        any::<i64>().prop_map(Value::DateTime),
        any::<u32>().prop_map(Value::Interval),
        any::<i64>().prop_map(Value::DateTimeExtended),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    let leaf_item = (tag(), leaf()).prop_map(|(tag, value)| Item::new(tag, value));
    leaf_item.prop_recursive(6, 96, 8, |inner| {
        (tag(), vec(inner, 0..8)).prop_map(|(tag, children)| Item::structure(tag, children))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_the_identity(item in item()) {
        let bytes = encode(&item);
        prop_assert_eq!(bytes.len() as u64, encoded_len(&item));
        prop_assert_eq!(bytes.len() % 8, 0);
        let decoded = decode(&bytes, &Limits::default());
        prop_assert_eq!(decoded.as_ref(), Ok(&item));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..256)) {
        if let Ok(item) = decode(&bytes, &Limits::default()) {
            prop_assert_eq!(encode(&item), bytes);
        }
    }

    #[test]
    fn decoding_a_damaged_message_never_panics(
        changes in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = create_request();
        for (at, value) in changes {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(item) = decode(&bytes, &Limits::default()) {
            prop_assert_eq!(encode(&item), bytes);
        }
    }
}
