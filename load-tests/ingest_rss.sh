#!/usr/bin/env bash
# Peak memory of onshi while it takes in a large file over HTTP (issue 9: memory must not grow with the file).
# Usage: bash load-tests/ingest_rss.sh bulk|claim|checkup [MiB]   (defaults: bulk 256, claim 1024, checkup 256)
# Builds the release binary, starts `onshi up` (demo data, sandbox) on a private home and a free port, generates
# the file — JSON Lines registrations for bulk, a 医科 UKE claim file of the demo clinic for claim, a checkup
# archive of 山田 太郎's checkups on every day since FY2020 (later ones replace earlier ones) for checkup — posts it, and
# prints the process's peak resident memory (VmHWM) before and after, with the answer. A claim file is then
# extracted (the batch run of the 11th, forced) and the peak printed again. Everything runs on this machine; the
# home is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${1:-bulk}
case "$KIND" in
  bulk) MIB=${2:-256}; ROUTE=/insurer/v1/bulk ;;
  claim) MIB=${2:-1024}; ROUTE=/medication/v1/claims ;;
  checkup) MIB=${2:-256}; ROUTE=/checkup/v1/submissions ;;
  *) echo "usage: $0 bulk|claim|checkup [MiB]" >&2; exit 2 ;;
esac
cargo build --release --quiet --workspace
HOME_DIR=$(mktemp -d /tmp/onshi-rss-XXXXXX)
chmod 755 "$HOME_DIR"   # the embedded PostgreSQL runs as the postgres user
FILE=$HOME_DIR/input
PORT=$((20000 + RANDOM % 20000))
python3 - "$KIND" "$FILE" "$MIB" <<'PY'
import datetime, json, sys, zipfile
kind, path, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = mib * 1024 * 1024
if kind == "checkup":
    demo = zipfile.ZipFile("seed/demo/checkups/1310112345_01130012_202506100_1.zip")
    doc = next(demo.read(n).decode() for n in demo.namelist() if "/DATA/" in n)
    ix = next(demo.read(n).decode() for n in demo.namelist() if n.endswith("ix08_V08.xml"))
    root = "1310112345_01130012_202506100_1"
    n = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        while True:
            day = (datetime.date(2020, 4, 1) + datetime.timedelta(days=n % 2400)).strftime("%Y%m%d")
            z.writestr(f"{root}/DATA/h1310112345202506100{n:06d}.xml",
                       doc.replace("20250601", day).replace("特記すべき所見なし", f"所見{n}"))
            n += 1
            if n % 1000 == 0 and z.fp.tell() > limit:
                break
        z.writestr(f"{root}/ix08_V08.xml", ix.replace('totalRecordCount value="1"', f'totalRecordCount value="{n}"'))
    print(f"checkup: {n} records, {mib} MiB", file=sys.stderr)
    sys.exit(0)
with open(path, "wb") as f:
    n, size = 0, 0
    if kind == "bulk":
        base = json.loads(next(l for l in open("seed/demo/01-registrations.jsonl") if l.startswith("{")))
        line_of = lambda n: (json.dumps(dict(base, person_id=f"rss-{n}", number=f"{n:08d}", symbol="R1"),
                                        ensure_ascii=False) + "\n").encode()
        head, tail = b"", b""
    else:
        days = ",".join("14" if d == 8 else "" for d in range(1, 32))
        head = "IR,1,13,1,0112345,,オンシ内科クリニック,202611,00,\r\n".encode("shift_jis")
        tail = b"GO,1,135,99\r\n\x1a"
        line_of = lambda n: (f"RE,{n + 1},1112,202611,山田　太郎,1,19800515,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ,\r\n"
                             "HO,01130012,12345678,1,1,100,,,,,,,,,\r\nSN,1,00,,,,00,,\r\n"
                             f"IY,21,1,610406079,3,,14,,,,,,,{days}\r\n").encode("shift_jis")
    f.write(head); size += len(head)
    while True:
        line = line_of(n)
        if size + len(line) + len(tail) > limit:
            break
        f.write(line); size += len(line); n += 1
    f.write(tail)
print(f"{kind}: {n} records, {mib} MiB", file=sys.stderr)
PY
./target/release/onshi --home "$HOME_DIR" up --bind 127.0.0.1:$PORT --tls-bind off >"$HOME_DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$HOME_DIR"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.5; done
# Claims are taken in between the 5th and the 12th.
curl -s -o /dev/null -X POST http://127.0.0.1:$PORT/admin/v1/clock -d '{"set":"2026-12-09T10:00:00","frozen":true}'
echo "peak RSS before: $(grep VmHWM /proc/$PID/status)"
START=$(date +%s.%N)
curl -s -o "$HOME_DIR/answer.json" -w "HTTP %{http_code}\n" --data-binary @"$FILE" http://127.0.0.1:$PORT$ROUTE
END=$(date +%s.%N)
echo "answer: $(head -c 300 "$HOME_DIR/answer.json")"
echo "peak RSS after:  $(grep VmHWM /proc/$PID/status)"
echo "elapsed: $(echo "$END - $START" | bc) s"
if [ "$KIND" = claim ]; then
  START=$(date +%s.%N)
  curl -s -o "$HOME_DIR/batch.json" -w "batch run: HTTP %{http_code}\n" -X POST http://127.0.0.1:$PORT/medication/v1/batches/run
  END=$(date +%s.%N)
  echo "answer: $(head -c 300 "$HOME_DIR/batch.json")"
  echo "peak RSS after extraction: $(grep VmHWM /proc/$PID/status)"
  echo "elapsed: $(echo "$END - $START" | bc) s"
fi
