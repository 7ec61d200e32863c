#!/bin/sh
# Multi-rank tests of tp-kernel, run from ctest as plain programs (a Criterion
# binary cannot run under mpirun). Usage:
#   kernel_test.sh check    RUN NP [options]          --check passes, max_rel_err <= 1e-4
#   kernel_test.sh refuse   RUN NP PATTERN [options]  exit status 2, stderr matches PATTERN
#   kernel_test.sh json     RUN NP CHECKER FILE [options]  --json FILE is well formed (the
#                           op names of the dense block, or of the MoE one with --experts)
#   kernel_test.sh jsonops  RUN NP CHECKER FILE "OPS" [options]  the same, with the op names OPS
#                                                    (a CP run's lowering adds cp_* ops)
#   kernel_test.sh failfast RUN NP [options]          rank 1's MPI call fails: non-zero within 20 s
# RUN is the launcher tp-kernel-run, NP the number of ranks (TP x CP).
set -u
mode=$1 run=$2 np=$3
shift 3
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

show() { echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; }

case "$mode" in
  check)
    "$run" -n "$np" --check "$@" >"$out" 2>"$err"
    rc=$?
    show
    [ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
    for key in max_rel_err fd_max_rel_err; do
      line=$(grep "^$key = " "$out") || { echo "FAIL: no '$key = ' line"; exit 1; }
      v=$(echo "$line" | awk '{print $3}')
      lim=1e-4
      [ "$key" = fd_max_rel_err ] && lim=1e-3
      awk -v v="$v" -v lim="$lim" 'BEGIN { exit !(v + 0 <= lim + 0) }' ||
        { echo "FAIL: $key = $v > $lim"; exit 1; }
    done
    grep -q "^check: PASS" "$out" || { echo "FAIL: no 'check: PASS'"; exit 1; }
    ;;
  refuse)
    pattern=$1
    shift
    "$run" -n "$np" "$@" >"$out" 2>"$err"
    rc=$?
    show
    [ "$rc" -eq 2 ] || { echo "FAIL: exit status $rc, expected 2"; exit 1; }
    grep -q -e "$pattern" "$err" || { echo "FAIL: stderr does not match '$pattern'"; exit 1; }
    n=$(grep -c -e "$pattern" "$err")
    [ "$n" -eq 1 ] || { echo "FAIL: the message is printed $n times (rank 0 only)"; exit 1; }
    ;;
  json|jsonops)
    checker=$1 file=$2
    shift 2
    mlp="mlp_f mlp_up mlp_act mlp_down mlp_g"
    case " $* " in
      *" --experts "*) mlp="router moe_permute moe_dispatch moe_gather experts_up experts_act \
experts_down moe_scatter moe_combine moe_unpermute" ;;
    esac
    ops="attn_norm attn_f qkv attn_core attn_out attn_g attn_residual mlp_norm $mlp mlp_residual"
    if [ "$mode" = jsonops ]; then
      ops=$1
      shift
    fi
    rm -f "$file"
    "$run" -n "$np" --json "$file" --quiet "$@" >"$out" 2>"$err"
    rc=$?
    show
    [ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
    # shellcheck disable=SC2086 # the op names are words
    "$checker" "$file" "$np" $ops || exit 1
    ;;
  failfast)
    start=$(date +%s)
    "$run" -n "$np" "$@" >"$out" 2>"$err"
    rc=$?
    took=$(($(date +%s) - start))
    show
    [ "$rc" -ne 0 ] || { echo "FAIL: exit status 0 although a rank failed"; exit 1; }
    grep -q "rank 1: MPI_Send(.*) failed: " "$err" ||
      { echo "FAIL: the failing rank's MPI error message is missing"; exit 1; }
    [ "$took" -le 20 ] || { echo "FAIL: took $took s to end"; exit 1; }
    echo "ended with status $rc after ${took} s"
    ;;
  *)
    echo "kernel_test.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
echo PASS
