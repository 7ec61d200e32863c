#!/bin/bash
# A Megatron-LM launch in the usual style, written for tp-sim's tests:
# variables, arithmetic, an array, continuation lines and comments.
export CUDA_DEVICE_MAX_CONNECTIONS=1

GPUS_PER_NODE=8
NNODES=2
TP=2
PP=4
MBS=1
GBS=$((MBS * 8 * 64))   # 512 sequences per step
SEQ_LEN=4096

DISTRIBUTED_ARGS=(
    --nproc_per_node $GPUS_PER_NODE
    --nnodes $NNODES
    --master_addr localhost   # rendezvous
    --master_port 6000
)

MODEL_ARGS=(
    --num-layers 32
    --hidden-size 4096
    --ffn-hidden-size 11008
    --num-attention-heads 32
    --seq-length ${SEQ_LEN}
    --max-position-embeddings ${SEQ_LEN}
    --swiglu
    --normalization RMSNorm
    --position-embedding-type rope
    --untie-embeddings-and-output-weights
    --disable-bias-linear
    --attention-dropout 0.0
    --hidden-dropout 0.0
    --padded-vocab-size 32000
)

torchrun "${DISTRIBUTED_ARGS[@]}" pretrain_gpt.py \
    "${MODEL_ARGS[@]}" \
    --tensor-model-parallel-size ${TP} \
    --pipeline-model-parallel-size $PP \
    --sequence-parallel \
    --micro-batch-size $MBS --global-batch-size ${GBS} \
    --recompute-granularity full \
    --recompute-method uniform \
    --use-distributed-optimizer \
    --bf16 \
    --use-flash-attn \
    --lr 3e-4 --train-iters 1000 \
    --save "$CHECKPOINT_PATH" --load $CHECKPOINT_PATH \
    --data-path $DATA_PATH 2>&1 | tee log.txt
