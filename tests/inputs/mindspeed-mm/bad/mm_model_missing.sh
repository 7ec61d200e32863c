#!/bin/bash
# A MindSpeed-MM style launch whose --mm-model file does not exist.
MM_MODEL="./examples/qwen2.5vl/model_72b.json"
torchrun --nproc_per_node 8 pretrain_vlm.py \
    --tensor-model-parallel-size 1 \
    --mm-model $MM_MODEL \
    --bf16
