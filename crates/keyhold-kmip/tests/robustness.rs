//! Hostile input: every malformed message is refused with a typed error,
//! nothing panics, and limits hold before anything large is allocated.

use keyhold_kmip::ttlv::HEADER_LEN;
use keyhold_kmip::{decode, encode, message_length, Item, ItemType, Limits, Tag, TtlvError};

mod common;
use common::{create_request, hex};

const TAG: Tag = Tag::kmip(0x0020);

/// An item header.
fn header(tag: Tag, ty: u8, len: u32) -> Vec<u8> {
    let mut out = tag.value().to_be_bytes()[1..].to_vec();
    out.push(ty);
    out.extend_from_slice(&len.to_be_bytes());
    out
}

fn decode_default(bytes: &[u8]) -> Result<Item, TtlvError> {
    decode(bytes, &Limits::default())
}

/// Decodes, and checks that whatever decodes re-encodes to the same bytes.
fn decode_canonical(bytes: &[u8]) -> Result<Item, TtlvError> {
    let result = decode_default(bytes);
    if let Ok(item) = &result {
        assert_eq!(encode(item), bytes, "decoding is canonical");
    }
    result
}

#[test]
fn truncation_at_every_offset_is_refused() {
    let message = create_request();
    assert!(decode_default(&message).is_ok());
    for len in 0..message.len() {
        assert_eq!(
            decode_default(&message[..len]),
            Err(TtlvError::Truncated),
            "prefix of {len} bytes"
        );
    }
}

#[test]
fn every_single_byte_change_is_refused_or_decodes_canonically() {
    let message = create_request();
    let mut accepted = 0;
    for pos in 0..message.len() {
        for change in [0x01u8, 0x02, 0x10, 0x80, 0xFF] {
            let mut bytes = message.clone();
            bytes[pos] ^= change;
            if decode_canonical(&bytes).is_ok() {
                accepted += 1;
            }
        }
    }
    // Changes inside values (text, integers) still decode; most others not.
    assert!(accepted > 0 && accepted < message.len() * 5);
}

#[test]
fn declared_length_of_4_gib_is_refused_without_allocating() {
    // Text and Byte Strings of 0xFFFFFFFF bytes with 8 bytes of body.
    for ty in [ItemType::TextString, ItemType::ByteString] {
        let mut bytes = header(TAG, ty.to_u8(), u32::MAX);
        bytes.extend_from_slice(&[0x41; 8]);
        assert_eq!(decode_default(&bytes), Err(TtlvError::Truncated), "{ty}");
    }
    // A Structure length must be a multiple of 8.
    assert_eq!(
        decode_default(&header(TAG, 0x01, u32::MAX)),
        Err(TtlvError::BadLength {
            tag: TAG,
            ty: ItemType::Structure,
            len: u32::MAX
        })
    );
    assert_eq!(
        decode_default(&header(TAG, 0x01, 0xFFFF_FFF8)),
        Err(TtlvError::Truncated)
    );
    // Inside a structure, the child is bounded by its parent, not the input.
    let mut bytes = header(TAG, 0x01, 16);
    bytes.extend(header(TAG, 0x07, u32::MAX));
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(
        decode_default(&bytes),
        Err(TtlvError::BadLength {
            tag: TAG,
            ty: ItemType::Structure,
            len: 16
        })
    );
}

#[test]
fn message_length_reads_the_header_only() {
    let message = create_request();
    let first: &[u8; HEADER_LEN] = message[..HEADER_LEN].try_into().expect("8 bytes");
    assert_eq!(message_length(first, &Limits::default()), Ok(message.len()));

    let huge: [u8; 8] = header(TAG, 0x01, 0xFFFF_FFF8).try_into().expect("8 bytes");
    assert_eq!(
        message_length(&huge, &Limits::default()),
        Err(TtlvError::TooLarge {
            len: 8 + 0xFFFF_FFF8,
            max: 1 << 20
        })
    );

    // Exactly the limit is accepted, 8 bytes more is not.
    let limits = Limits::default();
    let at_limit: [u8; 8] = header(TAG, 0x01, (limits.max_message - 8) as u32)
        .try_into()
        .expect("8 bytes");
    assert_eq!(message_length(&at_limit, &limits), Ok(limits.max_message));
    let over: [u8; 8] = header(TAG, 0x01, limits.max_message as u32)
        .try_into()
        .expect("8 bytes");
    assert!(matches!(
        message_length(&over, &limits),
        Err(TtlvError::TooLarge { .. })
    ));

    // Padding counts: a 3-byte string occupies 8 + 8 bytes.
    let short: [u8; 8] = header(TAG, 0x08, 3).try_into().expect("8 bytes");
    assert_eq!(message_length(&short, &limits), Ok(16));

    // Garbage is refused before any body is read.
    let bad_type: [u8; 8] = header(TAG, 0x0C, 8).try_into().expect("8 bytes");
    assert_eq!(
        message_length(&bad_type, &limits),
        Err(TtlvError::BadType(0x0C))
    );
    let bad_tag = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00]; // a TLS ClientHello
    assert_eq!(
        message_length(&bad_tag, &limits),
        Err(TtlvError::BadTag(0x16_0301))
    );
    let bad_len: [u8; 8] = header(TAG, 0x02, 8).try_into().expect("8 bytes");
    assert!(matches!(
        message_length(&bad_len, &limits),
        Err(TtlvError::BadLength { .. })
    ));
}

/// `depth` Structures, each the only child of the previous one.
fn nested(depth: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(depth * HEADER_LEN);
    for level in 0..depth {
        bytes.extend(header(TAG, 0x01, ((depth - 1 - level) * HEADER_LEN) as u32));
    }
    bytes
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    assert_eq!(
        decode_default(&nested(1000)),
        Err(TtlvError::TooDeep { max: 32 })
    );
    assert_eq!(
        decode_default(&nested(33)),
        Err(TtlvError::TooDeep { max: 32 })
    );
    let ok = decode_canonical(&nested(32)).expect("32 levels are allowed");
    let mut depth = 1;
    let mut item = &ok;
    while let Some(child) = item.as_structure().expect("structure").first() {
        depth += 1;
        item = child;
    }
    assert_eq!(depth, 32);

    // The decoder does not recurse: a generous limit decodes 1000 levels.
    let deep = Limits {
        max_depth: 1000,
        ..Limits::default()
    };
    assert!(decode(&nested(1000), &deep).is_ok());
}

/// A Structure holding `count` Integers.
fn many_integers(count: usize) -> Vec<u8> {
    let mut bytes = header(TAG, 0x01, (count * 16) as u32);
    bytes.reserve(count * 16);
    for i in 0..count {
        bytes.extend(header(TAG, 0x02, 4));
        bytes.extend_from_slice(&(i as u32).to_be_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    bytes
}

#[test]
fn a_million_items_are_refused_by_the_limits() {
    let bytes = many_integers(1_000_000);
    // By size first: 16 MB is over the 1 MiB default.
    assert_eq!(
        decode_default(&bytes),
        Err(TtlvError::TooLarge {
            len: bytes.len() as u64,
            max: 1 << 20
        })
    );
    let first: &[u8; 8] = bytes[..8].try_into().expect("8 bytes");
    assert!(matches!(
        message_length(first, &Limits::default()),
        Err(TtlvError::TooLarge { .. })
    ));
    // With the size limit lifted, by count.
    let big = Limits {
        max_message: 64 << 20,
        ..Limits::default()
    };
    assert_eq!(
        decode(&bytes, &big),
        Err(TtlvError::TooManyItems { max: 100_000 })
    );
    // The top-level structure counts as an item too.
    let exact = many_integers(99_999);
    assert!(decode(&exact, &big).is_ok());
    assert_eq!(
        decode(&many_integers(100_000), &big),
        Err(TtlvError::TooManyItems { max: 100_000 })
    );
}

#[test]
fn non_zero_padding_is_refused() {
    let cases = [
        hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 01"),
        hex("42 00 20 | 05 | 00 00 00 04 | 00 00 00 08 80 00 00 00"),
        hex("42 00 20 | 0A | 00 00 00 04 | 00 00 00 08 00 01 00 00"),
        hex("42 00 20 | 07 | 00 00 00 03 | 61 62 63 00 00 00 00 20"),
        hex("42 00 20 | 08 | 00 00 00 01 | 01 FF 00 00 00 00 00 00"),
    ];
    for bytes in cases {
        assert_eq!(
            decode_default(&bytes),
            Err(TtlvError::BadPadding { tag: TAG }),
            "{}",
            hex::encode(&bytes)
        );
    }
}

#[test]
fn booleans_other_than_zero_or_one_are_refused() {
    for value in [2u64, 0xFF, 1 << 8, 1 << 63, u64::MAX] {
        let mut bytes = header(TAG, 0x06, 8);
        bytes.extend_from_slice(&value.to_be_bytes());
        assert_eq!(
            decode_default(&bytes),
            Err(TtlvError::BadBoolean { tag: TAG }),
            "{value:#x}"
        );
    }
    let mut yes = header(TAG, 0x06, 8);
    yes.extend_from_slice(&1u64.to_be_bytes());
    assert_eq!(decode_canonical(&yes), Ok(Item::boolean(TAG, true)));
}

#[test]
fn wrong_fixed_lengths_are_refused() {
    let cases: &[(ItemType, &[u32])] = &[
        (ItemType::Integer, &[0, 1, 3, 5, 8, 16]),
        (ItemType::LongInteger, &[0, 4, 7, 9, 16]),
        (ItemType::Enumeration, &[0, 2, 8]),
        (ItemType::Boolean, &[0, 1, 4, 16]),
        (ItemType::DateTime, &[0, 4, 16]),
        (ItemType::Interval, &[0, 8]),
        (ItemType::DateTimeExtended, &[0, 4, 16]),
        (ItemType::BigInteger, &[0, 1, 4, 12, 17]),
        (ItemType::Structure, &[1, 4, 12]),
    ];
    for &(ty, lens) in cases {
        for &len in lens {
            // Enough body for the declared length, so only the length is wrong.
            let mut bytes = header(TAG, ty.to_u8(), len);
            bytes.resize(bytes.len() + (len as usize).div_ceil(8) * 8, 0);
            assert_eq!(
                decode_default(&bytes),
                Err(TtlvError::BadLength { tag: TAG, ty, len }),
                "{ty} of length {len}"
            );
        }
    }
}

#[test]
fn big_integers_keep_their_sign_extension() {
    // -2 sign-extended to 24 bytes: not the shortest form, but valid.
    let mut bytes = header(TAG, 0x04, 24);
    bytes.extend_from_slice(&[0xFF; 23]);
    bytes.push(0xFE);
    let item = decode_canonical(&bytes).expect("valid");
    assert_eq!(item.as_big_int().expect("big int").to_i128(), Some(-2));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut message = create_request();
    message.push(0);
    assert_eq!(
        decode_default(&message),
        Err(TtlvError::Trailing { extra: 1 })
    );
    // A whole second message is trailing data too: one message per call.
    let mut two = create_request();
    two.extend(create_request());
    assert_eq!(
        decode_default(&two),
        Err(TtlvError::Trailing {
            extra: create_request().len()
        })
    );
}

#[test]
fn unknown_types_and_tags_are_refused() {
    for ty in [0x00, 0x0C, 0x80, 0xFF] {
        let mut bytes = header(TAG, ty, 4);
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(decode_default(&bytes), Err(TtlvError::BadType(ty)));
    }
    for tag in [[0x00, 0x00, 0x00], [0x43, 0x00, 0x01], [0xFF, 0xFF, 0xFF]] {
        let mut bytes = tag.to_vec();
        bytes.extend_from_slice(&[0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
        let value = u32::from_be_bytes([0, tag[0], tag[1], tag[2]]);
        assert_eq!(decode_default(&bytes), Err(TtlvError::BadTag(value)));
    }
    // Extension tags are fine.
    let mut bytes = header(Tag::extension(0x0001), 0x02, 4);
    bytes.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0]);
    assert_eq!(
        decode_canonical(&bytes),
        Ok(Item::int(Tag::extension(1), 7))
    );
}

#[test]
fn invalid_utf8_is_refused() {
    for text in [
        &[0xFFu8][..],
        &[0xC3, 0x28],
        &[0xE2, 0x82],
        &[0xED, 0xA0, 0x80],
    ] {
        let mut bytes = header(TAG, 0x07, text.len() as u32);
        bytes.extend_from_slice(text);
        bytes.resize(16, 0);
        assert_eq!(
            decode_default(&bytes),
            Err(TtlvError::InvalidUtf8 { tag: TAG })
        );
    }
    let mut ok = header(TAG, 0x07, 2);
    ok.extend_from_slice("é".as_bytes());
    ok.resize(16, 0);
    assert_eq!(decode_canonical(&ok), Ok(Item::text(TAG, "é")));
}

#[test]
fn structures_must_exactly_hold_their_children() {
    // A child that runs past the end of its parent.
    let mut bytes = header(TAG, 0x01, 8);
    bytes.extend(hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"));
    assert_eq!(
        decode_default(&bytes),
        Err(TtlvError::BadLength {
            tag: TAG,
            ty: ItemType::Structure,
            len: 8
        })
    );
    // Left-over bytes inside a structure must be items themselves.
    let mut bytes = header(TAG, 0x01, 24);
    bytes.extend(hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"));
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(decode_default(&bytes), Err(TtlvError::BadTag(0)));
    // Empty structures are fine, at any level.
    let mut bytes = header(TAG, 0x01, 16);
    bytes.extend(header(TAG, 0x01, 0));
    bytes.extend(header(TAG, 0x01, 0));
    assert_eq!(
        decode_canonical(&bytes),
        Ok(Item::structure(
            TAG,
            vec![Item::structure(TAG, vec![]), Item::structure(TAG, vec![])]
        ))
    );
}

#[test]
fn inputs_larger_than_the_limit_are_refused_before_parsing() {
    let limits = Limits {
        max_message: 64,
        ..Limits::default()
    };
    let message = create_request();
    assert_eq!(
        decode(&message, &limits),
        Err(TtlvError::TooLarge {
            len: message.len() as u64,
            max: 64
        })
    );
}

#[test]
fn errors_read_well() {
    assert_eq!(
        TtlvError::BadLength {
            tag: keyhold_kmip::tags::BATCH_COUNT,
            ty: ItemType::Integer,
            len: 8
        }
        .to_string(),
        "Batch Count (0x42000D): invalid length 8 for type Integer"
    );
    assert!(TtlvError::Truncated.is_malformed());
    assert!(!TtlvError::Missing {
        parent: TAG,
        tag: TAG
    }
    .is_malformed());
}
