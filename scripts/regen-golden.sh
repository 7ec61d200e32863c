#!/usr/bin/env bash
# Regenerates the expected files of every golden CLI case (tests/golden/,
# success and error cases alike) from the current tp-sim, then shows what
# changed: `git diff --stat` and the full diff of tests/golden/, plus any new
# (untracked) golden files. It never commits anything.
#
#   scripts/regen-golden.sh              builds tp-sim in $BUILD_DIR (default
#                                        build/; configured if absent) first
#   scripts/regen-golden.sh PATH/tp-sim  uses that binary, builds nothing
#
# Regenerate only when a change of the model or of a message is intended, read
# every line of the diff, and explain the change in the commit message; never
# regenerate to make a failing test pass (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $# -ge 1 ]; then
  tpsim=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
  build=${BUILD_DIR:-build}
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)" --target tp-sim >/dev/null
  tpsim=$root/$build/tp-sim
fi
[ -x "$tpsim" ] || { echo "regen-golden.sh: $tpsim is not an executable" >&2; exit 2; }

if [ -n "$(git status --porcelain -- tests/golden)" ]; then
  echo "note: tests/golden/ already had uncommitted changes; the diff below includes them" >&2
fi

export TPSIM_DATA_DIR=$root
n=0
for cmd in tests/golden/*.cmd; do
  bash tests/golden/run_golden.sh "$tpsim" "$root/$cmd" --update
  n=$((n + 1))
done
echo "regenerated $n golden cases with $tpsim"
echo

if git diff --quiet -- tests/golden && [ -z "$(git ls-files --others --exclude-standard -- tests/golden)" ]; then
  echo "no golden file changed"
  exit 0
fi
git --no-pager diff --stat -- tests/golden
untracked=$(git ls-files --others --exclude-standard -- tests/golden)
echo
git --no-pager diff -- tests/golden
if [ -n "$untracked" ]; then
  echo
  echo "new (untracked) golden files, in full:"
  for f in $untracked; do
    git --no-pager diff --no-index -- /dev/null "$f" || true
  done
fi
echo
echo "Read the whole diff above. Commit it only if every change is intended, and say why in the"
echo "commit message; otherwise restore the tracked files with: git checkout -- tests/golden"
