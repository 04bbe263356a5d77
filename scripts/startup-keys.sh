#!/usr/bin/env bash
# Measures start-up and unseal with N keys stored (default 1,000,000), the issue 6 target
# "start-up and unseal with 1,000,000 keys <= 2 s", and the server's memory once they are stored.
# Not part of ./scripts/test.sh: creating the keys takes minutes. Results go in
# docs/PERFORMANCE.md.
#
#   ./scripts/startup-keys.sh [N]
#
# Keys are created through the REST API (16 connections). The server is then stopped and
# started again with the same data directory; `serve --dev` unseals at start from its stored
# share, so the time to the "listening" line plus the first authenticated request is the time
# to serve again. A production server starts sealed and needs its shares: the unseal work it
# then does (open the root key, unwrap each tenant KEK) is the same.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keyhold-target}"
cargo build --release -p keyhold-cli --locked
BIN="$CARGO_TARGET_DIR/release/keyhold"
WORK="$(mktemp -d)"
PORT="${PORT:-18700}"
SERVER=""
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_server() {
    : >"$WORK/server.out"
    "$BIN" serve --dev --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --kmip-listen off \
        >"$WORK/server.out" 2>>"$WORK/server.log" &
    SERVER=$!
    for _ in $(seq 600); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && return; sleep 0.01; done
    echo "server did not start" >&2
    exit 1
}

start_server
export KEYHOLD_ADDR="https://127.0.0.1:$PORT" KEYHOLD_CACERT="$WORK/data/ca.pem"
export KEYHOLD_TOKEN="$(cat "$WORK/data/admin.token")"
MANAGER="$("$BIN" token create --principal loader --role key-manager)"

echo "== creating $N keys"
created=$(date +%s)
python3 - "$KEYHOLD_ADDR" "$MANAGER" "$KEYHOLD_CACERT" "$N" <<'PY'
import json, ssl, sys, http.client, threading, urllib.parse
addr, token, ca, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urllib.parse.urlparse(addr)
ctx = ssl.create_default_context(cafile=ca)
def worker(lo, hi):
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    for i in range(lo, hi):
        c.request("POST", "/v1/keys", json.dumps({"algorithm": "aes-256"}),
                  {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status != 200: raise SystemExit(f"create failed: {r.status}")
step = (n + 15) // 16
threads = [threading.Thread(target=worker, args=(t * step, min(n, (t + 1) * step))) for t in range(16)]
for th in threads: th.start()
for th in threads: th.join()
PY
echo "   $(( $(date +%s) - created )) s; database $(du -sh "$WORK/data" | cut -f1)"
echo "   server VmRSS with $N keys stored: $(awk '/VmRSS/ {print $2}' /proc/$SERVER/status) kB"

kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
echo "== restart with $N keys"
t0=$(date +%s%N)
start_server
t1=$(date +%s%N)
"$BIN" whoami >/dev/null
t2=$(date +%s%N)
echo "   to listening (unsealed): $(( (t1 - t0) / 1000000 )) ms"
echo "   to the first authenticated answer: $(( (t2 - t0) / 1000000 )) ms"
echo "   server VmRSS after start: $(awk '/VmRSS/ {print $2}' /proc/$SERVER/status) kB"
