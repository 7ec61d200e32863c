#!/usr/bin/env bash
# Refits the bundled software-stack profiles with `tp-sim fit` on the public
# measurements in validation/ and rewrites hw_profiles/stacks/*.yaml, then
# shows the diff. Which runs each stack is fitted on, and why, is in
# docs/validation.md ("Fitted constants"). Never fit on a case a constant is
# then used to predict out of sample: the seed (MindSpeed-MM's
# tensor-parallel page) is in no file here, and vTrain's runs are kept out.
#   bash scripts/fit-stacks.sh [PATH/tp-sim]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/tp-sim}
[ -x "$bin" ] || { echo "fit-stacks: no tp-sim at $bin (build first, or give its path)" >&2; exit 2; }
export TPSIM_DATA_DIR=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Each fit starts from the profile's current values and rewrites it in place
# (the file is read before, and replaced atomically after, the fit).

# Megatron-LM on CUDA: Megatron-LM's own published runs (NVIDIA README
# tables, Narayanan et al. 2021, Korthikanti et al. 2022, Megatron-Core).
# Megatron-DeepSpeed runs (BLOOM, MT-NLG) are a different stack: checked,
# not fitted (validation/public-runs-a100.yaml).
# The caching allocator (reserved / allocated) from Megatron runs that print
# both (validation/allocator-memory.yaml).
"$bin" fit --stack hw_profiles/stacks/megatron-cuda.yaml \
  --param host_dispatch,per_micro_batch,allocator_overhead \
  --cases validation/published-dev.yaml --cases validation/korthikanti22-a100.yaml \
  --cases validation/narayanan21-a100.yaml --cases validation/megatron-core-h100.yaml \
  --cases validation/allocator-memory.yaml \
  --write hw_profiles/stacks/megatron-cuda.yaml -o "$tmp/megatron-cuda.txt"

# MindSpeed on torch_npu: MindSpeed-LLM's tables, MindSpeed-MM's other
# published runs (README table, CI baselines), MindSpeed's system test. No
# public Megatron-style NPU run prints reserved memory, so allocator_overhead
# is TRANSFERRED from the megatron-cuda fit above: torch_npu's caching
# allocator is PyTorch's CUDA caching allocator ported (same block sizes and
# best-fit splitting; docs/data-sources.md), not fitted on NPU runs.
alloc=$(sed -n 's/^allocator_overhead: *//p' hw_profiles/stacks/megatron-cuda.yaml)
[ -n "$alloc" ] || { echo "fit-stacks: no allocator_overhead in megatron-cuda.yaml" >&2; exit 1; }
sed -i "s/^allocator_overhead: .*/allocator_overhead: $alloc/" hw_profiles/stacks/mindspeed-npu.yaml
"$bin" fit --stack hw_profiles/stacks/mindspeed-npu.yaml --param host_dispatch,per_micro_batch \
  --cases validation/mindspeed-llm-910b.yaml --cases validation/mindspeed-mm-910b.yaml \
  --cases validation/public-runs-910b.yaml \
  --write hw_profiles/stacks/mindspeed-npu.yaml -o "$tmp/mindspeed-npu.txt"

for s in megatron-cuda mindspeed-npu; do
  echo "== $s"
  sed -n '1,8p' "$tmp/$s.txt"
  sed -n '/^CV err/,$p' "$tmp/$s.txt"
done
git --no-pager diff --stat -- hw_profiles/stacks
git --no-pager diff -- hw_profiles/stacks
