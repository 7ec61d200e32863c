recommend --model llama3-8b --hw h100-sxm --megatron-args "--tensor-model-parallel-size 2 --sequence-parallel --micro-batch-size 1 --use-flash-attn" --top 3 --interval none
