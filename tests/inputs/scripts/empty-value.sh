#!/bin/bash
# A flag whose variable is empty, and no vocabulary size: both warned about by
# name (tests/golden/ok_from_script_empty_value).
VOCAB=
torchrun pretrain_gpt.py --num-layers 2 --hidden-size 256 --num-attention-heads 4 \
  --seq-length 512 --micro-batch-size 1 --global-batch-size 8 --vocab-size $VOCAB --bf16
