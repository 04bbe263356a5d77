#!/usr/bin/env bash
# Encrypt throughput with 1,000 keys stored against N keys stored (default 1,000,000), and the
# server's memory with 10,000 keys in use: the issue 6 target "1,000,000 keys stored vs 1,000:
# encrypt throughput within 10%; server memory <= 256 MB when 10,000 keys are in use".
# Not part of ./scripts/test.sh: seeding 1,000,000 keys takes minutes. Results go in
# docs/PERFORMANCE.md.
#
#   ./scripts/keys-scale.sh [N] [DURATION]       e.g. ./scripts/keys-scale.sh 100000 5s
#
# One release `keyhold serve --dev`, all through keyhold-bench over REST:
#  1. encrypt-64 over 1,000 named keys (--keys 1000 --reuse-keys: created here), 1,000 stored;
#  2. seed: create-key until N keys are stored (64 connections, the harness's own create);
#  3. encrypt-64 over the same 1,000 keys (found by name), N stored;
#  4. encrypt-64 over 10,000 keys (9,000 more created), N + 9,000 stored;
#  then the server's VmRSS and VmHWM from /proc (10,000 keys in use).
# Steps 1 and 3 are the comparison; the two windows run minutes apart, on a machine whose speed
# drifts, so read the ratio with that in mind (run the script twice to see the spread).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
DURATION="${2:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keyhold-target}"
cargo build --release -p keyhold-cli -p keyhold-bench --locked
BIN="$CARGO_TARGET_DIR/release/keyhold"
BENCH="$CARGO_TARGET_DIR/release/keyhold-bench"
WORK="$(mktemp -d)"
SERVER=""
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" serve --dev --data-dir "$WORK/data" --listen 127.0.0.1:0 --kmip-listen off \
    >"$WORK/server.out" 2>>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 600); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.05; done
ADDR="$(grep -o 'https://[0-9.:]*' "$WORK/server.out" | head -1)"
[ -n "$ADDR" ] || { echo "server did not start" >&2; exit 1; }
export KEYHOLD_ADDR="$ADDR" KEYHOLD_CACERT="$WORK/data/ca.pem"
export KEYHOLD_TOKEN="$(cat "$WORK/data/admin.token")"

mem() { awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2 / 1024}' "/proc/$SERVER/status"; echo; }
encrypt() { # KEYS LABEL
    "$BENCH" run --connections "$CONNECTIONS" --duration "$DURATION" --warmup 2s --quiet \
        --mix encrypt-64 --keys "$1" --reuse-keys --key-prefix scale --json "$WORK/$2.json" \
        | tail -n +4
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["ops"][0]; print(r["throughput_per_sec"])' \
        "$WORK/$2.json" >"$WORK/$2.rate"
}

echo "== 1. encrypt-64 over 1,000 keys, 1,000 stored"
encrypt 1000 small
echo "   server: $(mem)"

SEED=$(( N - 1000 ))
if [ "$SEED" -gt 0 ]; then
    echo "== 2. seeding $SEED more keys (create-key, $CONNECTIONS connections)"
    t0=$(date +%s)
    "$BENCH" run --connections "$CONNECTIONS" --requests "$SEED" --warmup 0s --quiet \
        --mix create-key | tail -n +4
    echo "   $(( $(date +%s) - t0 )) s; database $(du -sh "$WORK/data" | cut -f1); server: $(mem)"
fi

echo "== 3. encrypt-64 over the same 1,000 keys, $N stored"
encrypt 1000 large
echo "   server: $(mem)"

echo "== 4. encrypt-64 over 10,000 keys, $(( N + 9000 )) stored"
encrypt 10000 many
echo "   server with 10,000 keys in use: $(mem)"

python3 - "$WORK" "$N" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
small, large = (float(open(f"{work}/{x}.rate").read()) for x in ("small", "large"))
print(f"encrypt-64 with {n:,} keys stored / with 1,000: {large:.1f}/s / {small:.1f}/s = {large / small:.3f}")
PY
