#!/usr/bin/env bash
# End-to-end checks across the built binaries: real pipes between wf tools, exact
# counts, exit codes and stderr. Run by `make test` after the unit and CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q --workspace
bin=$PWD/target/release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source scripts/lib.sh

# 1. A closed pipe is success: wf-sim stops at once, says nothing, exits 0.
start=$(date +%s)
set +o pipefail
first=$("$bin/wf-sim" --samples 100000000 2>"$tmp/sim.err" | head -n 1)
codes=("${PIPESTATUS[@]}")
set -o pipefail
expect "wf-sim | head -n 1: exit 0" "${codes[0]}" "0"
expect "wf-sim | head -n 1: empty stderr" "$(cat "$tmp/sim.err")" ""
expect "wf-sim | head -n 1: one event" "$(echo "$first" | cut -c1-27)" '{"type":"transaction_open",'
expect "wf-sim | head -n 1: returns at once" "$(( $(date +%s) - start < 5 ))" "1"

# 2. wf-agg writing into a closed pipe is success too.
set +o pipefail
"$bin/wf-sim" --samples 20000 | "$bin/wf-agg" --top 20000 2>"$tmp/agg.err" | head -n 1 >/dev/null
codes=("${PIPESTATUS[@]}")
set -o pipefail
expect "wf-agg | head -n 1: exit 0" "${codes[1]}" "0"
expect "wf-agg | head -n 1: empty stderr" "$(cat "$tmp/agg.err")" ""

# 3. wf-sim | wf-agg with exact faults: every fault is counted, nothing else moves.
"$bin/wf-sim" --samples 2000 --seed 5 --junk 7 --drop-closes 3 --duplicates 4 \
  | "$bin/wf-agg" --json >"$tmp/faults.json" 2>"$tmp/faults.err"
expect "faults: malformed" "$(field "$tmp/faults.json" events.malformed)" "7"
expect "faults: malformed lines on stderr" "$(grep -c '^wf-agg: <stdin>:[0-9]*: ' "$tmp/faults.err")" "7"
expect "faults: closed" "$(field "$tmp/faults.json" transactions.closed)" "1997"
expect "faults: open at end" "$(field "$tmp/faults.json" transactions.open_at_end)" "3"
expect "faults: duplicates" "$(field "$tmp/faults.json" transactions.duplicates)" "4"
expect "faults: orphans" "$(field "$tmp/faults.json" transactions.orphan_closes)" "0"

# 4. Reordering changes no count and mis-pairs nothing. Lateness (observed gap
#    minus planned) needs a step_open seen before its transaction's close, so a
#    shuffle may leave a few out, but never pairs a wait with the wrong step.
"$bin/wf-sim" --samples 2000 --seed 9 | "$bin/wf-agg" --json >"$tmp/ordered.json"
"$bin/wf-sim" --samples 2000 --seed 9 --reorder 32 | "$bin/wf-agg" --json >"$tmp/shuffled.json"
without_lateness() { python3 -c 'import json,sys
r=json.load(open(sys.argv[1])); r["gaps"].pop("lateness_ms"); print(json.dumps(r,sort_keys=True))' "$1"; }
expect "reorder: same report but lateness" "$(without_lateness "$tmp/shuffled.json")" "$(without_lateness "$tmp/ordered.json")"
expect "reorder: no orphans" "$(field "$tmp/shuffled.json" transactions.orphan_closes)" "0"
expect "reorder: lateness never mis-paired" "$(python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))["gaps"]["lateness_ms"]; b=json.load(open(sys.argv[2]))["gaps"]["lateness_ms"]
print(b["count"] <= a["count"] and b["count"] > 0.9*a["count"] and a["min"] <= b["min"] and b["max"] <= a["max"])' "$tmp/ordered.json" "$tmp/shuffled.json")" "True"

# 5. A file and a pipe give the same report; CSV has a row per transaction.
"$bin/wf-sim" --samples 3000 --seed 11 > "$tmp/events.jsonl"
"$bin/wf-agg" --json < "$tmp/events.jsonl" > "$tmp/pipe.json"
"$bin/wf-agg" --json --file "$tmp/events.jsonl" --txn-csv "$tmp/txn.csv" --gap-csv "$tmp/gap.csv" > "$tmp/file.json"
expect "file = pipe" "$(cat "$tmp/file.json")" "$(cat "$tmp/pipe.json")"
expect "txn csv rows" "$(( $(wc -l < "$tmp/txn.csv") - 1 ))" "$(field "$tmp/file.json" transactions.closed)"
expect "gap csv rows" "$(( $(wc -l < "$tmp/gap.csv") - 1 ))" "$(field "$tmp/file.json" gaps.duration_ms.count)"

# 6. wf-plot's numbers are wf-agg's: its report.json is wf-agg's JSON document.
"$bin/wf-plot" --out-dir "$tmp/plot" "$tmp/events.jsonl" > "$tmp/plot.out"
expect "wf-plot report.json = wf-agg --json, byte for byte" "$(cmp "$tmp/plot/report.json" "$tmp/file.json" && echo same)" "same"
expect "wf-plot wrote the page and 5 charts" "$(grep -c '^wrote .*\.\(html\|png\)$' "$tmp/plot.out")" "6"

# 7. The demo runs as the README says.
WF_DEMO_OUT="$tmp/demo" scripts/demo.sh > "$tmp/demo.out"
expect "demo: report" "$(field "$tmp/demo/report.json" transactions.closed)" "100000"
expect "demo: text report printed" "$(grep -c '^Transactions: 100000 closed' "$tmp/demo.out")" "1"
expect "demo: report page" "$(test -s "$tmp/demo/report/report.html" && echo yes)" "yes"

# 8. The report in a real browser.
if scripts/browser-check.sh; then ok "browser check"; else fail "browser check" "see above"; fi

# 9. wf-prom's scrape passes promtool's lint.
if scripts/prom-check.sh; then ok "promtool check"; else fail "promtool check" "see above"; fi

# 10. wf-prom against a real Prometheus: the documented queries, rules and panels.
if scripts/prom-integration.sh; then ok "prometheus integration"; else fail "prometheus integration" "see above"; fi

# 11. The live dashboard in a real terminal (tmux).
if scripts/watch-check.sh; then ok "watch check"; else fail "watch check" "see above"; fi

summary e2e
