#!/bin/bash
# Qwen2.5-72B pretraining at 32k tokens with context parallelism 4 (ring),
# written for tp-sim's tests after the settings of MindSpeed-LLM's
# examples/mcore/qwen25/pretrain_qwen25_72b_32k_ptd.sh (Ascend/MindSpeed-LLM,
# commit 7688a067): 16 nodes of 8 NPUs, TP 8, PP 4 with 17,20,22,21 layers,
# CP 4 (megatron_cp_algo), micro-batch 1, global batch 32. Paths are
# placeholders; flags that change nothing tp-sim models are kept so that the
# test sees them classified.
NPUS_PER_NODE=8
NNODES=16
TP=8
PP=4
CP=4

LAUNCH="--nproc_per_node $NPUS_PER_NODE --nnodes $NNODES --node_rank 0 --master_addr localhost --master_port 6001"

MODEL_ARGS="
    --use-mcore-models
    --num-layers 80
    --hidden-size 8192
    --ffn-hidden-size 29568
    --num-attention-heads 64
    --group-query-attention
    --num-query-groups 8
    --max-position-embeddings 32768
    --position-embedding-type rope
    --use-rotary-position-embeddings
    --rotary-base 1000000
    --normalization RMSNorm
    --norm-epsilon 1e-5
    --swiglu
    --add-qkv-bias
    --disable-bias-linear
    --untie-embeddings-and-output-weights
    --make-vocab-size-divisible-by 1
    --padded-vocab-size 152064
    --attention-dropout 0.0
    --hidden-dropout 0.0
"

PARALLEL_ARGS="
    --tensor-model-parallel-size ${TP}
    --pipeline-model-parallel-size ${PP}
    --num-layer-list 17,20,22,21
    --context-parallel-size ${CP}
    --context-parallel-algo megatron_cp_algo
    --sequence-parallel
    --use-distributed-optimizer
    --overlap-grad-reduce
"

TRAIN_ARGS="
    --seq-length 32768
    --micro-batch-size 1
    --global-batch-size 32
    --bf16
    --use-flash-attn
    --use-fused-rotary-pos-emb
    --use-fused-swiglu
    --no-masked-softmax-fusion
    --attention-softmax-in-fp32
    --no-gradient-accumulation-fusion
    --use-ascend-coc
    --coc-fused-kernel
    --lr 1.25e-6 --min-lr 1.25e-7 --lr-decay-style cosine --lr-warmup-fraction 0.01
    --weight-decay 1e-1 --clip-grad 1.0 --adam-beta1 0.9 --adam-beta2 0.95
    --init-method-std 0.01 --initial-loss-scale 4096 --seed 42 --train-iters 2000
    --tokenizer-type PretrainedFromHF --tokenizer-name-or-path /path/to/tokenizer
    --data-path /path/to/data --split 100,0,0
    --log-interval 1 --save-interval 2000 --eval-interval 2000 --eval-iters 0
    --no-load-optim --no-load-rng --exit-on-missing-checkpoint --no-shared-storage
"

torchrun $LAUNCH pretrain_gpt.py $MODEL_ARGS $PARALLEL_ARGS $TRAIN_ARGS \
    --load /path/to/ckpt --save /path/to/save --log-throughput --distributed-backend nccl
