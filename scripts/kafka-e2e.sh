#!/usr/bin/env bash
# Kafka end to end, on a real Kafka-protocol broker (tansu, scripts/tansu.sh) on
# loopback:
#   - sim -> broker -> wf-agg equals sim -> pipe -> wf-agg, exactly;
#   - a consumer stopped half way and restarted resumes from its commit: every
#     event counted once, and the two states merge to the pipe's report;
#   - three wf-agg in one group over 6+6 partitions merge to the pipe's report;
#   - wf-prom over Kafka counts what wf-agg counts, exports its lag, keeps serving
#     while the broker is away and resumes after it comes back;
#   - a producer with no broker fails clearly, in bounded time.
# Starts and stops the broker itself; fails loudly if it cannot start. Run by
# `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

cargo build --release -q --workspace
bin=$PWD/target/release
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/tansu.sh stop "$tmp/broker" || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# metric_sum URL NAME: the sum of a metric's samples on /metrics.
metric_sum() {
  http "$1" | python3 -c 'import sys
n=sys.argv[1]; t=0
for l in sys.stdin:
    if l.startswith(n+"{") or l.startswith(n+" "): t+=float(l.rsplit(" ",1)[1])
print(int(t))' "$2"
}

port=$(free_port)
B=$(scripts/tansu.sh start "$tmp/broker" "$port")
ok "tansu started on $B"

# The reference: the same seed through a pipe.
"$bin/wf-sim" --samples 20000 --seed 21 >"$tmp/events.jsonl"
"$bin/wf-agg" --json "$tmp/events.jsonl" >"$tmp/ref.json"
total=$(field "$tmp/ref.json" events.total)

# 1. Through the broker, exactly the pipe's report.
"$bin/wf-sim" --samples 20000 --seed 21 --kafka-bootstrap "$B" 2>"$tmp/sim.err"
expect "wf-sim to tansu: empty stderr" "$(cat "$tmp/sim.err")" ""
"$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-group one --kafka-idle-timeout 5 \
  >"$tmp/k.json" 2>"$tmp/k.err"
expect "wf-agg from tansu: empty stderr" "$(cat "$tmp/k.err")" ""
expect "sim -> tansu -> wf-agg equals the pipe" "$(cmp -s "$tmp/k.json" "$tmp/ref.json" && echo same)" "same"

# 2. Stopped half way, restarted: resumes from the commit.
half=$((total / 2))
"$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-group restart --kafka-max-events "$half" \
  --state-out "$tmp/r1.state" >"$tmp/r1.json"
"$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-group restart --kafka-idle-timeout 5 \
  --state-out "$tmp/r2.state" >"$tmp/r2.json"
expect "first run: half the events" "$(field "$tmp/r1.json" events.total)" "$half"
expect "second run: the rest, none twice" "$(field "$tmp/r2.json" events.total)" "$((total - half))"
"$bin/wf-agg" merge --json "$tmp/r1.state" "$tmp/r2.state" >"$tmp/r.json"
expect "the two states merge to the pipe's report" "$(cmp -s "$tmp/r.json" "$tmp/ref.json" && echo same)" "same"

# 3. Three consumers in one group share the partitions and merge exactly. They
# join first, on topics of their own, and read the events live: a member that
# joins while the others read makes a rebalance, and a partition that moves
# before its reader's last commit is read again (at-least-once, by design).
# Short transactions at 2,000 a second keep event time near the wall clock, as
# in a live system (the built-ins at full speed run event time 30x faster, past
# the 30 s grace for steps that arrive after their close).
scripts/tansu.sh topics "$port" three.transactions three.steps
live=(--samples 20000 --seed 21 --rate 2000 --outlier-rate 0 --workflows testdata/workflows/two-step.json)
"$bin/wf-sim" "${live[@]}" | "$bin/wf-agg" --json >"$tmp/ref3.json"
total3=$(field "$tmp/ref3.json" events.total)
for i in 1 2 3; do
  "$bin/wf-agg" --json --kafka-bootstrap "$B" --kafka-group three --kafka-idle-timeout 20 \
    --kafka-topics three.transactions,three.steps \
    --state-out "$tmp/g$i.state" >"$tmp/g$i.json" 2>"$tmp/g$i.err" &
  pids+=($!)
done
sleep 8
"$bin/wf-sim" "${live[@]}" --kafka-bootstrap "$B" \
  --topic-txn three.transactions --topic-steps three.steps 2>"$tmp/sim3.err"
expect "wf-sim to the group's topics: empty stderr" "$(cat "$tmp/sim3.err")" ""
for p in "${pids[@]}"; do wait "$p"; done
pids=()
expect "three consumers: empty stderr" "$(cat "$tmp"/g?.err)" ""
sum=0 busy=0
for i in 1 2 3; do
  n=$(field "$tmp/g$i.json" events.total)
  sum=$((sum + n))
  [[ $n -gt 0 ]] && busy=$((busy + 1))
done
expect "three consumers: every event once" "$sum" "$total3"
expect "three consumers: the work was shared" "$((busy >= 2))" "1"
"$bin/wf-agg" merge --json "$tmp"/g?.state >"$tmp/g.json"
expect "three states merge to the pipe's report" "$(cmp -s "$tmp/g.json" "$tmp/ref3.json" && echo same)" "same"

# 4. wf-prom over Kafka.
"$bin/wf-prom" --kafka-bootstrap "$B" --kafka-group prom --listen 127.0.0.1:0 \
  2>"$tmp/prom.err" >/dev/null &
pids+=($!)
for _ in $(seq 100); do
  addr=$(sed -n 's|^wf-prom: serving http://\(.*\)/metrics$|\1|p' "$tmp/prom.err")
  [[ -n "$addr" ]] && break
  sleep 0.1
done
m=http://$addr/metrics
wait_events() {
  for _ in $(seq 600); do
    [[ $(metric_sum "$m" wf_events_total) == "$1" ]] && return 0
    sleep 0.1
  done
  return 0
}
wait_events "$total"
expect "wf-prom over Kafka: events equal wf-agg's" "$(metric_sum "$m" wf_events_total)" "$total"
expect "wf-prom over Kafka: transactions equal wf-agg's" \
  "$(metric_sum "$m" wf_transactions_total)" "$(field "$tmp/ref.json" transactions.closed)"
expect "wf-prom over Kafka: outliers equal wf-agg's" \
  "$(metric_sum "$m" wf_inter_step_outliers_total)" "$(field "$tmp/ref.json" gaps.outliers)"
sleep 2
lag=$(http "$m" | grep -c '^wf_kafka_consumer_lag{' || true)
expect "wf-prom exports lag for all 12 partitions" "$lag" "12"
expect "wf-prom caught up: lag 0" "$(metric_sum "$m" wf_kafka_consumer_lag)" "0"

# The broker goes away: wf-prom keeps serving; back, it resumes.
scripts/tansu.sh stop "$tmp/broker"
sleep 3
expect "broker away: /health still answers" "$(http "http://$addr/health" | head -c 1)" "{"
B2=$(scripts/tansu.sh start "$tmp/broker" "$port")
expect "broker back on the same address" "$B2" "$B"
"$bin/wf-sim" --samples 1000 --seed 22 --kafka-bootstrap "$B"
more=$("$bin/wf-sim" --samples 1000 --seed 22 | "$bin/wf-agg" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["total"])')
wait_events "$((total + more))"
expect "broker back: wf-prom resumed, nothing twice" "$(metric_sum "$m" wf_events_total)" "$((total + more))"

# 5. No broker: a clear error, soon.
scripts/tansu.sh stop "$tmp/broker"
start=$(date +%s)
set +e
"$bin/wf-sim" --samples 10 --kafka-bootstrap "$B" 2>"$tmp/nob.err"
code=$?
set -e
expect "wf-sim with no broker: exit 1" "$code" "1"
expect "wf-sim with no broker: says so" "$(grep -c "^wf-sim: cannot reach Kafka at $B: " "$tmp/nob.err")" "1"
expect "wf-sim with no broker: within 15 s" "$(( $(date +%s) - start <= 15 ))" "1"

summary "kafka-e2e"
