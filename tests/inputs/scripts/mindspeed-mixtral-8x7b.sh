#!/bin/bash
# Mixtral 8x7B pretraining at 32k tokens on 8 nodes of 8 NPUs (64 cards),
# written for tp-sim's tests after the settings of MindSpeed-LLM's
# examples/mcore/mixtral/pretrain_mixtral_8x7b_ptd.sh (Ascend/MindSpeed-LLM,
# commit 98c60fa1, the last before the script was removed): TP 8, PP 1, CP 4
# (megatron_cp_algo, the ring), EP 1, micro-batch 1, global batch 32; 8
# experts top-2 on every layer, alltoall_seq dispatcher, grouped GEMM.
# Paths are placeholders; every flag of the original is kept, with its value,
# so that the test sees each one classified.
export CUDA_DEVICE_MAX_CONNECTIONS=1

NPUS_PER_NODE=8
NNODES=8
NODE_RANK=0
MASTER_ADDR=localhost
MASTER_PORT=6000

TP=8
PP=1
EP=1
CP=4
CP_TYPE='megatron_cp_algo'
NUM_LAYERS=32

LAUNCH="--nproc_per_node $NPUS_PER_NODE --nnodes $NNODES --node_rank $NODE_RANK --master_addr $MASTER_ADDR --master_port $MASTER_PORT"

# experts: -1 for the layer frequency and the dense prefix means "not set"
# in MindSpeed-LLM (every layer is an MoE layer)
MOE_ARGS="
    --num-experts 8
    --expert-model-parallel-size ${EP}
    --moe-router-topk 2
    --moe-router-load-balancing-type aux_loss
    --moe-aux-loss-coeff 0.02
    --moe-permutation-async-comm
    --moe-token-dispatcher-type alltoall_seq
    --moe-grouped-gemm
    --moe-layer-freq -1
    --moe-permute-fusion
    --first-k-dense-replace -1
    --use-cp-send-recv-overlap
"

MODEL_ARGS="
    --use-mcore-models
    --disable-bias-linear
    --seq-length 32768
    --max-position-embeddings 32768
    --num-layers ${NUM_LAYERS}
    --hidden-size 4096
    --ffn-hidden-size 14336
    --num-attention-heads 32
    --attention-dropout 0.0
    --hidden-dropout 0.0
    --normalization RMSNorm
    --position-embedding-type rope
    --swiglu
    --untie-embeddings-and-output-weights
    --group-query-attention
    --num-query-groups 8
    --vocab-size 32000
    --rotary-base 1000000
    --make-vocab-size-divisible-by 1
    --no-masked-softmax-fusion
    --use-fused-rotary-pos-emb
    --use-flash-attn
    --use-fused-swiglu
    --use-fused-rmsnorm
    --no-check-for-nan-in-loss-and-grad
"

PARALLEL_ARGS="
    --overlap-grad-reduce
    --overlap-param-gather
    --tensor-model-parallel-size ${TP}
    --pipeline-model-parallel-size ${PP}
    --sequence-parallel
    --use-distributed-optimizer
    --context-parallel-size ${CP}
    --context-parallel-algo ${CP_TYPE}
"

TRAIN_ARGS="
    --micro-batch-size 1
    --global-batch-size 32
    --bf16
    --lr 1e-5 --train-iters 2000 --lr-decay-iters 1280 --lr-decay-style cosine
    --min-lr 1.0e-6 --weight-decay 0.1 --lr-warmup-iters 2 --clip-grad 1.0
    --init-method-std 0.01
    --tokenizer-type Llama2Tokenizer --tokenizer-model /path/to/tokenizer.model
    --load /path/to/ckpt --save /path/to/save
    --no-load-optim --no-load-rng --no-shared-storage
    --data-path /path/to/data --split 99990,8,2
    --log-interval 1 --save-interval 2000 --eval-interval 5001 --eval-iters 100
"

torchrun $LAUNCH pretrain_gpt.py $MOE_ARGS $MODEL_ARGS $PARALLEL_ARGS $TRAIN_ARGS \
    --distributed-backend nccl
