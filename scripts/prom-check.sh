#!/usr/bin/env bash
# Checks wf-prom's /metrics with promtool (Debian's prometheus package) after a
# realistic stream: promtool check metrics must find nothing; and the shipped
# docs/prometheus/ files pass promtool check rules and check config. Installs the package
# when promtool is missing; fails loudly if it cannot. Run by scripts/e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib.sh
# policy-rc.d keeps Debian's packages from starting services of their own.
need promtool prometheus
bin=$PWD/target/release
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# get PATH [ACCEPT]: the body of a GET on the exporter (python3: no curl needed).
get() {
  python3 - "$addr" "$1" "${2:-}" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://{sys.argv[1]}{sys.argv[2]}")
if sys.argv[3]:
    req.add_header("Accept", sys.argv[3])
sys.stdout.write(urllib.request.urlopen(req, timeout=10).read().decode())
PY
}

"$bin/wf-sim" --samples 3000 --seed 4 --junk 3 --outlier-rate 0.02 > "$tmp/events.jsonl"
expected=$(( $(wc -l < "$tmp/events.jsonl") - 3 ))
"$bin/wf-prom" --listen 127.0.0.1:0 --const-label pipeline=check < "$tmp/events.jsonl" 2>"$tmp/err" >/dev/null &
pid=$!
for _ in $(seq 100); do
  addr=$(sed -n 's|^wf-prom: serving http://\(.*\)/metrics$|\1|p' "$tmp/err")
  [[ -n "$addr" ]] && break
  sleep 0.1
done
if [[ -z "$addr" ]]; then
  echo "prom-check: wf-prom did not start:" >&2
  cat "$tmp/err" >&2
  exit 1
fi
for _ in $(seq 100); do
  read_so_far=$(get /health | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_read"])')
  [[ "$read_so_far" == "$expected" ]] && break
  sleep 0.1
done
expect "all events read" "$read_so_far" "$expected"

get /metrics > "$tmp/metrics.txt"
if promtool check metrics < "$tmp/metrics.txt" > "$tmp/promtool.out" 2>&1; then
  expect "promtool check metrics finds nothing" "$(cat "$tmp/promtool.out")" ""
else
  fail "promtool check metrics" "$(head -5 "$tmp/promtool.out")"
fi
expect "promtool check rules docs/prometheus/alerts.yml" "$(promtool check rules docs/prometheus/alerts.yml >/dev/null 2>&1 && echo clean)" "clean"
expect "promtool check config docs/prometheus/prometheus.yml" "$(promtool check config docs/prometheus/prometheus.yml >/dev/null 2>&1 && echo clean)" "clean"
expect "scrape has the histograms" "$(grep -c '^# TYPE wf_.*histogram$' "$tmp/metrics.txt")" "3"
get /metrics "application/openmetrics-text; version=1.0.0" > "$tmp/openmetrics.txt"
expect "OpenMetrics ends with # EOF" "$(tail -n 1 "$tmp/openmetrics.txt")" "# EOF"

summary prom
