#!/usr/bin/env bash
# Kafka throughput on loopback against tansu 0.6.0 (SQLite storage; scripts/tansu.sh),
# printed as numbers (never a timed test):
#   1. wf-sim -> tansu: events produced per second, delivery confirmed;
#   2. tansu -> wf-agg: events consumed, merged in event-time order and aggregated
#      per second (--kafka-max-events stops it at the last event);
#   3. both at once, sim -> tansu -> wf-agg, from the first event produced to the
#      report;
#   4. the parse-only floor on the same events, for scale;
#   5. 1 and 2 against librdkafka's mock cluster (in-process, in memory), which
#      separates wf's own cost from the broker's. The mock keeps about 5 MB per
#      partition, so this part uses 20000 transactions over 12+12 partitions.
# The report of 2 is checked against wf-agg over a pipe of the same events.
# Environment: WF_BENCH_SAMPLES (default 70000 transactions, about 1 M events),
# WF_PARTITIONS (default 6 per topic), WF_BENCH_OUT (default bench_out).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
samples=${WF_BENCH_SAMPLES:-70000}
out=${WF_BENCH_OUT:-bench_out}
mkdir -p "$out"
cargo build --release -q --workspace
cargo build --release -q -p wf-events --example parse_floor
cargo build --release -q -p wf-testkit --example mock_kafka
bin=target/release
tmp=$(mktemp -d)
mock=
cleanup() {
  scripts/tansu.sh stop "$tmp/b1" || true
  scripts/tansu.sh stop "$tmp/b2" || true
  [[ -n $mock ]] && kill "$mock" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { echo "$1 / ($3 - $2)" | bc -l | xargs printf '%.0f'; }

"$bin/wf-sim" --samples "$samples" --seed 1 >"$out/kafka-events.jsonl"
n=$(wc -l <"$out/kafka-events.jsonl")
"$bin/wf-agg" --json "$out/kafka-events.jsonl" >"$out/kafka-ref.json"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "broker: tansu 0.6.0, SQLite storage, 127.0.0.1, ${WF_PARTITIONS:-6}+${WF_PARTITIONS:-6} partitions"
echo "input: $n events, wf-sim --samples $samples --seed 1"
echo

B=$(scripts/tansu.sh start "$tmp/b1" "$(free_port)")
t0=$(now)
"$bin/wf-sim" --samples "$samples" --seed 1 --kafka-bootstrap "$B"
t1=$(now)
"$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-max-events "$n" >"$out/kafka-agg.json"
t2=$(now)
same=$(cmp -s "$out/kafka-agg.json" "$out/kafka-ref.json" && echo "equal to the pipe's" || echo "DIFFERS from the pipe's")
printf '1. wf-sim -> tansu      %8d events/s  (%.1f s)\n' "$(rate "$n" "$t0" "$t1")" "$(echo "$t1 - $t0" | bc -l)"
printf '2. tansu -> wf-agg      %8d events/s  (%.1f s; report %s)\n' "$(rate "$n" "$t1" "$t2")" "$(echo "$t2 - $t1" | bc -l)" "$same"
scripts/tansu.sh stop "$tmp/b1"

B=$(scripts/tansu.sh start "$tmp/b2" "$(free_port)")
"$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-max-events "$n" --kafka-idle-timeout 60 \
  >"$out/kafka-pipe.json" &
agg=$!
sleep 4 # the consumer joins its group before the first event
t0=$(now)
"$bin/wf-sim" --samples "$samples" --seed 1 --kafka-bootstrap "$B"
wait "$agg"
t1=$(now)
same=$(cmp -s "$out/kafka-pipe.json" "$out/kafka-ref.json" && echo "equal to the pipe's" || echo "DIFFERS from the pipe's")
printf '3. sim -> tansu -> agg  %8d events/s  (%.1f s; report %s)\n' "$(rate "$n" "$t0" "$t1")" "$(echo "$t1 - $t0" | bc -l)" "$same"

t0=$(now)
target/release/examples/parse_floor "$out/kafka-events.jsonl" >/dev/null
t1=$(now)
printf '4. parse-only floor     %8d events/s\n' "$(rate "$n" "$t0" "$t1")"

# The mock cluster lives while its standard input (fd 3 here) is open.
mkfifo "$tmp/mock.in"
target/release/examples/mock_kafka 12 <"$tmp/mock.in" >"$tmp/mock.addr" &
mock=$!
exec 3>"$tmp/mock.in"
for _ in $(seq 50); do [[ -s $tmp/mock.addr ]] && break; sleep 0.1; done
B=$(cat "$tmp/mock.addr")
"$bin/wf-sim" --samples 20000 --seed 1 | "$bin/wf-agg" --json >"$out/kafka-mock-ref.json"
m=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"]["total"])' "$out/kafka-mock-ref.json")
t0=$(now)
"$bin/wf-sim" --samples 20000 --seed 1 --kafka-bootstrap "$B"
t1=$(now)
"$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-max-events "$m" >"$out/kafka-mock.json"
t2=$(now)
same=$(cmp -s "$out/kafka-mock.json" "$out/kafka-mock-ref.json" && echo "equal to the pipe's" || echo "DIFFERS from the pipe's")
printf '5. wf-sim -> mock       %8d events/s  (%d events)\n' "$(rate "$m" "$t0" "$t1")" "$m"
printf '   mock -> wf-agg       %8d events/s  (report %s; includes joining the group)\n' "$(rate "$m" "$t1" "$t2")" "$same"
exec 3>&-
wait "$mock"
mock=
