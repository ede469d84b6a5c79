# Shared by the check scripts: count and print results, a closing line that CI
# reads ("NAME: N passed, M failed"), and installing what a check needs. Source
# it; it defines ok, fail, expect, summary and need.
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
