# Shared by the check scripts: count and print results, a closing line that CI
# reads ("NAME: N passed, M failed"), installing what a check needs, and small
# helpers. Source it; it defines ok, fail, expect, summary, need, free_port, http
# and field.
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

# expect NAME ACTUAL WANTED
expect() {
  if [[ "$2" == "$3" ]]; then ok "$1"; else fail "$1" "got '${2:0:300}', want '${3:0:300}'"; fi
}

# summary NAME: the closing line; the exit status is 1 if anything failed.
summary() {
  echo "$1: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# need COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is missing (as root,
# idempotently); fails loudly if it cannot.
need() {
  command -v "$1" >/dev/null && return 0
  echo "$(basename "$0"): installing $2 (for $1)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  command -v "$1" >/dev/null || { echo "$(basename "$0"): $2 did not provide $1" >&2; exit 1; }
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# http URL: the body of a GET, or nothing on failure (python3: no curl needed).
http() { python3 -c 'import sys,urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except Exception: pass' "$1"; }

# field FILE PATH: one value from a JSON document, e.g. field r.json transactions.closed
field() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(json.dumps(v))' "$1" "$2"
}
