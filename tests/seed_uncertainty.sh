#!/usr/bin/env bash
# Issue 17, "done when": the recommendation for the seed case (Qwen2.5-VL-7B
# on 910b2, MindSpeed-MM's TP page) states whether TP 1 beats TP 2 beyond the
# uncertainty, with the one verdict of tps_uncertainty_verdict (both the
# intervals and the paired samples; docs/uncertainty.md, "Decisions").
# `tp-sim --model qwen25vl-7b --tp 1,2` (the measured runs: PP 2, micro-batch
# 1) must say that TP 1 beats TP 2 at 90% (the measured 1380 vs 761 tokens/s
# per card, facts.md, agree); `tp-sim recommend --model qwen25vl-7b` compares
# the best configuration of each TP (TP 1: PP 2, mb 4; TP 2: PP 1, mb 6),
# where TP 1 is better in under 90% of the paired samples: indistinguishable.
#   bash tests/seed_uncertainty.sh PATH/tp-sim SOURCE_DIR
set -uo pipefail
bin=$1
export TPSIM_DATA_DIR=$2
fail=0
check() {
  local what=$1 want=$2 out
  shift 2
  out=$("$bin" "$@") || { echo "seed_uncertainty: '$what' failed" >&2; fail=1; return; }
  if grep -Eq "^Uncertainty[^:]*:.*$want" <<<"$out"; then
    echo "seed_uncertainty: $what: $(grep -Eo "$want" <<<"$out")"
  else
    echo "seed_uncertainty: '$what' does not state '$want':" >&2
    grep '^Uncertainty' <<<"$out" >&2
    fail=1
  fi
}
check "tp-sim --model qwen25vl-7b --tp 1,2" \
  "TP 1 beats TP 2 at 90% \\(outside each other's intervals; TP 1 better in 100% of 200 paired samples\\)" \
  --model qwen25vl-7b --tp 1,2
check "tp-sim recommend --model qwen25vl-7b" \
  "TP 1 and TP 2 are indistinguishable at 90% \\(TP 1 better in only 87.5% of 200 paired samples, under 90%" \
  recommend --model qwen25vl-7b
exit $fail
