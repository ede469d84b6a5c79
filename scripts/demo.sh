#!/usr/bin/env bash
# The main job: simulate a run, keep the events, aggregate them, draw the report.
# No network, no services. Output goes to demo_out/ (or $WF_DEMO_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${WF_DEMO_OUT:-demo_out}
bin=target/release
mkdir -p "$out"

echo "== wf-sim --samples 100000 | tee $out/events.jsonl | wf-agg"
"$bin/wf-sim" --samples 100000 --seed 1 | tee "$out/events.jsonl" | "$bin/wf-agg"

"$bin/wf-agg" --json --txn-csv "$out/txn_durations.csv" --gap-csv "$out/inter_step_gaps.csv" \
  "$out/events.jsonl" > "$out/report.json"
echo
echo "== wf-plot --file $out/events.jsonl --out-dir $out/report --window 1m"
"$bin/wf-plot" --file "$out/events.jsonl" --out-dir "$out/report" --svg --window 1m
echo
echo "== wrote $out/events.jsonl ($(wc -l < "$out/events.jsonl") events), $out/report.json,"
echo "   $out/txn_durations.csv, $out/inter_step_gaps.csv and $out/report/"
echo "   open $out/report/report.html in a browser"
