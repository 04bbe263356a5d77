//! Interoperability with PyKMIP 0.11: starts the real `keyhold serve --dev` with its KMIP
//! listener and runs the pytest suite in tests/interop/pykmip against it, with both PyKMIP
//! clients (`ProxyKmipClient` and `KMIPProxy`) and every KMIP version PyKMIP speaks.
//!
//! Needs `KEYHOLD_PYTHON`: a Python with `pykmip==0.11.0` and `pytest`, which
//! `./scripts/test.sh` installs into a venv and exports. Without it these tests fail (they never
//! pass silently).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};

use support::{Server, TempDir};

/// The Python with PyKMIP 0.11 and pytest, or a failure telling how to get one.
fn python() -> String {
    let Some(python) = std::env::var_os("KEYHOLD_PYTHON") else {
        panic!(
            "KEYHOLD_PYTHON is not set: run ./scripts/test.sh, which installs PyKMIP 0.11 and \
             pytest into a venv (${{KEYHOLD_VENV:-$HOME/.cache/keyhold-venv}}) and exports \
             KEYHOLD_PYTHON; the PyKMIP interoperability tests cannot run without it"
        );
    };
    let python = python.to_string_lossy().into_owned();
    let check = Command::new(&python)
        .args([
            "-c",
            "import kmip, pytest, sys; sys.exit(kmip.__version__ != '0.11.0')",
        ])
        .output();
    match check {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "{python} cannot import pykmip 0.11.0 and pytest: run ./scripts/test.sh to install \
             them\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run KEYHOLD_PYTHON={python} ({e}): run ./scripts/test.sh"),
    }
}

/// Runs the suite (the tests whose KMIP version matches `versions`, a pytest -k expression).
fn run_suite(tag: &str, versions: &str) {
    let python = python();
    let dir = TempDir::new(tag);
    let server = Server::dev(&dir.0);
    for file in ["ca.pem", "kmip-client.pem", "kmip-client.key"] {
        assert!(
            server.dir.join(file).exists(),
            "serve --dev did not write {file} into the data directory"
        );
    }
    let (kmip_host, kmip_port) = server
        .kmip_addr
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("bad KMIP address {:?}", server.kmip_addr));
    let root = manifest_dir().join("../..");
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "tests/interop/pykmip",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            "-k",
            versions,
        ])
        .current_dir(&root)
        .env("KEYHOLD_KMIP_HOST", kmip_host)
        .env("KEYHOLD_KMIP_PORT", kmip_port)
        .env("KEYHOLD_KMIP_CA", server.dir.join("ca.pem"))
        .env("KEYHOLD_KMIP_CERT", server.dir.join("kmip-client.pem"))
        .env("KEYHOLD_KMIP_KEY", server.dir.join("kmip-client.key"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run pytest");
    if !out.status.success() {
        let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
        panic!(
            "PyKMIP interoperability suite failed ({}):\n{}\n{}\n--- server log ---\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn pykmip_kmip_1_0_to_1_2() {
    run_suite("pykmip-1x", "kmip1_0 or kmip1_1 or kmip1_2");
}

#[test]
fn pykmip_kmip_1_3_to_2_0() {
    run_suite("pykmip-2x", "kmip1_3 or kmip1_4 or kmip2_0");
}

/// The crate's directory, read when the test runs: a target directory shared between checkouts
/// at different paths reuses test binaries, so a path baked in at compile time may be stale.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
