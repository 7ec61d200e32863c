#!/bin/bash
# Llama-2 70B pretraining at 8k tokens with context parallelism 2 (ring) on
# Atlas A3 nodes of 16 NPU dies, written for tp-sim's tests after the
# settings of MindSpeed-LLM tests/poc/llama2_70b/pretrain_llama2_70b_8k_A3_ptd.sh
# (Ascend/MindSpeed-LLM, commit c8f3cada): 16 nodes, TP 4, PP 4 with 2 layers
# per virtual stage, CP 2 (megatron_cp_algo), SP, micro-batch 1, global
# batch 64, the distributed optimizer with both overlaps, the activation
# function recomputed. Paths are placeholders; flags that change nothing
# tp-sim models are kept so that the test sees them classified.
NPUS_PER_NODE=16
NNODES=16
TP=4
PP=4
CP=2

DISTRIBUTED_ARGS="--nproc_per_node $NPUS_PER_NODE --nnodes $NNODES --node_rank 0 --master_addr localhost --master_port 6000"

GPT_ARGS="
    --use-mcore-models --no-shared-storage --reuse-fp32-param
    --tensor-model-parallel-size ${TP} --pipeline-model-parallel-size ${PP}
    --context-parallel-size ${CP} --context-parallel-algo megatron_cp_algo
    --use-cp-send-recv-overlap --log-throughput --overlap-grad-reduce --overlap-param-gather
    --num-layers-per-virtual-pipeline-stage 2 --use-distributed-optimizer
    --num-layers 80 --hidden-size 8192 --ffn-hidden-size 28672 --num-attention-heads 64
    --tokenizer-type PretrainedFromHF --tokenizer-name-or-path /models/llama2-70b
    --seq-length 8192 --max-position-embeddings 8192
    --micro-batch-size 1 --global-batch-size 64 --make-vocab-size-divisible-by 1
    --lr 1.0e-6 --train-iters 5000 --lr-decay-style cosine --untie-embeddings-and-output-weights
    --attention-dropout 0.0 --init-method-std 0.01 --hidden-dropout 0.0
    --position-embedding-type rope --normalization RMSNorm --swiglu
    --use-fused-rotary-pos-emb --use-fused-swiglu --use-fused-rmsnorm --use-flash-attn
    --no-masked-softmax-fusion --attention-softmax-in-fp32 --min-lr 1.0e-7 --weight-decay 0.1
    --clip-grad 1.0 --adam-beta1 0.9 --initial-loss-scale 4096.0 --adam-beta2 0.95 --adam-eps 1e-5
    --disable-bias-linear --group-query-attention --num-query-groups 8 --lr-warmup-fraction 0.01
    --sequence-parallel --use-fused-ring-attention-update --recompute-activation-function
    --bf16 --ckpt-format torch
"
DATA_ARGS="--handler-name GeneralPretrainHandler --data-path /data/llama2 --split 949,50,1"
OUTPUT_ARGS="--log-interval 1 --save-interval 10000 --eval-interval 1000 --eval-iters 10"
CKPT_ARGS="--enable-hf2mg-convert --model-type-hf llama2"

python3 -m torch.distributed.launch ${DISTRIBUTED_ARGS} pretrain_gpt.py \
    ${GPT_ARGS} ${DATA_ARGS} ${CKPT_ARGS} ${OUTPUT_ARGS} \
    --distributed-backend nccl --load /ckpt --save /ckpt --transformer-impl local
