#!/usr/bin/env bash
# Measures `keyhold backup create` of N keys (default 100,000): time and peak memory of the
# server (VmHWM) and of the CLI (/usr/bin/time -v). Not part of ./scripts/test.sh: it takes
# minutes. Results go in docs/PERFORMANCE.md.
#
#   ./scripts/backup-100k.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keyhold-target}"
cargo build --release -p keyhold-cli --locked
BIN="$CARGO_TARGET_DIR/release/keyhold"
WORK="$(mktemp -d)"
PORT="${PORT:-18600}"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN" serve --dev --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
export KEYHOLD_ADDR="https://127.0.0.1:$PORT" KEYHOLD_CACERT="$WORK/data/ca.pem"
export KEYHOLD_TOKEN="$(cat "$WORK/data/admin.token")"
MANAGER="$("$BIN" token create --principal loader --role key-manager)"

echo "== creating $N keys"
start=$(date +%s)
python3 - "$KEYHOLD_ADDR" "$MANAGER" "$KEYHOLD_CACERT" "$N" <<'PY'
import json, ssl, sys, http.client, threading, urllib.parse
addr, token, ca, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urllib.parse.urlparse(addr)
ctx = ssl.create_default_context(cafile=ca)
def worker(lo, hi):
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    for i in range(lo, hi):
        body = json.dumps({"algorithm": "aes-256", "name": f"k{i:06d}"})
        c.request("POST", "/v1/keys", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status != 200: raise SystemExit(f"create failed: {r.status}")
threads = []
step = (n + 15) // 16
for t in range(16):
    th = threading.Thread(target=worker, args=(t * step, min(n, (t + 1) * step))); th.start(); threads.append(th)
for th in threads: th.join()
PY
echo "   $(( $(date +%s) - start )) s"
rss_before=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)
# Reset the server's peak-RSS mark so VmHWM below is the backup's own peak.
echo 5 > /proc/$SERVER/clear_refs 2>/dev/null || true
echo "== backup (server VmRSS before: ${rss_before} kB)"
/usr/bin/time -v "$BIN" --json backup create --out "$WORK/out" --shares 3 --threshold 2 >"$WORK/backup.json" 2>"$WORK/time.txt"
grep -E "Elapsed|Maximum resident" "$WORK/time.txt"
echo "server VmHWM during the backup: $(awk '/VmHWM/ {print $2}' /proc/$SERVER/status) kB"
ls -l "$WORK/out"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('counts', d['counts'])" "$WORK/backup.json"
