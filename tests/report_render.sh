#!/usr/bin/env bash
# Renders a capacity report as a person would see it: `tp-sim report`, then
# headless Chromium screenshots report.html to a PNG (it must exit 0 and
# draw a non-trivial image), and xmllint checks the page is well-formed.
# Exit 77 (skipped) when chromium or xmllint is not installed.
set -u
tpsim=$1
for tool in chromium xmllint; do
  command -v "$tool" >/dev/null || { echo "$tool not installed: skipped"; exit 77; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$tpsim" report --model qwen25vl-7b --tp 1,2,4 -o "$dir/out" --tokens 100B --days 30 || exit 1
xmllint --noout "$dir/out/report.html" || { echo "report.html is not well-formed"; exit 1; }
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$dir/profile" \
  --window-size=1200,2600 --screenshot="$dir/report.png" "file://$dir/out/report.html" \
  >"$dir/chromium.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  echo "chromium exited $rc"; cat "$dir/chromium.log"; exit 1
fi
size=$(stat -c %s "$dir/report.png" 2>/dev/null || echo 0)
# A blank 1200x2600 PNG compresses to a few KB; charts and text make it far larger.
if [ "$size" -lt 50000 ]; then
  echo "screenshot is $size bytes: the page did not render"; exit 1
fi
echo "rendered report.html to a ${size}-byte PNG"

# The charts mark what does not fit and draw the margin: a report where
# TP=1 does not fit (llama3-8b at 8192 tokens on 64 GB cards), read back from
# the DOM Chromium builds: a cross on the throughput and step-time lines
# for it, and the limit-with-margin line on the memory chart.
"$tpsim" report --model llama3-8b --hw 910b2 --tp 1,2,4,8 --cards 8 -o "$dir/nofit" >/dev/null 2>&1 || {
  echo "report of the non-fitting case failed"; exit 1; }
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$dir/profile2" \
  --dump-dom "file://$dir/nofit/report.html" >"$dir/dom.html" 2>"$dir/chromium2.log" || {
  echo "chromium --dump-dom failed"; cat "$dir/chromium2.log"; exit 1; }
flags=$(grep -o 'class="flag"' "$dir/dom.html" | wc -l)
margin=$(grep -o 'class="ref2"' "$dir/dom.html" | wc -l)
# two line charts x (one cross for TP=1 + one legend cross)
if [ "$flags" -lt 4 ]; then echo "non-fitting marker: $flags crosses in the DOM, expected >= 4"; exit 1; fi
if [ "$margin" -lt 1 ]; then echo "no margin line on the memory chart"; exit 1; fi
grep -q 'does not fit (with the margin)' "$dir/dom.html" || { echo "no 'does not fit' legend"; exit 1; }
echo "non-fitting TP marked ($flags crosses), margin line drawn"
