MM_MODEL="./input.sh"
torchrun --nproc_per_node 8 pretrain_vlm.py --num-layer-list 12,16 --pipeline-model-parallel-size 2 --mm-model $MM_MODEL --bf16
