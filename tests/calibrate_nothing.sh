#!/bin/sh
# `tp-sim calibrate` when a micro-benchmark yields nothing to fit: exit 1
# (a failed run), a message naming the benchmark, and no profile written.
# tp-kernel is replaced by a fake launcher ($TPSIM_KERNEL_RUN) that writes a
# GEMM result whose every time is 0 and, for the calibration layer run, a
# recorded layer JSON (tests/inputs/kernel/run_tp1.json): no MPI needed.
#
#   calibrate_nothing.sh TP_SIM FIXTURE_DIR
set -u
tpsim=${1:?usage: calibrate_nothing.sh TP_SIM FIXTURE_DIR}
fixtures=${2:?usage: calibrate_nothing.sh TP_SIM FIXTURE_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/tpsim-cal-nothing.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
cat >"$work/fake-kernel-run" <<FAKE
#!/bin/sh
# fake tp-kernel-run -n N -- ARGS: writes the JSON that --json names
json= bench=
while [ \$# -gt 0 ]; do
  case \$1 in
    --json) json=\$2; shift ;;
    --bench) bench=\$2; shift ;;
  esac
  shift
done
case \$bench in
  gemm) echo '{"tool": "tp-kernel", "bench": "gemm", "ranks": 1, "overhead_s": {"median": 1e-6, "min": 1e-6},
 "rows": [{"m": 64, "n": 64, "k": 64, "flops": 524288, "fwd_s": {"median": 0, "min": 0},
 "dgrad_s": {"median": 0, "min": 0}, "wgrad_s": {"median": 0, "min": 0}}]}' >"\$json" ;;
  "") cp "$fixtures/run_tp1.json" "\$json" ;;
  *) exit 1 ;;
esac
FAKE
chmod +x "$work/fake-kernel-run"
TMPDIR="$work" TPSIM_KERNEL_RUN="$work/fake-kernel-run" "$tpsim" calibrate --quick -o "$work/local" \
  >"$work/stdout" 2>"$work/stderr"
rc=$?
fail() {
  echo "calibrate_nothing: $1" >&2
  cat "$work/stderr" >&2
  exit 1
}
[ "$rc" -eq 1 ] || fail "exit status $rc, expected 1"
grep -q 'calibration for TP 1: the GEMM benchmark (tp-kernel --bench gemm) yielded no time' \
  "$work/stderr" || fail "the message does not name the GEMM benchmark"
if ls "$work"/local* >/dev/null 2>&1; then fail "a profile was written: $(ls "$work"/local*)"; fi
echo "calibrate_nothing: exit 1, $(cat "$work/stderr")"
exit 0
