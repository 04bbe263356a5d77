//! Every request PyKMIP 0.11 sends (captured by tests/interop/pykmip/capture.py) decodes into
//! a typed request of the version it was captured for, re-encodes byte for byte, and its
//! attributes read the same way in the 1.x and 2.x forms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use keyhold_kmip::{decode, encode, tags, Attributes, Limits, ProtocolVersion, RequestMessage};

fn vectors() -> Vec<(ProtocolVersion, PathBuf)> {
    let root = manifest_dir().join("tests/vectors/pykmip");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let (major, minor) = name.split_once('.').unwrap();
        let v = ProtocolVersion::new(major.parse().unwrap(), minor.parse().unwrap());
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "hex") {
                out.push((v, f));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_pykmip_request_decodes_into_its_version_and_round_trips() {
    let all = vectors();
    assert!(
        all.len() >= 250,
        "expected the captured vectors, found {}",
        all.len()
    );
    for (version, path) in all {
        let text = std::fs::read_to_string(&path).unwrap();
        let hex: String = text.split_whitespace().collect();
        let bytes = hex::decode(hex).unwrap();
        let item =
            decode(&bytes, &Limits::DEFAULT).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(encode(&item), bytes, "{}", path.display());
        let msg = RequestMessage::from_item(&item)
            .unwrap_or_else(|(_, f)| panic!("{}: {f}", path.display()));
        assert_eq!(msg.version, version, "{}", path.display());
        for b in &msg.items {
            Attributes::read(&b.payload, tags::TEMPLATE_ATTRIBUTE, tags::ATTRIBUTES)
                .unwrap_or_else(|f| panic!("{}: {f}", path.display()));
        }
    }
}

/// The crate's directory, read when the test runs: a target directory shared between checkouts
/// at different paths reuses test binaries, so a path baked in at compile time may be stale.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
