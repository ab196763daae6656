#!/usr/bin/env bash
# The web view's speed in a real headless Chromium, driven over WebDriver with curl (chromedriver from Debian):
#  1. first render of each page: the first contentful paint, and the page's `onshi:ready` User Timing mark, set when
#     its first data is on screen (the console view's panels — each of its four views —, the terminal's personas
#     and face results, the reader's persons), both from navigation start; and the portal's login to its four tables filled; median and max of RUNS;
#  2. with LOAD=RATE (e.g. 1000): the console's live journal while onshi-load sends RATE req/s — the time from
#     clicking the newest row to its answer on screen, the journal's polling round trip, and the longest main-thread
#     task (PerformanceObserver 'longtask').
# Usage: load-tests/web_render.sh [URL]   (URL of a running onshi, default http://127.0.0.1:8080)
#        RUNS=10 LOAD=1000 DECKS=<home>/decks load-tests/web_render.sh http://127.0.0.1:8080   (onshi up --journal sample:10)
# Needs chromium, chromium-driver (Debian; `.ci/run` installs them), curl and jq.
set -euo pipefail
for tool in chromedriver curl jq; do
  command -v "$tool" >/dev/null || { echo "web_render.sh: $tool is missing (apt-get install chromium chromium-driver curl jq)" >&2; exit 2; }
done
URL=${1:-http://127.0.0.1:8080}
RUNS=${RUNS:-7}
LOAD=${LOAD:-}
LOAD_BIN=${LOAD_BIN:-target/release/onshi-load}
PORT=$((20000 + RANDOM % 20000))
PROFILE=$(mktemp -d)
chromedriver --port=$PORT >/dev/null 2>&1 &
DRIVER=$!
trap 'kill $DRIVER 2>/dev/null; rm -rf "$PROFILE"' EXIT
for _ in $(seq 100); do curl -s "localhost:$PORT/status" >/dev/null && break; sleep 0.05; done
WD="http://localhost:$PORT"
caps=$(jq -n --arg p "$PROFILE" '{capabilities: {alwaysMatch: {browserName: "chrome", "goog:chromeOptions": {binary: "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", ("--user-data-dir=" + $p)]}}}}')
SID=$(curl -s -XPOST "$WD/session" -d "$caps" | jq -r .value.sessionId)
S="$WD/session/$SID"
curl -s -XPOST "$S/timeouts" -d '{"script": 120000}' >/dev/null
go() { curl -s -XPOST "$S/url" -d "$(jq -n --arg u "$URL$1" '{url: $u}')" >/dev/null; }
# Runs an async script (its last argument is the callback) and prints its value as JSON.
run() { curl -s -XPOST "$S/execute/async" -d "$(jq -n --arg s "$1" '{script: $s, args: []}')" | jq -c .value; }

# Waits (in the page) for the page's `onshi:ready` User Timing mark — set when its first data is on screen — and
# prints the mark's time and the first contentful paint, both from navigation start.
ready() {
  run "const done = arguments[arguments.length - 1];
    (function poll() {
      const m = performance.getEntriesByName('onshi:ready')[0];
      const p = performance.getEntriesByName('first-contentful-paint')[0];
      if (m && p) done(Math.round(p.startTime) + ' ' + Math.round(m.startTime)); else setTimeout(poll, 5);
    })();" | tr -d '"'
}

stats() { sort -n | awk '{a[NR]=$1} END {printf "median %d ms, max %d ms", a[int((NR+1)/2)], a[NR]}'; }

echo "first render at $URL ($(curl -s "$URL/eligibility/v1/status" | jq -c '{persons: .persons, qualifications: .qualifications}' 2>/dev/null || echo '?'))"
measure() { # page
  local out
  out=$(for _ in $(seq "$RUNS"); do
    go /healthz  # from another page of the site, as a trainer moves between screens: a whole load, even for /#state
    go "$1"; ready; done)
  printf '  %-13s first contentful paint %s; with its data %s (%s runs)\n' "$1" \
    "$(echo "$out" | cut -d' ' -f1 | stats)" "$(echo "$out" | cut -d' ' -f2 | stats)" "$RUNS"
}
# The floor of this machine and browser, same run: a tiny text page (/healthz) has no mark, only its paint.
floor=$(for _ in $(seq "$RUNS"); do go /healthz
  run "const done = arguments[arguments.length - 1]; (function poll() { const p = performance.getEntriesByName('first-contentful-paint')[0];
    if (p) done(Math.round(p.startTime)); else setTimeout(poll, 5); })();"; done | stats)
echo "  /healthz      first contentful paint $floor (the floor: a tiny text page)"
for page in / /#state /#controls /#usage /ui/terminal /ui/reader /ui/portal; do measure "$page"; done
# The portal with data: the login to the four tables filled.
login=$(for _ in $(seq "$RUNS"); do
  go /ui/portal
  ready >/dev/null
  run "const done = arguments[arguments.length - 1];
    document.getElementById('pin').value = '1234'; const t0 = performance.now();
    document.getElementById('login-send').click();
    (function poll() { const n = ['#q-table tr', '#m-total', '#c-table tr', '#a-table tr'].every((s) => { const e = document.querySelector(s); return e && e.textContent.trim(); });
      if (n) done(Math.round(performance.now() - t0)); else setTimeout(poll, 2); })();"
done | stats)
echo "  /ui/portal    the login to its four tables filled: $login ($RUNS runs)"

if [ -n "$LOAD" ]; then
  echo "console's live journal at $LOAD req/s of background load ($LOAD_BIN)"
  "$LOAD_BIN" --target "$URL" ${DECKS:+--decks "$DECKS"} --mix siquc01 --rate "$LOAD" --duration 60s > /tmp/web_render_load.txt 2>&1 &
  LOADER=$!
  go /
  ready >/dev/null
  sleep 5
  run "const done = arguments[arguments.length - 1];
    const long = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) long.push(e.duration); }).observe({ entryTypes: ['longtask'] });
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      const click = [], poll = [];
      for (let i = 0; i < 30; i++) {
        const tr = document.querySelector('#journal tr');
        document.getElementById('j-answer').textContent = '';
        const t0 = performance.now();
        tr.click();
        while (!document.getElementById('j-answer').textContent) await sleep(1);
        click.push(performance.now() - t0);
        const t1 = performance.now();
        await api('GET', '/admin/v1/journal?limit=200&after=' + (last - 200));
        poll.push(performance.now() - t1);
        await sleep(300);
      }
      const p = (a, q) => Math.round(a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(q * a.length))]);
      done({ click_to_answer_ms: { p50: p(click, 0.5), p95: p(click, 0.95), max: p(click, 1) },
        journal_poll_ms: { p50: p(poll, 0.5), p95: p(poll, 0.95), max: p(poll, 1) },
        rows_in_table: document.querySelectorAll('#journal tr').length,
        longest_task_ms: Math.round(Math.max(0, ...long)), long_tasks: long.length });
    })();" | sed 's#^#  #'
  wait $LOADER || true
  grep -E "^ *(sent|rate|ok|p99|achieved)" /tmp/web_render_load.txt | head -5 | sed 's#^#  load: #' || true
fi
curl -s -XDELETE "$S" >/dev/null
