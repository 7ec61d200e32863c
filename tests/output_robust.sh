#!/bin/bash
# Output files under hostile conditions (issue "Hostile input, broken MPI and
# concurrent outputs", item 3): every case here failed before the fix.
#   - -o to a character device (a private copy of /dev/full, /dev/null made
#     with mknod when allowed): written in place, never replaced by a
#     regular file; a full device fails with exit 1 and the error;
#   - -o to a symlink to /proc/self/fd/1 (what /dev/stdout is), stdout a
#     pipe: the output goes down the pipe, the link stays;
#   - -o to a FIFO: written in place;
#   - -o over a 0640 file: stays 0640; over a symlink to a file: the link
#     stays, its target is replaced;
#   - -o with a 250-byte file name: no NAME_MAX error from the temporary;
#   - -o to a directory: exit 1;
#   - over the file size limit (ulimit -f, SIGXFSZ): exit 1, no temporary
#     left (-o FILE and report -o DIR);
#   - 10 concurrent `report -o DIR` into one DIR: all exit 0 and DIR holds
#     the four files of one run.
# No /dev node is touched: the devices are private copies in a temp folder.
#
#   output_robust.sh TP_SIM
set -u
tpsim=${1:?usage: output_robust.sh TP_SIM}
work=$(mktemp -d "${TMPDIR:-/tmp}/tpsim-out.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
seen=0
ok() { # "ok: WHAT" when no check failed since the last ok
  [ "$fails" -eq "$seen" ] && echo "ok: $*"
  seen=$fails
}
est() { "$tpsim" estimate --model llama3-8b --tp 1 "$@"; }
# entries of a directory besides the expected ones (temporaries left behind)
leftovers() { ls -A "$1" | grep -c '\.tmp\.'; }

# -- character devices (root in CI: mknod works; elsewhere skipped)
if mknod "$work/full" c 1 7 2>/dev/null && mknod "$work/null" c 1 3 2>/dev/null; then
  est -o "$work/full" >"$work/o" 2>"$work/e"
  rc=$?
  [ "$rc" -eq 1 ] || fail "-o full device: exit $rc, expected 1"
  grep -q "No space left on device" "$work/e" || fail "-o full device: no ENOSPC message: $(cat "$work/e")"
  [ -c "$work/full" ] || fail "-o full device: the device node was replaced"
  est -o "$work/null" >"$work/o" 2>"$work/e"
  rc=$?
  [ "$rc" -eq 0 ] || fail "-o null device: exit $rc: $(cat "$work/e")"
  [ -c "$work/null" ] || fail "-o null device: the device node was replaced"
  ok "character devices written in place"
else
  echo "skip: mknod not permitted (not root): device cases"
fi
[ "$(leftovers "$work")" -eq 0 ] || fail "temporaries left: $(ls -A "$work")"

# -- a link to /proc/self/fd/1, stdout a pipe
ln -s /proc/self/fd/1 "$work/stdout-link"
est -o "$work/stdout-link" 2>"$work/e" | cat >"$work/piped"
[ -L "$work/stdout-link" ] || fail "-o link to /proc/self/fd/1: the link was replaced"
grep -q "llama3-8b" "$work/piped" || fail "-o link to /proc/self/fd/1: nothing printed: $(cat "$work/e")"
ok "-o /proc/self/fd/1 link: printed, link kept"

# -- a FIFO
mkfifo "$work/fifo"
cat "$work/fifo" >"$work/from-fifo" &
reader=$!
est -o "$work/fifo" 2>"$work/e"
rc=$?
# the reader ends when the writer closes; if the FIFO was replaced it waits
# forever on the old one: give it 5 s, then end it
i=0
while kill -0 "$reader" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
[ "$rc" -eq 0 ] || fail "-o FIFO: exit $rc: $(cat "$work/e")"
[ -p "$work/fifo" ] || fail "-o FIFO: the FIFO was replaced"
grep -q "llama3-8b" "$work/from-fifo" || fail "-o FIFO: nothing came through"
ok "-o FIFO"

# -- modes and links
echo old >"$work/private"
chmod 640 "$work/private"
est -o "$work/private" 2>"$work/e" || fail "-o 0640 file: $(cat "$work/e")"
mode=$(stat -c %a "$work/private")
[ "$mode" = 640 ] || fail "-o 0640 file: mode is now $mode"
echo old >"$work/target"
ln -s target "$work/link"
est -o "$work/link" 2>"$work/e" || fail "-o symlink: $(cat "$work/e")"
[ -L "$work/link" ] || fail "-o symlink: the link was replaced by a file"
grep -q llama3-8b "$work/target" || fail "-o symlink: the target was not written"
ok "-o keeps a file's mode and a symlink"

# -- a long name (250 bytes: the old NAME.tmp.XXXXXX exceeded NAME_MAX)
long=$(printf 'n%.0s' $(seq 250))
est -o "$work/$long" 2>"$work/e" || fail "-o 250-byte name: $(cat "$work/e")"
[ -s "$work/$long" ] || fail "-o 250-byte name: not written"
ok "-o 250-byte name"

# -- a directory
mkdir "$work/dir"
est -o "$work/dir" 2>"$work/e"
rc=$?
[ "$rc" -eq 1 ] || fail "-o directory: exit $rc, expected 1"
ok "-o directory refused"
[ "$(leftovers "$work")" -eq 0 ] || fail "temporaries left: $(ls -A "$work")"

# -- the file size limit: EFBIG, not death by SIGXFSZ
(ulimit -f 1 && exec "$tpsim" layers --model llama3-8b --tp 1 --format json -o "$work/big.json") 2>"$work/e"
rc=$?
[ "$rc" -eq 1 ] || fail "-o over ulimit -f: exit $rc, expected 1 (153: killed by SIGXFSZ)"
grep -q "File too large" "$work/e" || fail "-o over ulimit -f: no EFBIG message: $(cat "$work/e")"
[ "$(leftovers "$work")" -eq 0 ] || fail "-o over ulimit -f: temporary left: $(ls -A "$work" | grep tmp)"
(ulimit -f 1 && exec "$tpsim" report --model qwen25vl-7b --hw 910b2 --tp 1 -o "$work/rep-big") 2>"$work/e"
rc=$?
[ "$rc" -eq 1 ] || fail "report over ulimit -f: exit $rc, expected 1"
[ "$(ls -A "$work/rep-big" | wc -l)" -eq 0 ] || fail "report over ulimit -f: left $(ls -A "$work/rep-big")"
ok "ulimit -f: exit 1, no temporary"

# -- 10 concurrent reports into one directory, 3 rounds
days_in() { # the days each of the four files was rendered with, one line
  local d=$1
  printf '%s %s %s %s\n' \
    "$(grep -o 'within [0-9]* days' "$d/report.md" | head -1 | awk '{print $2}')" \
    "$(grep -o 'within [0-9]* days' "$d/report.html" | head -1 | awk '{print $2}')" \
    "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "days") c = i } NR == 2 { print $c }' "$d/report.csv")" \
    "$(grep -m1 -o '"days": [0-9]*' "$d/report.json" | awk '{print $2}')"
}
for round in 1 2 3; do
  pids=""
  for i in 0 1 2 3 4 5 6 7 8 9; do
    "$tpsim" report --model qwen25vl-7b --hw 910b2 --tp 1 --tokens 1T --days $((11 + i)) \
      -o "$work/rep" 2>"$work/rep-$i.err" &
    pids="$pids $!"
  done
  for p in $pids; do wait "$p" || fail "concurrent report (pid $p) failed: $(cat "$work"/rep-*.err)"; done
  set -- $(days_in "$work/rep")
  if [ $# -ne 4 ] || [ "$1" != "$2" ] || [ "$1" != "$3" ] || [ "$1" != "$4" ]; then
    fail "round $round: DIR mixes runs: days in md/html/csv/json = $*"
  fi
  [ "$(ls -A "$work/rep" | wc -l)" -eq 4 ] || fail "round $round: DIR holds $(ls -A "$work/rep")"
done
ok "concurrent reports: one run's four files"

if [ "$fails" -ne 0 ]; then
  echo "output_robust: $fails failure(s)"
  exit 1
fi
echo PASS
