#!/bin/bash
# MindSpeed style: arguments gathered in multi-line strings, some values
# that only exist on the training machine. Written for tp-sim's tests.
source /usr/local/Ascend/ascend-toolkit/set_env.sh
NPUS_PER_NODE=8
MASTER_ADDR=localhost
NNODES=1
WORLD_SIZE=$(($NPUS_PER_NODE*$NNODES))
TP=${1:-2}
PP=1
CP=1
MBS=1
GRAD_ACC_STEP=48
DP=$(($WORLD_SIZE/$TP/$PP/$CP))
GBS=$(($MBS*$GRAD_ACC_STEP*$DP))
SEQ=$(nproc)

DISTRIBUTED_ARGS="
    --nproc_per_node $NPUS_PER_NODE \
    --nnodes $NNODES \
    --master_addr $MASTER_ADDR
"

GPT_ARGS="
    --tensor-model-parallel-size ${TP} \
    --pipeline-model-parallel-size ${PP} \
    --micro-batch-size ${MBS} \
    --global-batch-size ${GBS} \
    --seq-length ${SEQ} \
    --num-layers 28 \
    --hidden-size 3584 \
    --num-attention-heads 28 \
    --group-query-attention \
    --num-query-groups 4 \
    --recompute-granularity ${RECOMPUTE} \
    --use-distributed-optimizer \
    --bf16
"

torchrun $DISTRIBUTED_ARGS pretrain_qwen2vl.py \
    $GPT_ARGS \
    $MM_ARGS \
    --distributed-backend nccl
