#!/bin/bash
# DeepSeek-V3 671B pretraining at 4k tokens on 64 nodes of 8 NPUs (512 cards),
# written for tp-sim's tests after the settings of MindSpeed-LLM's
# examples/mcore/deepseek3/pretrain_deepseek3_671b_4k_ptd.sh (Ascend/MindSpeed-LLM,
# commit c77308a1): TP 4, PP 8 with 3 no-op layers (61 real layers padded to
# 64), EP 32 with expert TP 1, micro-batch 1, global batch 3840; MLA, one MTP
# module, 256 routed experts + 1 shared (top-8, sigmoid scores, 8 groups),
# the first 3 layers dense; dualpipev schedule with MoE forward/backward
# overlap, full recompute of 1 layer per stage, optimizer swapped to host.
# Paths are placeholders; every flag of the original is kept, with its value,
# so that the test sees each one classified.
export CUDA_DEVICE_MAX_CONNECTIONS=1
export PYTORCH_NPU_ALLOC_CONF=expandable_segments:True

NPUS_PER_NODE=8
NNODES=64
NODE_RANK=0
MASTER_ADDR=localhost
MASTER_PORT=6000

TP=4
PP=8
EP=32
CP=1
CP_TYPE='ulysses_cp_algo'
NUM_LAYERS=64
SEQ_LEN=4096
MBS=1
GBS=3840

LAUNCH="--nproc_per_node $NPUS_PER_NODE --nnodes $NNODES --node_rank $NODE_RANK --master_addr $MASTER_ADDR --master_port $MASTER_PORT"

# multi-head latent attention
MLA_ARGS="
    --multi-latent-attention
    --qk-pos-emb-head-dim 64
    --qk-head-dim 128
    --q-lora-rank 1536
    --kv-lora-rank 512
    --v-head-dim 128
    --qk-layernorm
    --mla-fa-without-pad
"

# experts and routing
MOE_ARGS="
    --moe-router-dtype fp32
    --moe-grouped-gemm
    --moe-permutation-async-comm
    --moe-token-dispatcher-type alltoall
    --moe-permute-fusion
    --first-k-dense-replace 3
    --moe-layer-freq 1
    --n-shared-experts 1
    --num-experts 256
    --moe-router-topk 8
    --moe-ffn-hidden-size 2048
    --moe-router-load-balancing-type none
    --moe-router-num-groups 8
    --moe-router-group-topk 4
    --moe-router-topk-scaling-factor 2.5
    --moe-aux-loss-coeff 0.0001
    --seq-aux
    --norm-topk-prob
    --moe-router-score-function sigmoid
    --moe-router-enable-expert-bias
    --expert-tensor-parallel-size 1
"

# one multi-token-prediction module
MTP_ARGS="
    --mtp-num-layers 1
    --mtp-loss-scaling-factor 0.3
    --mtp-mem-efficient-logits
"

# YaRN RoPE scaling
ROPE_ARGS="
    --beta-fast 32
    --beta-slow 1
    --rope-scaling-factor 40
    --rope-scaling-mscale 1.0
    --rope-scaling-mscale-all-dim 1.0
    --rope-scaling-original-max-position-embeddings 4096
    --rope-scaling-type yarn
"

SCHEDULE_ARGS="
    --moe-fb-overlap
    --schedules-method dualpipev
"

MEMORY_ARGS="
    --swap-optimizer
    --swap-optimizer-times 4
    --use-distributed-optimizer
    --recompute-method uniform
    --recompute-granularity full
    --recompute-num-layers 1
"

MODEL_ARGS="
    --spec mindspeed_llm.tasks.models.spec.deepseek_spec layer_spec
    --reset-attention-mask
    --gemm-gradient-accumulation-fusion
    --noop-layers 61,62,63
    --manual-gc
    --manual-gc-interval 50
    --no-shared-storage
    --use-flash-attn
    --use-mcore-models
    --tensor-model-parallel-size ${TP}
    --pipeline-model-parallel-size ${PP}
    --expert-model-parallel-size ${EP}
    --sequence-parallel
    --context-parallel-size ${CP}
    --context-parallel-algo ${CP_TYPE}
    --num-layers ${NUM_LAYERS}
    --hidden-size 7168
    --ffn-hidden-size 18432
    --num-attention-heads 128
    --tokenizer-type PretrainedFromHF
    --tokenizer-name-or-path /path/to/tokenizer
    --seq-length ${SEQ_LEN}
    --max-position-embeddings 163840
    --micro-batch-size ${MBS}
    --global-batch-size ${GBS}
    --make-vocab-size-divisible-by 1
    --untie-embeddings-and-output-weights
    --disable-bias-linear
    --attention-dropout 0.0
    --hidden-dropout 0.0
    --position-embedding-type rope
    --normalization RMSNorm
    --use-fused-rotary-pos-emb
    --use-rotary-position-embeddings
    --use-fused-swiglu
    --use-fused-rmsnorm
    --swiglu
    --no-masked-softmax-fusion
    --attention-softmax-in-fp32
    --vocab-size 129280
    --padded-vocab-size 129280
    --rotary-base 10000
    --norm-epsilon 1e-6
    --bf16
    --use-ascend-coc
    --coc-fused-kernel
"

TRAIN_ARGS="
    --lr 1.0e-5 --min-lr 1.0e-7 --lr-decay-style cosine --lr-warmup-iters 500
    --weight-decay 1e-2 --clip-grad 1.0 --adam-beta1 0.9 --adam-beta2 0.999
    --init-method-std 0.02 --initial-loss-scale 65536 --train-iters 2000
    --no-load-optim --no-load-rng --distributed-timeout-minutes 120 --ckpt-format torch
    --data-path /path/to/data --handler-name GeneralPretrainHandler --split 100,0,0
    --enable-hf2mg-convert --model-type-hf deepseek3
    --log-interval 1 --save-interval 2000 --eval-interval 2000 --eval-iters 0
    --no-save-optim --no-save-rng
"

python -m torch.distributed.launch $LAUNCH pretrain_gpt.py \
    $MODEL_ARGS $MLA_ARGS $ROPE_ARGS $MOE_ARGS $MTP_ARGS $SCHEDULE_ARGS $MEMORY_ARGS $TRAIN_ARGS \
    --distributed-backend nccl --save /path/to/save --load /path/to/ckpt \
    --transformer-impl local
