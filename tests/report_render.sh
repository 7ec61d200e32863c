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

# The 90% intervals (docs/uncertainty.md), in the same DOM: an error bar per
# evaluated TP on the throughput and step-time charts and a band per TP over
# the memory bars (class "errbar" / "band"), each named in its chart's
# legend (glyphs "errbar-key" / "band-key").
n_tp=$(grep -o '<tr[^>]*><td>[0-9]*</td><td>[0-9]*</td><td>[0-9]*</td><td>[0-9]*</td>' "$dir/dom.html" | head -20 | wc -l)
bars=$(grep -o 'class="errbar"' "$dir/dom.html" | wc -l)
bar_keys=$(grep -o 'class="errbar-key"' "$dir/dom.html" | wc -l)
bands=$(grep -o 'class="band"' "$dir/dom.html" | wc -l)
band_keys=$(grep -o 'class="band-key"' "$dir/dom.html" | wc -l)
if [ "$n_tp" -lt 2 ]; then echo "cannot count the evaluated TP sizes ($n_tp rows)"; exit 1; fi
if [ "$bars" -ne $((2 * n_tp)) ]; then echo "error bars: $bars in the DOM, expected 2 x $n_tp"; exit 1; fi
if [ "$bar_keys" -ne 2 ]; then echo "error-bar legend glyphs: $bar_keys, expected 2"; exit 1; fi
if [ "$bands" -ne "$n_tp" ]; then echo "memory bands: $bands in the DOM, expected $n_tp"; exit 1; fi
if [ "$band_keys" -ne 1 ]; then echo "band legend glyphs: $band_keys, expected 1"; exit 1; fi
grep -q '90% interval (error bar)' "$dir/dom.html" || { echo "no error-bar legend"; exit 1; }
grep -q '90% interval of the total (band)' "$dir/dom.html" || { echo "no band legend"; exit 1; }
echo "intervals drawn: $bars error bars, $bands bands for $n_tp TP sizes, named in the legends"
