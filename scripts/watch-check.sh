#!/usr/bin/env bash
# wf-agg --watch as a person sees it: driven in a real terminal (tmux), the
# screen read back with capture-pane. Checks the live frame, that Ctrl-C and the
# end of input restore the terminal (alternate screen off, cursor shown, the
# last frame left on screen), and the plain summaries off a terminal.
# Installs tmux if missing; fails loudly if it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need tmux tmux

cargo build --release -q -p wf-agg -p wf-sim
bin=$PWD/target/release
tmp=$(mktemp -d)
sock="wf-watch-$$"
t() { tmux -L "$sock" "$@"; }
trap 't kill-server 2>/dev/null || true; rm -rf "$tmp"' EXIT

t -f /dev/null new-session -d -s w -x 120 -y 60 "env PS1='$ ' bash --norc --noprofile" \
  || { echo "watch-check: tmux cannot start a session" >&2; exit 1; }
screen() { t capture-pane -p -t w; }
flag() { t display-message -p -t w "#{$1}"; }
# wait_for TEXT SECONDS: until the screen shows TEXT.
wait_for() {
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    screen | grep -qF -- "$1" && return 0
    sleep 0.2
  done
  return 1
}

# 1. A live stream: the dashboard on the alternate screen, redrawn.
t send-keys -t w "$bin/wf-sim --realtime --rate 200 --duration 120s | $bin/wf-agg --watch" Enter
if wait_for "WORKFLOW" 10; then ok "live: dashboard drawn"; else fail "live: dashboard drawn" "$(screen)"; fi
sleep 3
s1=$(screen)
expect "live: on the alternate screen" "$(flag alternate_on)" "1"
expect "live: cursor hidden" "$(flag cursor_flag)" "0"
expect "live: header" "$(echo "$s1" | grep -c '^wf-agg --watch · <stdin> · event time [0-9:]* UTC · live$')" "1"
expect "live: events per second shown" "$(echo "$s1" | grep -cE '^events [0-9,]+  \([0-9]+/s\)   open [0-9,]+   closed [0-9,]+   malformed 0$')" "1"
for w in agent_run checkout signup; do
  expect "live: workflow $w with a health mark" "$(echo "$s1" | grep -cE "^$w +[0-9]+ .*(● healthy|▲ degraded|✖ failed)$")" "1"
done
steps=$(echo "$s1" | grep -cE '^(agent_run|checkout|signup)/[a-z_]+ .*(● healthy|▲ degraded|✖ failed)')
expect "live: step rows with health marks (10 to 15 steps seen)" "$(( steps >= 10 && steps <= 15 ))" "1"
expect "live: recent errors and anomalies" "$(echo "$s1" | grep -cE '^(RECENT ERRORS|ANOMALIES)$')" "2"
e1=$(echo "$s1" | sed -n 's/^events \([0-9,]*\) .*/\1/p' | tr -d ,)
sleep 2
e2=$(screen | sed -n 's/^events \([0-9,]*\) .*/\1/p' | tr -d ,)
expect "live: redrawn with more events" "$(( e2 > e1 ))" "1"

# 2. Ctrl-C: the terminal is restored and the last frame stays. (The shell
# prints the status afterwards; the markers are computed so that only the
# output, not the typed command, matches.)
t send-keys -t w C-c
sleep 1
t send-keys -t w 'echo "status:$((PIPESTATUS[1] + 1000))"' Enter
if wait_for "status:1" 10; then ok "ctrl-c: wf-agg exits"; else fail "ctrl-c: wf-agg exits" "$(screen)"; fi
s2=$(screen)
expect "ctrl-c: exit status 0" "$(echo "$s2" | grep -c '^status:1000$')" "1"
expect "ctrl-c: alternate screen left" "$(flag alternate_on)" "0"
expect "ctrl-c: cursor shown" "$(flag cursor_flag)" "1"
expect "ctrl-c: last frame left on screen" "$(echo "$s2" | grep -c '^wf-agg --watch · <stdin> .* · input ended$')" "1"
steps=$(echo "$s2" | grep -cE '^(agent_run|checkout|signup)/[a-z_]+ ')
expect "ctrl-c: the last frame has the steps" "$(( steps >= 10 && steps <= 15 ))" "1"
expect "ctrl-c: no colour codes left behind" "$(t capture-pane -e -p -t w | grep -c $'\x1b\\[3[123]m' || true)" "0"

# 3. The input ends: the same, by itself.
t send-keys -t w "clear; $bin/wf-sim --samples 3000 | $bin/wf-agg --watch; echo \"ended:\$((PIPESTATUS[1] + 1000))\"" Enter
if wait_for "ended:1" 20; then ok "end of input: wf-agg exits"; else fail "end of input: wf-agg exits" "$(screen)"; fi
s3=$(screen)
expect "end of input: exit status 0" "$(echo "$s3" | grep -c '^ended:1000$')" "1"
expect "end of input: alternate screen left" "$(flag alternate_on)" "0"
expect "end of input: final counts" "$(echo "$s3" | grep -cE '^events [0-9,]+  \([0-9]+/s\)   open 0   closed 3,000   malformed 0$')" "1"

# 4. Off a terminal: plain summaries every --interval, the last when input ends.
{ "$bin/wf-sim" --samples 300; sleep 3.5; } | "$bin/wf-agg" --watch --interval 1s > "$tmp/plain.txt"
frames=$(grep -c '^wf-agg --watch · <stdin>' "$tmp/plain.txt")
expect "plain: a summary a second" "$(( frames >= 3 && frames <= 5 ))" "1"
expect "plain: the last says the input ended" "$(grep '^wf-agg --watch' "$tmp/plain.txt" | tail -n 1 | grep -c 'input ended$')" "1"
expect "plain: no escape codes" "$(grep -c $'\x1b' "$tmp/plain.txt" || true)" "0"

# 5. --follow: a file that grows is read as it grows; SIGTERM ends the watch.
"$bin/wf-sim" --samples 2000 --seed 3 > "$tmp/all.jsonl"
total=$(wc -l < "$tmp/all.jsonl")
head -n 10000 "$tmp/all.jsonl" > "$tmp/grow.jsonl"
"$bin/wf-agg" --watch --follow "$tmp/grow.jsonl" --interval 300ms > "$tmp/follow.txt" &
watcher=$!
frames_with() { grep -cE "^events $1  \(" "$tmp/follow.txt" || true; }
for _ in $(seq 50); do [[ $(frames_with "10,000") -gt 0 ]] && break; sleep 0.2; done
expect "follow: the first part is read" "$(( $(frames_with "10,000") > 0 ))" "1"
tail -n +10001 "$tmp/all.jsonl" >> "$tmp/grow.jsonl"
want=$(python3 -c "print(f'{$total:,}')")
for _ in $(seq 50); do [[ $(frames_with "$want") -gt 0 ]] && break; sleep 0.2; done
expect "follow: what was appended is read too ($want events)" "$(( $(frames_with "$want") > 0 ))" "1"
kill -TERM "$watcher"
wait "$watcher" && rc=0 || rc=$?
expect "follow: SIGTERM ends it, exit 0" "$rc" "0"
expect "follow: the last frame says the input ended" "$(grep '^wf-agg --watch' "$tmp/follow.txt" | tail -n 1 | grep -c 'input ended$')" "1"
expect "follow: all transactions closed in the last frame" "$(tail -n 40 "$tmp/follow.txt" | grep -cE "^events $want  \(.*closed 2,000 ")" "1"

summary watch-check
