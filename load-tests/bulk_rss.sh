#!/usr/bin/env bash
# Peak memory of onshi while it takes in a large bulk registration file over HTTP (issue 9: memory must not grow
# with the file). Usage: bash load-tests/bulk_rss.sh [MiB, default 256]
# Builds the release binary, starts `onshi up` on a private home and free ports, posts a generated JSON Lines
# file of about MiB mebibytes to /insurer/v1/bulk (sandbox mode), and prints the process's peak resident memory
# (VmHWM) before and after, with the answer. Everything runs on this machine; the home is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-256}
cargo build --release --quiet -p onshi
HOME_DIR=$(mktemp -d /tmp/onshi-rss-XXXXXX)
FILE=$HOME_DIR/bulk.jsonl
PORT=$((20000 + RANDOM % 20000))
python3 - "$FILE" "$MIB" <<'PY'
import json, sys
path, mib = sys.argv[1], int(sys.argv[2])
base = json.loads(next(l for l in open("seed/demo/01-registrations.jsonl") if l.startswith("{")))
with open(path, "w") as f:
    n = 0
    while f.tell() < mib * 1024 * 1024:
        r = dict(base, person_id=f"rss-{n}", number=f"{n:08d}", symbol="R1")
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += 1
print(f"{n} records, {mib} MiB", file=sys.stderr)
PY
./target/release/onshi --home "$HOME_DIR" up --no-demo --bind 127.0.0.1:$PORT --tls-bind off >"$HOME_DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$HOME_DIR"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.5; done
echo "peak RSS before: $(grep VmHWM /proc/$PID/status)"
START=$(date +%s.%N)
curl -s -o "$HOME_DIR/answer.json" -w "HTTP %{http_code}\n" --data-binary @"$FILE" http://127.0.0.1:$PORT/insurer/v1/bulk
END=$(date +%s.%N)
echo "answer: $(head -c 300 "$HOME_DIR/answer.json")"
echo "peak RSS after:  $(grep VmHWM /proc/$PID/status)"
echo "elapsed: $(echo "$END - $START" | bc) s"
