#!/usr/bin/env bash
# Extracts a seed document's Python tool into a file, for comparisons only: the
# seeds' code is never part of wf. Usage: scripts/seed-tool.sh SEED OUT.py
#   SEED: 001 (the aggregator) or 000 (the exporter and the report script)
#   The seeds are read from $WF_SEEDS, default ../shared/seeds beside the repo.
set -euo pipefail

seed=${1:?usage: seed-tool.sh SEED OUT.py}
out=${2:?usage: seed-tool.sh SEED OUT.py}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${WF_SEEDS:-$root/../shared/seeds}
doc=$(ls "$dir"/"$seed"_*.txt 2>/dev/null | head -n 1 || true)
if [[ -z "$doc" ]]; then
  echo "seed-tool: no seed $seed in $dir (set WF_SEEDS)" >&2
  exit 1
fi
# The first program in the document: from its shebang to the separator line.
awk '/^#!\/usr\/bin\/env python3/ {on=1} on && /^⸻/ {exit} on {print}' "$doc" > "$out"
if [[ ! -s "$out" ]]; then
  echo "seed-tool: no Python program found in $doc" >&2
  exit 1
fi
