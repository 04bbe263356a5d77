#!/usr/bin/env bash
# Installs what the tests need (nothing beyond the Rust toolchain for now) and runs every test:
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

echo "== build"
cargo build --workspace --all-targets --locked

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
