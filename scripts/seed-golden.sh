#!/usr/bin/env bash
# Regenerates testdata/seed/*.seed-output.txt: what the seed aggregator (seed 001)
# prints for wf's test inputs. wf-agg's tests compare their numbers with these.
# Run it after a change to wf-sim's output; it needs python3 and ../shared/seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/seed-tool.sh 001 "$tmp/aggregate_workflows.py"
cargo build --release -q -p wf-sim

# Keep these arguments in step with crates/wf-agg/tests/seed.rs.
target/release/wf-sim --samples 3000 --seed 42 --outlier-rate 0.02 > "$tmp/sim.jsonl"
python3 "$tmp/aggregate_workflows.py" --file "$tmp/sim.jsonl" \
  > testdata/seed/sim-3000-seed42.seed-output.txt
python3 "$tmp/aggregate_workflows.py" --file testdata/seed/rounding.jsonl \
  > testdata/seed/rounding.seed-output.txt
echo "wrote testdata/seed/sim-3000-seed42.seed-output.txt and rounding.seed-output.txt"
