#!/usr/bin/env bash
# Installs what the tests need (a Python venv with PyKMIP 0.11 for the KMIP interoperability
# tests and openapi-spec-validator for the served OpenAPI document, beyond the Rust toolchain)
# and runs every test:
# unit tests, core scenario tests, store conformance, and integration tests that start the real
# `keyhold` binary and drive it through the CLI and raw HTTPS.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keyhold-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi

echo "== python venv (PyKMIP interoperability tests, OpenAPI validation)"
VENV="${KEYHOLD_VENV:-$HOME/.cache/keyhold-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import kmip, pytest, openapi_spec_validator, sys; sys.exit(kmip.__version__ != "0.11.0")' >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check pykmip==0.11.0 pytest \
        'openapi-spec-validator>=0.7,<1'
fi
export KEYHOLD_PYTHON="$VENV/bin/python"

echo "== build"
cargo build --workspace --all-targets --locked

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
