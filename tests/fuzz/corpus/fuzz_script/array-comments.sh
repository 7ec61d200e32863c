TP=2
ARGS=( --tensor-model-parallel-size $TP # --pipeline-model-parallel-size 8
  --micro-batch-size 1   # don't (an apostrophe) and a ) paren
  # --seq-length 4096 )
  --data-path a#b
)
ARGS+=( --recompute-granularity ${RG:-full} )
declare -a MORE=(--use-distributed-optimizer)
torchrun pretrain_gpt.py "${ARGS[@]}" ${MORE[*]} # --fp16
