#!/usr/bin/env bash
# Runs one golden CLI case: NAME.cmd holds the arguments to tp-sim (one line,
# shell-quoted); NAME.code the expected exit code; NAME.stderr and, when
# present, NAME.stdout the exact expected text. Runs from the source root so
# that paths in messages are stable.
set -u
tpsim=$1
cmd=$2
dir=$(dirname "$cmd")
name=$(basename "$cmd" .cmd)
cd "$dir/../.." || exit 2
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
eval "\"$tpsim\" $(cat "$cmd")" >"$out" 2>"$err"
code=$?
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
