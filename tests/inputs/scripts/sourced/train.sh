#!/bin/bash
source CONFIG.sh
. ./missing.sh
torchrun --nproc_per_node 8 pretrain_gpt.py $GPT_ARGS --tensor-model-parallel-size $TP --pipeline-model-parallel-size $PP --vocab-size 50257
