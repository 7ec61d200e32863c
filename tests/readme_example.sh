#!/bin/bash
# The README's example output must be what tp-sim prints, byte for byte: the
# block after "$ ./build/tp-sim --model qwen25vl-7b --tp 1,2,4" up to the
# closing fence equals the golden case ok_estimate_qwen25vl_7b (the same
# command line), which ctest checks against the binary.
#   readme_example.sh SOURCE_DIR
set -u
root=${1:?usage: readme_example.sh SOURCE_DIR}
block=$(awk '/^\$ \.\/build\/tp-sim --model qwen25vl-7b --tp 1,2,4$/ {on=1; next} on && /^```/ {exit} on {print}' "$root/README.md")
[ -n "$block" ] || { echo "readme_example: no example block in README.md" >&2; exit 1; }
[ "$(cat "$root/tests/golden/ok_estimate_qwen25vl_7b.cmd")" = "--model qwen25vl-7b --tp 1,2,4" ] ||
  { echo "readme_example: the golden case's command line changed" >&2; exit 1; }
if ! diff <(printf '%s\n' "$block") "$root/tests/golden/ok_estimate_qwen25vl_7b.stdout"; then
  echo "readme_example: README.md's example differs from tests/golden/ok_estimate_qwen25vl_7b.stdout" >&2
  exit 1
fi
