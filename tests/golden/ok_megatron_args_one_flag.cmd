estimate --model llama3-8b --tp 1 --interval none --megatron-args "--grad-reduce-in-bf16"
