#!/bin/bash
# A Megatron-LM launch with context parallelism, FP8 and a mixture of
# experts (FP8 with MX block scaling), written for tp-sim's tests of the flag classes: the unmodelled
# flags are refused with this file's name and their lines.
CP=2
GPT_ARGS=(
    --num-layers 16
    --hidden-size 2048
    --num-attention-heads 16
    --seq-length 8192
    --max-position-embeddings 8192
    --micro-batch-size 1
    --global-batch-size 64
    --bf16
    --swiglu
    --context-parallel-size ${CP}
    --cp-comm-type p2p
    --fp8-format hybrid
    --fp8-amax-history-len 1024 --fp8-recipe mxfp8
    --num-experts 1
    --moe-router-topk 2
    --overlap-grad-reduce
    --lr 3e-4 --save /ckpt --log-interval 1
    --tokenizer-type GPT2BPETokenizer --vocab-file gpt2-vocab.json --merge-file gpt2-merges.txt
    --use-flash-attn --sequence-paralell
)
torchrun --nproc_per_node 8 --master_addr localhost --master_port 6000 pretrain_gpt.py \
    "${GPT_ARGS[@]}" --tensor-model-parallel-size 2
