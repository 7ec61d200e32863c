#!/bin/sh
# A rank of tp-kernel killed mid-run (SIGKILL, no chance to clean up) must
# make the whole job end non-zero, with a message, within LIMIT seconds
# (default 10): nothing hangs waiting for the dead rank. Usage:
#   kill_rank.sh RUN NP [tp-kernel options]
# RUN is the launcher tp-kernel-run, NP >= 2 the number of ranks. The options
# must make the run last well beyond the kill (e.g. --steps 100000). Kills
# the tp-kernel process of the highest pid among the job's ranks (not rank 0
# in general) 2 s after the ranks appear.
set -u
run=$1 np=$2
shift 2
limit=${KILL_RANK_LIMIT:-10}
out=$(mktemp) err=$(mktemp)
launcher=""
cleanup() {
  [ -n "$launcher" ] && kill -9 "$launcher" 2>/dev/null
  rm -f "$out" "$err"
}
trap cleanup EXIT

# Descendants of a pid, one per line (ps --ppid, walked breadth first).
descendants() {
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}
ranks() {
  for p in $(descendants "$launcher"); do
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = "tp-kernel" ] && echo "$p"
  done
}

"$run" -n "$np" "$@" >"$out" 2>"$err" &
launcher=$!

# Wait (at most 30 s) for all NP ranks to be running.
i=0
while [ "$(ranks | wc -l)" -lt "$np" ]; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$launcher" 2>/dev/null; then
    echo "FAIL: the $np ranks never all started"; cat "$err"; exit 1
  fi
  sleep 0.1
done
sleep 2
if ! kill -0 "$launcher" 2>/dev/null; then
  echo "FAIL: the job ended before the kill; give it more --steps"; exit 1
fi
all=$(ranks)
victim=$(echo "$all" | sort -n | tail -1)
start=$(date +%s)
kill -9 "$victim"
echo "killed rank process $victim"

# Wait for the launcher to end, at most limit + 5 s; then judge.
rc=""
i=0
while kill -0 "$launcher" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt $(((limit + 5) * 10)) ]; then
    echo "FAIL: the job still runs $((limit + 5)) s after a rank was killed"
    echo "--- stderr"; cat "$err"
    exit 1
  fi
  sleep 0.1
done
wait "$launcher"
rc=$?
launcher=""
took=$(($(date +%s) - start))
echo "--- stderr"; cat "$err"
[ "$rc" -ne 0 ] || { echo "FAIL: exit status 0 although a rank was killed"; exit 1; }
[ -s "$err" ] || { echo "FAIL: no message on stderr"; exit 1; }
[ "$took" -le "$limit" ] || { echo "FAIL: took $took s to end (limit $limit)"; exit 1; }
# no rank may be left behind (zombies waiting to be reaped do not count)
sleep 0.5
for p in $all; do
  st=$(ps -o stat= -p "$p" 2>/dev/null)
  case "$st" in ''|Z*) ;; *) echo "FAIL: rank process $p still runs"; kill -9 "$p"; exit 1 ;; esac
done
echo "ended with status $rc ${took} s after the kill"
echo PASS
