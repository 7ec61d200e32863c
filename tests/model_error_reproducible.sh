#!/usr/bin/env bash
# validation/model-error.yaml is what a refit gives: scripts/fit-stacks.sh is
# run with its output under a temporary directory (the repository is left as
# it is) and every entry of the written file (hw or stack, time and memory
# figures) must equal the committed one. The header's date may differ.
#   bash tests/model_error_reproducible.sh PATH/tp-sim SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FIT_STACKS_OUT=$tmp bash "$src/scripts/fit-stacks.sh" "$bin" > "$tmp/log" 2>&1 ||
  { cat "$tmp/log"; echo "model_error_reproducible: fit-stacks.sh failed" >&2; exit 1; }
grep '^  - {' "$src/validation/model-error.yaml" > "$tmp/committed"
grep '^  - {' "$tmp/validation/model-error.yaml" > "$tmp/refit"
[ -s "$tmp/committed" ] || { echo "model_error_reproducible: no entry in the committed file" >&2; exit 1; }
if ! diff -u "$tmp/committed" "$tmp/refit"; then
  echo "model_error_reproducible: validation/model-error.yaml differs from a refit" \
    "(run scripts/fit-stacks.sh and commit what it writes)" >&2
  exit 1
fi
echo "model_error_reproducible: $(wc -l < "$tmp/refit") entries equal a refit"
