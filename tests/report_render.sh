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
