#!/usr/bin/env bash
# Encrypt throughput with 1,000 keys stored against N keys stored (default 1,000,000), and the
# server's memory with 10,000 keys in use: the issue 6 target "1,000,000 keys stored vs 1,000:
# encrypt throughput within 10%; server memory <= 256 MB when 10,000 keys are in use".
# Not part of ./scripts/test.sh: seeding 1,000,000 keys takes minutes. Results go in
# docs/PERFORMANCE.md.
#
#   ./scripts/keys-scale.sh [N] [DURATION] [ROUNDS]     e.g. ./scripts/keys-scale.sh 100000 5s 2
#
# Two release `keyhold serve --dev` servers, SMALL and LARGE, all through keyhold-bench over REST:
#  1. on both: 1,000 named AES-256 keys (--keys 1000 --reuse-keys), granted to the key user;
#  2. on LARGE: create-key until N keys are stored (64 connections, the harness's own create);
#  3. ROUNDS × (SMALL, LARGE): encrypt-64 over the same 1,000 keys, windows alternating as in
#     `keyhold-bench compare`, so that the machine's drift affects both alike;
#  4. on LARGE: encrypt-64 over 10,000 keys (9,000 more created), then the server's VmRSS and
#     VmHWM from /proc (10,000 keys in use).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
DURATION="${2:-10s}"
ROUNDS="${3:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keyhold-target}"
cargo build --release -p keyhold-cli -p keyhold-bench --locked
BIN="$CARGO_TARGET_DIR/release/keyhold"
BENCH="$CARGO_TARGET_DIR/release/keyhold-bench"
WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

start() { # NAME: starts a dev server in $WORK/NAME, sets NAME_PID and NAME_ADDR
    "$BIN" serve --dev --data-dir "$WORK/$1" --listen 127.0.0.1:0 --kmip-listen off \
        >"$WORK/$1.out" 2>>"$WORK/$1.log" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 600); do grep -q "listening on" "$WORK/$1.out" 2>/dev/null && break; sleep 0.05; done
    local addr
    addr="$(grep -o 'https://[0-9.:]*' "$WORK/$1.out" | head -1)"
    [ -n "$addr" ] || { echo "server $1 did not start" >&2; exit 1; }
    printf -v "${1}_PID" '%s' "$pid"
    printf -v "${1}_ADDR" '%s' "$addr"
}
bench() { # NAME ARGS…: keyhold-bench run against server NAME
    local name=$1
    shift
    local addr="${name}_ADDR"
    "$BENCH" run --addr "${!addr}" --cacert "$WORK/$name/ca.pem" \
        --token "$(cat "$WORK/$name/admin.token")" --connections "$CONNECTIONS" --quiet "$@"
}
mem() { awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2 / 1024}' "/proc/$1/status"; echo; }
encrypt() { # NAME KEYS JSON
    bench "$1" --duration "$DURATION" --warmup 2s --mix encrypt-64 --keys "$2" --reuse-keys \
        --key-prefix scale --json "$3" | tail -n +5
}

start SMALL
start LARGE
echo "== 1. 1,000 named keys on both servers"
for s in SMALL LARGE; do
    bench "$s" --requests 1000 --warmup 0s --mix encrypt-64 --keys 1000 --reuse-keys \
        --key-prefix scale >/dev/null
done

SEED=$(( N - 1000 ))
if [ "$SEED" -gt 0 ]; then
    echo "== 2. seeding $SEED more keys on LARGE (create-key, $CONNECTIONS connections)"
    t0=$(date +%s)
    bench LARGE --requests "$SEED" --warmup 0s --mix create-key | tail -n +5
    echo "   $(( $(date +%s) - t0 )) s; database $(du -sh "$WORK/LARGE" | cut -f1); server: $(mem "$LARGE_PID")"
fi

echo "== 3. encrypt-64 over the same 1,000 keys: 1,000 stored (SMALL) vs $N stored (LARGE)"
for r in $(seq "$ROUNDS"); do
    for s in SMALL LARGE; do
        echo "   round $r, $s:"
        encrypt "$s" 1000 "$WORK/$s-$r.json"
    done
done
python3 - "$WORK" "$ROUNDS" "$N" <<'PY'
import json, sys
work, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def total(name):
    ok = secs = 0.0
    for r in range(1, rounds + 1):
        row = json.load(open(f"{work}/{name}-{r}.json"))["ops"][0]
        ok += row["ok"]; secs += row["seconds"]
    return ok / secs
small, large = total("SMALL"), total("LARGE")
print(f"   encrypt-64, {n:,} keys stored / 1,000 stored: {large:.1f}/s / {small:.1f}/s = {large / small:.3f}")
PY
echo "   SMALL server: $(mem "$SMALL_PID")"
echo "   LARGE server: $(mem "$LARGE_PID")"

echo "== 4. encrypt-64 over 10,000 keys on LARGE ($(( N + 9000 )) stored)"
encrypt LARGE 10000 "$WORK/many.json"
echo "   LARGE server with 10,000 keys in use: $(mem "$LARGE_PID")"
