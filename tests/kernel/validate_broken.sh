#!/bin/bash
# `tp-sim validate --kernel` and `tp-sim calibrate` when tp-kernel runs go
# wrong (issue "Hostile input, broken MPI and concurrent outputs", items 1
# and 2). tp-kernel is replaced by fakes: a fake launcher ($TPSIM_KERNEL_RUN,
# no MPI) and, when the real launcher is given, a fake tp-kernel ($TP_KERNEL)
# under the real mpiexec. Every case here passed as "exit 0" (or hung, or
# left processes and temporary folders) before the fix.
#
#   validate_broken.sh TP_SIM FIXTURE_DIR [TP_KERNEL_RUN]
#
# Checked for every case: the exit status (1 for any failed run, with a
# message naming the case; never "(0 cases): MAPE 0.0%", even with
# --max-error), and afterwards no process of the fakes alive and no
# tpsim-kv.XXXXXX folder in $TMPDIR. Also: a hung run is stopped by
# --timeout; SIGTERM / SIGINT / SIGHUP to tp-sim stop the run, remove the
# folder and end tp-sim by that signal; calibrate writes no profile unless
# every run succeeded.
set -u
tpsim=${1:?usage: validate_broken.sh TP_SIM FIXTURE_DIR [TP_KERNEL_RUN]}
fixtures=${2:?usage: validate_broken.sh TP_SIM FIXTURE_DIR [TP_KERNEL_RUN]}
kernel_run=${3:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/tpsim-kv-broken.XXXXXX") || exit 1
mkdir "$work/tmp" "$work/prof"
# processes of this test's fakes (their command lines name $work)
ours() { ps -eo pid=,args= | grep -F "$work/" | grep -v -e grep -e "ps -eo" | awk '{print $1}'; }
cleanup() {
  for p in $(ours); do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cp /bin/sleep "$work/fake-rank" # a "rank" that runs until killed

# The fake launcher: tp-kernel-run -n N -- ARGS. FAKE_MODE says how it breaks.
cat >"$work/fake-run" <<FAKE
#!/bin/sh
np=1; [ "\$1" = -n ] && np=\$2
json= bench=
while [ \$# -gt 0 ]; do
  case \$1 in --json) json=\$2; shift ;; --bench) bench=\$2; shift ;; esac
  shift
done
I=$fixtures
[ -n "\${FAIL_NP:-}" ] && [ "\$np" != "\$FAIL_NP" ] && FAKE_MODE=ok
case \${FAKE_MODE:-ok} in
  exit1) echo "rank 1: MPI_Allreduce: fake failure" >&2; exit 1 ;;
  segv) kill -SEGV \$\$ ;;
  nompi) exec $work/no-such-dir/mpiexec -n "\$np" ;;
  garbage) printf 'xx}{\n' >"\$json" ;;
  trunc) head -c 2000 "\$I/run_tp1.json" >"\$json" ;;
  nan) sed 's/"step_time_s": {"median": [0-9.e-]*/"step_time_s": {"median": NaN/' "\$I/run_tp1.json" >"\$json" ;;
  null) sed 's/"fwd_s": {"median": [0-9.e-]*/"fwd_s": {"median": null/' "\$I/run_tp1.json" >"\$json" ;;
  negative) sed 's/"bwd_s": {"median": /"bwd_s": {"median": -/' "\$I/run_tp1.json" >"\$json" ;;
  nojson) ;;
  hang) set -m; $work/fake-rank 300 & $work/fake-rank 301 & wait ;;
  ok)
    case \$bench in
      gemm) cp "\$I/gemm_tp2.json" "\$json" ;;
      collectives) cp "\$I/coll_tp2.json" "\$json" ;;
      *) if [ -n "\${FAIL_NP:-}" ]; then cp "\$I/layer_tp2.json" "\$json"; else cp "\$I/run_tp1.json" "\$json"; fi ;;
    esac ;;
esac
FAKE
chmod +x "$work/fake-run"

# after each case: nothing of the run may be left
check_clean() {
  local what=$1 left
  sleep 0.3
  left=$(ours)
  if [ -n "$left" ]; then
    fail "$what: processes left: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" 2>/dev/null)"
    for p in $left; do kill -9 "$p" 2>/dev/null; done
  fi
  if ls -d "$work/tmp"/tpsim-kv.* >/dev/null 2>&1; then
    fail "$what: temporary folder left: $(ls -d "$work/tmp"/tpsim-kv.*)"
    rm -rf "$work/tmp"/tpsim-kv.*
  fi
}

# expect RC PATTERN WHAT -- tp-sim ARGS...: exit status and stderr
expect() {
  local want=$1 pattern=$2 what=$3
  shift 4
  TMPDIR="$work/tmp" TPSIM_KERNEL_RUN=${RUN:-$work/fake-run} timeout 60 "$tpsim" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$what: exit status $rc, expected $want; stderr: $(head -c 600 "$work/err"); stdout: $(tail -n 2 "$work/out")"
  elif [ -n "$pattern" ] && ! grep -q -e "$pattern" "$work/err"; then
    fail "$what: stderr does not match '$pattern': $(head -c 600 "$work/err")"
  else
    echo "ok: $what: exit $rc: $(head -n 1 "$work/err" | cut -c1-160)"
  fi
  check_clean "$what"
}

V="validate --kernel --quick --hw h100-sxm"
# a good run first: the fakes work
FAKE_MODE=ok expect 3 "exceed --max-error" "fake runs that work (--max-error 5: exit 3)" -- $V --max-error 5
for mode in exit1 segv nompi garbage trunc nan null negative nojson; do
  FAKE_MODE=$mode expect 1 "validate --kernel: case tp1-" "validate --kernel, tp-kernel $mode" -- $V --max-error 5
done
FAKE_MODE=exit1 expect 1 "last words: rank 1: MPI_Allreduce: fake failure" "a failed run quotes its stderr" -- $V

# every case skipped (broken profiles): no MAPE over 0 cases
printf 'not: [a profile\n' >"$work/prof/bad-tp1.yaml"
cp "$work/prof/bad-tp1.yaml" "$work/prof/bad-tp2-sp.yaml"
FAKE_MODE=ok expect 1 "no case was compared" "0 compared cases" -- validate --kernel --quick \
  --hw-prefix "$work/prof/bad" --max-error 5

# a run that never ends: --timeout stops it and every process it started
start=$(date +%s)
FAKE_MODE=hang expect 1 "did not finish within 2 s" "a hung run, --timeout 2" -- $V --timeout 2
took=$(($(date +%s) - start))
[ "$took" -le 15 ] || fail "--timeout 2 took $took s"

# SIGTERM, SIGINT and SIGHUP to tp-sim while a run hangs: the run is
# stopped, the folder removed, tp-sim ends by the signal (128 + N)
set -m # background jobs keep SIGINT (a shell without job control ignores it in them)
for sig in TERM INT HUP; do
  FAKE_MODE=hang TMPDIR="$work/tmp" TPSIM_KERNEL_RUN="$work/fake-run" "$tpsim" $V >/dev/null 2>"$work/err" &
  pid=$!
  i=0
  while [ "$(ours | wc -l)" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ $i -lt 100 ] || fail "SIG$sig: the fake run never started"
  kill -s "$sig" "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    fail "SIG$sig: tp-sim still runs 10 s after the signal"
    kill -9 "$pid"
  fi
  wait "$pid"
  rc=$?
  want=$((128 + $(kill -l "$sig")))
  [ "$rc" -eq "$want" ] || fail "SIG$sig: exit status $rc, expected $want; $(cat "$work/err")"
  grep -q "interrupted by SIG$sig" "$work/err" || fail "SIG$sig: no message: $(cat "$work/err")"
  echo "ok: SIG$sig while tp-kernel hangs: exit $rc"
  check_clean "SIG$sig"
done
set +m

# calibrate: a run failing at TP 2 writes no profile at all (TP 1 was fitted)
rm -f "$work/prof"/*
FAIL_NP=2 FAKE_MODE=exit1 expect 1 "calibrate, TP 2: tp-kernel failed" "calibrate, TP 2 fails" -- \
  calibrate --quick -o "$work/prof/local"
if ls "$work/prof"/local* >/dev/null 2>&1; then fail "calibrate wrote $(ls "$work/prof")"; fi
FAIL_NP=2 FAKE_MODE=hang expect 1 "did not finish within 1 s" "calibrate, TP 2 hangs, --timeout 1" -- \
  calibrate --quick --timeout 1 -o "$work/prof/local"
if ls "$work/prof"/local* >/dev/null 2>&1; then fail "calibrate wrote $(ls "$work/prof")"; fi
FAIL_NP=0 FAKE_MODE=ok expect 0 "" "calibrate, every run fine" -- calibrate --quick -o "$work/prof/local"
n=$(ls "$work/prof"/local-*.yaml 2>/dev/null | wc -l)
[ "$n" -eq 5 ] || fail "calibrate wrote $n profiles, expected 5"
rm -f "$work/prof"/*

# the real launcher, the real mpiexec, a fake tp-kernel whose rank 1 dies
if [ -n "$kernel_run" ] && [ -x "$kernel_run" ] && command -v mpiexec >/dev/null 2>&1; then
  cat >"$work/fake-kernel" <<FAKE
#!/bin/sh
json=
while [ \$# -gt 0 ]; do case \$1 in --json) json=\$2; shift ;; esac; shift; done
rank=\${OMPI_COMM_WORLD_RANK:-\${PMI_RANK:-0}}
if [ "\${OMPI_COMM_WORLD_SIZE:-\${PMI_SIZE:-1}}" -gt 1 ]; then
  case \$FAKE_MODE in
    kill9) [ "\$rank" = 1 ] && kill -9 \$\$; exec $work/fake-rank 300 ;;
    stop) [ "\$rank" = 1 ] && kill -STOP \$\$; exec $work/fake-rank 300 ;;
  esac
fi
[ "\$rank" = 0 ] && cp "$fixtures/run_tp1.json" "\$json"
exit 0
FAKE
  chmod +x "$work/fake-kernel"
  export TP_KERNEL="$work/fake-kernel"
  RUN=$kernel_run FAKE_MODE=ok expect 0 "" "mpiexec, fake tp-kernel that works" -- $V
  RUN=$kernel_run FAKE_MODE=kill9 expect 1 "case tp2-.*tp-kernel failed" "mpiexec, rank 1 killed by SIGKILL" -- $V --max-error 5
  RUN=$kernel_run FAKE_MODE=stop expect 1 "did not finish within 3 s" "mpiexec, rank 1 stopped, --timeout 3" -- $V --timeout 3
  RUN=$kernel_run TPSIM_MPIEXEC="$work/no-such-dir/mpiexec" FAKE_MODE=ok expect 1 "case tp1-.*exit status 127" \
    "tp-kernel-run, mpiexec missing" -- $V --max-error 5
  unset TP_KERNEL
else
  echo "skip: no tp-kernel-run or mpiexec: the cases under the real mpiexec"
fi

if [ "$fails" -ne 0 ]; then
  echo "validate_broken: $fails failure(s)"
  exit 1
fi
echo PASS
