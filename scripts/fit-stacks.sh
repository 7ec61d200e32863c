#!/usr/bin/env bash
# Refits the bundled software-stack profiles with `tp-sim fit` on the public
# measurements in validation/ and rewrites hw_profiles/stacks/*.yaml and the
# model-error terms of validation/model-error.yaml (from the same fits'
# leave-one-group-out errors), then shows the diff. Which runs each stack is fitted on, and why, is in
# docs/validation.md ("Fitted constants"). Never fit on a case a constant is
# then used to predict out of sample: the seed (MindSpeed-MM's
# tensor-parallel page) is in no file here, and vTrain's runs are kept out.
#   bash scripts/fit-stacks.sh [PATH/tp-sim]
# With FIT_STACKS_OUT=DIR the files are written under DIR (DIR/hw_profiles/
# stacks, DIR/validation) and the repository is left as it is: the ctest
# model_error_reproducible checks so that the committed model-error.yaml is
# what a refit gives.
set -euo pipefail
bin=${1:-build/tp-sim}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
out=${FIT_STACKS_OUT:-}
case $out in /* | "") ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")/.."
[ -x "$bin" ] || { echo "fit-stacks: no tp-sim at $bin (build first, or give its path)" >&2; exit 2; }
export TPSIM_DATA_DIR=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
st=hw_profiles/stacks me=validation/model-error.yaml
if [ -n "$out" ]; then
  mkdir -p "$out/hw_profiles/stacks" "$out/validation"
  cp hw_profiles/stacks/megatron-cuda.yaml hw_profiles/stacks/mindspeed-npu.yaml \
    hw_profiles/stacks/megatron-deepspeed.yaml "$out/hw_profiles/stacks/"
  st=$out/hw_profiles/stacks me=$out/validation/model-error.yaml
fi
# Each fit starts from the profile's current values and rewrites it in place
# (the file is read before, and replaced atomically after, the fit).

# Megatron-LM on CUDA: Megatron-LM's own published runs (NVIDIA README
# tables, Narayanan et al. 2021, Korthikanti et al. 2022, Megatron-Core).
# Megatron-DeepSpeed runs (BLOOM, MT-NLG) are a different stack, fitted on
# their own below (validation/public-runs-a100.yaml: `stack: megatron-deepspeed`).
# The caching allocator (reserved / allocated) from Megatron runs that print
# both (validation/allocator-memory.yaml).
"$bin" fit --stack "$st/megatron-cuda.yaml" \
  --param host_dispatch,per_micro_batch,allocator_overhead \
  --cases validation/published-dev.yaml --cases validation/korthikanti22-a100.yaml \
  --cases validation/narayanan21-a100.yaml --cases validation/megatron-core-h100.yaml \
  --cases validation/allocator-memory.yaml \
  --write "$st/megatron-cuda.yaml" -o "$tmp/megatron-cuda.txt" \
  --write-model-error "$tmp/megatron-cuda.me.yaml"

# MindSpeed on torch_npu: MindSpeed-LLM's tables, MindSpeed-MM's other
# published runs (README table, CI baselines), MindSpeed's system test. No
# public Megatron-style NPU run prints reserved memory, so allocator_overhead
# is TRANSFERRED from the megatron-cuda fit above: torch_npu's caching
# allocator is PyTorch's CUDA caching allocator ported (same block sizes and
# best-fit splitting; docs/data-sources.md), not fitted on NPU runs.
alloc=$(sed -n 's/^allocator_overhead: *//p' "$st/megatron-cuda.yaml")
[ -n "$alloc" ] || { echo "fit-stacks: no allocator_overhead in megatron-cuda.yaml" >&2; exit 1; }
sed -i "s/^allocator_overhead: .*/allocator_overhead: $alloc/" "$st/mindspeed-npu.yaml"
"$bin" fit --stack "$st/mindspeed-npu.yaml" --param host_dispatch,per_micro_batch \
  --cases validation/mindspeed-llm-910b.yaml --cases validation/mindspeed-mm-910b.yaml \
  --cases validation/public-runs-910b.yaml \
  --write "$st/mindspeed-npu.yaml" -o "$tmp/mindspeed-npu.txt" \
  --write-model-error "$tmp/mindspeed-npu.me.yaml"

# Megatron-DeepSpeed on CUDA: BigScience's and MT-NLG's runs on A100, whose
# cases name the stack (validation/public-runs-a100.yaml). Its layer code is
# Megatron-LM's, so every constant is TRANSFERRED from the megatron-cuda fit
# and none is fitted here (fitting these runs moves host_dispatch to 260 us,
# a lump for what the model lacks, not a dispatch cost): `--param none`
# gives the transferred constants' errors on its runs, which are the
# model-error term of the stack (docs/uncertainty.md).
for k in host_dispatch per_micro_batch per_step allocator_overhead; do
  v=$(sed -n "s/^$k: *//p" "$st/megatron-cuda.yaml")
  [ -n "$v" ] || { echo "fit-stacks: no $k in megatron-cuda.yaml" >&2; exit 1; }
  sed -i "s/^$k: .*/$k: $v/" "$st/megatron-deepspeed.yaml"
done
"$bin" fit --stack "$st/megatron-deepspeed.yaml" --param none \
  --cases validation/public-runs-a100.yaml -o "$tmp/megatron-deepspeed.txt" \
  --write-model-error "$tmp/megatron-deepspeed.me.yaml"

# The model-error term per hardware family (docs/uncertainty.md, "Model
# error"): each fit's entries, under one header naming the fit and its files.
date=$(sed -n '1s/.* on \([0-9-]*\) .*/\1/p' "$st/megatron-cuda.yaml")
{
  cat <<HEAD
# Model-error term per hardware family: what remains of tp-sim's error on published runs when its
# constants are fitted without the run being predicted (docs/uncertainty.md, "Model error").
# WRITTEN by scripts/fit-stacks.sh from \`tp-sim fit --write-model-error\`: do not edit by hand.
# Each figure is the root mean square of log(predicted / measured) over the leave-one-group-out
# ("CV") predictions of the fit (rows[].cv_error of \`tp-sim fit --format json\`). Memory rows are
# memory per card; time rows are every other metric (iteration time, TFLOPS, MFU, HFU, tokens/s,
# per-layer times). A profile with fewer than 5 rows of a class takes its stack's pool. Per entry:
# rows used, and the CV MAPE (mean |error|) for comparison with docs/validation.md.
source: "RMS of the leave-one-group-out log errors of tp-sim fit (fit of $date, scripts/fit-stacks.sh) on validation/published-dev.yaml, korthikanti22-a100.yaml, narayanan21-a100.yaml, megatron-core-h100.yaml, allocator-memory.yaml (megatron-cuda) and mindspeed-llm-910b.yaml, mindspeed-mm-910b.yaml, public-runs-910b.yaml (mindspeed-npu) and public-runs-a100.yaml (megatron-deepspeed); see docs/uncertainty.md"
families:
HEAD
  cat "$tmp/megatron-cuda.me.yaml" "$tmp/mindspeed-npu.me.yaml" "$tmp/megatron-deepspeed.me.yaml"
} > "$tmp/model-error.yaml"
mv "$tmp/model-error.yaml" "$me"
[ -z "$out" ] || exit 0

for s in megatron-cuda mindspeed-npu megatron-deepspeed; do
  echo "== $s"
  sed -n '1,8p' "$tmp/$s.txt"
  sed -n '/^CV err/,$p' "$tmp/$s.txt"
done
git --no-pager diff --stat -- hw_profiles/stacks validation/model-error.yaml
git --no-pager diff -- hw_profiles/stacks validation/model-error.yaml
