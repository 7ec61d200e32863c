#!/usr/bin/env bash
# Runs one golden CLI case: NAME.cmd holds the arguments to tp-sim (one line,
# shell-quoted); NAME.code the expected exit code; NAME.stderr and, when
# present, NAME.stdout the exact expected text. Runs from the source root so
# that paths in messages are stable.
#
# NAME.mask, when present, is a `sed -E` script applied to both the actual
# stdout and stderr before they are compared (and before they are written by
# --update): it replaces text that varies from run to run, such as the wall
# time of a search, by a fixed placeholder. Cases without NAME.mask are
# compared byte for byte, unfiltered.
#
#   run_golden.sh TPSIM NAME.cmd            compare; exit 1 on any difference
#   run_golden.sh TPSIM NAME.cmd --update   rewrite NAME.code, NAME.stderr and
#       NAME.stdout from this run (NAME.stdout only when it exists already or
#       the case is new, i.e. has no NAME.code yet); used by
#       scripts/regen-golden.sh, which then shows the diff.
set -u
tpsim=$1
cmd=$2
mode=${3:-check}
dir=$(dirname "$cmd")
name=$(basename "$cmd" .cmd)
cd "$dir/../.." || exit 2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
eval "\"$tpsim\" $(cat "$cmd")" >"$out" 2>"$err"
code=$?
if [ -f "$dir/$name.mask" ]; then
  for f in "$out" "$err"; do
    sed -E -f "$dir/$name.mask" "$f" >"$f.masked" && mv "$f.masked" "$f" || exit 2
  done
fi
if [ "$mode" = "--update" ]; then
  new=0
  [ -f "$dir/$name.code" ] || new=1
  echo "$code" >"$dir/$name.code"
  cp "$err" "$dir/$name.stderr"
  if [ -f "$dir/$name.stdout" ] || [ "$new" = 1 ]; then
    cp "$out" "$dir/$name.stdout"
  fi
  exit 0
fi
status=0
want_code=$(cat "$dir/$name.code")
if [ "$code" != "$want_code" ]; then
  echo "exit code: got $code, expected $want_code"
  status=1
fi
if ! diff -u "$dir/$name.stderr" "$err"; then
  echo "stderr differs (expected first)"
  status=1
fi
if [ -f "$dir/$name.stdout" ] && ! diff -u "$dir/$name.stdout" "$out"; then
  echo "stdout differs (expected first)"
  status=1
fi
exit $status
