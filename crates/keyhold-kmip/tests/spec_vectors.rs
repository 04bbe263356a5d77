//! Byte-exact vectors from the KMIP specification: the TTLV "Encoding
//! Examples" of the specification (section 9.1.2 in KMIP 1.x) and whole
//! request and response messages of the KMIP 1.1/1.2 test cases. Each vector
//! is decoded and compared with the item tree built by hand, and that tree is
//! encoded and compared with the bytes.

use keyhold_kmip::enums::{
    CryptographicAlgorithm, KeyFormatType, NameType, ObjectType, Operation, ResultStatus,
};
use keyhold_kmip::tags;
use keyhold_kmip::{decode, encode, message_length, BigInt, Item, Limits, Tag};

mod common;
use common::{hex, CREATE_AES_128_REQUEST};

/// The tag the specification's encoding examples use.
const EXAMPLE: Tag = tags::COMPROMISE_DATE;

fn assert_vector(bytes: &[u8], item: &Item) {
    assert_eq!(
        hex::encode(encode(item)),
        hex::encode(bytes),
        "encoding of\n{item}"
    );
    let decoded = decode(bytes, &Limits::default()).expect("vector decodes");
    assert_eq!(&decoded, item, "decoded\n{decoded}\nexpected\n{item}");
    let header: &[u8; 8] = bytes[..8].try_into().expect("8 bytes");
    assert_eq!(message_length(header, &Limits::default()), Ok(bytes.len()));
}

#[test]
fn encoding_example_integer() {
    assert_vector(
        &hex("42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"),
        &Item::int(EXAMPLE, 8),
    );
}

#[test]
fn encoding_example_long_integer() {
    assert_vector(
        &hex("42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00"),
        &Item::long(EXAMPLE, 123_456_789_000_000_000),
    );
}

#[test]
fn encoding_example_big_integer() {
    let bytes =
        hex("42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00");
    let value = BigInt::from_i128(1_234_567_890_000_000_000_000_000_000);
    assert_vector(&bytes, &Item::big_int(EXAMPLE, value.clone()));
    let decoded = decode(&bytes, &Limits::default()).expect("decodes");
    assert_eq!(
        decoded.as_big_int().expect("big int").to_i128(),
        Some(1_234_567_890_000_000_000_000_000_000)
    );
    assert_eq!(
        BigInt::from_unsigned_be(value.magnitude().expect("positive")),
        value
    );
}

#[test]
fn encoding_example_enumeration() {
    assert_vector(
        &hex("42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"),
        &Item::enumeration(EXAMPLE, 255u32),
    );
}

#[test]
fn encoding_example_boolean() {
    assert_vector(
        &hex("42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01"),
        &Item::boolean(EXAMPLE, true),
    );
}

#[test]
fn encoding_example_text_string() {
    assert_vector(
        &hex("42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00"),
        &Item::text(EXAMPLE, "Hello World"),
    );
}

#[test]
fn encoding_example_byte_string() {
    assert_vector(
        &hex("42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00"),
        &Item::bytes(EXAMPLE, [1u8, 2, 3]),
    );
}

#[test]
fn encoding_example_date_time() {
    // Friday, March 14, 2008, 11:56:40 GMT.
    assert_vector(
        &hex("42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8"),
        &Item::date_time(EXAMPLE, 1_205_495_800),
    );
}

#[test]
fn encoding_example_interval() {
    // 10 days.
    assert_vector(
        &hex("42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00"),
        &Item::interval(EXAMPLE, 10 * 24 * 3600),
    );
}

#[test]
fn encoding_example_structure() {
    // An Enumeration (254, tag 420004) followed by an Integer (255, tag 420005).
    assert_vector(
        &hex("42 00 20 | 01 | 00 00 00 20 |
             42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 |
             42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"),
        &Item::structure(
            EXAMPLE,
            vec![
                Item::enumeration(tags::APPLICATION_SPECIFIC_INFORMATION, 254u32),
                Item::int(tags::ARCHIVE_DATE, 255),
            ],
        ),
    );
}

#[test]
fn date_time_extended_is_eight_bytes() {
    // Not one of the specification's examples (KMIP 1.x has no Date-Time
    // Extended): the Date-Time example's instant in microseconds, type 0B.
    assert_vector(
        &hex("42 00 20 | 0B | 00 00 00 08 | 00 04 48 64 5C EF EE 00"),
        &Item::date_time_extended(EXAMPLE, 1_205_495_800_000_000),
    );
}

fn protocol_version(major: i32, minor: i32) -> Item {
    Item::structure(
        tags::PROTOCOL_VERSION,
        vec![
            Item::int(tags::PROTOCOL_VERSION_MAJOR, major),
            Item::int(tags::PROTOCOL_VERSION_MINOR, minor),
        ],
    )
}

fn request(minor: i32, operation: Operation, payload: Vec<Item>) -> Item {
    Item::structure(
        tags::REQUEST_MESSAGE,
        vec![
            Item::structure(
                tags::REQUEST_HEADER,
                vec![protocol_version(1, minor), Item::int(tags::BATCH_COUNT, 1)],
            ),
            Item::structure(
                tags::BATCH_ITEM,
                vec![
                    Item::enumeration(tags::OPERATION, operation),
                    Item::structure(tags::REQUEST_PAYLOAD, payload),
                ],
            ),
        ],
    )
}

fn response(time_stamp: i64, operation: Operation, payload: Vec<Item>) -> Item {
    Item::structure(
        tags::RESPONSE_MESSAGE,
        vec![
            Item::structure(
                tags::RESPONSE_HEADER,
                vec![
                    protocol_version(1, 1),
                    Item::date_time(tags::TIME_STAMP, time_stamp),
                    Item::int(tags::BATCH_COUNT, 1),
                ],
            ),
            Item::structure(
                tags::BATCH_ITEM,
                vec![
                    Item::enumeration(tags::OPERATION, operation),
                    Item::enumeration(tags::RESULT_STATUS, ResultStatus::Success),
                    Item::structure(tags::RESPONSE_PAYLOAD, payload),
                ],
            ),
        ],
    )
}

fn attribute(name: &str, value: Item) -> Item {
    Item::structure(
        tags::ATTRIBUTE,
        vec![Item::text(tags::ATTRIBUTE_NAME, name), value],
    )
}

#[test]
fn test_case_create_aes_128_request() {
    let item = request(
        1,
        Operation::Create,
        vec![
            Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
            Item::structure(
                tags::TEMPLATE_ATTRIBUTE,
                vec![
                    attribute(
                        "Cryptographic Algorithm",
                        Item::enumeration(tags::ATTRIBUTE_VALUE, CryptographicAlgorithm::Aes),
                    ),
                    attribute(
                        "Cryptographic Length",
                        Item::int(tags::ATTRIBUTE_VALUE, 128),
                    ),
                    // Encrypt (0x04) | Decrypt (0x08).
                    attribute(
                        "Cryptographic Usage Mask",
                        Item::int(tags::ATTRIBUTE_VALUE, 0x0C),
                    ),
                ],
            ),
        ],
    );
    let bytes = hex(CREATE_AES_128_REQUEST);
    assert_eq!(bytes.len(), 296);
    assert_vector(&bytes, &item);

    // Reading it back the way the message layer will.
    let batch = item.require(tags::BATCH_ITEM).expect("batch item");
    assert_eq!(
        batch
            .require(tags::OPERATION)
            .and_then(|o| o.as_enum_of::<Operation>()),
        Ok(Operation::Create)
    );
    let names: Vec<&str> = batch
        .require(tags::REQUEST_PAYLOAD)
        .and_then(|p| p.require(tags::TEMPLATE_ATTRIBUTE))
        .expect("template-attribute")
        .children(tags::ATTRIBUTE)
        .map(|a| {
            a.require(tags::ATTRIBUTE_NAME)
                .and_then(Item::as_text)
                .expect("name")
        })
        .collect();
    assert_eq!(
        names,
        [
            "Cryptographic Algorithm",
            "Cryptographic Length",
            "Cryptographic Usage Mask"
        ]
    );
    for name in names {
        assert!(tags::by_name(name).is_some(), "{name} is a tag name");
    }
}

#[test]
fn test_case_create_response() {
    let item = response(
        0x4F9A_54E5,
        Operation::Create,
        vec![
            Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
            Item::text(
                tags::UNIQUE_IDENTIFIER,
                "fb4b5b9c-6188-4c63-8142-fe9c328129fc",
            ),
        ],
    );
    assert_vector(
        &hex(
            "42007b01000000c042007a0100000048 420069010000002042006a0200000004
             000000010000000042006b0200000004 00000001000000004200920900000008
             000000004f9a54e542000d0200000004 000000010000000042000f0100000068
             42005c05000000040000000100000000 42007f05000000040000000000000000
             42007c01000000404200570500000004 00000002000000004200940700000024
             66623462356239632d363138382d3463 36332d383134322d6665396333323831
             3239666300000000",
        ),
        &item,
    );
}

#[test]
fn test_case_get_response_with_key_material() {
    // A Get response returning a 3DES key (168 bits) in Raw format: the key
    // material is a 24-byte Byte String.
    let key = hex("7367578051012a6d134a855e25c8cd5e4ca131455729d3c8");
    let item = response(
        0x4F9A_54E7,
        Operation::Get,
        vec![
            Item::enumeration(tags::OBJECT_TYPE, ObjectType::SymmetricKey),
            Item::text(
                tags::UNIQUE_IDENTIFIER,
                "49a1ca88-6bea-4fb2-b450-7e58802c3038",
            ),
            Item::structure(
                tags::SYMMETRIC_KEY,
                vec![Item::structure(
                    tags::KEY_BLOCK,
                    vec![
                        Item::enumeration(tags::KEY_FORMAT_TYPE, KeyFormatType::Raw),
                        Item::structure(
                            tags::KEY_VALUE,
                            vec![Item::bytes(tags::KEY_MATERIAL, key.clone())],
                        ),
                        Item::enumeration(
                            tags::CRYPTOGRAPHIC_ALGORITHM,
                            CryptographicAlgorithm::TripleDes,
                        ),
                        Item::int(tags::CRYPTOGRAPHIC_LENGTH, 168),
                    ],
                )],
            ),
        ],
    );
    let bytes = hex(
        "42007b010000012842007a0100000048 420069010000002042006a0200000004
         000000010000000042006b0200000004 00000001000000004200920900000008
         000000004f9a54e742000d0200000004 000000010000000042000f01000000d0
         42005c05000000040000000a00000000 42007f05000000040000000000000000
         42007c01000000a84200570500000004 00000002000000004200940700000024
         34396131636138382d366265612d3466 62322d623435302d3765353838303263
         333033380000000042008f0100000060 42004001000000584200420500000004
         00000001000000004200450100000020 42004308000000187367578051012a6d
         134a855e25c8cd5e4ca131455729d3c8 42002805000000040000000200000000
         42002a0200000004000000a800000000",
    );
    assert_vector(&bytes, &item);
    let decoded = decode(&bytes, &Limits::default()).expect("decodes");
    let material = decoded
        .require(tags::BATCH_ITEM)
        .and_then(|b| b.require(tags::RESPONSE_PAYLOAD))
        .and_then(|p| p.require(tags::SYMMETRIC_KEY))
        .and_then(|k| k.require(tags::KEY_BLOCK))
        .and_then(|k| k.require(tags::KEY_VALUE))
        .and_then(|k| k.require(tags::KEY_MATERIAL))
        .and_then(Item::as_bytes)
        .expect("key material");
    assert_eq!(material.as_slice(), key);
    // The key never shows in logs.
    assert!(!format!("{decoded:?}").contains("7367"));
    assert!(!decoded.to_string().contains("7367"));
}

#[test]
fn test_case_locate_request_by_name() {
    // KMIP 1.1 test cases, 3.1.3: Locate a symmetric key named "Key1".
    let item = request(
        1,
        Operation::Locate,
        vec![
            attribute(
                "Object Type",
                Item::enumeration(tags::ATTRIBUTE_VALUE, ObjectType::SymmetricKey),
            ),
            attribute(
                "Name",
                Item::structure(
                    tags::ATTRIBUTE_VALUE,
                    vec![
                        Item::text(tags::NAME_VALUE, "Key1"),
                        Item::enumeration(tags::NAME_TYPE, NameType::UninterpretedTextString),
                    ],
                ),
            ),
        ],
    );
    assert_vector(
        &hex(
            "42007801000000d04200770100000038 420069010000002042006a0200000004
             000000010000000042006b0200000004 000000010000000042000d0200000004
             000000010000000042000f0100000088 42005c05000000040000000800000000
             42007901000000704200080100000028 42000a070000000b4f626a6563742054
             797065000000000042000b0500000004 00000002000000004200080100000038
             42000a07000000044e616d6500000000 42000b01000000204200550700000004
             4b657931000000004200540500000004 0000000100000000",
        ),
        &item,
    );
}

#[test]
fn test_case_mac_request() {
    // KMIP 1.2 test cases: MAC over 16 bytes with HMAC-SHA512, key "1".
    let item = request(
        2,
        Operation::Mac,
        vec![
            Item::text(tags::UNIQUE_IDENTIFIER, "1"),
            Item::structure(
                tags::CRYPTOGRAPHIC_PARAMETERS,
                vec![Item::enumeration(
                    tags::CRYPTOGRAPHIC_ALGORITHM,
                    CryptographicAlgorithm::HmacSha512,
                )],
            ),
            Item::bytes(tags::DATA, (0u8..16).collect::<Vec<u8>>()),
        ],
    );
    assert_vector(
        &hex(
            "42007801000000a04200770100000038 420069010000002042006a0200000004
             000000010000000042006b0200000004 000000020000000042000d0200000004
             000000010000000042000f0100000058 42005c05000000040000002300000000
             42007901000000404200940700000001 310000000000000042002b0100000010
             42002805000000040000000b00000000 4200c208000000100001020304050607
             08090a0b0c0d0e0f",
        ),
        &item,
    );
}

#[test]
fn the_fuzzing_seed_corpus_decodes_canonically() {
    // fuzz/corpus/decode holds these vectors as the fuzzer's seeds; a fuzzing
    // run may add other files next to them, which are not checked here.
    let dir = manifest_dir().join("fuzz/corpus/decode");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus directory") {
        let path = entry.expect("directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !(name.starts_with("example_") || name.starts_with("testcase_")) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("seed file");
        let item = decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
        assert_eq!(encode(&item), bytes, "{name}");
        seeds += 1;
    }
    assert_eq!(seeds, 15);
}

/// The crate's directory, read when the test runs: a target directory shared between checkouts
/// at different paths reuses test binaries, so a path baked in at compile time may be stale.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
