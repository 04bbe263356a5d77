//! Decodes arbitrary bytes as a KMIP TTLV message.
//!
//! Properties checked on every input:
//! - decoding never panics (libFuzzer reports panics and sanitizer errors);
//! - whatever decodes is canonical: re-encoding gives back the input bytes;
//! - the re-encoded bytes decode to the same item;
//! - `message_length` on the first 8 bytes agrees with the input length
//!   whenever the input decodes.

#![no_main]

use keyhold_kmip::ttlv::{decode, encode, encoded_len, message_length, Limits, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let header: Option<&[u8; HEADER_LEN]> = data.get(..HEADER_LEN).and_then(|h| h.try_into().ok());
    let announced = header.map(|h| message_length(h, &limits));

    let Ok(item) = decode(data, &limits) else {
        return;
    };
    let bytes = encode(&item);
    assert_eq!(bytes.len() as u64, encoded_len(&item));
    assert_eq!(bytes, data, "decoding is not canonical");
    let again = decode(&bytes, &limits).expect("a re-encoded item decodes");
    assert_eq!(again, item, "re-encoding changed the item");
    assert_eq!(announced, Some(Ok(data.len())), "message_length disagrees");
});
