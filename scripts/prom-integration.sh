#!/usr/bin/env bash
# wf-prom against a real Prometheus (Debian's prometheus package, on loopback, a
# 1 s scrape interval), fed by a live wf-sim stream:
#   - every PromQL query of docs/METRICS.md returns data while the stream runs;
#   - every alert rule of docs/prometheus/alerts.yml evaluates;
#   - every panel of docs/grafana/wf-dashboard.json uses a query of docs/METRICS.md;
#   - after the stream, histogram_quantile(0.95) of transaction duration lies in or
#     next to the bucket holding wf-agg's exact p95 of the same events.
# Installs prometheus when missing; fails loudly if it cannot start. Run by e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib.sh
# policy-rc.d keeps Debian's packages from starting services of their own.
need prometheus prometheus
bin=$PWD/target/release
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The live stream: 600 transactions started over about 6 s, kept in a file too.
"$bin/wf-sim" --realtime --samples 600 --rate 100 --seed 6 --outlier-rate 0 \
  | tee "$tmp/events.jsonl" \
  | "$bin/wf-prom" --listen 127.0.0.1:0 --outlier-ms 2000 2>"$tmp/wf-prom.err" >/dev/null &
pids+=($!)
for _ in $(seq 100); do
  addr=$(sed -n 's|^wf-prom: serving http://\(.*\)/metrics$|\1|p' "$tmp/wf-prom.err")
  [[ -n "$addr" ]] && break
  sleep 0.1
done
[[ -n "$addr" ]] || { echo "prom-integration: wf-prom did not start" >&2; cat "$tmp/wf-prom.err" >&2; exit 1; }

port=$(free_port)
cp docs/prometheus/alerts.yml "$tmp/alerts.yml"
cat > "$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: wf
    static_configs:
      - targets: ['$addr']
YML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$port"
for _ in $(seq 100); do
  [[ "$(http "$api/-/ready")" == *Ready* ]] && break
  sleep 0.2
done
if [[ "$(http "$api/-/ready")" != *Ready* ]]; then
  echo "prom-integration: prometheus did not start:" >&2
  cat "$tmp/prometheus.log" >&2
  exit 1
fi
ok "prometheus started on 127.0.0.1:$port"

# query EXPR: "status count finite" of an instant query.
query() {
  python3 - "$api" "$1" <<'PY'
import json, math, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    r = json.load(urllib.request.urlopen(url, timeout=10))
except Exception as e:
    print("error 0 0"); sys.exit()
res = r.get("data", {}).get("result", [])
vals = [float(x["value"][1]) for x in res if "value" in x]
print(r.get("status"), len(res), sum(1 for v in vals if math.isfinite(v)))
PY
}

# The queries of docs/METRICS.md: every line of its promql blocks.
mapfile -t queries < <(awk '/^```promql/ {on=1; next} /^```/ {on=0} on && NF' docs/METRICS.md)
expect "cookbook has queries" "$(( ${#queries[@]} > 15 ))" "1"

# Let the stream run and Prometheus scrape it for a while.
sleep 8
for q in "${queries[@]}"; do
  read -r status n finite <<<"$(query "$q")"
  if [[ "$status" == success && "$finite" -gt 0 ]]; then
    ok "query: $q"
  else
    fail "query: $q" "status $status, $n series, $finite finite values"
  fi
done

mapfile -t rules < <(sed -n 's/^ *expr: //p' docs/prometheus/alerts.yml)
expect "alert rules found" "${#rules[@]}" "5"
for r in "${rules[@]}"; do
  read -r status _ _ <<<"$(query "$r")"
  expect "rule evaluates: $r" "$status" "success"
done

mapfile -t panels < <(python3 -c 'import json,sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p["targets"]: print(t["expr"])' docs/grafana/wf-dashboard.json)
for p in "${panels[@]}"; do
  if printf '%s\n' "${queries[@]}" | grep -qxF -- "$p"; then ok "panel uses a tested query: $p"; else fail "panel query not in METRICS.md" "$p"; fi
done

# After the stream: all events read, one more scrape, then p95 against wf-agg's.
for _ in $(seq 600); do
  kill -0 "${pids[0]}" 2>/dev/null || break
  # Done when the simulator and tee have exited (so the file is whole: checked
  # first, or tee's last write could land between the count and the check) and
  # wf-prom has read every line.
  written=0
  pgrep -f "wf-sim --realtime --samples 600 --rate 100 --seed 6" >/dev/null \
    || pgrep -f "tee $tmp/events.jsonl" >/dev/null || written=1
  lines=$(wc -l < "$tmp/events.jsonl")
  read_so_far=$(http "http://$addr/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_read"])' 2>/dev/null || echo 0)
  [[ $written == 1 && "$read_so_far" == "$lines" ]] && break
  sleep 0.5
done
expect "wf-prom read every event" "$read_so_far" "$(wc -l < "$tmp/events.jsonl")"
sleep 3
exact=$("$bin/wf-agg" --json "$tmp/events.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["transactions"]["duration_ms"]["p95"] / 1000)')
estimate=$(python3 - "$api" <<'PY'
import json, sys, urllib.parse, urllib.request
q = "histogram_quantile(0.95, sum by (le) (wf_transaction_duration_seconds_bucket))"
r = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": q}), timeout=10))
print(r["data"]["result"][0]["value"][1])
PY
)
near=$(python3 - "$exact" "$estimate" <<'PY'
import sys
exact, est = float(sys.argv[1]), float(sys.argv[2])
b = [0.0, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, float("inf")]
i = next(k for k in range(1, len(b)) if exact <= b[k])
print(b[max(i - 2, 0)] <= est <= b[min(i + 1, len(b) - 1)])
PY
)
expect "histogram p95 $estimate s is near wf-agg's exact p95 $exact s" "$near" "True"

summary prom-integration
