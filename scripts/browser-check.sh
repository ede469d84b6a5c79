#!/usr/bin/env bash
# Opens wf-plot's report.html in headless Chromium (Debian's chromium package),
# from disk, after moving the report folder, and fails if any image did not load
# (the page marks <html data-images-loaded/failed> from img.naturalWidth). Takes a
# screenshot too. Installs chromium when it is missing; fails loudly if it cannot
# start. Run by scripts/e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$PWD/target/release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source scripts/lib.sh
need chromium chromium

# The flags keep Chromium off the network (this machine has none) and quiet.
chrome() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/profile" --virtual-time-budget=10000 "$@" 2>"$tmp/chromium.err"
}

# attr NAME FILE: the value of an attribute on the dumped <html> element.
attr() { grep -o "<html[^>]*" "$2" | grep -o "$1=\"[0-9]*\"" | grep -o '[0-9]*' || true; }

"$bin/wf-sim" --samples 5000 --seed 3 --outlier-rate 0.02 | "$bin/wf-plot" --svg --out-dir "$tmp/made" >/dev/null
mv "$tmp/made" "$tmp/moved" # the page must not depend on where it was written
page="file://$tmp/moved/report.html"

if ! chrome --dump-dom "$page" > "$tmp/dom.html"; then
  echo "browser-check: chromium could not open the page:" >&2
  cat "$tmp/chromium.err" >&2
  exit 1
fi
expect "report: images referenced" "$(grep -o '<img ' "$tmp/dom.html" | wc -l)" "5"
expect "report: images loaded" "$(attr data-images-loaded "$tmp/dom.html")" "5"
expect "report: images failed" "$(attr data-images-failed "$tmp/dom.html")" "0"

chrome --hide-scrollbars --window-size=1100,3000 --screenshot="$tmp/page.png" "$page" >/dev/null
expect "report: screenshot is a PNG" "$(head -c 8 "$tmp/page.png" | od -An -tx1 | tr -d ' \n')" "89504e470d0a1a0a"
if [[ -n "${WF_SCREENSHOT:-}" ]]; then cp "$tmp/page.png" "$WF_SCREENSHOT"; fi

printf 'not json\n' | "$bin/wf-plot" --out-dir "$tmp/junk" >/dev/null 2>&1
chrome --dump-dom "file://$tmp/junk/report.html" > "$tmp/junk.html"
expect "junk: page says so" "$(grep -c 'No events were read: all 1 non-blank lines were malformed' "$tmp/junk.html")" "1"
expect "junk: no broken image" "$(attr data-images-failed "$tmp/junk.html")" "0"

summary browser
