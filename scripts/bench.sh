#!/usr/bin/env bash
# Benchmarks for the core pipeline, printed as numbers (never timed tests):
#   1. wf-agg against the parse-only floor on the same file (median wall time of
#      WF_BENCH_RUNS runs each, interleaved), as a ratio;
#   2. wf-agg's peak RSS on 1x and 10x the events, streamed from wf-sim;
#   3. wf-sim's rate into /dev/null;
#   4. the seed aggregator (seed 001, Python) on the same file, when ../shared/seeds
#      is there, as a ratio;
#   5. wf-plot's full report (page, JSON, five PNG charts) against wf-agg on the
#      same file, as a ratio;
#   6. wf-agg --window 1m (windows and anomalies) against plain wf-agg, as a ratio.
# Environment: WF_BENCH_SAMPLES (transactions, default 70000, about 1 M events),
# WF_BENCH_RUNS (default 5), WF_BENCH_OUT (default bench_out).
set -euo pipefail
cd "$(dirname "$0")/.."

samples=${WF_BENCH_SAMPLES:-70000}
runs=${WF_BENCH_RUNS:-5}
out=${WF_BENCH_OUT:-bench_out}
mkdir -p "$out"

need=()
[[ -x /usr/bin/time ]] || need+=(time)
command -v bc >/dev/null || need+=(bc)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
cargo build --release -q --workspace
cargo build --release -q -p wf-events --example parse_floor
bin=target/release
floor=target/release/examples/parse_floor

# measure CMD...: prints "wall_seconds peak_rss_kib" of one run (stdout discarded).
measure() {
  /usr/bin/time -f "%e %M" -o "$out/.time" "$@" >/dev/null
  cat "$out/.time"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

events="$out/events.jsonl"
"$bin/wf-sim" --samples "$samples" --seed 1 > "$events"
n_events=$(wc -l < "$events")
size_mb=$(( $(stat -c %s "$events") / 1000000 ))
cat "$events" > /dev/null # into the page cache, for both contenders alike

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "input: $n_events events ($size_mb MB), wf-sim --samples $samples --seed 1"
echo

: > "$out/floor.times"
: > "$out/agg.times"
for _ in $(seq "$runs"); do
  measure "$floor" "$events" | cut -d' ' -f1 >> "$out/floor.times"
  measure "$bin/wf-agg" "$events" | cut -d' ' -f1 >> "$out/agg.times"
done
floor_s=$(median < "$out/floor.times")
agg_s=$(median < "$out/agg.times")
echo "1. wf-agg vs the parse-only floor (median of $runs runs, wall seconds)"
printf '   floor  %6.2f s  %5.2f M events/s\n' "$floor_s" "$(echo "$n_events / $floor_s / 1000000" | bc -l)"
printf '   wf-agg %6.2f s  %5.2f M events/s\n' "$agg_s" "$(echo "$n_events / $agg_s / 1000000" | bc -l)"
printf '   ratio  %6.2f (target <= 1.20)\n\n' "$(echo "$agg_s / $floor_s" | bc -l)"

# Only wf-agg is timed.
rss_stream() {
  "$bin/wf-sim" --samples "$1" --seed 1 | /usr/bin/time -f "%M" -o "$out/.rss" "$bin/wf-agg" > /dev/null
  cat "$out/.rss"
}
rss1=$(rss_stream "$samples")
rss10=$(rss_stream $((samples * 10)))
echo "2. wf-agg peak RSS, events streamed from wf-sim"
printf '   1x  (%d transactions)  %6.1f MiB\n' "$samples" "$(echo "$rss1 / 1024" | bc -l)"
printf '   10x (%d transactions) %6.1f MiB\n' "$((samples * 10))" "$(echo "$rss10 / 1024" | bc -l)"
printf '   growth %5.1f%% (targets: < 32 MiB, growth < 10%%)\n\n' "$(echo "($rss10 - $rss1) * 100 / $rss1" | bc -l)"

: > "$out/sim.times"
for _ in $(seq "$runs"); do
  measure "$bin/wf-sim" --samples "$samples" --seed 1 | cut -d' ' -f1 >> "$out/sim.times"
done
sim_s=$(median < "$out/sim.times")
echo "3. wf-sim into /dev/null (median of $runs runs)"
printf '   %6.2f s  %5.2f M events/s (target >= 2.00)\n\n' "$sim_s" "$(echo "$n_events / $sim_s / 1000000" | bc -l)"

if scripts/seed-tool.sh 001 "$out/seed_aggregate.py" 2>/dev/null; then
  seed_s=$(measure python3 "$out/seed_aggregate.py" --file "$events" | cut -d' ' -f1)
  echo "4. the seed aggregator (Python $(python3 -c 'import platform; print(platform.python_version())'), one run)"
  printf '   %6.2f s, wf-agg is %.0fx faster\n' "$seed_s" "$(echo "$seed_s / $agg_s" | bc -l)"
else
  echo "4. the seed aggregator: skipped (no ../shared/seeds; set WF_SEEDS)"
fi

: > "$out/plot.times"
for _ in $(seq "$runs"); do
  measure "$bin/wf-plot" --out-dir "$out/report" "$events" | cut -d' ' -f1 >> "$out/plot.times"
done
plot_s=$(median < "$out/plot.times")
echo
echo "5. wf-plot's full report vs wf-agg, same file (median of $runs runs)"
printf '   wf-plot %6.2f s, ratio to wf-agg %.2f (target < 2.50)\n' "$plot_s" "$(echo "$plot_s / $agg_s" | bc -l)"

: > "$out/window.times"
for _ in $(seq "$runs"); do
  measure "$bin/wf-agg" --window 1m "$events" | cut -d' ' -f1 >> "$out/window.times"
done
window_s=$(median < "$out/window.times")
echo
echo "6. wf-agg --window 1m vs wf-agg, same file (median of $runs runs)"
printf '   wf-agg --window 1m %6.2f s, ratio to wf-agg %.2f\n' "$window_s" "$(echo "$window_s / $agg_s" | bc -l)"
rm -f "$out/.time" "$out/.rss"
