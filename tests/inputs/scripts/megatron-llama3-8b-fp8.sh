#!/bin/bash
# Llama-3 8B pretraining in FP8 on one node of 8 H100s, written for tp-sim's
# tests after the settings of NVIDIA/Megatron-LM
# examples/llama/train_llama3_8b_h100_fp8.sh (commit 157006d6): TP 1, CP 1,
# no pipeline, micro-batch 1, global batch 128, seq 8192, FP8 hybrid with
# delayed scaling (amax history 1024) and FP8 primary weights, gradients
# reduced in bf16, the distributed optimizer. Mock data; paths are
# placeholders. Flags that change nothing tp-sim models are kept so that the
# test sees each of them classified.
GPUS_PER_NODE=8
NUM_NODES=1
TP_SIZE=1
CP_SIZE=1
SEQ_LENGTH=8192

DISTRIBUTED_ARGS=(
    --nproc_per_node $GPUS_PER_NODE --nnodes $NUM_NODES --node_rank 0
    --master_addr localhost --master_port 6000
)
MODEL_ARGS=(
    --use-mcore-models --num-layers 32 --hidden-size 4096 --ffn-hidden-size 14336
    --num-attention-heads 32 --group-query-attention --num-query-groups 8 --kv-channels 128
    --seq-length $SEQ_LENGTH --max-position-embeddings $SEQ_LENGTH
    --position-embedding-type rope --rotary-base 1000000 --rotary-percent 1.0
    --attention-dropout 0.0 --hidden-dropout 0.0 --swiglu --init-method-std 0.0134
    --attention-backend fused --apply-layernorm-1p --untie-embeddings-and-output-weights
    --disable-bias-linear
)
TRAINING_ARGS=(
    --micro-batch-size 1 --global-batch-size 128
    --train-samples 1953125000 --lr-decay-samples 1949218748 --lr-warmup-samples 3906252
    --lr 0.00015 --min-lr 0.00001 --decoupled-lr 5.0e-4 --decoupled-min-lr 4.5e-5
    --lr-decay-style cosine --clip-grad 1.0 --weight-decay 0.1 --adam-beta1 0.9 --adam-beta2 0.95
    --bf16 --grad-reduce-in-bf16 --cross-entropy-loss-fusion --calculate-per-token-loss
    --manual-gc --empty-unused-memory-level 1 --exit-duration-in-mins 235
    --use-distributed-optimizer --overlap-grad-reduce --overlap-param-gather
)
FP8_ARGS=(
    --fp8-format hybrid --fp8-amax-history-len 1024 --fp8-amax-compute-algo max --fp8-param-gather
)
PARALLEL_ARGS=(
    --tensor-model-parallel-size $TP_SIZE --context-parallel-size $CP_SIZE --sequence-parallel
)
DATA_ARGS=(
    --mock-data --tokenizer-type NullTokenizer --vocab-size 128256 --data-cache-path /data/cache
    --tiktoken-pattern v2 --split '99,1,0' --no-create-attention-mask-in-dataloader
    --no-mmap-bin-files --num-workers 1
)
LOGGING_ARGS=(
    --log-interval 1 --eval-iters 32 --eval-interval 100 --save-interval 1000 --log-throughput
    --profile --profile-step-start 4 --profile-step-end 6 --ckpt-format torch_dist
    --distributed-timeout-minutes 60 --save /ckpt --load /ckpt --tensorboard-dir /tb
)
torchrun ${DISTRIBUTED_ARGS[@]} pretrain_gpt.py ${MODEL_ARGS[@]} ${TRAINING_ARGS[@]} \
    ${FP8_ARGS[@]} ${PARALLEL_ARGS[@]} ${DATA_ARGS[@]} ${LOGGING_ARGS[@]}
