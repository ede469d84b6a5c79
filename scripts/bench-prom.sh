#!/usr/bin/env bash
# Benchmarks for wf-prom, printed as numbers (never timed tests):
#   6. ingest of the bench file from stdin against the parse-only floor, while
#      /metrics is scraped every 100 ms (median of WF_BENCH_RUNS runs each);
#   7. scrape latency over 1,000 scrapes at about 1,000 series;
#   8. peak RSS over 1 M and 10 M events with 10% of transactions never closed
#      (evicted by --open-ttl), streamed from wf-sim.
# Run by `make bench` after scripts/bench.sh. Environment as for bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

samples=${WF_BENCH_SAMPLES:-70000}
runs=${WF_BENCH_RUNS:-5}
out=${WF_BENCH_OUT:-bench_out}
mkdir -p "$out"
cargo build --release -q --workspace
cargo build --release -q -p wf-events --example parse_floor
bin=target/release
floor=target/release/examples/parse_floor
events="$out/events.jsonl"
[[ -s "$events" ]] || "$bin/wf-sim" --samples "$samples" --seed 1 > "$events"
n_events=$(wc -l < "$events")
cat "$events" > /dev/null
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ingest: wall seconds of wf-prom reading the file to its end while a scraper
# fetches /metrics every 100 ms.
ingest() {
  python3 - "$bin/wf-prom" "$events" <<'PY'
import subprocess, sys, threading, time, urllib.request
p = subprocess.Popen([sys.argv[1], "--listen", "127.0.0.1:0", "--exit-on-eof"],
                     stdin=open(sys.argv[2], "rb"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
start = time.monotonic()
addr = p.stderr.readline().decode().strip().split("http://")[1]
scrapes = 0
def scrape():
    global scrapes
    while p.poll() is None:
        try:
            urllib.request.urlopen("http://" + addr, timeout=5).read()
            scrapes += 1
        except Exception:
            pass
        time.sleep(0.1)
t = threading.Thread(target=scrape); t.start()
p.wait(); wall = time.monotonic() - start; t.join()
print(f"{wall:.3f} {scrapes}")
PY
}

: > "$out/prom.times"
: > "$out/floor2.times"
for _ in $(seq "$runs"); do
  /usr/bin/time -f "%e" -o "$out/.t" "$floor" "$events" > /dev/null
  cat "$out/.t" >> "$out/floor2.times"
  ingest >> "$out/prom.times"
done
floor_s=$(median < "$out/floor2.times")
prom_s=$(cut -d' ' -f1 "$out/prom.times" | median)
scrapes=$(cut -d' ' -f2 "$out/prom.times" | median)
echo "6. wf-prom ingest from stdin vs the parse-only floor, scraped every 100 ms (median of $runs runs)"
printf '   floor   %6.2f s\n   wf-prom %6.2f s  (%s scrapes during ingest)\n' "$floor_s" "$prom_s" "$scrapes"
printf '   ratio   %6.2f (target <= 2.00)\n\n' "$(echo "$prom_s / $floor_s" | bc -l)"

# Scrape latency at about 1,000 series: 15 workflows (coprime to the 1-in-7
# failures, so each has both statuses) of one step each, ok and
# failed, make 60 label sets of the transaction and step histograms.
python3 - > "$out/series.jsonl" <<'PY'
import json
t = 1767225600000
for i in range(3000):
    w = f"w{i % 15}"
    tid = f"s{i}"
    for e in ({"type": "transaction_open", "txn_id": tid, "ts_ms": t + i, "workflow": w},
              {"type": "step_done", "txn_id": tid, "ts_ms": t + i + 5, "workflow": w, "step": "only", "duration_ms": 5 + i % 700, "status": "error" if i % 7 == 0 else "ok", "error": "E" if i % 7 == 0 else None},
              {"type": "transaction_close", "txn_id": tid, "ts_ms": t + i + 9, "workflow": w, "status": "error" if i % 7 == 0 else "ok"}):
        print(json.dumps({k: v for k, v in e.items() if v is not None}))
PY
python3 - "$bin/wf-prom" "$out/series.jsonl" <<'PY'
import http.client, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "--listen", "127.0.0.1:0", "--quantiles", "0.5"],
                     stdin=open(sys.argv[2], "rb"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
addr = p.stderr.readline().decode().strip().split("http://")[1].split("/")[0]
host, port = addr.split(":")
time.sleep(1.0)
def get():
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("GET", "/metrics")
    body = c.getresponse().read()
    c.close()
    return body
series = sum(1 for l in get().decode().splitlines() if l and not l.startswith("#"))
lat = []
for _ in range(1000):
    t = time.perf_counter(); get(); lat.append((time.perf_counter() - t) * 1000)
p.terminate(); p.wait()
lat.sort()
print("7. scrape latency, 1,000 sequential scrapes (client: Python http.client, loopback)")
print(f"   {series} series; p50 {lat[499]:.2f} ms, p99 {lat[989]:.2f} ms, max {lat[-1]:.2f} ms (target p99 < 10 ms)")
PY
echo

# Only wf-prom is timed: wf-sim's fault bookkeeping grows with --samples.
rss() {
  "$bin/wf-sim" --samples "$1" --seed 2 --drop-closes $(( $1 / 10 )) \
    | /usr/bin/time -f "%M" -o "$out/.rss" "$bin/wf-prom" --listen 127.0.0.1:0 --exit-on-eof --open-ttl 1m 2>/dev/null
  cat "$out/.rss"
}
rss1=$(rss "$samples")
rss10=$(rss $((samples * 10)))
echo "8. wf-prom peak RSS, 10% of transactions never closed (--open-ttl 1m evicts them)"
printf '   1x  (%d transactions)  %6.1f MiB\n' "$samples" "$(echo "$rss1 / 1024" | bc -l)"
printf '   10x (%d transactions) %6.1f MiB\n' "$((samples * 10))" "$(echo "$rss10 / 1024" | bc -l)"
printf '   growth %5.1f%% (target: flat)\n' "$(echo "($rss10 - $rss1) * 100 / $rss1" | bc -l)"
rm -f "$out/.t" "$out/.rss"
