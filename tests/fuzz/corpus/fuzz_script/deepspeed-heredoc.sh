#!/bin/bash
# Megatron-DeepSpeed style: the DeepSpeed config written by a here-document
set -euo pipefail
DIR=`pwd`
TP=4; PP=2
ZERO_STAGE=1
GLOBAL_BATCH=${GLOBAL_BATCH:-512}
MICRO_BATCH=2
config_json="./ds_config.json"

cat <<EOT > $config_json
{
  "train_micro_batch_size_per_gpu": $MICRO_BATCH,
  "train_batch_size": $GLOBAL_BATCH,
  "zero_optimization": { "stage": $ZERO_STAGE },
  "bf16": { "enabled": true },
  "comment": "it's --tensor-model-parallel-size 64 in a here-doc"
}
EOT

cat <<-'NOTE'
	--pipeline-model-parallel-size 99 (not a flag)
	NOTE

ds_args=""
ds_args=" --deepspeed ${ds_args}"
ds_args=" --deepspeed_config=$config_json ${ds_args}"
ds_args=" --zero-stage=$ZERO_STAGE ${ds_args}"

if [ "${ACTIVATION_CHECKPOINT:-true}" = "true" ]; then
  ds_args="--deepspeed-activation-checkpointing ${ds_args}"
fi

deepspeed pretrain_gpt.py \
    --tensor-model-parallel-size $TP \
    --pipeline-model-parallel-size $PP \
    --num-layers 24 --hidden-size 2048 --num-attention-heads 16 \
    --seq-length 2048 --max-position-embeddings 2048 \
    --micro-batch-size $MICRO_BATCH \
    --global-batch-size $GLOBAL_BATCH \
    --train-iters $(( 300 * 1000 * 1000 / GLOBAL_BATCH / 2048 )) \
    --bf16 \
    $ds_args 2>&1 | tee ${DIR}/log.txt
