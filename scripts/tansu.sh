#!/usr/bin/env bash
# tansu, a Kafka-protocol broker, for the Kafka end-to-end suite and the benchmark.
#
#   scripts/tansu.sh install          build tansu 0.6.0 into the cache (once; ~13-20 min)
#   scripts/tansu.sh start DIR PORT   start it on 127.0.0.1:PORT with SQLite storage in
#                                     DIR, create the two wf topics (6 partitions each),
#                                     print the bootstrap address
#   scripts/tansu.sh topics PORT T...  create topics T... (6 partitions each) if missing
#   scripts/tansu.sh stop DIR         stop the broker started in DIR
#
# The cache is $WF_CACHE (default ~/.cache/wf); a build already there is reused.
# SQLite, not the memory engine: tansu's memory engine skips messages when a
# consumer resumes mid-batch.
set -euo pipefail
cache=${WF_CACHE:-$HOME/.cache/wf}
tansu=$cache/tansu/bin/tansu
partitions=${WF_PARTITIONS:-6}

install() {
  if [[ -x $tansu ]] && "$tansu" --version 2>/dev/null | grep -q '0\.6\.0'; then
    return 0
  fi
  echo "tansu.sh: building tansu 0.6.0 into $cache/tansu (once; 13-20 minutes on 2 cores)" >&2
  mkdir -p "$cache"
  cargo install tansu@0.6.0 --locked --no-default-features --features libsql \
    --root "$cache/tansu" --quiet
  [[ -x $tansu ]] || { echo "tansu.sh: the build did not produce $tansu" >&2; exit 1; }
}

start() {
  local dir=$1 port=$2
  install
  mkdir -p "$dir"
  local url=tcp://127.0.0.1:$port
  # Relative SQLite path: tansu joins an absolute one onto its working directory.
  (cd "$dir" && exec "$tansu" broker --storage-engine sqlite://tansu.db \
    --listener-url "$url" --advertised-listener-url "$url" >broker.log 2>&1) &
  echo $! >"$dir/broker.pid"
  for _ in $(seq 100); do
    grep -q 'ready in' "$dir/broker.log" 2>/dev/null && break
    kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q 'ready in' "$dir/broker.log" 2>/dev/null; then
    echo "tansu.sh: the broker did not start:" >&2
    cat "$dir/broker.log" >&2
    exit 1
  fi
  topics "$port" workflow.transactions workflow.steps
  echo "127.0.0.1:$port"
}

topics() {
  local url=tcp://127.0.0.1:$1 t
  shift
  for t in "$@"; do
    # Already there when the storage is reused (a restart).
    "$tansu" topic list --broker "$url" 2>/dev/null | grep -q "\"name\":\"$t\"" && continue
    "$tansu" topic create --broker "$url" --partitions "$partitions" "$t" >/dev/null
  done
}

stop() {
  local dir=$1
  [[ -f $dir/broker.pid ]] || return 0
  local pid
  pid=$(cat "$dir/broker.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/broker.pid"
}

case ${1:-} in
  install) install ;;
  start) start "$2" "$3" ;;
  stop) stop "$2" ;;
  topics) shift; topics "$@" ;;
  *) echo "usage: $0 install | start DIR PORT | topics PORT TOPIC... | stop DIR" >&2; exit 2 ;;
esac
