# Shared by the check scripts: count and print results, and a closing line that
# CI reads ("NAME: N passed, M failed"). Source it; it defines ok, fail, expect
# and summary.
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
